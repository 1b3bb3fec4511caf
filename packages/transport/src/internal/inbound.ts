import * as Effect from "effect/Effect"
import type { Connection } from "../Connector.js"
import type * as Framing from "../Framing.js"
import type { TimeoutError, TransportError } from "../TransportError.js"
import { ConnectionClosedError, ConnectionError, FrameTooLargeError } from "../TransportError.js"
import type { Deadline, Deadlines, TimeLimit } from "./deadlines.js"

/** What a receive fails with. */
type ReceiveFailure = ConnectionError | ConnectionClosedError | TimeoutError

/**
 * One connection as a source of inbound bytes: its decoder, how it ended, and its read flow control.
 *
 * `Inbound` writes `demand` and `ended`; `pause` and `resume` are the only way `paused` changes.
 *
 * @internal
 */
export class Source {
  /** The head receiver waits on this source for bytes that are not there yet. */
  demand = false
  /** Why the connection ended; its leftover bytes can still be read. */
  ended: TransportError | undefined = undefined
  paused = false
  /** When bytes last arrived, or reading last resumed: while paused the peer is not idle, we are not reading. */
  lastActivity: number

  constructor(
    readonly generation: number,
    readonly decoder: Framing.Decoder,
    private readonly connection: Pick<Connection, "pause" | "resume">,
    /** Drops the connection (a bad length found while receiving). Does nothing once it dropped. */
    readonly drop: (cause: ConnectionError) => void,
    now: number
  ) {
    this.lastActivity = now
  }

  pause(): void {
    if (!this.paused && this.ended === undefined) {
      this.paused = true
      this.connection.pause()
    }
  }

  resume(now: number): void {
    if (this.paused) {
      this.paused = false
      this.lastActivity = now
      this.connection.resume()
    }
  }
}

/**
 * What a receive takes from the decoder: a value, `undefined` to wait for more bytes, or a bad length.
 *
 * @internal
 */
export type Take<A> = (decoder: Framing.Decoder) => A | FrameTooLargeError | undefined

/** A receive waiting its turn. */
interface Receiver {
  readonly take: Take<unknown>
  // `any`: receivers of different result types share one list; each `take` matches its own `resume`.
  readonly resume: (effect: Effect.Effect<any, ReceiveFailure>) => void
  /** The source it found without enough bytes; it fails, rather than skips it, when that one ends. */
  waitedOn: Source | undefined
  deadline: Deadline | undefined
  done: boolean
}

/**
 * The inbound side of a transport, across its connections: the unread bytes of each connection, the receives
 * waiting for them, and read flow control against a byte budget.
 *
 * Why hand-made rather than an Effect `Queue` of frames: a receive that times out or is interrupted must
 * consume nothing (a half-received frame goes whole to the next receive), `recv(n)` and `recvPkg` read the
 * same bytes with different cuts, and flow control counts bytes, not items. So nothing is decoded ahead: the
 * head receiver takes straight from the decoder when its turn comes, in one synchronous loop (`pump`) that
 * runs whenever something a receiver may wait for happens (bytes arrive, a connection ends, the transport
 * closes, a receive gives up). No lock and no fiber per receive: a receive is one `async`.
 *
 * Invariants:
 * - `sources` is oldest first and only its last can be `live` (still read). A source leaves once it is
 *   drained after its connection ended, or at a bad length: nothing after one can be delivered.
 * - Receivers are served strictly in arrival order; only the head waits. A settled receiver is `done` and
 *   stays in the list until `pump` passes it.
 * - `demand` is set on the source the head receiver waits on and on no other. A source with demand is read
 *   past the budget, until the head has what it waits for.
 * - The live source is paused only when nobody waits on it and both its bytes and all unread bytes are over
 *   the budget; it is resumed when the head waits on it or unread bytes fall under half the budget.
 * - Once closed, every receive fails with `ConnectionClosedError`.
 *
 * @internal
 */
export class Inbound {
  private sources: Array<Source> = []
  private receivers: Array<Receiver> = []
  private live: Source | undefined = undefined
  private closed = false

  constructor(
    private readonly address: string,
    /** Unread bytes held before the live connection stops being read. */
    private readonly budget: number,
    private readonly deadlines: Deadlines,
    private readonly now: () => number
  ) {}

  /** A new connection is up: its bytes come after everything still unread. */
  open(source: Source): void {
    this.live = source
    this.sources = [...this.sources, source]
  }

  /** Bytes were pushed into `source`'s decoder: serves who waits, then stops reading when over budget. */
  arrived(source: Source): void {
    if (this.receivers.length > 0) this.pump()
    if (!source.demand && source.decoder.buffered >= this.budget && this.unreadBytes() >= this.budget) {
      source.pause()
    }
  }

  /** `source`'s connection ended with `cause`: whoever waited on it is told, its complete frames stay. */
  end(source: Source, cause: TransportError): void {
    if (this.live === source) this.live = undefined
    source.ended = cause
    this.pump()
  }

  /** The transport closed: every receive fails, now and later. */
  close(): void {
    this.closed = true
    this.live = undefined
    this.pump()
  }

  /** Lets go of every unread byte, once the transport closed. */
  release(): void {
    this.sources = []
  }

  /** Waits its turn, then takes what `take` cuts from the inbound bytes, or fails at `limit`. */
  receive<A>(take: Take<A>, limit: TimeLimit<TimeoutError> | undefined): Effect.Effect<A, ReceiveFailure> {
    return Effect.async((resume) => {
      const receiver: Receiver = { take, resume, waitedOn: undefined, deadline: undefined, done: false }
      this.receivers.push(receiver)
      this.pump()
      if (receiver.done) return
      if (limit !== undefined) {
        receiver.deadline = {
          at: limit.at,
          expire: () => {
            if (receiver.done) return
            receiver.deadline = undefined
            this.settle(receiver, Effect.fail(limit.error()))
            this.pump()
          }
        }
        this.deadlines.add(receiver.deadline)
      }
      return Effect.sync(() => {
        if (receiver.done) return
        receiver.done = true
        if (receiver.deadline !== undefined) this.deadlines.remove(receiver.deadline)
        this.pump()
      })
    })
  }

  private unreadBytes(): number {
    let total = 0
    for (const source of this.sources) total += source.decoder.buffered
    return total
  }

  private pump(): void {
    let served = 0
    while (served < this.receivers.length) {
      const receiver = this.receivers[served]!
      if (receiver.done) {
        served++
        continue
      }
      const result = this.attempt(receiver)
      if (result === undefined) break
      served++
      this.settle(receiver, result)
    }
    if (served > 0) this.receivers = served === this.receivers.length ? [] : this.receivers.slice(served)
    const waiting = this.receivers.length > 0 ? this.receivers[0]!.waitedOn : undefined
    for (const source of this.sources) source.demand = source === waiting
    if (waiting !== undefined) waiting.resume(this.now())
    else if (this.live !== undefined && this.live.paused && this.unreadBytes() < this.budget / 2) {
      this.live.resume(this.now())
    }
  }

  // What the head receiver gets now: a result to settle it with, or `undefined` to keep waiting.
  private attempt(receiver: Receiver): Effect.Effect<unknown, ConnectionError | ConnectionClosedError> | undefined {
    while (true) {
      if (this.closed) return Effect.fail(new ConnectionClosedError({ address: this.address, operation: "receive" }))
      const source = this.sources[0]
      if (source === undefined) {
        return Effect.fail(new ConnectionError({ reason: "NotConnected", address: this.address }))
      }
      const result = receiver.take(source.decoder)
      if (result === undefined) {
        if (source.ended !== undefined) {
          // Whatever is left of a dropped connection is an incomplete frame: it can never be delivered.
          this.sources = this.sources.slice(1)
          if (receiver.waitedOn === source) {
            return Effect.fail(
              new ConnectionError({
                reason: "Disconnected",
                address: this.address,
                generation: source.generation,
                cause: source.ended
              })
            )
          }
          continue
        }
        receiver.waitedOn = source
        return undefined
      }
      if (result instanceof FrameTooLargeError) {
        // Nothing after a bad length can ever be delivered: the connection's bytes go, and the error is
        // reported once. A receiver that came after the connection was dropped for it skips it, as it
        // skips an incomplete frame; the state's cause says why that connection ended.
        this.sources = this.sources.slice(1)
        const error = new ConnectionError({
          reason: "Protocol",
          address: this.address,
          generation: source.generation,
          cause: result
        })
        if (source.ended === undefined) {
          if (this.live === source) source.drop(error)
        } else if (receiver.waitedOn !== source) {
          continue
        }
        return Effect.fail(error)
      }
      return Effect.succeed(result)
    }
  }

  private settle(receiver: Receiver, result: Effect.Effect<unknown, ReceiveFailure>): void {
    receiver.done = true
    if (receiver.deadline !== undefined) this.deadlines.remove(receiver.deadline)
    receiver.resume(result)
  }
}

/**
 * The next frame.
 *
 * @internal
 */
export const takeFrame: Take<Uint8Array> = (decoder) => decoder.nextFrame()

const FRAMES_PER_BATCH = 1024

/**
 * The frames already complete, at least one and at most `FRAMES_PER_BATCH`, for one pull of a stream.
 *
 * @internal
 */
export const takeFrames: Take<Array<Uint8Array>> = (decoder) => {
  const frame = decoder.nextFrame()
  if (frame === undefined || frame instanceof FrameTooLargeError) return frame
  const out = [frame]
  while (out.length < FRAMES_PER_BATCH) {
    const next = decoder.nextFrame()
    // A bad frame after good ones is reported by the next pull, once the good ones are delivered.
    if (next === undefined || next instanceof FrameTooLargeError) break
    out.push(next)
  }
  return out
}
