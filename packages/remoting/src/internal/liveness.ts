import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as LogLevel from "effect/LogLevel"
import * as Schedule from "effect/Schedule"
import type { ClientMeters } from "./clientMeters.js"
import type { Log } from "./serverRequests.js"

/**
 * What liveness needs of its client.
 *
 * @internal
 */
export interface Options {
  readonly address: string
  readonly now: () => number
  /** `Duration.infinity`: no idle check. */
  readonly idleTimeout: Duration.Duration
  /** Runs once a connection is up, then every `interval`, while it stays up. */
  readonly heartbeat:
    | { readonly interval: Duration.Duration; readonly effect: Effect.Effect<unknown, unknown> }
    | undefined
  readonly meters: ClientMeters
  readonly log: Log
  /** Drops connection `generation`: the peer is presumed dead. */
  readonly dropIdle: (generation: number) => Effect.Effect<void>
}

/**
 * Whether the peer is alive, and the heartbeat that keeps the server knowing we are.
 *
 * A peer is presumed dead when a request was written and no frame has arrived for `idleTimeout` since (Java's
 * channel idle rule, but only while something is asked of the peer: a connection with no traffic is left
 * alone, the transport would only reconnect it).
 *
 * Invariant: `silentSince` is when the first request written since the last inbound frame was written, and
 * `undefined` once a frame has arrived since (or a new connection came up).
 *
 * @internal
 */
export class Liveness {
  private silentSince: number | undefined = undefined
  private readonly idleMillis: number
  private readonly heartbeat: Effect.Effect<void> | undefined

  constructor(private readonly options: Options) {
    this.idleMillis = Duration.isFinite(options.idleTimeout) ? Duration.toMillis(options.idleTimeout) : -1
    const heartbeat = options.heartbeat
    this.heartbeat = heartbeat === undefined ? undefined : heartbeat.effect.pipe(
      Effect.catchAllCause((cause) =>
        options.log(LogLevel.Debug, "the heartbeat failed", { cause: Cause.pretty(cause) })
      ),
      Effect.repeat(Schedule.fixed(heartbeat.interval)),
      Effect.asVoid
    )
  }

  /** A request was written. */
  readonly requestWritten = (): void => {
    if (this.silentSince === undefined) this.silentSince = this.options.now()
  }

  /** A frame arrived. */
  frameArrived(): void {
    this.silentSince = undefined
  }

  /** What runs while connection `generation` is up (the heartbeat, the idle check), if anything. */
  whileConnected(generation: number): Effect.Effect<void> | undefined {
    this.silentSince = undefined
    const parts: Array<Effect.Effect<void>> = []
    if (this.heartbeat !== undefined) parts.push(this.heartbeat)
    if (this.idleMillis >= 0) parts.push(this.idleCheck(generation))
    return parts.length === 0 ? undefined : Effect.all(parts, { concurrency: "unbounded", discard: true })
  }

  private idleCheck(generation: number): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      const { address, idleTimeout, log, meters, now } = this.options
      while (true) {
        const since = this.silentSince
        const quiet = since === undefined ? 0 : now() - since
        if (since !== undefined && quiet >= this.idleMillis) {
          meters.idleDrop()
          yield* log(
            LogLevel.Debug,
            `nothing from ${address} for ${Duration.format(idleTimeout)} after a request; ` +
              "the peer is presumed dead, dropping the connection",
            { generation }
          )
          return yield* this.options.dropIdle(generation)
        }
        yield* Effect.sleep(Duration.millis(this.idleMillis - quiet))
      }
    })
  }
}
