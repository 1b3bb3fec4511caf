/** Java's `int`: the opaque counter wraps from 2^31 − 1 to −2^31. */
export const MAX_OPAQUE = 2_147_483_647
export const MIN_OPAQUE = -2_147_483_648

/**
 * What the table needs of a call waiting for its response.
 *
 * @internal
 */
export interface Pending {
  /** Set by `register`. */
  opaque: number | undefined
  /** The generation of the connection its request goes on. */
  readonly generation: number | undefined
}

/**
 * The calls of one client that wait for a response, by opaque, and the opaque counter.
 *
 * Invariants:
 * - An opaque is in `entries` at most once, so a response matches at most one call; `allocate` never returns an
 *   opaque that is in `entries`.
 * - An entry is added before its request is written and leaves exactly once: taken by its response, taken with
 *   its connection (`takeUpTo`), or removed by its call (timeout, interruption, a failed write). Whoever takes
 *   it out settles the call; the table settles nothing itself.
 * - `entries.size` never exceeds the client's in-flight cap: each entry is held by a call that holds a slot.
 *
 * @internal
 */
export class PendingTable<P extends Pending> {
  private readonly entries = new Map<number, P>()
  private next: number

  constructor(firstOpaque: number) {
    this.next = firstOpaque | 0
  }

  get size(): number {
    return this.entries.size
  }

  /** The next opaque not in flight: the counter goes up by one, wrapping like Java's int. */
  allocate(): number {
    while (true) {
      const opaque = this.next
      this.next = opaque === MAX_OPAQUE ? MIN_OPAQUE : opaque + 1
      if (!this.entries.has(opaque)) return opaque
    }
  }

  /** Moves the counter: the next `allocate` starts looking at `opaque`. For tests of the wrap and the skip. */
  restartAt(opaque: number): void {
    this.next = opaque | 0
  }

  /** Allocates an opaque for `pending` and registers it under it. */
  register(pending: P): number {
    const opaque = this.allocate()
    pending.opaque = opaque
    this.entries.set(opaque, pending)
    return opaque
  }

  /** Takes out the call waiting for the response with `opaque`; undefined when none is (late, or unknown). */
  take(opaque: number): P | undefined {
    const pending = this.entries.get(opaque)
    if (pending !== undefined) this.entries.delete(opaque)
    return pending
  }

  /** Takes `pending` out, if it is still in. */
  remove(pending: P): void {
    if (pending.opaque !== undefined && this.entries.get(pending.opaque) === pending) {
      this.entries.delete(pending.opaque)
    }
  }

  /** Takes out every call written on a connection up to `generation`. */
  takeUpTo(generation: number): Array<P> {
    const taken: Array<P> = []
    for (const [opaque, pending] of this.entries) {
      if (pending.generation !== undefined && pending.generation > generation) continue
      this.entries.delete(opaque)
      taken.push(pending)
    }
    return taken
  }
}
