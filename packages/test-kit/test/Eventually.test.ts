import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import { eventually } from "../src/Eventually.js"

describe("Eventually", () => {
  it.effect("with every: \"yield\", waits on the TestClock without moving it", () =>
    Effect.gen(function*() {
      const done = yield* Ref.make(false)
      const waiter = yield* Effect.fork(eventually(Ref.get(done), { every: "yield" }))
      yield* Effect.yieldNow()
      yield* Ref.set(done, true)
      yield* Fiber.join(waiter)
    }))

  it.live("polls in real time until the condition holds", () =>
    Effect.gen(function*() {
      let checks = 0
      yield* eventually(Effect.sync(() => ++checks >= 3), { every: "1 millis" })
      assert.strictEqual(checks, 3)
    }))

  it.live("dies with what it waited for after its timeout", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(eventually(Effect.succeed(false), { timeout: "20 millis", what: "the peer" }))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      assert.include(String(Cause.squash((exit as Exit.Failure<void, never>).cause)), "the peer did not hold")
    }))
})
