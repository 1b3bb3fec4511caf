/**
 * The client's timing over `TestConnector` on the `TestClock`: call timeouts, failing at once on a drop,
 * waiting for a connection, the idle drop, and the heartbeat's period. No real time passes.
 */
import { assert, describe, it } from "@effect/vitest"
import { awaitSleepUntil, eventually } from "@rocketmq-effect/test-kit/Eventually"
import { Connector } from "@rocketmq-effect/transport/Connector"
import * as TestConnector from "@rocketmq-effect/transport/TestConnector"
import type { TransportConfigInput } from "@rocketmq-effect/transport/TransportConfig"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as RemotingClient from "../src/RemotingClient.js"
import { RequestCode, ResponseCode } from "../src/RemotingCode.js"
import { request, response } from "../src/RemotingCommand.js"
import { echoPeer, pushCommand, takeCommand } from "./MockBroker.js"

const setup = (
  options: Omit<RemotingClient.Options, "transport"> = {},
  input: Partial<TransportConfigInput> = {},
  script?: (peer: TestConnector.TestPeerService) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    const [connector, peer] = yield* TestConnector.make
    if (script !== undefined) yield* script(peer)
    const transport = yield* RemotingClient.makeTransport({
      host: "broker",
      port: 10911,
      retryInterval: "1 second",
      ...input
    }).pipe(Effect.provideService(Connector, connector), Effect.orDie)
    const client = yield* RemotingClient.make({ ...options, transport }).pipe(Effect.orDie)
    return { client, peer, transport }
  })

/** Moves the clock to `at` (ms), once something sleeps until then. */
const wakeAt = (at: number) =>
  Effect.gen(function*() {
    yield* awaitSleepUntil(at)
    yield* TestClock.setTime(at)
  })

describe("RemotingClient timing (TestConnector, TestClock)", () => {
  it.scoped("a call fails at its timeout (3 s by default), not before", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* setup()
      const connection = yield* peer.accepted
      const call = yield* Effect.fork(client.invoke(request(RequestCode.PULL_MESSAGE)))
      yield* takeCommand(connection)
      yield* TestClock.adjust("2999 millis")
      yield* Effect.yieldNow()
      assert.isTrue(Option.isNone(yield* Fiber.poll(call)), "still waiting at 2999 ms")
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(call))
      assert.strictEqual(error._tag, "RemotingClientError")
      assert.strictEqual(error._tag === "RemotingClientError" && error.waitingFor, "response")
      assert.strictEqual(yield* Clock.currentTimeMillis, 3000)
    }))

  it.scoped("a reset fails the pending calls at once: no time passes", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* setup()
      const connection = yield* peer.accepted
      const calls = yield* Effect.forEach(
        [1, 2, 3],
        () => Effect.fork(client.invoke(request(RequestCode.PULL_MESSAGE)))
      )
      for (let i = 0; i < 3; i++) yield* takeCommand(connection)
      yield* connection.reset
      for (const call of calls) {
        const error = yield* Effect.flip(Fiber.join(call))
        assert.strictEqual(error._tag === "ConnectionError" && error.reason, "Disconnected")
      }
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
    }))

  it.scoped("a call waits for a connection within its timeout, then says what the last attempt saw", () =>
    Effect.gen(function*() {
      const { client } = yield* setup({}, {}, (peer) => peer.setDefault("refuse"))
      const call = yield* Effect.fork(
        client.invoke(request(RequestCode.GET_BROKER_CLUSTER_INFO), { timeout: "2 seconds" })
      )
      yield* TestClock.adjust("2 seconds")
      const error = yield* Effect.flip(Fiber.join(call))
      assert.strictEqual(error._tag, "RemotingClientError")
      if (error._tag !== "RemotingClientError") return
      assert.strictEqual(error.reason, "Timeout")
      assert.strictEqual(error.waitingFor, "connection")
      assert.match(
        error.message,
        /timed out after 2s waiting for a connection \(last: could not connect to broker:10911/
      )
    }))

  it.scoped("calls waiting for a connection go out, in order, on the one that comes up within their timeouts", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* setup({}, { retryInterval: "1 second" }, (peer) => peer.setDefault("refuse"))
      const calls = yield* Effect.forEach(
        [1, 2, 3],
        (n) => Effect.fork(client.invoke(request(RequestCode.PULL_MESSAGE, { extFields: { n } }))),
        { concurrency: 1 }
      )
      yield* TestClock.adjust("1 second")
      yield* peer.setDefault("accept")
      yield* TestClock.adjust("1 second")
      const connection = yield* peer.accepted
      for (const n of ["1", "2", "3"]) {
        const command = yield* takeCommand(connection)
        assert.strictEqual(command.extFields?.get("n"), n)
        yield* pushCommand(connection, response(command, ResponseCode.SUCCESS))
      }
      for (const call of calls) assert.strictEqual((yield* Fiber.join(call)).code, ResponseCode.SUCCESS)
      assert.strictEqual(yield* Clock.currentTimeMillis, 2000, "within the 3 s timeout")
    }))

  it.scoped("awaitConnection: false fails at once with NotConnected, as the transport's send does", () =>
    Effect.gen(function*() {
      const { client } = yield* setup({}, {}, (peer) => peer.setDefault("refuse"))
      const error = yield* Effect.flip(
        client.invoke(request(RequestCode.PULL_MESSAGE), { awaitConnection: false, timeout: "1 minute" })
      )
      assert.strictEqual(error._tag === "ConnectionError" && error.reason, "NotConnected", error.message)
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
    }))

  it.scoped("losing the broker and getting it back are said at Warning", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      yield* Effect.gen(function*() {
        const { client, peer } = yield* setup({}, { retryInterval: "1 second" }, (peer) => peer.setDefault("accept"))
        const first = yield* peer.accepted
        yield* eventually(Effect.map(client.transport.isConnected, (up) => up), { every: "yield" })
        assert.deepStrictEqual(warnings, [], "a healthy connection says nothing")
        yield* peer.setDefault("refuse")
        yield* first.reset
        yield* eventually(Effect.sync(() => warnings.length === 1), { every: "yield" })
        assert.match(
          warnings[0]!,
          /^lost the connection to broker:10911: .*; calls wait for the next one/,
          JSON.stringify(warnings)
        )
        yield* peer.setDefault("accept")
        yield* TestClock.adjust("3 seconds")
        yield* peer.accepted
        yield* eventually(Effect.sync(() => warnings.length >= 2), { every: "yield" })
        assert.match(warnings[1]!, /^connected to broker:10911 again after \d/)
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    }))

  it.scoped("calls waiting for a connection fail RetriesExhausted at once when the schedule gives up", () =>
    Effect.gen(function*() {
      const { client } = yield* setup(
        {},
        { retryInterval: "1 second", maxRetries: 1 },
        (peer) => peer.setDefault("refuse")
      )
      const call = yield* Effect.fork(client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "1 minute" }))
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(call))
      assert.strictEqual(error._tag === "ConnectionError" && error.reason, "RetriesExhausted", error.message)
      assert.strictEqual(yield* Clock.currentTimeMillis, 1000, "when the schedule gave up, not at the timeout")
      const next = yield* Effect.flip(client.invoke(request(RequestCode.PULL_MESSAGE)))
      assert.strictEqual(next._tag === "ConnectionError" && next.reason, "RetriesExhausted", "later calls at once")
    }))

  it.scoped("past maxInFlight calls wait for a slot in order; an interrupted call frees its slot", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* setup({ maxInFlight: 1 })
      const connection = yield* peer.accepted
      const first = yield* Effect.fork(client.invoke(request(RequestCode.PULL_MESSAGE, { extFields: { n: 1 } })))
      const firstCommand = yield* takeCommand(connection)
      const second = yield* Effect.fork(client.invoke(request(RequestCode.PULL_MESSAGE, { extFields: { n: 2 } })))
      const third = yield* Effect.fork(client.invoke(request(RequestCode.PULL_MESSAGE, { extFields: { n: 3 } })))
      yield* Effect.yieldNow()
      assert.strictEqual(yield* client.inFlight, 1, "one call in flight: the others wait for its slot")
      yield* Fiber.interrupt(first)
      const secondCommand = yield* takeCommand(connection)
      assert.strictEqual(secondCommand.extFields?.get("n"), "2", "the first waiting call got the slot")
      // The interrupted call's answer comes late and matches nothing.
      yield* pushCommand(connection, response(firstCommand, ResponseCode.SUCCESS))
      yield* pushCommand(connection, response(secondCommand, ResponseCode.SUCCESS))
      assert.strictEqual((yield* Fiber.join(second)).opaque, secondCommand.opaque)
      const thirdCommand = yield* takeCommand(connection)
      assert.strictEqual(thirdCommand.extFields?.get("n"), "3")
      yield* pushCommand(connection, response(thirdCommand, ResponseCode.SUCCESS))
      yield* Fiber.join(third)
      assert.strictEqual(yield* client.lateResponses, 1)
      assert.strictEqual(yield* client.inFlight, 0)
    }))

  it.scoped("a request with no frame back for idleTimeout drops the connection; the transport reconnects", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* setup({}, { retryInterval: "0 millis" })
      const first = yield* peer.accepted
      // Answered at 10 s: an answer clears the silence.
      const answered = yield* Effect.fork(client.invoke(request(RequestCode.HEART_BEAT), { timeout: "1 minute" }))
      const beat = yield* takeCommand(first)
      yield* TestClock.setTime(10_000)
      yield* pushCommand(first, response(beat, ResponseCode.SUCCESS))
      yield* Fiber.join(answered)
      // Then a request at 50 s that is never answered (it times out at 53 s): silence from 50 s on.
      yield* TestClock.setTime(50_000)
      const lost = yield* Effect.fork(Effect.either(client.invoke(request(RequestCode.PULL_MESSAGE))))
      yield* takeCommand(first)
      yield* TestClock.setTime(53_000)
      yield* Fiber.join(lost)
      yield* TestClock.setTime(169_999)
      yield* awaitSleepUntil(170_000)
      assert.isFalse(yield* first.isClosed, "still up 1 ms before")
      yield* TestClock.setTime(170_000)
      yield* first.awaitClosed
      assert.strictEqual(yield* Clock.currentTimeMillis, 170_000, "dropped 120 s after the unanswered request")
      const second = yield* peer.accepted
      assert.strictEqual(second.id, 2)
      const drops = yield* Metric.value(
        Metric.tagged(RemotingClient.metrics.idleDrops, "address", "broker:10911")
      )
      assert.isAtLeast(drops.count, 1)
    }))

  it.scoped("closeOnTimeout: the connection is dropped at the call's timeout, its neighbours fail then, the transport reconnects at once", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* setup({ closeOnTimeout: true }, { retryInterval: "1 second" })
      const first = yield* peer.accepted
      const neighbour = yield* Effect.fork(client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "1 minute" }))
      yield* takeCommand(first)
      const call = yield* Effect.fork(client.invoke(request(RequestCode.PULL_MESSAGE)))
      yield* takeCommand(first)
      yield* TestClock.adjust("2999 millis")
      yield* Effect.yieldNow()
      assert.isFalse(yield* first.isClosed, "still up 1 ms before the timeout")
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(call))
      assert.strictEqual(error._tag === "RemotingClientError" && error.waitingFor, "response")
      const dropped = yield* Effect.flip(Fiber.join(neighbour))
      assert.strictEqual(dropped._tag === "ConnectionError" && dropped.reason, "Disconnected")
      yield* first.awaitClosed
      // Up for 3 s, more than `stableAfter` (1 s): the first reconnect is immediate.
      const second = yield* peer.accepted
      assert.strictEqual(second.id, 2)
      assert.strictEqual(yield* Clock.currentTimeMillis, 3000, "dropped and reconnected at the timeout")
    }))

  it.scoped("a connection with no traffic, or whose requests are answered, is never dropped as idle", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* setup({ idleTimeout: "10 seconds" })
      const connection = yield* peer.accepted
      yield* Effect.fork(echoPeer(connection))
      yield* TestClock.adjust("1 minute")
      for (let i = 0; i < 10; i++) {
        yield* client.invoke(request(RequestCode.HEART_BEAT))
        yield* TestClock.adjust("9 seconds")
      }
      yield* TestClock.adjust("10 minutes")
      assert.isFalse(yield* connection.isClosed)
    }))

  it.scoped("the heartbeat runs when a connection comes up, then every interval, and again on the next one", () =>
    Effect.gen(function*() {
      const beats: Array<readonly [number, number]> = []
      const { peer } = yield* setup({
        idleTimeout: Duration.infinity,
        heartbeat: {
          interval: "30 seconds",
          effect: (client) => client.invokeSuccess(request(RequestCode.HEART_BEAT), { timeout: "5 seconds" })
        }
      }, { retryInterval: "0 millis" })
      const answer = (connection: TestConnector.PeerConnection) =>
        Effect.forever(Effect.gen(function*() {
          const command = yield* takeCommand(connection)
          beats.push([connection.id, yield* Clock.currentTimeMillis])
          yield* pushCommand(connection, response(command, ResponseCode.SUCCESS))
        }))
      const first = yield* peer.accepted
      yield* Effect.fork(answer(first))
      yield* eventually(Effect.sync(() => beats.length === 1), { every: "yield" })
      yield* wakeAt(30_000)
      yield* eventually(Effect.sync(() => beats.length === 2), { every: "yield" })
      yield* wakeAt(60_000)
      yield* eventually(Effect.sync(() => beats.length === 3), { every: "yield" })
      yield* TestClock.setTime(75_000)
      yield* first.reset
      const second = yield* peer.accepted
      yield* Effect.fork(answer(second))
      yield* eventually(Effect.sync(() => beats.length === 4), { every: "yield" })
      yield* wakeAt(105_000)
      yield* eventually(Effect.sync(() => beats.length === 5), { every: "yield" })
      assert.deepStrictEqual(beats, [[1, 0], [1, 30_000], [1, 60_000], [2, 75_000], [2, 105_000]])
    }))
})
