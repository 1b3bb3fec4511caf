/**
 * Running an effect on a schedule's beat, the first time after the schedule's first delay (unlike
 * `Effect.repeat`, which runs it at once): heartbeats, rebalances, offset writes and route refreshes happen
 * at start on their own, then on their schedules. Read on the `Clock`, so `TestClock` drives them.
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

export const every = <X, R>(
  effect: Effect.Effect<X, never, R>,
  schedule: Schedule.Schedule<unknown>
): Effect.Effect<void, never, R> =>
  Effect.flatMap(
    Schedule.driver(schedule),
    (driver) => Effect.forever(Effect.zipRight(driver.next(undefined), effect)).pipe(Effect.catchAll(() => Effect.void))
  )
