/**
 * What a changing value went through, and when: every value of a stream from now on, stamped with
 * `performance.now()`, for tests that measure how long a state took to come (a reconnect after a link came
 * back, a drop after a keep-alive went unanswered).
 */
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
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

/**
 * The first value of `changes` that `predicate` accepts (for a stream of states, the current one counts).
 * With `timeout`, dies after it; without, it waits as long as the test does (a `TestClock` test moves no
 * real clock, so it wants none).
 */
export const first = <S, E, R>(
  changes: Stream.Stream<S, E, R>,
  predicate: (state: S) => boolean,
  timeout?: Duration.DurationInput
): Effect.Effect<S, E, R> => {
  const found = changes.pipe(Stream.filter(predicate), Stream.runHead, Effect.map(Option.getOrThrow))
  return timeout === undefined ? found : Effect.timeoutOption(found, timeout).pipe(
    Effect.flatMap(Option.match({ onNone: () => Effect.die(new Error("state not reached")), onSome: Effect.succeed }))
  )
}

/** Every value so far, and a wait for the next one, in order, that a predicate accepts. */
export interface Recording<S> {
  readonly seen: ReadonlyArray<S>
  /**
   * The first value not yet waited past that `predicate` accepts, so that a value that lasts no time (a drop
   * followed by an immediate reconnect) is not missed.
   */
  readonly next: (predicate: (state: S) => boolean) => Effect.Effect<S>
}

/**
 * Records every value of `changes` from now on, in a fiber of the current scope; returns once the first has
 * come (for a stream of states, the current one: from there on no transition is missed). With `timeout`, `next`
 * dies after it, saying what was seen, formatted with `format`.
 */
export const record = <S, E, R>(
  changes: Stream.Stream<S, E, R>,
  options: { readonly timeout?: Duration.DurationInput; readonly format?: (state: S) => string } = {}
): Effect.Effect<Recording<S>, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<S>()
    const seen: Array<S> = []
    const subscribed = yield* Deferred.make<void>()
    yield* changes.pipe(
      Stream.runForEach((state) =>
        Effect.sync(() => seen.push(state)).pipe(
          Effect.zipRight(Queue.offer(queue, state)),
          Effect.zipRight(Deferred.succeed(subscribed, undefined))
        )
      ),
      Effect.forkScoped
    )
    yield* Deferred.await(subscribed)
    const format = options.format ?? String
    const next = (predicate: (state: S) => boolean): Effect.Effect<S> => {
      const found = Queue.take(queue).pipe(Effect.repeat({ until: predicate }))
      return options.timeout === undefined ? found : found.pipe(
        Effect.timeoutFail({
          duration: options.timeout,
          onTimeout: () => new Error(`state not reached; seen ${seen.map(format).join(" → ")}`)
        }),
        Effect.orDie
      )
    }
    return { seen, next }
  })
