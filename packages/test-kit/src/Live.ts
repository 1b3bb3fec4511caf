/**
 * Tests over real sockets, processes and clocks: `it.scopedLive` in a scope, with the logs the tests provoke on
 * purpose silenced, skipped when a prerequisite is missing and, with `interruptBefore`, bounded inside vitest's
 * own timeout, so that a hang fails with Effect's `TimeoutException` and runs the scope's finalizers (stopping
 * the JVMs a test started) rather than being abandoned by vitest.
 */
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type * as Scope from "effect/Scope"

/** How the tests of one file run. */
export interface Options {
  /** Vitest's timeout for each test, in milliseconds, unless a test gives its own. */
  readonly timeout: number
  /** Skips the tests when set (a reason, or `true`). */
  readonly skip?: string | boolean | undefined
  /** Keeps logs below Error out of the output (default `true`). */
  readonly quiet?: boolean
  /** Interrupts the test this many milliseconds before vitest's timeout, so that its finalizers run. */
  readonly interruptBefore?: number
  /** Runs before each test, e.g. a prerequisite that fails in CI when missing. */
  readonly before?: Effect.Effect<unknown, unknown>
}

/** A live test: `name`, the test, and optionally its own timeout in milliseconds. */
export type Live = <A, E>(name: string, self: () => Effect.Effect<A, E, Scope.Scope>, timeout?: number) => void

/** The live tests of a file, as `options` say. */
export const make = (options: Options): Live => {
  const skip = options.skip !== undefined && options.skip !== false
  return (name, self, timeout = options.timeout) =>
    it.scopedLive.skipIf(skip)(name, () => {
      let test: Effect.Effect<unknown, unknown, Scope.Scope> = options.before === undefined
        ? self()
        : Effect.zipRight(options.before, Effect.suspend(self))
      if (options.interruptBefore !== undefined) test = Effect.timeout(test, timeout - options.interruptBefore)
      return options.quiet === false ? test : Logger.withMinimumLogLevel(test, LogLevel.Error)
    }, timeout)
}

/** Prints what a test measured, for the record, as `[name] {…}` (vitest shows it with the test). */
export const report = (name: string, facts: Record<string, unknown>): Effect.Effect<void> =>
  Effect.sync(() => console.log(`[${name}] ${JSON.stringify(facts)}`))
