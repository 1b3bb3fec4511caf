/**
 * What a changing value went through, and when: every value of a stream from now on, stamped with
 * `performance.now()`, for tests that measure how long a state took to come (a reconnect after a link came
 * back, a drop after a keep-alive went unanswered).
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { eventually } from "./Eventually.js"

/** A value and when it came (`performance.now()`). */
export interface Entry<S> {
  readonly at: number
  readonly state: S
}

export interface Timeline<S> {
  /** Every value so far, in order. */
  readonly seen: ReadonlyArray<Entry<S>>
  /** The first value that came at or after `from` and that `predicate` accepts; dies after `timeout`. */
  readonly next: (
    predicate: (state: S) => boolean,
    from?: number,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<Entry<S>>
}

export interface Options<S> {
  /** How a value reads in the message of a `next` that timed out. */
  readonly format: (state: S) => string
  /** Waits until the first value has come (a stream of states starts with the current one). Default: `false`. */
  readonly awaitFirst?: boolean
}

/** Records every value of `changes` from now on, in a fiber of the current scope. */
export const make = <S, E, R>(
  changes: Stream.Stream<S, E, R>,
  options: Options<S>
): Effect.Effect<Timeline<S>, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const seen: Array<Entry<S>> = []
    yield* changes.pipe(
      Stream.runForEach((state) => Effect.sync(() => seen.push({ at: performance.now(), state }))),
      Effect.forkScoped
    )
    if (options.awaitFirst === true) yield* eventually(Effect.sync(() => seen.length > 0))
    const find = (predicate: (state: S) => boolean, from: number) =>
      seen.find((entry) => entry.at >= from && predicate(entry.state))
    const next = (predicate: (state: S) => boolean, from = 0, timeout: Duration.DurationInput = "10 seconds") =>
      eventually(Effect.sync(() => find(predicate, from) !== undefined)).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new Error(`state not reached; seen ${seen.map((entry) => options.format(entry.state)).join(" → ")}`)
        }),
        Effect.orDie,
        Effect.map(() => find(predicate, from)!)
      )
    return { seen, next }
  })
