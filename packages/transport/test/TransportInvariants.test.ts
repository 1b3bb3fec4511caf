import { assert, describe, it } from "@effect/vitest"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import type * as ConnectionState from "../src/ConnectionState.js"
import * as Connector from "../src/Connector.js"
import * as TestConnector from "../src/TestConnector.js"
import * as Transport from "../src/Transport.js"
import * as TransportConfig from "../src/TransportConfig.js"

type Command =
  | { readonly _tag: "Next"; readonly behaviour: TestConnector.Behaviour }
  | { readonly _tag: "Drop"; readonly reset: boolean }
  | { readonly _tag: "Push"; readonly size: number }
  | { readonly _tag: "Receive" }
  | { readonly _tag: "Send"; readonly size: number }
  | { readonly _tag: "Advance"; readonly millis: number }
  | { readonly _tag: "Start" }
  | { readonly _tag: "Stop" }

const command: FastCheck.Arbitrary<Command> = FastCheck.oneof(
  FastCheck.constantFrom<Array<TestConnector.Behaviour>>("accept", "refuse", "hang").map((behaviour) => ({
    _tag: "Next" as const,
    behaviour
  })),
  FastCheck.boolean().map((reset) => ({ _tag: "Drop" as const, reset })),
  FastCheck.integer({ min: 0, max: 300 }).map((size) => ({ _tag: "Push" as const, size })),
  FastCheck.constant({ _tag: "Receive" as const }),
  FastCheck.integer({ min: 0, max: 300 }).map((size) => ({ _tag: "Send" as const, size })),
  FastCheck.integer({ min: 0, max: 4000 }).map((millis) => ({ _tag: "Advance" as const, millis })),
  FastCheck.constant({ _tag: "Start" as const }),
  FastCheck.constant({ _tag: "Stop" as const })
)

// Lets the transport's fibers run after a command, before its invariants are checked.
const settle = Effect.gen(function*() {
  for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
})

// Runs the commands against a transport over the in-memory connector and checks, after every step, the
// invariants the transport promises.
const check = (commands: ReadonlyArray<Command>) =>
  Effect.gen(function*() {
    const [connector, peer] = yield* TestConnector.make
    const config = yield* TransportConfig.make({
      host: "broker",
      port: 9876,
      connectTimeout: "1 second",
      retryInterval: "500 millis",
      maxRetries: 3,
      idleTimeout: "3 seconds"
    })
    const transport = yield* Transport.make(config, { inboundBufferBytes: 512 }).pipe(
      Effect.provideService(Connector.Connector, connector)
    )
    const observed: Array<ConnectionState.ConnectionState> = []
    yield* transport.changes.pipe(
      Stream.runForEach((state) => Effect.sync(() => observed.push(state))),
      Effect.forkScoped
    )
    const connections: Array<TestConnector.PeerConnection> = []
    const collectAccepted = Effect.gen(function*() {
      while (true) connections.push(yield* peer.accepted)
    })
    yield* Effect.forkScoped(collectAccepted)
    // Receives in flight, with the generation that was up when they started.
    const pending: Array<{ readonly fiber: Fiber.RuntimeFiber<unknown, unknown>; readonly generation: number }> = []

    for (const cmd of commands) {
      switch (cmd._tag) {
        case "Next":
          yield* peer.next(cmd.behaviour)
          break
        case "Drop": {
          const open = connections.at(-1)
          if (open !== undefined) yield* cmd.reset ? open.reset : open.close
          break
        }
        case "Push": {
          const open = connections.at(-1)
          if (open !== undefined) yield* open.pushFrame(new Uint8Array(cmd.size))
          break
        }
        case "Receive": {
          const state = yield* transport.state
          if (state._tag === "Connected") {
            const fiber = yield* Effect.fork(transport.recvPkg({ timeout: "1 hour" }))
            pending.push({ fiber, generation: state.generation })
          }
          break
        }
        case "Send":
          yield* Effect.ignore(transport.send(new Uint8Array(cmd.size), { timeout: "1 second" }))
          break
        case "Advance":
          yield* TestClock.adjust(cmd.millis)
          break
        case "Start":
          yield* Effect.ignore(transport.start)
          break
        case "Stop":
          yield* transport.stop
          break
      }
      yield* settle

      const state = yield* transport.state
      // At most one connection is open at any time.
      const open = []
      for (const c of connections) if (!(yield* c.isClosed)) open.push(c)
      assert.isAtMost(open.length, 1, "at most one live connection")
      if (state._tag !== "Connected") assert.strictEqual(open.length, 0, `no open connection while ${state._tag}`)
      // No receive outlives its connection.
      for (const p of pending) {
        const stillUp = state._tag === "Connected" && state.generation === p.generation
        if (!stillUp) {
          assert.isTrue(
            (yield* Fiber.poll(p.fiber))._tag === "Some",
            `a receive of generation ${p.generation} is still pending after it dropped`
          )
        }
      }
    }
    yield* transport.stop
    // stop returns once the supervisor is interrupted and the connection it held released.
    for (const c of connections) assert.isTrue(yield* c.isClosed, "stop leaves no connection open")
    // The observer sees Closed in its own fiber: waited for, not assumed after some yields.
    yield* eventually(Effect.sync(() => observed.some((s) => s._tag === "Closed")), { every: "yield" })

    // Closed is final, and generations only grow.
    const closedAt = observed.findIndex((s) => s._tag === "Closed")
    for (const state of observed.slice(closedAt)) assert.strictEqual(state._tag, "Closed")
    let generation = 0
    for (const state of observed) {
      if (state._tag === "Connected") {
        assert.isAbove(state.generation, generation, "each connection has a newer generation")
        generation = state.generation
      } // Every other state names the generation of the last connection that was up.
      else assert.strictEqual(state.generation, generation)
    }
  }).pipe(Effect.scoped, Effect.provide(TestContext.TestContext), Effect.provide(Logger.remove(Logger.defaultLogger)))

describe("Transport invariants", () => {
  it("random connect / fail / drop / stop sequences keep the invariants", async () => {
    await FastCheck.assert(
      FastCheck.asyncProperty(
        FastCheck.array(command, { minLength: 1, maxLength: 40 }),
        (commands) => Effect.runPromise(check(commands))
      ),
      { numRuns: 150 }
    )
  }, 120_000)
})
