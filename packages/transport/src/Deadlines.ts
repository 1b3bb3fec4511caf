/**
 * The time bounds of many pending operations, enforced by one fiber: for a client that completes its calls
 * from callbacks (a request/response protocol over the transport) and would otherwise race every call against
 * a sleep of its own.
 *
 * A pending operation adds a `Deadline` (when, and what to do then) and removes it when it settles. One
 * sweeper fiber, started by the first deadline and ended when none is left, sleeps until the earliest one and
 * calls `expire` on each that is due. When every operation uses the same timeout, adding a deadline wakes
 * nobody. It sleeps through the `Clock`, so `TestClock` drives it.
 *
 * The transport bounds its own sends and receives this way.
 *
 * @example
 * ```ts
 * import { Deadlines } from "@rocketmq-effect/transport"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const deadlines = yield* Deadlines.make
 *   const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
 *   const expired = yield* Effect.async<string>((resume) => {
 *     const deadline = { at: now + 10, expire: () => resume(Effect.succeed("expired")) }
 *     deadlines.add(deadline)
 *     return Effect.sync(() => deadlines.remove(deadline))
 *   })
 *   assert.strictEqual(expired, "expired")
 * }))
 * ```
 *
 * @since 0.3.0
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/deadlines.js"

/**
 * A pending operation's deadline: at `at` (milliseconds of the `Clock`), `expire` is called, once, unless the
 * deadline was removed before.
 *
 * @since 0.3.0
 * @category models
 */
export interface Deadline {
  readonly at: number
  readonly expire: () => void
}

/**
 * @since 0.3.0
 * @category models
 */
export interface Deadlines {
  /** Enforces `deadline` from now on. */
  readonly add: (deadline: Deadline) => void
  /** Forgets `deadline` (its operation settled); nothing happens if it expired or was never added. */
  readonly remove: (deadline: Deadline) => void
}

/**
 * Deadlines whose sweeper runs in the current scope, on the current `Clock`; closing the scope stops it.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make: Effect.Effect<Deadlines, never, Scope.Scope> = Effect.gen(function*() {
  const clock = yield* Effect.clock
  const runFork = Runtime.runFork(yield* Effect.runtime<never>())
  let sweeper: Fiber.RuntimeFiber<void> | undefined = undefined
  const deadlines = new internal.Deadlines(() => clock.unsafeCurrentTimeMillis(), (sweep) => {
    sweeper = runFork(sweep)
  })
  yield* Effect.addFinalizer(() => Effect.suspend(() => sweeper === undefined ? Effect.void : Fiber.interrupt(sweeper)))
  return { add: (deadline) => deadlines.add(deadline), remove: (deadline) => deadlines.remove(deadline) }
})
