/**
 * The pool: over real TCP against several mock brokers (one connection per address under 50 concurrent first
 * calls, a bad frame dropping one address only, scope close, maxAddresses, bad addresses), and over
 * `TestConnector` on the `TestClock` for the idle close.
 */
import { assert, describe, it } from "@effect/vitest"
import { readText, text } from "@rocketmq-effect/test-kit/Bytes"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import { Connector } from "@rocketmq-effect/transport/Connector"
import * as TestConnector from "@rocketmq-effect/transport/TestConnector"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { parseAddress } from "../src/internal/poolEntries.js"
import { RequestCode, ResponseCode } from "../src/RemotingCode.js"
import { request, response } from "../src/RemotingCommand.js"
import * as RemotingPool from "../src/RemotingPool.js"
import { echoPeer, live, makeBroker, pushCommand, takeCommand } from "./MockBroker.js"

const tcpPool = (options: RemotingPool.Options = {}) =>
  RemotingPool.make({ transport: { retryInterval: "50 millis" }, ...options }).pipe(
    Effect.provideServiceEffect(Connector, NodeConnector.make),
    Effect.orDie
  )

const silent = () => Effect.succeed(undefined)

describe("RemotingPool over TCP", () => {
  live(
    "one connection per address even with 50 concurrent first calls to each of three brokers",
    () =>
      Effect.gen(function*() {
        const brokers = yield* Effect.forEach([1, 2, 3], () => makeBroker())
        const pool = yield* tcpPool()
        const calls = brokers.flatMap((broker, b) =>
          Array.from({ length: 50 }, (_, i) =>
            Effect.map(
              pool.invoke(broker.address, request(RequestCode.HEART_BEAT, { body: text(`${b}/${i}`) })),
              (answer) => readText(answer.body)
            ))
        )
        const answers = yield* Effect.all(calls, { concurrency: "unbounded" })
        assert.deepStrictEqual(answers, brokers.flatMap((_, b) => Array.from({ length: 50 }, (_, i) => `${b}/${i}`)))
        for (const broker of brokers) assert.strictEqual(yield* broker.acceptedCount, 1, broker.address)
        assert.deepStrictEqual(
          (yield* pool.addresses).slice().sort(),
          brokers.map((b) => b.address).sort()
        )
      })
  )

  live(
    "a bad frame from one broker drops that connection only; the other address keeps its connection",
    () =>
      Effect.gen(function*() {
        const bad = yield* makeBroker(({ command }) =>
          Effect.succeed(
            command.code === RequestCode.PULL_MESSAGE ? undefined : response(command, ResponseCode.SUCCESS)
          )
        )
        const good = yield* makeBroker()
        const pool = yield* tcpPool()
        yield* pool.invoke(bad.address, request(RequestCode.HEART_BEAT))
        yield* pool.invoke(good.address, request(RequestCode.HEART_BEAT))
        const first = yield* Queue.take(bad.accepted)
        const goodConnection = yield* Queue.take(good.accepted)
        const pending = yield* Effect.fork(
          pool.invoke(bad.address, request(RequestCode.PULL_MESSAGE), { timeout: "30 seconds" })
        )
        yield* eventually(Effect.map(Queue.size(bad.received), (n) => n === 2))
        yield* first.sendPayload(new Uint8Array([9, 9, 9, 9]))
        const error = yield* Effect.flip(Fiber.join(pending))
        assert.strictEqual(error._tag === "ConnectionError" && error.reason, "Disconnected")
        yield* first.closed
        // The bad broker's address reconnects; the good one was never touched.
        assert.strictEqual(
          (yield* pool.invoke(bad.address, request(RequestCode.HEART_BEAT))).code,
          ResponseCode.SUCCESS
        )
        assert.strictEqual(yield* bad.acceptedCount, 2)
        assert.strictEqual(
          (yield* pool.invoke(good.address, request(RequestCode.HEART_BEAT))).code,
          ResponseCode.SUCCESS
        )
        assert.strictEqual(yield* good.acceptedCount, 1)
        assert.strictEqual(yield* good.server.connectionCount, 1)
        assert.strictEqual(yield* Queue.size(goodConnection.received), 2, "both calls on the first connection")
      })
  )

  live("closing the pool's scope closes every connection and fails the calls under way", () =>
    Effect.gen(function*() {
      const brokers = yield* Effect.forEach([1, 2], () => makeBroker(silent))
      const scope = yield* Scope.make()
      const pool = yield* tcpPool().pipe(Scope.extend(scope))
      const calls = yield* Effect.forEach(
        brokers,
        (broker) =>
          Effect.fork(pool.invoke(broker.address, request(RequestCode.PULL_MESSAGE), { timeout: "30 seconds" }))
      )
      for (const broker of brokers) yield* Queue.take(broker.received)
      yield* Scope.close(scope, Exit.void)
      for (const call of calls) assert.strictEqual((yield* Effect.flip(Fiber.join(call)))._tag, "ConnectionClosedError")
      for (const broker of brokers) {
        yield* eventually(Effect.map(broker.server.connectionCount, (n) => n === 0))
      }
      const after = yield* Effect.flip(pool.invoke(brokers[0]!.address, request(RequestCode.HEART_BEAT)))
      assert.strictEqual(after._tag, "ConnectionClosedError")
    }))

  live(
    "past maxAddresses the least recently used idle address is closed; with all busy the call fails typed",
    () =>
      Effect.gen(function*() {
        const [a, b, c] = yield* Effect.forEach(
          [1, 2, 3],
          () =>
            makeBroker(({ command }) =>
              Effect.succeed(
                command.code === RequestCode.PULL_MESSAGE ? undefined : response(command, ResponseCode.SUCCESS)
              )
            )
        )
        const pool = yield* tcpPool({ maxAddresses: 1 })
        yield* pool.invoke(a!.address, request(RequestCode.HEART_BEAT))
        const aConnection = yield* Queue.take(a!.accepted)
        yield* pool.invoke(b!.address, request(RequestCode.HEART_BEAT))
        yield* aConnection.closed
        assert.deepStrictEqual(yield* pool.addresses, [b!.address])
        const busy = yield* Effect.fork(
          pool.invoke(b!.address, request(RequestCode.PULL_MESSAGE), { timeout: "30 seconds" })
        )
        yield* eventually(Effect.map(Queue.size(b!.received), (n) => n === 2))
        const full = yield* Effect.flip(pool.invoke(c!.address, request(RequestCode.HEART_BEAT)))
        assert.strictEqual(full._tag, "RemotingPoolError")
        if (full._tag === "RemotingPoolError") {
          assert.strictEqual(full.reason, "TooManyAddresses")
          assert.strictEqual(full.maxAddresses, 1)
        }
        yield* Fiber.interrupt(busy)
      })
  )

  live(
    "a bad address or transport config fails the call with a ConfigurationError and leaves nothing open",
    () =>
      Effect.gen(function*() {
        const pool = yield* tcpPool({ transport: () => ({ connectTimeout: -1 }) })
        const noPort = yield* Effect.flip(pool.invoke("localhost", request(RequestCode.HEART_BEAT)))
        assert.strictEqual(noPort._tag, "ConfigurationError")
        assert.strictEqual(noPort._tag === "ConfigurationError" && noPort.field, "address")
        const badConfig = yield* Effect.flip(pool.invoke("127.0.0.1:1", request(RequestCode.HEART_BEAT)))
        assert.strictEqual(badConfig._tag, "ConfigurationError")
        assert.match(badConfig.message, /connectTimeout/)
        assert.deepStrictEqual(yield* pool.addresses, [])
      })
  )

  it("parses host:port, IPv6 with or without brackets", () => {
    assert.deepStrictEqual(parseAddress("127.0.0.1:10911"), { host: "127.0.0.1", port: 10911 })
    assert.deepStrictEqual(parseAddress("[::1]:9876"), { host: "::1", port: 9876 })
    assert.deepStrictEqual(parseAddress("::1:9876"), { host: "::1", port: 9876 })
    assert.strictEqual(parseAddress("broker"), undefined)
    assert.strictEqual(parseAddress(":9876"), undefined)
    assert.strictEqual(parseAddress("broker:port"), undefined)
  })
})

describe("RemotingPool idle close (TestConnector, TestClock)", () => {
  const setup = (options: RemotingPool.Options = {}) =>
    Effect.gen(function*() {
      const [connector, peer] = yield* TestConnector.make
      const pool = yield* RemotingPool.make(options).pipe(Effect.provideService(Connector, connector), Effect.orDie)
      return { pool, peer }
    })

  it.scoped("an address unused for closeIdleAfter (3 min) is closed then; the next call opens a new connection", () =>
    Effect.gen(function*() {
      const { peer, pool } = yield* setup()
      const call = yield* Effect.fork(pool.invoke("broker-a:10911", request(RequestCode.HEART_BEAT)))
      const first = yield* peer.accepted
      yield* Effect.fork(echoPeer(first))
      yield* Fiber.join(call)
      yield* TestClock.adjust("179 seconds")
      assert.isFalse(yield* first.isClosed, "open 1 s before")
      assert.deepStrictEqual(yield* pool.addresses, ["broker-a:10911"])
      yield* TestClock.adjust("1 second")
      yield* first.awaitClosed
      assert.deepStrictEqual(yield* pool.addresses, [])
      assert.strictEqual(yield* Clock.currentTimeMillis, 180_000)
      const again = yield* Effect.fork(pool.invoke("broker-a:10911", request(RequestCode.HEART_BEAT)))
      const second = yield* peer.accepted
      assert.strictEqual(second.id, 2)
      yield* Effect.fork(echoPeer(second))
      yield* Fiber.join(again)
    }))

  it.scoped("a call under way keeps its address open past the idle period; the period counts from its end", () =>
    Effect.gen(function*() {
      // The client's own idleTimeout would drop a connection silent for 2 minutes after a request: off here.
      const { peer, pool } = yield* setup({ closeIdleAfter: "1 minute", client: { idleTimeout: Duration.infinity } })
      const call = yield* Effect.fork(
        pool.invoke("broker-a:10911", request(RequestCode.PULL_MESSAGE), { timeout: "10 minutes" })
      )
      const connection = yield* peer.accepted
      const pull = yield* takeCommand(connection)
      yield* TestClock.adjust("5 minutes")
      assert.isFalse(yield* connection.isClosed)
      yield* pushCommand(connection, response(pull, ResponseCode.SUCCESS, { body: text("held") }))
      assert.strictEqual(readText((yield* Fiber.join(call)).body), "held")
      yield* TestClock.adjust("59 seconds")
      assert.isFalse(yield* connection.isClosed)
      yield* TestClock.adjust("1 second")
      yield* connection.awaitClosed
      assert.strictEqual(yield* Clock.currentTimeMillis, 360_000)
    }))

  it.scoped("concurrent first calls on the test connector make one connection attempt", () =>
    Effect.gen(function*() {
      const { peer, pool } = yield* setup()
      const calls = yield* Effect.fork(
        Effect.all(
          Array.from({ length: 50 }, () => pool.invoke("broker-b:10911", request(RequestCode.HEART_BEAT))),
          { concurrency: "unbounded" }
        )
      )
      const connection = yield* peer.accepted
      yield* Effect.fork(echoPeer(connection))
      assert.strictEqual(Chunk.size(Chunk.fromIterable(yield* Fiber.join(calls))), 50)
      assert.deepStrictEqual((yield* peer.attempts).map((a) => a.address), ["broker-b:10911"])
    }))
})
