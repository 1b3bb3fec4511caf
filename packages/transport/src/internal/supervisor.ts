import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import * as ConnectionState from "../ConnectionState.js"
import type { TransportError } from "../TransportError.js"
import type { OnDown } from "./connection.js"
import type { Link } from "./link.js"
import type { TransportState } from "./transportState.js"

/**
 * What the supervisor needs of its transport.
 *
 * @internal
 */
export interface Options {
  readonly schedule: Schedule.Schedule<unknown, TransportError>
  /** A connection up at least this long counts as healthy when it drops. */
  readonly stableAfterMillis: number
  readonly now: () => number
  readonly state: TransportState
  readonly link: Link
  /** Connects once and serves the connection until it drops: `connection.serve`. */
  readonly serve: (onDown: OnDown) => Effect.Effect<Option.Option<number>>
}

/**
 * The reconnect loop: connect, serve until the connection drops, wait as the schedule says, again, until the
 * transport closes or the schedule gives up. Each run starts the schedule afresh.
 *
 * Why the schedule is stepped by hand rather than given to `Effect.retry` or `Effect.repeat`:
 * - a connection that stayed up `stableAfterMillis` restarts the schedule, with an immediate reconnect,
 *   while one that drops sooner counts as a failed attempt: neither combinator can reset on success alone;
 * - the delay is published as `retryIn` with the disconnect, before sleeping, not found out after;
 * - the disconnect is published from inside `serve`, while the old connection still exists, so that nobody
 *   sees the state still "connected" once its connection is gone.
 *
 * @internal
 */
export const make = (options: Options): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { link, now, schedule, stableAfterMillis, state } = options
    let scheduleState = schedule.initial
    const onDown: OnDown = (cause, upFor) =>
      Effect.gen(function*() {
        let delay: Option.Option<number>
        if (Option.isSome(upFor) && upFor.value >= stableAfterMillis) {
          scheduleState = schedule.initial
          delay = Option.some(0)
        } else {
          const at = now()
          const [nextState, _, decision] = yield* schedule.step(at, cause, scheduleState)
          scheduleState = nextState
          delay = ScheduleDecision.isDone(decision)
            ? Option.none()
            : Option.some(Math.max(0, ScheduleIntervals.start(decision.intervals) - at))
        }
        yield* state.publish(ConnectionState.Event.Disconnect({
          cause,
          exhausted: Option.isNone(delay),
          retryIn: Option.map(delay, Duration.millis)
        }))
        return delay
      })
    while (!link.closed) {
      const delay = yield* options.serve(onDown)
      if (link.closed || Option.isNone(delay)) return
      if (delay.value > 0) yield* Effect.sleep(Duration.millis(delay.value))
    }
  })
