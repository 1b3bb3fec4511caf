import type { ConnectionClosedError, ConnectionError } from "@rocketmq-effect/transport/TransportError"
import * as Deferred from "effect/Deferred"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type { RemotingCommand } from "../RemotingCommand.js"

/** Java's `int`: the opaque counter wraps from 2^31 − 1 to −2^31. */
export const MAX_OPAQUE = 2_147_483_647
export const MIN_OPAQUE = -2_147_483_648

/** What a pending call can fail with when its connection goes. */
export type PendingError = ConnectionError | ConnectionClosedError

/**
 * One call waiting for its response.
 *
 * @internal
 */
export interface Pending {
  readonly opaque: number
  readonly code: number
  /** The generation of the connection the request was written on. */
  readonly generation: number
  readonly response: Deferred.Deferred<RemotingCommand, PendingError>
}

/**
 * The calls of one connection that wait for a response, by opaque, and the opaque counter.
 *
 * Invariants:
 * - An opaque is in `entries` at most once, so a response matches at most one call; `allocate` never returns an
 *   opaque that is in `entries`.
 * - An entry is added before its request is written and leaves exactly once: taken by its response, failed
 *   with its connection, or removed by its caller (timeout, interruption, a failed write). Whoever removes it
 *   completes it, if anyone does; a removed entry is never completed again.
 * - `entries.size` never exceeds the client's in-flight cap: each entry is held by a call that holds a permit.
 *
 * @internal
 */
export class PendingTable {
  private readonly entries = new Map<number, Pending>()
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

  /** Allocates an opaque and registers a call under it. */
  register(code: number, generation: number): Pending {
    const opaque = this.allocate()
    const entry: Pending = { opaque, code, generation, response: Deferred.unsafeMake(FiberId.none) }
    this.entries.set(opaque, entry)
    return entry
  }

  /** Completes the call waiting for `response`; false when none is (late, or unknown). */
  resolve(response: RemotingCommand): boolean {
    const entry = this.entries.get(response.opaque)
    if (entry === undefined) return false
    this.entries.delete(response.opaque)
    Deferred.unsafeDone(entry.response, Exit.succeed(response))
    return true
  }

  /** Takes `entry` out, if it is still in; its caller gave up on it. */
  remove(entry: Pending): void {
    if (this.entries.get(entry.opaque) === entry) this.entries.delete(entry.opaque)
  }

  /** Fails every call written on a connection up to `generation`; returns how many. */
  failUpTo(generation: number, error: PendingError): number {
    let failed = 0
    for (const [opaque, entry] of this.entries) {
      if (entry.generation > generation) continue
      this.entries.delete(opaque)
      Deferred.unsafeDone(entry.response, Exit.fail(error))
      failed++
    }
    return failed
  }
}
