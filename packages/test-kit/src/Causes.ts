/**
 * What went wrong, through the errors that wrap one another by `cause` (a connection error around the
 * platform's `SocketError` around Node's error).
 */
import { assert } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"

/** `cause` and the errors it wraps, outermost first, at most `depth` of them. */
export const causeChain = (cause: unknown, depth = 6): ReadonlyArray<unknown> => {
  const chain: Array<unknown> = []
  for (
    let c = cause;
    c !== undefined && chain.length < depth;
    c = Predicate.hasProperty(c, "cause") ? c.cause : undefined
  ) {
    chain.push(c)
  }
  return chain
}

/** The first Node / OpenSSL error code in the chain (of at most `depth` errors). */
export const codeOf = (cause: unknown, depth = 6): string | undefined => {
  for (const c of causeChain(cause, depth)) {
    if (Predicate.hasProperty(c, "code") && typeof c.code === "string") return c.code
  }
  return undefined
}

/** The error an exit failed with; fails the test unless it is a failure with one. */
export const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  return Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<A, E>).cause))
}
