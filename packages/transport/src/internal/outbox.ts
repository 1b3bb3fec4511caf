import * as Effect from "effect/Effect"
import type { Deadline, Deadlines, TimeLimit } from "./deadlines.js"

/**
 * A send waiting to be written. `state` moves forward only: waiting for budget → queued → writing → done.
 */
interface Entry<E> {
  /** The bytes to write, in order: one buffer, or a header and a payload that was not copied. */
  readonly parts: ReadonlyArray<Uint8Array>
  readonly size: number
  /** How many frames the parts hold, for the metrics. */
  readonly frames: number
  /** Called once when the entry settles: with no error once written, else with why it failed. */
  readonly settled: (error: E | undefined) => void
  state: EntryState
  /** Forgets the entry's deadline once it settled. */
  clearDeadline: (() => void) | undefined
}

/**
 * When a send gives up, and the deadlines that enforce it.
 *
 * @internal
 */
export interface Limit<E> extends TimeLimit<E> {
  readonly deadlines: Deadlines
}

const noop = () => {}

const enum EntryState {
  Waiting,
  Queued,
  Writing,
  Done
}

/**
 * Where a connection that can write without an Effect hands its batches: `write` takes the chunks of one
 * batch, in order, and calls `done` once, when the connection accepted the last of them or failed.
 *
 * @internal
 */
export interface Sink {
  readonly write: (chunks: ReadonlyArray<Uint8Array>, done: (error: unknown) => void) => void
  /** The batch was accepted; its frames and bytes, for the metrics. */
  readonly written: (frames: number, bytes: number) => void
  /** The connection failed a write. */
  readonly failed: (cause: unknown) => void
}

/**
 * The outbound side of one connection: a byte budget for everything accepted but not yet written, and a queue
 * drained in batches, one batch at a time, either by a writer fiber (`takeBatch`, `completeBatch`) or, when a
 * `Sink` is attached, straight from the send that finds the connection idle and from each write's callback:
 * then no fiber waits for work and a send costs no hop to another fiber.
 *
 * Why a hand-made queue rather than an Effect `Queue` plus a `Semaphore`: a send must fail the moment its
 * connection drops, whatever it is waiting on (budget, queue or the socket's write callback), and a send that
 * gives up before its bytes were handed to the socket must leave nothing behind. Tracking each entry's state
 * in one place makes both cheap: no fiber per send, no race per send.
 *
 * @internal
 */
export class Outbox<E> {
  private waiting: Array<Entry<E>> = []
  private queued: Array<Entry<E>> = []
  private used = 0
  private failure: E | undefined = undefined
  private wakeWriter: (() => void) | undefined = undefined
  private sink: Sink | undefined = undefined
  /** A batch is with the sink and its `done` has not come yet. */
  private sinkBusy = false

  constructor(
    /** Bytes that may be accepted but not yet written at once. A larger single frame is let in alone. */
    readonly capacity: number,
    /** Small frames are joined into writes of about this size. */
    readonly batchBytes: number
  ) {}

  /** Completes when the writer has handed the bytes to the connection and it accepted them. */
  offer<E2 = never>(parts: ReadonlyArray<Uint8Array>, limit?: Limit<E2>, frames = 1): Effect.Effect<void, E | E2> {
    return Effect.async<void, E | E2>((resume) => {
      if (this.failure !== undefined) return resume(Effect.fail(this.failure))
      const entry = this.enter(parts, frames, (error) => resume(error === undefined ? Effect.void : Effect.fail(error)))
      if (limit !== undefined && entry.state !== EntryState.Done) {
        const deadline: Deadline = {
          at: limit.at,
          expire: () => {
            if (entry.state === EntryState.Done) return
            this.cancel(entry)
            entry.state = EntryState.Done
            resume(Effect.fail(limit.error()))
          }
        }
        entry.clearDeadline = () => limit.deadlines.remove(deadline)
        limit.deadlines.add(deadline)
        return Effect.sync(() => {
          limit.deadlines.remove(deadline)
          this.cancel(entry)
        })
      }
      return Effect.sync(() => this.cancel(entry))
    })
  }

  /**
   * `offer` for a caller that is not a fiber: `settled` is called once, with no error when the connection
   * accepted the bytes, else with why they will not be written; it may be called before this returns. The
   * returned function gives up on the send: bytes not yet handed to the connection are never written, and
   * `settled` is not called after it. The caller bounds the wait itself.
   */
  offerCallback(parts: ReadonlyArray<Uint8Array>, frames: number, settled: (error: E | undefined) => void): () => void {
    if (this.failure !== undefined) {
      settled(this.failure)
      return noop
    }
    const entry = this.enter(parts, frames, settled)
    return () => {
      if (entry.state === EntryState.Done) return
      this.cancel(entry)
      entry.state = EntryState.Done
    }
  }

  private enter(parts: ReadonlyArray<Uint8Array>, frames: number, settled: (error: E | undefined) => void): Entry<E> {
    let size = 0
    for (const part of parts) size += part.length
    const entry: Entry<E> = { parts, size, frames, settled, state: EntryState.Waiting, clearDeadline: undefined }
    if (this.waiting.length === 0 && this.fits(size)) this.admit(entry)
    else this.waiting.push(entry)
    return entry
  }

  /**
   * Writes through `sink` from now on, instead of through a writer fiber; what was queued before goes out at once.
   * `plan` turns a batch's parts into the chunks to write.
   */
  attach(sink: Sink, plan: (parts: ReadonlyArray<Uint8Array>) => ReadonlyArray<Uint8Array>): void {
    this.sink = sink
    this.plan = plan
    this.drainToSink()
  }

  private plan: (parts: ReadonlyArray<Uint8Array>) => ReadonlyArray<Uint8Array> = (parts) => parts

  private drainToSink(): void {
    const sink = this.sink
    if (sink === undefined || this.sinkBusy || this.failure !== undefined || this.queued.length === 0) return
    const parts = this.startBatch()
    if (parts.length === 0) {
      // Every queued entry had given up before its turn: nothing to write.
      this.completeBatch()
      return
    }
    this.sinkBusy = true
    sink.write(this.plan(parts), (error) => {
      this.sinkBusy = false
      // A connection that dropped has failed this batch's sends already.
      if (this.failure !== undefined) return
      if (error !== undefined && error !== null) return sink.failed(error)
      const done = this.completeBatch()
      sink.written(done.frames, done.bytes)
      this.drainToSink()
    })
  }

  /** Waits for queued entries and hands the writer the next batch to write. */
  readonly takeBatch: Effect.Effect<ReadonlyArray<Uint8Array>, E> = Effect.suspend(() => {
    if (this.failure !== undefined) return Effect.fail(this.failure)
    if (this.queued.length > 0) return Effect.succeed(this.startBatch())
    return Effect.async<void>((resume) => {
      this.wakeWriter = () => resume(Effect.void)
      return Effect.sync(() => {
        this.wakeWriter = undefined
      })
    }).pipe(Effect.zipRight(this.takeBatch))
  })

  private batch: Array<Entry<E>> = []

  private startBatch(): ReadonlyArray<Uint8Array> {
    const out: Array<Uint8Array> = []
    let size = 0
    let taken = 0
    const queued = this.queued
    while (taken < queued.length) {
      const entry = queued[taken]!
      if (out.length > 0 && size + entry.size > this.batchBytes) break
      taken++
      if (entry.state !== EntryState.Queued) continue
      entry.state = EntryState.Writing
      this.batch.push(entry)
      for (const part of entry.parts) out.push(part)
      size += entry.size
    }
    this.queued = taken === queued.length ? [] : queued.slice(taken)
    return out
  }

  /** The batch handed out by `takeBatch` was accepted by the connection. Returns its frame count and bytes. */
  completeBatch(): { readonly frames: number; readonly bytes: number } {
    const batch = this.batch
    this.batch = []
    let bytes = 0
    let frames = 0
    for (const entry of batch) {
      bytes += entry.size
      frames += entry.frames
      this.release(entry)
      if (entry.state === EntryState.Writing) {
        entry.state = EntryState.Done
        this.settle(entry, undefined)
      }
    }
    this.admitWaiting()
    return { frames, bytes }
  }

  /** Fails every pending send with `error` and every later one too. */
  fail(error: E): void {
    if (this.failure !== undefined) return
    this.failure = error
    const pending = [...this.waiting, ...this.queued, ...this.batch]
    this.waiting = []
    this.queued = []
    this.batch = []
    this.used = 0
    for (const entry of pending) {
      if (entry.state !== EntryState.Done) {
        entry.state = EntryState.Done
        this.settle(entry, error)
      }
    }
    this.wake()
  }

  private settle(entry: Entry<E>, error: E | undefined): void {
    if (entry.clearDeadline !== undefined) {
      entry.clearDeadline()
      entry.clearDeadline = undefined
    }
    entry.settled(error)
  }

  private fits(size: number): boolean {
    return this.used === 0 || this.used + size <= this.capacity
  }

  private admit(entry: Entry<E>): void {
    entry.state = EntryState.Queued
    this.used += entry.size
    this.queued.push(entry)
    this.wake()
  }

  private admitWaiting(): void {
    let i = 0
    while (i < this.waiting.length && this.fits(this.waiting[i]!.size)) {
      this.admit(this.waiting[i]!)
      i++
    }
    if (i > 0) this.waiting = this.waiting.slice(i)
  }

  private release(entry: Entry<E>): void {
    this.used -= entry.size
  }

  private cancel(entry: Entry<E>): void {
    switch (entry.state) {
      case EntryState.Waiting: {
        entry.state = EntryState.Done
        const index = this.waiting.indexOf(entry)
        if (index >= 0) this.waiting.splice(index, 1)
        if (index === 0) this.admitWaiting()
        return
      }
      case EntryState.Queued: {
        // Not handed to the connection yet: it is skipped, so nothing of it is ever written.
        entry.state = EntryState.Done
        this.release(entry)
        this.admitWaiting()
        return
      }
      default:
        // Already being written: the frame goes out whole; the caller just stops waiting for it.
        return
    }
  }

  private wake(): void {
    if (this.sink !== undefined) return this.drainToSink()
    const wake = this.wakeWriter
    if (wake !== undefined) {
      this.wakeWriter = undefined
      wake()
    }
  }
}
