/**
 * One owned queue's messages between the pull and the end of their processing, and the offset that may be
 * committed for it: the low watermark, Java's `ProcessQueue` rule.
 *
 * Invariants, written once:
 * - offsets enter in increasing order (pulls of one queue are sequential and move forward);
 * - `entries[head..]` are the messages not yet known to be finished below the first unfinished one, so
 *   `entries[head]`, when there is one, is the smallest unfinished offset;
 * - the watermark is that offset, or `next` (the offset the next pull starts at) when nothing is unfinished:
 *   everything below it was processed or never meant for this consumer (filtered out), so committing it never
 *   skips a message whose processing has not completed;
 * - once `dropped` (the queue was revoked, or its offset moved), finishing a message changes nothing.
 *
 * Hand-made rather than a sorted collection from a library: the consumer does this per message, and a deque
 * with an index by offset is O(1) per add and finish.
 */
import type * as MessageQueue from "../MessageQueue.js"

interface Entry {
  readonly offset: bigint
  done: boolean
}

export class ProcessQueue {
  private entries: Array<Entry> = []
  private head = 0
  private readonly byOffset = new Map<bigint, Entry>()
  /** The offset the next pull starts at. */
  next: bigint
  /** The highest watermark recorded for commit (never moves back except through `reset`). */
  committed: bigint
  /** The last offset written to the broker. */
  persisted: bigint | undefined
  dropped = false

  constructor(readonly queue: MessageQueue.MessageQueue, start: bigint) {
    this.next = start
    this.committed = start
    this.persisted = undefined
  }

  /** Messages pulled and not finished. */
  get unfinished(): number {
    return this.byOffset.size
  }

  /** Records pulled messages (in increasing offset order) and where the next pull starts. */
  add(offsets: ReadonlyArray<bigint>, next: bigint): void {
    for (const offset of offsets) {
      const entry: Entry = { offset, done: false }
      this.entries.push(entry)
      this.byOffset.set(offset, entry)
    }
    if (next > this.next) this.next = next
    this.advance()
  }

  /** Moves the next pull (nothing pulled: `PULL_NOT_FOUND` with a later offset, messages filtered out). */
  skipTo(next: bigint): void {
    if (next > this.next) this.next = next
    this.advance()
  }

  /** Marks `offset` finished; false when it was not unfinished here (twice, or the queue was dropped). */
  finish(offset: bigint): boolean {
    if (this.dropped) return false
    const entry = this.byOffset.get(offset)
    if (entry === undefined) return false
    this.byOffset.delete(offset)
    entry.done = true
    this.advance()
    return true
  }

  /** Whether `offset` is still unfinished here. */
  holds(offset: bigint): boolean {
    return !this.dropped && this.byOffset.has(offset)
  }

  /** The smallest unfinished offset, or `next`. */
  get watermark(): bigint {
    const first = this.entries[this.head]
    return first === undefined ? this.next : first.offset
  }

  /** Forgets everything and starts again at `offset` (the broker moved it); the commit follows. */
  reset(offset: bigint): void {
    this.entries = []
    this.head = 0
    this.byOffset.clear()
    this.next = offset
    this.committed = offset
  }

  /** The revocation: no message of this queue counts from now on. */
  drop(): void {
    this.dropped = true
  }

  private advance(): void {
    while (this.head < this.entries.length && this.entries[this.head]!.done) this.head++
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head)
      this.head = 0
    }
    const watermark = this.watermark
    if (watermark > this.committed) this.committed = watermark
  }
}
