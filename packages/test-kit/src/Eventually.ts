/**
 * Waiting for a condition: polled in real time for tests over sockets and processes, or by yielding to the
 * other fibers for tests on the `TestClock` (where a sleep would wait for the clock to be moved).
 */
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"

/** How a wait polls, and for how long at most. */
export interface Options {
  /**
   * `"yield"` lets the other fibers run between checks without moving any clock (for `TestClock` tests);
   * a duration sleeps that long between checks. Default: 5 milliseconds.
   */
  readonly every?: Duration.DurationInput | "yield"
  /** Dies with `what` when the condition does not hold by then. Default: unbounded (the test's timeout). */
  readonly timeout?: Duration.DurationInput
  /** What the wait is for, in its timeout's message. */
  readonly what?: string
}

/** Waits until `check` holds. */
export const eventually = (check: Effect.Effect<boolean>, options: Options = {}): Effect.Effect<void> => {
  const every = options.every ?? "5 millis"
  const pause = every === "yield" ? Effect.yieldNow() : Effect.sleep(every)
  const loop: Effect.Effect<void> = Effect.flatMap(
    check,
    (ok) => ok ? Effect.void : Effect.zipRight(pause, loop)
  )
  if (options.timeout === undefined) return loop
  const timeout = Duration.decode(options.timeout)
  return Effect.timeoutFail(loop, {
    duration: timeout,
    onTimeout: () => new Error(`${options.what ?? "condition"} did not hold within ${Duration.format(timeout)}`)
  }).pipe(Effect.orDie)
}

/**
 * Waits until a fiber sleeps until `at` (ms) on the `TestClock`, so that moving the clock to `at` wakes it.
 * Moving the clock before the sleep is in place would let the sleep start from the later time.
 */
export const awaitSleepUntil = (at: number): Effect.Effect<void> =>
  eventually(Effect.map(TestClock.sleeps(), Chunk.some((wake) => wake === at)), { every: "yield" })
