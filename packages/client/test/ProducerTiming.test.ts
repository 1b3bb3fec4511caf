/**
 * The producer's timing rules on the `TestClock`, against the in-memory cluster: when routes are fetched,
 * which answers are retried and where, the one time budget of a send, `maxInFlight`, and the close.
 */
import { assert, describe, it } from "@effect/vitest"
import { RequestCode, ResponseCode } from "@rocketmq-effect/remoting/RemotingCode"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import type { ProducerError } from "../src/ClientError.js"
import type * as Message from "../src/Message.js"
import * as Producer from "../src/Producer.js"
import { withClusterOf } from "./ClientTiming.js"
import * as FakeCluster from "./FakeCluster.js"

const NS = "127.0.0.1:9876"
const BROKER_A = "127.0.0.1:10911"
const BROKER_B = "127.0.0.1:10921"
const TWO_BROKERS: FakeCluster.Options = {
  brokers: [{ name: "broker-a", address: BROKER_A }, { name: "broker-b", address: BROKER_B }],
  topics: { TopicTest: 4 }
}
const MESSAGE_ILLEGAL = 13
const FLUSH_DISK_TIMEOUT = 10

/** Runs `body` with a cluster, compression and host; the body's scope (its producers) closes before the cluster. */
const withCluster = withClusterOf({ topics: { TopicTest: 4 } })

const message = (body = "hello", topic = "TopicTest") => ({ topic, body: new TextEncoder().encode(body) })

const routeFetches = (topic = "TopicTest") =>
  Effect.flatMap(FakeCluster.FakeCluster, (cluster) =>
    Effect.map(
      cluster.requestsOf(RequestCode.GET_ROUTEINFO_BY_TOPIC),
      (requests) => requests.filter((r) => r.extFields.topic === topic)
    ))

const sends = Effect.flatMap(FakeCluster.FakeCluster, (cluster) => cluster.requestsOf(RequestCode.SEND_MESSAGE_V2))

/** Lets the other fibers run (no clock movement) so that what could happen now has happened. */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

const isPending = <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.map(Fiber.poll(fiber), Option.isNone)

/** A send's failure as the `ProducerError` it must be (a `MessageError` here would be the test's mistake). */
const producerError = (error: ProducerError | Message.MessageError): ProducerError => {
  assert.strictEqual(error._tag, "ProducerError", error.message)
  return error as ProducerError
}

const sendFailure = <A>(send: Effect.Effect<A, ProducerError | Message.MessageError>) =>
  Effect.map(Effect.flip(send), producerError)

const failureOf = <A>(fiber: Fiber.Fiber<A, ProducerError | Message.MessageError>) =>
  Effect.flatMap(
    Fiber.await(fiber),
    (exit) => Exit.isFailure(exit) ? sendFailure(Fiber.join(fiber)) : Effect.dieMessage("expected the send to fail")
  )

describe("Producer timing", () => {
  it.effect("the route is fetched on the first send only, then refreshed every 30 s", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const producer = yield* Producer.make({ nameServer: NS })
      yield* settle
      assert.strictEqual((yield* routeFetches()).length, 0, "nothing fetched before a send")
      yield* producer.send(message("one"))
      yield* producer.send(message("two"))
      yield* producer.send(message("three"))
      assert.deepStrictEqual((yield* routeFetches()).map((r) => r.at), [0], "one fetch for three sends")
      assert.strictEqual((yield* routeFetches())[0]!.address, NS)

      yield* TestClock.adjust("29 seconds")
      yield* settle
      assert.strictEqual((yield* routeFetches()).length, 1, "not refreshed at 29 s")
      yield* TestClock.adjust("1 second")
      yield* cluster.awaitRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, undefined, 2)
      yield* TestClock.adjust("30 seconds")
      yield* cluster.awaitRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, undefined, 3)
      yield* settle
      assert.deepStrictEqual((yield* routeFetches()).map((r) => r.at), [0, 30_000, 60_000])
      // Sends in between use the known route.
      yield* producer.send(message("four"))
      assert.strictEqual((yield* routeFetches()).length, 3)
    })))

  it.effect("a broker's TOPIC_NOT_EXIST fetches the route again at once, and the retry succeeds", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const producer = yield* Producer.make({ nameServer: NS })
      yield* producer.send(message("first"))
      assert.strictEqual((yield* routeFetches()).length, 1)
      yield* cluster.failNext(RequestCode.SEND_MESSAGE_V2, ResponseCode.TOPIC_NOT_EXIST, 1, "topic not exist")
      const result = yield* producer.send(message("second"))
      assert.strictEqual(result.status, "SEND_OK")
      assert.deepStrictEqual((yield* routeFetches()).map((r) => r.at), [0, 0], "fetched again without waiting")
      assert.deepStrictEqual((yield* sends).map((s) => s.fault), [undefined, "failed", undefined])
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
    })))

  it.effect("SYSTEM_BUSY then success: 2 attempts, the second on the other broker", () =>
    withCluster(TWO_BROKERS)(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const producer = yield* Producer.make({ nameServer: NS })
      // Whatever queue round-robin starts at, the first attempt is answered SYSTEM_BUSY.
      yield* cluster.failNext(RequestCode.SEND_MESSAGE_V2, ResponseCode.SYSTEM_BUSY, 1, "busy")
      const result = yield* producer.send(message())
      const attempts = yield* sends
      assert.strictEqual(attempts.length, 2)
      assert.deepStrictEqual(attempts.map((s) => s.fault), ["failed", undefined])
      assert.notStrictEqual(attempts[0]!.address, attempts[1]!.address, "the retry avoids the busy broker")
      assert.strictEqual(result.status, "SEND_OK")
      assert.strictEqual(cluster.brokerAddress(result.queue.brokerName), attempts[1]!.address)
      assert.strictEqual(attempts[1]!.extFields.n, result.queue.brokerName)
      assert.strictEqual(yield* Clock.currentTimeMillis, 0, "retried at once")
    })))

  it.effect("every retried code is retried; a code that is not fails at once with reason Rejected", () =>
    withCluster(TWO_BROKERS)(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const producer = yield* Producer.make({ nameServer: NS })
      for (const code of [1, 2, 14, 16, 17, 204, 205, 1500]) {
        yield* cluster.failNext(RequestCode.SEND_MESSAGE_V2, code, 1)
        const before = (yield* sends).length
        const result = yield* producer.send(message(`after ${code}`))
        assert.strictEqual(result.status, "SEND_OK", `code ${code}`)
        assert.strictEqual((yield* sends).length - before, 2, `code ${code} is retried`)
      }

      yield* cluster.failNext(RequestCode.SEND_MESSAGE_V2, MESSAGE_ILLEGAL, 1, "the message is illegal")
      const before = (yield* sends).length
      const error = yield* sendFailure(producer.send(message("illegal")))
      const attempts = (yield* sends).slice(before)
      assert.strictEqual(attempts.length, 1, "not retried")
      assert.strictEqual(error._tag, "ProducerError")
      assert.strictEqual(error.reason, "Rejected")
      assert.strictEqual(error.code, MESSAGE_ILLEGAL)
      assert.strictEqual(error.remark, "the message is illegal")
      assert.strictEqual(error.address, attempts[0]!.address)
      assert.strictEqual(error.brokerName, attempts[0]!.extFields.n)
      assert.strictEqual(error.attempts, 1)
      assert.strictEqual(error.topic, "TopicTest")
      assert.include(error.message, "the message is illegal")
      assert.include(error.message, "code 13")
    })))

  it.effect("3 attempts at most by default, then reason Unreachable with the last answer", () =>
    withCluster(TWO_BROKERS)(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const producer = yield* Producer.make({ nameServer: NS })
      yield* cluster.failNext(RequestCode.SEND_MESSAGE_V2, ResponseCode.SYSTEM_BUSY, 10, "busy")
      const error = yield* sendFailure(producer.send(message()))
      const attempts = yield* sends
      assert.strictEqual(attempts.length, 3)
      assert.strictEqual(error.reason, "Unreachable")
      assert.strictEqual(error.attempts, 3)
      assert.strictEqual(error.code, ResponseCode.SYSTEM_BUSY)
      assert.strictEqual(error.remark, "busy")
      assert.strictEqual(error.address, attempts[2]!.address)
      // Each retry avoids the broker of the failed attempt: a, b, a (or b, a, b).
      assert.notStrictEqual(attempts[0]!.address, attempts[1]!.address)
      assert.notStrictEqual(attempts[1]!.address, attempts[2]!.address)
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
    })))

  it.effect("retryTimes: 0 makes one attempt", () =>
    withCluster(TWO_BROKERS)(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const producer = yield* Producer.make({ nameServer: NS, retryTimes: 0 })
      yield* cluster.failNext(RequestCode.SEND_MESSAGE_V2, ResponseCode.SYSTEM_BUSY, 10)
      const error = yield* sendFailure(producer.send(message()))
      assert.strictEqual(error.reason, "Unreachable")
      assert.strictEqual(error.attempts, 1)
      assert.strictEqual((yield* sends).length, 1)
    })))

  it.effect("sendOrdered and sendOneway make one attempt", () =>
    withCluster(TWO_BROKERS)(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const producer = yield* Producer.make({ nameServer: NS })
      yield* cluster.failNext(RequestCode.SEND_MESSAGE_V2, ResponseCode.SYSTEM_BUSY, 10, "busy")
      const ordered = yield* sendFailure(producer.sendOrdered(message(), "order-42"))
      assert.strictEqual(ordered.reason, "Unreachable")
      assert.strictEqual(ordered.attempts, 1)
      assert.strictEqual((yield* sends).length, 1, "a retry elsewhere would break the order")
      yield* producer.sendOneway(message())
      yield* cluster.awaitRequest(RequestCode.SEND_MESSAGE_V2, undefined, 2)
      yield* settle
      const all = yield* sends
      assert.strictEqual(all.length, 2)
      assert.isTrue(all[1]!.oneway)
    })))

  it.effect("a hung broker: the send fails with reason Timeout at exactly 3 s, not before, attempts counted", () =>
    withCluster(TWO_BROKERS)(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const producer = yield* Producer.make({ nameServer: NS })
      yield* cluster.failNext(RequestCode.SEND_MESSAGE_V2, ResponseCode.SYSTEM_BUSY, 1, "busy")
      yield* cluster.hang(RequestCode.SEND_MESSAGE_V2, 10)
      const fiber = yield* Effect.fork(producer.send(message()))
      yield* cluster.awaitRequest(RequestCode.SEND_MESSAGE_V2, (r) => r.fault === "hung")
      yield* TestClock.adjust("2999 millis")
      yield* settle
      assert.isTrue(yield* isPending(fiber), "still waiting at 2999 ms")
      yield* TestClock.adjust("1 millis")
      const error = yield* failureOf(fiber)
      assert.strictEqual(error.reason, "Timeout")
      assert.strictEqual(error.attempts, 2)
      assert.strictEqual(yield* Clock.currentTimeMillis, 3000)
      const attempts = yield* sends
      assert.deepStrictEqual(attempts.map((s) => [s.fault, s.at]), [["failed", 0], ["hung", 0]])
      assert.strictEqual(error.address, attempts[1]!.address, "the broker of the attempt that hung")
    })))

  it.effect("a send's own timeout replaces sendTimeout", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const producer = yield* Producer.make({ nameServer: NS, sendTimeout: "10 seconds" })
      yield* cluster.hang(RequestCode.SEND_MESSAGE_V2, 10)
      const fiber = yield* Effect.fork(producer.send(message(), { timeout: "1500 millis" }))
      yield* cluster.awaitRequest(RequestCode.SEND_MESSAGE_V2)
      yield* TestClock.adjust("1499 millis")
      yield* settle
      assert.isTrue(yield* isPending(fiber))
      yield* TestClock.adjust("1 millis")
      const error = yield* failureOf(fiber)
      assert.strictEqual(error.reason, "Timeout")
      assert.strictEqual(yield* Clock.currentTimeMillis, 1500)
    })))

  it.effect("a retrySchedule decides when to try again: spaced 500 ms, 3 retries", () =>
    withCluster(TWO_BROKERS)(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const producer = yield* Producer.make({
        nameServer: NS,
        retrySchedule: Schedule.spaced("500 millis").pipe(Schedule.intersect(Schedule.recurs(3)))
      })
      yield* cluster.failNext(RequestCode.SEND_MESSAGE_V2, ResponseCode.SYSTEM_BUSY, 10, "busy")
      const fiber = yield* Effect.fork(producer.send(message()))
      yield* cluster.awaitRequest(RequestCode.SEND_MESSAGE_V2)
      yield* TestClock.adjust("499 millis")
      yield* settle
      assert.strictEqual((yield* sends).length, 1, "the second attempt waits for the schedule")
      for (let i = 0; i < 4; i++) {
        yield* TestClock.adjust("1 millis")
        yield* settle
        yield* TestClock.adjust("499 millis")
        yield* settle
      }
      const error = yield* failureOf(fiber)
      assert.strictEqual(error.reason, "Unreachable")
      assert.strictEqual(error.attempts, 4)
      assert.deepStrictEqual((yield* sends).map((s) => s.at), [0, 500, 1000, 1500])
    })))

  it.effect("a retrySchedule is cut short by the send's budget: reason Timeout at 3 s", () =>
    withCluster(TWO_BROKERS)(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const producer = yield* Producer.make({
        nameServer: NS,
        retrySchedule: Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(10)))
      })
      yield* cluster.failNext(RequestCode.SEND_MESSAGE_V2, ResponseCode.SYSTEM_BUSY, 100, "busy")
      const fiber = yield* Effect.fork(producer.send(message()))
      yield* cluster.awaitRequest(RequestCode.SEND_MESSAGE_V2)
      for (let i = 1; i <= 2; i++) {
        yield* TestClock.adjust("1 second")
        yield* cluster.awaitRequest(RequestCode.SEND_MESSAGE_V2, undefined, i + 1)
      }
      yield* TestClock.adjust("999 millis")
      yield* settle
      assert.isTrue(yield* isPending(fiber))
      yield* TestClock.adjust("1 millis")
      const error = yield* failureOf(fiber)
      assert.strictEqual(error.reason, "Timeout")
      assert.strictEqual(error.attempts, 3)
      assert.strictEqual(error.code, undefined, "a Timeout keeps the last failure as its cause")
      assert.strictEqual((error.cause as ProducerError).code, ResponseCode.SYSTEM_BUSY)
      assert.strictEqual(yield* Clock.currentTimeMillis, 3000)
      assert.deepStrictEqual((yield* sends).map((s) => s.at), [0, 1000, 2000])
    })))

  it.effect("FLUSH_DISK_TIMEOUT is a result with that status, not an error, and is not retried", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const producer = yield* Producer.make({ nameServer: NS })
      yield* cluster.failNext(RequestCode.SEND_MESSAGE_V2, FLUSH_DISK_TIMEOUT, 1)
      const result = yield* producer.send(message())
      assert.strictEqual(result.status, "FLUSH_DISK_TIMEOUT")
      assert.strictEqual(result.queue.topic, "TopicTest")
      assert.strictEqual((yield* sends).length, 1)
      for (const [code, status] of [[12, "FLUSH_SLAVE_TIMEOUT"], [11, "SLAVE_NOT_AVAILABLE"]] as const) {
        yield* cluster.failNext(RequestCode.SEND_MESSAGE_V2, code, 1)
        assert.strictEqual((yield* producer.send(message())).status, status)
      }
      assert.strictEqual((yield* sends).length, 3)
    })))

  it.effect("maxInFlight 1: a second send waits for the first, and goes once it is done", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const producer = yield* Producer.make({ nameServer: NS, maxInFlight: 1 })
      yield* producer.send(message("warm-up"))
      yield* cluster.hang(RequestCode.SEND_MESSAGE_V2, 1)
      const first = yield* Effect.fork(producer.send(message("first"), { timeout: "1 second" }))
      yield* cluster.awaitRequest(RequestCode.SEND_MESSAGE_V2, (r) => r.fault === "hung")
      const second = yield* Effect.fork(producer.send(message("second")))
      yield* settle
      assert.strictEqual((yield* sends).length, 2, "the second has not gone")
      assert.strictEqual(yield* producer.inFlight, 1)
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* failureOf(first)).reason, "Timeout")
      const result = yield* Fiber.join(second)
      assert.strictEqual(result.status, "SEND_OK")
      assert.deepStrictEqual((yield* sends).map((s) => s.at), [0, 0, 1000])
      assert.strictEqual(yield* producer.inFlight, 0)
    })))

  it.effect("maxInFlight 1: the waiting send times out with reason Timeout when the first hangs", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const producer = yield* Producer.make({ nameServer: NS, maxInFlight: 1 })
      yield* cluster.hang(RequestCode.SEND_MESSAGE_V2, 10)
      const first = yield* Effect.fork(producer.send(message("first")))
      yield* cluster.awaitRequest(RequestCode.SEND_MESSAGE_V2)
      const second = yield* Effect.fork(producer.send(message("second"), { timeout: "2 seconds" }))
      yield* TestClock.adjust("1999 millis")
      yield* settle
      assert.isTrue(yield* isPending(second))
      yield* TestClock.adjust("1 millis")
      const error = yield* failureOf(second)
      assert.strictEqual(error.reason, "Timeout")
      assert.strictEqual(error.attempts, 0)
      assert.strictEqual(yield* Clock.currentTimeMillis, 2000)
      assert.strictEqual((yield* sends).length, 1, "the second never went out")
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* failureOf(first)).reason, "Timeout")
    })))

  it.effect("closing: UNREGISTER_CLIENT to the broker with producerGroup and clientID; a send after fails Closed", () =>
    withCluster(TWO_BROKERS)(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const scope = yield* Scope.make()
      const producer = yield* Producer.make({ nameServer: NS, group: "pg-orders", instanceName: "inst-1" }).pipe(
        Scope.extend(scope)
      )
      assert.strictEqual(producer.clientId, "10.0.0.1@inst-1")
      assert.strictEqual(producer.group, "pg-orders")
      // Five sends in round-robin over 2 × 4 queues reach both brokers.
      for (const body of ["a", "b", "c", "d", "e"]) yield* producer.send(message(body))
      const used = new Set((yield* sends).map((s) => s.address))
      assert.strictEqual(used.size, 2)
      yield* Scope.close(scope, Exit.void)
      const unregisters = yield* cluster.requestsOf(RequestCode.UNREGISTER_CLIENT)
      assert.deepStrictEqual(new Set(unregisters.map((r) => r.address)), used)
      for (const request of unregisters) {
        assert.strictEqual(request.extFields.producerGroup, "pg-orders")
        assert.strictEqual(request.extFields.clientID, "10.0.0.1@inst-1")
        assert.isUndefined(request.extFields.consumerGroup)
      }
      const error = yield* sendFailure(producer.send(message("late")))
      assert.strictEqual(error.reason, "Closed")
      assert.strictEqual(error.attempts, 0)
      assert.strictEqual((yield* sendFailure(producer.publishQueues("TopicTest"))).reason, "Closed")
      assert.strictEqual((yield* sends).length, 5)
    })))

  it.effect("closing waits for a running send within its budget, then unregisters", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const scope = yield* Scope.make()
      const producer = yield* Producer.make({ nameServer: NS }).pipe(Scope.extend(scope))
      yield* producer.send(message("a"))
      yield* cluster.hang(RequestCode.SEND_MESSAGE_V2, 1)
      const running = yield* Effect.fork(producer.send(message("b")))
      yield* cluster.awaitRequest(RequestCode.SEND_MESSAGE_V2, (r) => r.fault === "hung")
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* settle
      assert.isTrue(yield* isPending(closing), "the close waits for the send")
      assert.strictEqual((yield* sendFailure(producer.send(message("c")))).reason, "Closed", "refused meanwhile")
      assert.strictEqual((yield* cluster.requestsOf(RequestCode.UNREGISTER_CLIENT)).length, 0)
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual((yield* failureOf(running)).reason, "Timeout")
      yield* Fiber.join(closing)
      const [unregister] = yield* cluster.requestsOf(RequestCode.UNREGISTER_CLIENT)
      assert.strictEqual(unregister!.at, 3000)
    })))
})
