/**
 * `--json`: a command's results as one JSON document on standard output, and nothing else there. The lines
 * the command prints for people (`Console.log`) are dropped; what it writes to standard error (notes,
 * progress, the failure line) stays.
 *
 * @since 0.3.0
 */
import type * as Console from "effect/Console"
import * as Effect from "effect/Effect"

const silenced = (console: Console.Console): Console.Console => ({
  ...console,
  log: () => Effect.void,
  info: () => Effect.void
})

/**
 * Writes `value` as one line of JSON on `console`'s standard output.
 *
 * @since 0.3.0
 */
const print = (console: Console.Console, value: unknown): Effect.Effect<void> => console.log(JSON.stringify(value))

/**
 * `effect` with its own output dropped, then `toJson` of what it succeeds with printed.
 *
 * @since 0.3.0
 */
export const only = <A, E, R>(effect: Effect.Effect<A, E, R>, toJson: (a: A) => unknown): Effect.Effect<void, E, R> =>
  Effect.consoleWith((console) =>
    Effect.withConsole(effect, silenced(console)).pipe(Effect.flatMap((a) => print(console, toJson(a))))
  )

/**
 * A command that reports its results through a callback (so that they are printed even when it goes on to
 * fail, as a bench with a failed measurement does), its own output dropped.
 *
 * @since 0.3.0
 */
export const reporting = <A, E, R>(
  run: (report: (result: A) => Effect.Effect<void>) => Effect.Effect<void, E, R>
): Effect.Effect<void, E, R> =>
  Effect.consoleWith((console) =>
    Effect.withConsole(
      run((result) => print(console, result)),
      silenced(console)
    )
  )
