import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as ChildPeer from "../src/ChildPeer.js"

/** A child that stays up after its stdin closes and ignores SIGTERM: only SIGKILL ends it. */
const stubborn = [
  "-e",
  "process.on('SIGTERM', () => console.log('TERM ignored')); setInterval(() => {}, 1000); console.log('READY')"
]

describe("ChildPeer", () => {
  it.live("the scope's release kills a child that ignores stdin closing and SIGTERM", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const peer = yield* ChildPeer.start(process.execPath, stubborn, { grace: "200 millis" }).pipe(
        Scope.extend(scope)
      )
      yield* peer.awaitLine((line) => line === "READY")
      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      const took = Date.now() - started
      assert.isTrue(peer.hasExited(), "the child is still running after the scope closed")
      assert.strictEqual(peer.child.signalCode, "SIGKILL")
      assert.include(peer.lines(), "TERM ignored")
      assert.isBelow(took, 5_000)
    }), 20_000)

  it.live("the release is quick for a child that exits when its stdin closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const peer = yield* ChildPeer.start(process.execPath, ["-e", "process.stdin.resume(); console.log('READY')"])
        .pipe(Scope.extend(scope))
      yield* peer.awaitLine((line) => line === "READY")
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(peer.hasExited())
      assert.strictEqual(peer.child.exitCode, 0)
    }), 20_000)

  it.live("awaitLine fails when the child exits first", () =>
    Effect.gen(function*() {
      const error = yield* ChildPeer.start(process.execPath, ["-e", "console.log('bye')"]).pipe(
        Effect.flatMap((peer) => peer.awaitLine((line) => line === "never")),
        Effect.scoped,
        Effect.flip
      )
      assert.strictEqual(error._tag, "ChildPeerError")
      assert.include(error.reason, "exited with 0")
    }), 20_000)

  it.live(
    "exitCode writes the input, keeps a last line without a newline, and gives the code",
    () =>
      Effect.gen(function*() {
        const { code, peer } = yield* ChildPeer.exitCode(
          process.execPath,
          ["-e", "process.stdin.pipe(process.stdout); process.stdin.on('end', () => { process.exitCode = 3 })"],
          { input: "one\ntwo" }
        )
        assert.strictEqual(code, 3)
        assert.deepStrictEqual(peer.lines(), ["one", "two"])
      }),
    20_000
  )

  it.live(
    "exitCode fails after its timeout, and the child is stopped even when it ignores SIGTERM",
    () =>
      Effect.gen(function*() {
        const error = yield* ChildPeer.exitCode(process.execPath, stubborn, {
          timeout: "300 millis",
          grace: "100 millis"
        })
          .pipe(Effect.flip)
        assert.include(error.reason, "did not finish within")
      }),
    20_000
  )

  it.live("exitCode fails when the command cannot start", () =>
    Effect.gen(function*() {
      const error = yield* ChildPeer.exitCode("/nonexistent/command", []).pipe(Effect.flip)
      assert.include(error.reason, "could not start")
    }), 20_000)
})
