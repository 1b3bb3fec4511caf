import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as ConnectionState from "../ConnectionState.js"
import type { TransportError } from "../TransportError.js"
import { ConnectionClosedError, ConnectionError } from "../TransportError.js"
import { retryText } from "./retryText.js"

/**
 * A `Connected` state.
 *
 * @internal
 */
export type Connected = ConnectionState.Connected

const stateNumber = (state: ConnectionState.ConnectionState): number =>
  state._tag === "Disconnected" ? 0 : state._tag === "Connecting" ? 1 : state._tag === "Connected" ? 2 : 3

// A peer that sends something that is not a frame: it does not heal by waiting.
const isProtocolError = (error: TransportError): boolean =>
  error._tag === "ConnectionError" && error.reason === "Protocol"

/**
 * While connecting keeps failing, a `Warning` at the first failure and then at most once per this interval.
 *
 * @internal
 */
export const FAILURE_WARNING_INTERVAL_MILLIS = 60_000

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/**
 * A transport's connection state as others see it: every transition goes through `publish`, which applies
 * the transition table, sets the state gauge and logs it.
 *
 * Once `Closed`, the state stays so: whatever the supervisor was about to report no longer applies.
 *
 * @internal
 */
export class TransportState {
  static make(
    address: string,
    gauge: Metric.Metric.Gauge<number>,
    now: () => number
  ): Effect.Effect<TransportState> {
    return Effect.map(
      SubscriptionRef.make(ConnectionState.initial),
      (ref) => new TransportState(ref, address, gauge, now)
    )
  }

  /** When connecting last failed with a `Warning`; none once connected since. */
  private warnedAt: number | undefined = undefined
  /** Connection attempts that failed since the last connection came up. */
  private failedAttempts = 0

  readonly get: Effect.Effect<ConnectionState.ConnectionState>
  private changesStream: Stream.Stream<ConnectionState.ConnectionState> | undefined = undefined
  /** The current state, then every transition. Built when first asked for: most transports never are. */
  get changes(): Stream.Stream<ConnectionState.ConnectionState> {
    return this.changesStream ??= this.ref.changes.pipe(Stream.changes)
  }
  /** After the schedule gave up, lets a new start begin a fresh round. Not a transition: nothing is logged. */
  readonly rearm: Effect.Effect<void>

  /**
   * The state the ref holds, set in the same step as the ref, for waiters to decide on synchronously.
   */
  private current: ConnectionState.ConnectionState = ConnectionState.initial
  /** Callers of `awaitConnected` that are waiting; each is told every state published after it came. */
  private readonly waiters = new Set<(state: ConnectionState.ConnectionState) => void>()

  private constructor(
    private readonly ref: SubscriptionRef.SubscriptionRef<ConnectionState.ConnectionState>,
    private readonly address: string,
    private readonly gauge: Metric.Metric.Gauge<number>,
    private readonly now: () => number
  ) {
    this.get = SubscriptionRef.get(ref)
    this.rearm = SubscriptionRef.update(ref, (state) => {
      this.current = state._tag === "Disconnected" && state.exhausted
        ? ConnectionState.Disconnected({ ...state, attempts: 0, exhausted: false, retryIn: Option.none() })
        : state
      return this.current
    })
  }

  /** Applies `event`; the supervisor only fires events its own state allows, so anything else is a defect. */
  publish(event: ConnectionState.Event): Effect.Effect<Option.Option<ConnectionState.ConnectionState>> {
    return SubscriptionRef.modify(
      this.ref,
      (
        state
      ): readonly [
        Either.Either<Option.Option<ConnectionState.ConnectionState>, Error>,
        ConnectionState.ConnectionState
      ] => {
        if (state._tag === "Closed") return [Either.right(Option.none()), state]
        const next = ConnectionState.transition(state, event)
        if (Either.isLeft(next)) return [Either.left(next.left), state]
        this.current = next.right
        return [Either.right(Option.some(next.right)), next.right]
      }
    ).pipe(
      Effect.flatMap(Either.match({ onLeft: Effect.die, onRight: Effect.succeed })),
      Effect.tap(Option.match({
        onNone: () => Effect.void,
        onSome: (state) =>
          Effect.sync(() => {
            if (this.waiters.size > 0) { for (const waiter of Array.from(this.waiters)) waiter(state) }
          }).pipe(
            Effect.zipRight(Metric.set(this.gauge, stateNumber(state))),
            Effect.zipRight(Effect.suspend(() => {
              const [level, message] = this.logOf(state)
              return Effect.logWithLevel(level, message)
            })),
            Effect.annotateLogs({
              address: this.address,
              generation: "generation" in state ? state.generation : 0
            })
          )
      }))
    )
  }

  /**
   * What a transition says, and how loud. Transitions are routine and logged at `Debug`. A user hears without
   * asking that connecting fails: at the first failure, then at most once per `FAILURE_WARNING_INTERVAL_MILLIS`
   * while it keeps failing, however many retries (address, attempts, last cause, next try), and once at `Info`
   * when a connection comes up after such a warning; and that a peer sent something that is not a frame. The
   * schedule giving up is `Debug`: the callers waiting for a connection get it as `RetriesExhausted`, and the
   * failures before it were warned about.
   */
  private logOf(state: ConnectionState.ConnectionState): readonly [LogLevel.LogLevel, string] {
    if (state._tag === "Connected") {
      const failed = this.failedAttempts
      const warned = this.warnedAt !== undefined
      this.failedAttempts = 0
      this.warnedAt = undefined
      if (warned) {
        return [LogLevel.Info, `connected to ${state.address} after ${plural(failed, "failed attempt")}`]
      }
    } else if (state._tag === "Disconnected") {
      if (state.attempts > 0) this.failedAttempts++
      if (state.attempts > 0 && !state.exhausted) {
        const now = this.now()
        if (this.warnedAt === undefined || now - this.warnedAt >= FAILURE_WARNING_INTERVAL_MILLIS) {
          this.warnedAt = now
          const cause = Option.match(state.cause, { onNone: () => "", onSome: (cause) => `: ${cause.message}` })
          const next = Option.match(state.retryIn, { onNone: () => "", onSome: (delay) => `; ${retryText(delay)}` })
          return [
            LogLevel.Warning,
            `cannot connect to ${this.address} (${plural(this.failedAttempts, "failed attempt")} so far)${cause}${next}`
          ]
        }
      } else if (!state.exhausted && Option.exists(state.cause, isProtocolError)) {
        return [LogLevel.Warning, ConnectionState.format(state)]
      }
    }
    return [LogLevel.Debug, ConnectionState.format(state)]
  }

  /**
   * Waits for a `Connected` state that `ready` accepts; fails when the transport closes or gives up. Decides
   * on the current state at once, then on each published one: no stream, no fiber while waiting.
   */
  awaitConnected(
    operation: string,
    ready: (state: Connected) => boolean
  ): Effect.Effect<Connected, ConnectionError | ConnectionClosedError> {
    type Decision = Effect.Effect<Connected, ConnectionError | ConnectionClosedError> | undefined
    const decide = (state: ConnectionState.ConnectionState): Decision => {
      switch (state._tag) {
        case "Connected":
          return ready(state) ? Effect.succeed(state) : undefined
        case "Closed":
          return Effect.fail(new ConnectionClosedError({ address: this.address, operation }))
        case "Disconnected":
          return state.exhausted
            ? Effect.fail(
              new ConnectionError({
                reason: "RetriesExhausted",
                address: this.address,
                attempts: state.attempts,
                cause: Option.getOrUndefined(state.cause)
              })
            )
            : undefined
        case "Connecting":
          return undefined
      }
    }
    return Effect.async((resume) => {
      const now = decide(this.current)
      if (now !== undefined) return resume(now)
      const waiter = (state: ConnectionState.ConnectionState) => {
        const decided = decide(state)
        if (decided === undefined) return
        this.waiters.delete(waiter)
        resume(decided)
      }
      this.waiters.add(waiter)
      return Effect.sync(() => {
        this.waiters.delete(waiter)
      })
    })
  }
}
