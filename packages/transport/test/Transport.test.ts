import { assert, describe, it } from "@effect/vitest"
import { text } from "@rocketmq-effect/test-kit/Bytes"
import { awaitSleepUntil, eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as Timeline from "@rocketmq-effect/test-kit/Timeline"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type * as ConnectionState from "../src/ConnectionState.js"
import * as Connector from "../src/Connector.js"
import * as TestConnector from "../src/TestConnector.js"
import * as Transport from "../src/Transport.js"
import * as TransportConfig from "../src/TransportConfig.js"
import * as TransportSuite from "./TransportSuite.js"

const decodeText = (b: Uint8Array) => new TextDecoder().decode(b)

const makeTransport = (
  connector: Connector.ConnectorService,
  input: Partial<TransportConfig.TransportConfigInput>,
  options?: Transport.Options
) =>
  TransportConfig.make({ host: "broker", port: 9876, ...input }).pipe(
    Effect.flatMap((config) => Transport.make(config, options)),
    Effect.provideService(Connector.Connector, connector)
  )

const setup = (
  input: Partial<TransportConfig.TransportConfigInput> = {},
  options?: Transport.Options,
  script?: (peer: TestConnector.TestPeerService) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    const [connector, peer] = yield* TestConnector.make
    if (script) yield* script(peer)
    const transport = yield* makeTransport(connector, input, options)
    return { transport, peer }
  })

/** The in-memory connector, its peer accepting every attempt, on the `TestClock`. */
const testConnector: TransportSuite.Harness = {
  name: "TestConnector",
  virtualTime: true,
  makePeer: Effect.map(TestConnector.make, ([connector, peer]) => ({
    accepted: peer.accepted,
    makeTransport: (input, options) => Effect.orDie(makeTransport(connector, input, options))
  }))
}

TransportSuite.suite(testConnector)

type State = ConnectionState.ConnectionState

const isExhausted = (state: State) => state._tag === "Disconnected" && state.exhausted

/**
 * Waits until a fiber sleeps for `delay` from now (a retry, a timeout), then moves the clock on by `delay`.
 * Adjusting the clock before the sleep is in place would let the sleep start from the later time.
 */
const wake = (delay: Duration.DurationInput) =>
  Effect.gen(function*() {
    yield* awaitSleepUntil((yield* Clock.currentTimeMillis) + Duration.toMillis(delay))
    yield* TestClock.adjust(delay)
  })

/**
 * Asserts that `event` does not happen within `duration` of virtual time. The wait is bounded by a timer
 * of its own, which the clock reaches only after every earlier one, so an event due within `duration` is seen.
 */
const notWithin = <A>(event: Effect.Effect<A>, duration: Duration.DurationInput, message: string) =>
  Effect.gen(function*() {
    const seen = yield* Effect.fork(Effect.timeoutOption(event, duration))
    yield* wake(duration)
    const result = yield* Fiber.join(seen)
    assert.isTrue(Option.isNone(result), `${message}: ${JSON.stringify(Option.getOrUndefined(result))}`)
  })

/** The next state change of `transport`, once subscribed. */
const nextChange = (transport: Transport.TransportService) =>
  Effect.gen(function*() {
    const subscribed = yield* Deferred.make<void>()
    const change = transport.changes.pipe(
      Stream.tap(() => Deferred.succeed(subscribed, undefined)),
      Stream.drop(1),
      Stream.runHead,
      Effect.map(Option.getOrThrow)
    )
    return { subscribed: Deferred.await(subscribed), change }
  })

/** Asserts that `transport` stays in its state for `duration` of virtual time. */
const noChangeWithin = (transport: Transport.TransportService, duration: Duration.DurationInput) =>
  Effect.gen(function*() {
    const { change, subscribed } = yield* nextChange(transport)
    const seen = yield* Effect.fork(Effect.timeoutOption(change, duration))
    yield* subscribed
    yield* wake(duration)
    const result = yield* Fiber.join(seen)
    assert.isTrue(Option.isNone(result), `the state changed to ${Option.getOrUndefined(result)?._tag}`)
  })

const counter = (metric: Metric.Metric.Counter<number>) => (transport: Transport.TransportService) =>
  Metric.value(Metric.tagged(metric, "address", transport.config.address)).pipe(Effect.map((state) => state.count))
const connectAttempts = counter(Transport.metrics.connectAttempts)
const bytesIn = counter(Transport.metrics.bytesIn)

describe("Transport", () => {
  describe("connecting", () => {
    it.scoped("publishes each transition once, in the seed's order", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup(
          { retryInterval: "1 second" },
          { autoStart: false },
          (peer) => peer.next("refuse")
        )
        const subscribed = yield* Deferred.make<void>()
        const seen = yield* transport.changes.pipe(
          Stream.tap(() => Deferred.succeed(subscribed, undefined)),
          Stream.take(5),
          Stream.runCollect,
          Effect.fork
        )
        yield* Deferred.await(subscribed)
        yield* transport.start
        yield* Timeline.first(transport.changes, (s) => s._tag === "Disconnected" && Option.isSome(s.cause))
        yield* wake("1 second")
        const conn = yield* peer.accepted
        yield* transport.awaitConnected
        yield* conn.close
        const states = Chunk.toArray(yield* Fiber.join(seen))
        assert.deepStrictEqual(states.map((s) => s._tag), [
          "Disconnected",
          "Connecting",
          "Disconnected",
          "Connecting",
          "Connected"
        ])
        assert.strictEqual(states[1]?._tag === "Connecting" && states[1].attempt, 1)
        assert.strictEqual(states[3]?._tag === "Connecting" && states[3].attempt, 2)
        const failed = states[2]!
        assert.isTrue(failed._tag === "Disconnected" && Option.isSome(failed.cause))
        assert.deepStrictEqual(failed._tag === "Disconnected" && failed.retryIn, Option.some(Duration.seconds(1)))
      }))

    it.scoped("autoStart false waits for start; start while connected does nothing", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({}, { autoStart: false })
        yield* noChangeWithin(transport, "1 hour")
        assert.strictEqual((yield* peer.attempts).length, 0)
        yield* transport.start
        const conn = yield* peer.accepted
        yield* transport.awaitConnected
        const attemptsBefore = yield* connectAttempts(transport)
        yield* transport.start
        // A second supervisor would make an attempt or drop the connection: the state would change.
        yield* noChangeWithin(transport, "1 hour")
        assert.isFalse(yield* conn.isClosed)
        assert.deepStrictEqual((yield* peer.attempts).map((a) => a.at), [3_600_000])
        assert.strictEqual(yield* connectAttempts(transport), attemptsBefore)
        assert.strictEqual((yield* transport.state)._tag, "Connected")
      }))
  })

  describe("reconnecting on a Schedule", () => {
    it.scoped("retryInterval 5 s and maxRetries 3 against a refusing peer: attempts at 0, 5, 10, 15 s", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup(
          { retryInterval: "5 seconds", maxRetries: 3 },
          undefined,
          (peer) => peer.setDefault("refuse")
        )
        const waiting = yield* Effect.fork(Effect.exit(transport.awaitConnected))
        for (let i = 0; i < 3; i++) yield* wake("5 seconds")
        const state = yield* Timeline.first(transport.changes, isExhausted)
        assert.deepStrictEqual((yield* peer.attempts).map((a) => a.at), [0, 5000, 10000, 15000])
        if (state._tag === "Disconnected") {
          assert.strictEqual(state.attempts, 4)
          assert.isTrue(Option.isNone(state.retryIn))
        }
        const exit = yield* Fiber.join(waiting)
        assert.isTrue(Exit.isFailure(exit), "a waiting awaitConnected fails when retries are exhausted")
        const failure = yield* Effect.flip(transport.awaitConnected)
        assert.strictEqual(failure._tag, "ConnectionError")
        assert.strictEqual(failure._tag === "ConnectionError" && failure.reason, "RetriesExhausted")
        assert.include(failure.message, "after 4 attempts")
        const sendError = yield* Effect.flip(transport.send(text("x")))
        assert.strictEqual(sendError._tag === "ConnectionError" && sendError.reason, "NotConnected")
        // Nothing more happens, however long we wait.
        yield* noChangeWithin(transport, "1 hour")
        assert.strictEqual((yield* peer.attempts).length, 4)
      }))

    it.scoped("maxRetries 0 makes one attempt; start after exhaustion starts a fresh round", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({ maxRetries: 0 }, undefined, (peer) => peer.next("refuse"))
        yield* Timeline.first(transport.changes, isExhausted)
        assert.strictEqual((yield* peer.attempts).length, 1)
        yield* transport.start
        yield* peer.accepted
        const connected = yield* transport.awaitConnected
        assert.strictEqual(connected.generation, 1)
        assert.deepStrictEqual((yield* peer.attempts).map((a) => a.behaviour), ["refuse", "accept"])
      }))

    it.scoped("connectTimeout bounds a hanging attempt, then the schedule goes on", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup(
          { connectTimeout: "3 seconds", retryInterval: "2 seconds" },
          undefined,
          (peer) => peer.next("hang")
        )
        yield* Timeline.first(transport.changes, (s) => s._tag === "Connecting")
        // The attempt's timer is set: it is the connect timeout that ends it.
        yield* wake("3 seconds")
        const state = yield* Timeline.first(
          transport.changes,
          (s) => s._tag === "Disconnected" && Option.isSome(s.cause)
        )
        if (state._tag === "Disconnected") {
          const cause = Option.getOrThrow(state.cause)
          assert.strictEqual(cause._tag, "TimeoutError")
          assert.strictEqual(cause._tag === "TimeoutError" && cause.operation, "connect")
        }
        yield* wake("2 seconds")
        yield* peer.accepted
        yield* transport.awaitConnected
        assert.deepStrictEqual((yield* peer.attempts).map((a) => a.at), [0, 5000])
      }))

    it.scoped("a custom exponential schedule replaces the config's", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup(
          {},
          { reconnectSchedule: Transport.exponentialBackoff({ base: "100 millis", jitter: false, maxRetries: 4 }) },
          (peer) => peer.setDefault("refuse")
        )
        for (const delay of [100, 200, 400, 800]) yield* wake(delay)
        yield* Timeline.first(transport.changes, isExhausted)
        assert.deepStrictEqual((yield* peer.attempts).map((a) => a.at), [0, 100, 300, 700, 1500])
      }))

    it.scoped("after a connection that was up, the backoff starts over and the first reconnect is immediate", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({ retryInterval: "5 seconds", maxRetries: 1 })
        const first = yield* peer.accepted
        yield* transport.awaitConnected
        yield* TestClock.adjust("1 minute")
        yield* peer.next("refuse")
        yield* first.close
        // Reconnect at once (refused), then once more after 5 s: maxRetries counts from the drop.
        yield* wake("5 seconds")
        const second = yield* peer.accepted
        const connected = yield* transport.awaitConnected
        assert.strictEqual(connected.generation, 2)
        assert.deepStrictEqual((yield* peer.attempts).map((a) => a.at), [0, 60000, 65000])
        assert.strictEqual(second.id, 2)
      }))

    it.scoped("a connection that drops at once counts as a failed attempt: no reconnect storm", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({ retryInterval: "5 seconds", maxRetries: 2 })
        for (let i = 0; i < 3; i++) {
          const conn = yield* peer.accepted
          yield* conn.close
          if (i < 2) yield* wake("5 seconds")
        }
        yield* Timeline.first(transport.changes, isExhausted)
        assert.deepStrictEqual((yield* peer.attempts).map((a) => a.at), [0, 5000, 10000])
      }))

    it.scoped("idleTimeout: no inbound bytes for that long drops the connection and reconnects", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({ idleTimeout: "10 seconds", retryInterval: "1 second" })
        const first = yield* peer.accepted
        yield* transport.awaitConnected
        const closedAt = yield* Effect.fork(Effect.zipRight(first.awaitClosed, Clock.currentTimeMillis))
        yield* awaitSleepUntil(10_000)
        yield* TestClock.adjust("6 seconds")
        const before = yield* bytesIn(transport)
        yield* first.pushFrame(text("alive"))
        // Read at 6 s, so the idle timer, waking at 10 s, sleeps on until 16 s.
        yield* eventually(Effect.map(bytesIn(transport), (n) => n >= before + 9), { every: "yield" })
        yield* TestClock.adjust("6 seconds")
        yield* TestClock.adjust("4 seconds")
        // Inbound bytes reset the idle clock: the drop comes 10 s after them, not 10 s after connecting.
        assert.strictEqual(yield* Fiber.join(closedAt), 16_000)
        // The connection was up 16 s, more than the 1 s needed to count as healthy: reconnect at once.
        yield* peer.accepted
        const state = yield* Timeline.first(transport.changes, (s) => s._tag === "Connected" && s.generation === 2)
        assert.strictEqual(state._tag === "Connected" && state.generation, 2)
        // The frame that arrived before the drop is still delivered.
        assert.strictEqual(decodeText(yield* transport.recvPkg()), "alive")
      }))
  })

  describe("stop", () => {
    it.scoped("stop while connecting returns at once", () =>
      Effect.gen(function*() {
        const { transport } = yield* setup({ connectTimeout: "1 hour" }, undefined, (peer) => peer.next("hang"))
        yield* Timeline.first(transport.changes, (s) => s._tag === "Connecting")
        yield* transport.stop
        assert.strictEqual((yield* transport.state)._tag, "Closed")
      }))

    it.scoped("after the scope closes no attempt is made, however long we wait", () =>
      Effect.gen(function*() {
        const { conn, peer, transport } = yield* Effect.scoped(Effect.gen(function*() {
          const made = yield* setup({ retryInterval: "1 second" })
          const conn = yield* made.peer.accepted
          yield* made.transport.awaitConnected
          return { ...made, conn }
        }))
        assert.strictEqual((yield* transport.state)._tag, "Closed")
        yield* conn.awaitClosed
        const attempts = (yield* peer.attempts).length
        // The peer accepts every attempt: a reconnect would show as a connection.
        yield* notWithin(peer.accepted, "1 hour", "a connection after the scope closed")
        assert.strictEqual((yield* peer.attempts).length, attempts)
      }))
  })
})
