/**
 * The consumer's timing rules on the `TestClock`, against the in-memory cluster: heartbeats, rebalancing (on
 * its schedule and on NOTIFY_CONSUMER_IDS_CHANGED), the committed offset as the low watermark and when it is
 * written, the close, long polling, backpressure, send-back and where a new queue starts.
 */
import { assert, describe, it } from "@effect/vitest"
import { RequestCode, ResponseCode } from "@rocketmq-effect/remoting/RemotingCode"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as TestClock from "effect/TestClock"
import * as Consumer from "../src/Consumer.js"
import * as MessageQueue from "../src/MessageQueue.js"
import { withClusterOf } from "./ClientTiming.js"
import * as FakeCluster from "./FakeCluster.js"

const NS = "127.0.0.1:9876"
const BROKER_A = "127.0.0.1:10911"
const BROKER_B = "127.0.0.1:10921"
const GROUP = "cg"
const RETRY = `%RETRY%${GROUP}`

/** Runs `body` with a cluster, compression and host; the body's scope (its consumers) closes before the cluster. */
const withCluster = withClusterOf({ topics: { TopicTest: 1 } })

const options = (extra: Partial<Consumer.Options> = {}): Consumer.Options => ({
  nameServer: NS,
  group: GROUP,
  subscriptions: { TopicTest: "*" },
  instanceName: "c1",
  // Deliveries a test leaves unsettled would hold the close for the grace period on the TestClock.
  gracePeriod: "0 millis",
  ...extra
})

/** Lets the other fibers run (no clock movement) so that what could happen now has happened. */
const settle = Effect.repeatN(Effect.yieldNow(), 100)

const until = (check: Effect.Effect<boolean>, what: string) =>
  eventually(check, { every: "yield", timeout: "5 seconds", what }).pipe(
    // `eventually`'s timeout sleeps on the clock in context; the wait must not depend on the TestClock.
    Effect.withClock(Clock.make())
  )

const requestsOf = (code: number, predicate: (r: FakeCluster.RequestRecord) => boolean = () => true) =>
  Effect.flatMap(
    FakeCluster.FakeCluster,
    (cluster) => Effect.map(cluster.requestsOf(code), (rs) => rs.filter(predicate))
  )

const pullsOf = (topic: string, queueId = 0) =>
  requestsOf(RequestCode.PULL_MESSAGE, (r) => r.extFields.topic === topic && r.extFields.queueId === String(queueId))

/**
 * Every delivery of `consumer.stream`, in a queue, unsettled. When the test's scope closes (before the
 * consumer's), the stream stops and whatever it handed out is acknowledged, so that the consumer's close has
 * nothing to wait for.
 */
const deliveriesOf = (consumer: Consumer.ConsumerService) =>
  Effect.gen(function*() {
    const out = yield* Queue.unbounded<Consumer.Delivery>()
    const handedOut: Array<Consumer.Delivery> = []
    const fiber = yield* Effect.fork(Stream.runForEach(consumer.stream, (delivery) =>
      Effect.suspend(() => {
        handedOut.push(delivery)
        return Queue.offer(out, delivery)
      })))
    yield* Effect.addFinalizer(() =>
      Fiber.interrupt(fiber).pipe(Effect.zipRight(Effect.forEach(handedOut, (delivery) => delivery.ack)))
    )
    return out
  })

const takeN = (queue: Queue.Queue<Consumer.Delivery>, n: number) =>
  Effect.forEach(Array.from({ length: n }), () => Queue.take(queue))

const bodyText = (delivery: Consumer.Delivery) => new TextDecoder().decode(delivery.message.body)

const produceN = (topic: string, queueId: number, n: number, broker?: string, prefix = "m") =>
  Effect.flatMap(
    FakeCluster.FakeCluster,
    (cluster) =>
      cluster.produce(topic, queueId, Array.from({ length: n }, (_, i) => ({ body: `${prefix}${i}` })), broker)
  )

interface HeartbeatBody {
  readonly clientID: string
  readonly consumerDataSet: ReadonlyArray<{
    readonly groupName: string
    readonly consumeFromWhere: string
    readonly subscriptionDataSet: ReadonlyArray<{
      readonly topic: string
      readonly subString: string
      readonly tagsSet: ReadonlyArray<string>
      readonly codeSet: ReadonlyArray<number>
    }>
  }>
}

describe("Consumer timing", () => {
  it.effect("HEART_BEAT at start and every 30 s (not at 29 s), with the tag codes and the retry subscription", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const consumer = yield* Consumer.make(options({ subscriptions: { TopicTest: "TagA || TagB" } }))
      assert.strictEqual(consumer.clientId, "10.0.0.1@c1")
      const heartbeats = requestsOf(RequestCode.HEART_BEAT)
      assert.deepStrictEqual((yield* heartbeats).map((r) => [r.at, r.address]), [[0, BROKER_A]])
      const body = JSON.parse(new TextDecoder().decode((yield* heartbeats)[0]!.body)) as HeartbeatBody
      assert.strictEqual(body.clientID, "10.0.0.1@c1")
      const [data] = body.consumerDataSet
      assert.strictEqual(data!.groupName, GROUP)
      assert.strictEqual(data!.consumeFromWhere, "CONSUME_FROM_LAST_OFFSET")
      const subs = new Map(data!.subscriptionDataSet.map((sub) => [sub.topic, sub]))
      assert.deepStrictEqual(subs.get("TopicTest")!.codeSet, [
        MessageQueue.javaHashCode("TagA"),
        MessageQueue.javaHashCode("TagB")
      ])
      assert.deepStrictEqual(subs.get("TopicTest")!.codeSet, [2598919, 2598920], "Java's \"TagA\".hashCode()")
      assert.deepStrictEqual(subs.get("TopicTest")!.tagsSet, ["TagA", "TagB"])
      assert.deepStrictEqual(subs.get(RETRY)!.subString, "*")
      assert.deepStrictEqual(subs.get(RETRY)!.codeSet, [])
      assert.deepStrictEqual(yield* cluster.members(GROUP), ["10.0.0.1@c1"])

      yield* TestClock.adjust("29 seconds")
      yield* settle
      assert.strictEqual((yield* heartbeats).length, 1, "none at 29 s")
      yield* TestClock.adjust("1 second")
      yield* cluster.awaitRequest(RequestCode.HEART_BEAT, undefined, 2)
      yield* TestClock.adjust("30 seconds")
      yield* cluster.awaitRequest(RequestCode.HEART_BEAT, undefined, 3)
      yield* settle
      assert.deepStrictEqual((yield* heartbeats).map((r) => r.at), [0, 30_000, 60_000])
    })))

  it.effect("a heartbeat goes to every broker of the subscribed topics", () =>
    withCluster({
      brokers: [{ name: "broker-a", address: BROKER_A }, { name: "broker-b", address: BROKER_B }],
      topics: { TopicTest: 2 }
    })(Effect.gen(function*() {
      yield* Consumer.make(options())
      const heartbeats = yield* requestsOf(RequestCode.HEART_BEAT)
      assert.deepStrictEqual(heartbeats.map((r) => r.address).sort(), [BROKER_A, BROKER_B])
    })))

  it.effect("rebalance at start and every 20 s: GET_CONSUMER_LIST_BY_GROUP times", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      yield* Consumer.make(options())
      yield* settle
      const lists = requestsOf(RequestCode.GET_CONSUMER_LIST_BY_GROUP)
      assert.isTrue((yield* lists).length > 0)
      assert.isTrue((yield* lists).every((r) => r.at === 0 && r.extFields.consumerGroup === GROUP))
      const atStart = (yield* lists).length
      yield* TestClock.adjust("19999 millis")
      yield* settle
      assert.strictEqual((yield* lists).length, atStart, "no rebalance before 20 s")
      yield* TestClock.adjust("1 millis")
      yield* cluster.awaitRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, undefined, atStart + 1)
      yield* TestClock.adjust("20 seconds")
      yield* cluster.awaitRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, (r) => r.at === 40_000)
      yield* settle
      const times = [...new Set((yield* lists).map((r) => r.at))]
      assert.deepStrictEqual(times, [0, 20_000, 40_000])
    })))

  it.effect("a second member joining: NOTIFY_CONSUMER_IDS_CHANGED rebalances at once; halves, disjoint, Java's order", () =>
    withCluster({ topics: { TopicTest: 8 } })(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const first = yield* Consumer.make(options({ instanceName: "zeta" }))
      const topicQueues = (queues: ReadonlyArray<MessageQueue.MessageQueue>) =>
        queues.filter((q) => q.topic === "TopicTest").map((q) => q.queueId)
      assert.deepStrictEqual(topicQueues(yield* SubscriptionRef.get(first.assignment)), [0, 1, 2, 3, 4, 5, 6, 7])

      // Joins second, sorts first: "10.0.0.1@alpha" < "10.0.0.1@zeta".
      const second = yield* Consumer.make(options({ instanceName: "alpha" }))
      yield* until(
        Effect.map(SubscriptionRef.get(first.assignment), (queues) => topicQueues(queues).length === 4),
        "the first member gives up half its queues"
      )
      assert.strictEqual(yield* Clock.currentTimeMillis, 0, "without waiting for the 20 s rebalance")
      yield* settle
      assert.deepStrictEqual(yield* cluster.members(GROUP), ["10.0.0.1@zeta", "10.0.0.1@alpha"])
      assert.isTrue((yield* cluster.notifications).length >= 2)
      const mine = topicQueues(yield* SubscriptionRef.get(first.assignment))
      const theirs = topicQueues(yield* SubscriptionRef.get(second.assignment))
      assert.deepStrictEqual(theirs, [0, 1, 2, 3], "the smaller client id takes the first half")
      assert.deepStrictEqual(mine, [4, 5, 6, 7])
      // The retry topic's one queue goes to the first member in order as well.
      assert.deepStrictEqual(
        (yield* SubscriptionRef.get(second.assignment)).filter((q) => q.topic === RETRY).length,
        1
      )
      assert.deepStrictEqual((yield* SubscriptionRef.get(first.assignment)).filter((q) => q.topic === RETRY), [])
    })))

  it.effect("a member that closes unregisters, and the other takes its queues at once; revoked offsets are written", () =>
    withCluster({ topics: { TopicTest: 8 } })(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const topicQueues = (queues: ReadonlyArray<MessageQueue.MessageQueue>) =>
        queues.filter((q) => q.topic === "TopicTest").map((q) => q.queueId)
      const first = yield* Consumer.make(options({ instanceName: "a" }))
      const [firstHeartbeat] = yield* requestsOf(RequestCode.HEART_BEAT)
      const scope = yield* Scope.make()
      const second = yield* Consumer.make(options({ instanceName: "b" })).pipe(Scope.extend(scope))
      yield* until(
        Effect.map(SubscriptionRef.get(first.assignment), (queues) => topicQueues(queues).length === 4),
        "the first member gives up half"
      )
      yield* until(
        Effect.map(SubscriptionRef.get(second.assignment), (queues) => topicQueues(queues).length === 4),
        "the second member takes half"
      )
      assert.deepStrictEqual(topicQueues(yield* SubscriptionRef.get(first.assignment)), [0, 1, 2, 3])
      assert.deepStrictEqual(topicQueues(yield* SubscriptionRef.get(second.assignment)), [4, 5, 6, 7])
      yield* settle
      // The first member wrote the offsets of the queues it gave up (and waited for the answer).
      const revoked = yield* requestsOf(
        RequestCode.UPDATE_CONSUMER_OFFSET,
        (r) => r.connection === firstHeartbeat!.connection && r.extFields.topic === "TopicTest"
      )
      assert.deepStrictEqual(revoked.map((r) => Number(r.extFields.queueId)).sort(), [4, 5, 6, 7])
      assert.isTrue(revoked.every((r) => !r.oneway && r.at === 0))

      yield* Scope.close(scope, Exit.void)
      const [unregister] = yield* requestsOf(RequestCode.UNREGISTER_CLIENT)
      assert.strictEqual(unregister!.extFields.clientID, "10.0.0.1@b")
      yield* until(
        Effect.map(SubscriptionRef.get(first.assignment), (queues) => topicQueues(queues).length === 8),
        "the first member takes every queue back"
      )
      assert.strictEqual(yield* Clock.currentTimeMillis, 0, "without waiting for the 20 s rebalance")
      assert.deepStrictEqual(yield* cluster.members(GROUP), ["10.0.0.1@a"])
    })))

  it.effect("the committed offset is the low watermark, written every 5 s", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      yield* produceN("TopicTest", 0, 10)
      const consumer = yield* Consumer.make(options({ consumeFrom: "first" }))
      const deliveries = yield* deliveriesOf(consumer)
      const all = yield* takeN(deliveries, 10)
      assert.deepStrictEqual(all.map((d) => d.message.queueOffset), [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n])
      assert.deepStrictEqual(all.map(bodyText), Array.from({ length: 10 }, (_, i) => `m${i}`))
      for (const delivery of all) if (delivery.message.queueOffset !== 3n) yield* delivery.ack
      const queue = MessageQueue.make("TopicTest", "broker-a", 0)
      assert.strictEqual(yield* consumer.committedOffset(queue), 3n, "offset 3 is still being processed")

      const updates = requestsOf(RequestCode.UPDATE_CONSUMER_OFFSET, (r) => r.extFields.topic === "TopicTest")
      yield* TestClock.adjust("4999 millis")
      yield* settle
      assert.strictEqual((yield* updates).length, 0, "nothing written before 5 s")
      yield* TestClock.adjust("1 millis")
      yield* cluster.awaitRequest(RequestCode.UPDATE_CONSUMER_OFFSET, (r) => r.extFields.topic === "TopicTest")
      assert.deepStrictEqual((yield* updates).map((r) => [r.at, r.extFields.commitOffset]), [[5000, "3"]])
      yield* until(
        Effect.map(cluster.committedOffset(GROUP, "TopicTest", 0), (offset) => offset === 3n),
        "the broker holds 3"
      )

      yield* all[3]!.ack
      assert.strictEqual(yield* consumer.committedOffset(queue), 10n)
      yield* TestClock.adjust("5 seconds")
      yield* cluster.awaitRequest(RequestCode.UPDATE_CONSUMER_OFFSET, (r) => r.extFields.topic === "TopicTest", 2)
      assert.deepStrictEqual((yield* updates).map((r) => [r.at, r.extFields.commitOffset]), [
        [5000, "3"],
        [10_000, "10"]
      ])
      yield* until(
        Effect.map(cluster.committedOffset(GROUP, "TopicTest", 0), (offset) => offset === 10n),
        "the broker holds 10"
      )
      // Settling twice does nothing.
      yield* all[3]!.ack
      yield* all[0]!.reject
      assert.strictEqual(yield* consumer.committedOffset(queue), 10n)
      assert.strictEqual((yield* cluster.sentBack).length, 0)
    })))

  it.effect("close waits for a running handler, commits its offset, then unregisters", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      yield* produceN("TopicTest", 0, 1)
      const scope = yield* Scope.make()
      const consumer = yield* Consumer.make(options({ consumeFrom: "first", gracePeriod: "10 seconds" })).pipe(
        Scope.extend(scope)
      )
      const started = yield* Deferred.make<void>()
      const finished = yield* Deferred.make<void>()
      yield* Effect.forkScoped(consumer.run(() =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Effect.sleep("2 seconds")),
          Effect.zipRight(Deferred.succeed(finished, undefined))
        )
      ))
      yield* Deferred.await(started)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* settle
      assert.isTrue(Option.isNone(yield* Fiber.poll(closing)), "the close waits for the handler")
      const pullsBefore = (yield* pullsOf("TopicTest")).length
      yield* TestClock.adjust("2 seconds")
      assert.isTrue(yield* Deferred.isDone(finished))
      // The close notices within its 10 ms poll.
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(closing)
      assert.strictEqual(yield* Clock.currentTimeMillis, 2010)
      assert.strictEqual(yield* cluster.committedOffset(GROUP, "TopicTest", 0), 1n, "the message was acked")
      assert.strictEqual((yield* pullsOf("TopicTest")).length, pullsBefore, "no pull after the close began")
      const [unregister] = yield* requestsOf(RequestCode.UNREGISTER_CLIENT)
      assert.strictEqual(unregister!.extFields.consumerGroup, GROUP)
      assert.strictEqual(unregister!.extFields.clientID, "10.0.0.1@c1")
      assert.isTrue(unregister!.at >= 2000)
      const update = (yield* requestsOf(RequestCode.UPDATE_CONSUMER_OFFSET, (r) => r.extFields.topic === "TopicTest"))
        .at(-1)
      assert.strictEqual(update!.extFields.commitOffset, "1")
      const all = yield* cluster.requests
      assert.isTrue(all.indexOf(update!) < all.indexOf(unregister!), "committed before unregistering")
      assert.deepStrictEqual(yield* cluster.members(GROUP), [], "left the group")
      assert.deepStrictEqual(yield* SubscriptionRef.get(consumer.assignment), [])
    })))

  it.effect("close gives a slow handler gracePeriod, then stops it without committing past its message", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      yield* produceN("TopicTest", 0, 1)
      const scope = yield* Scope.make()
      const consumer = yield* Consumer.make(options({ consumeFrom: "first", gracePeriod: "3 seconds" })).pipe(
        Scope.extend(scope)
      )
      const started = yield* Deferred.make<void>()
      const finished = yield* Deferred.make<void>()
      yield* Effect.forkScoped(consumer.run(() =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Effect.sleep("60 seconds")),
          Effect.zipRight(Deferred.succeed(finished, undefined))
        )
      ))
      yield* Deferred.await(started)
      // A daemon: should the close never end, the test fails on the check below instead of hanging.
      const closing = yield* Effect.forkDaemon(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("2999 millis")
      yield* settle
      assert.isTrue(Option.isNone(yield* Fiber.poll(closing)), "still within the grace period")
      yield* TestClock.adjust("1 millis")
      yield* settle
      assert.isTrue(Option.isSome(yield* Fiber.poll(closing)), "closed once the grace period is over")
      yield* Fiber.join(closing)
      assert.strictEqual(yield* Clock.currentTimeMillis, 3000)
      assert.isFalse(yield* Deferred.isDone(finished))
      const committed = yield* cluster.committedOffset(GROUP, "TopicTest", 0)
      assert.isTrue(committed === undefined || committed === 0n, `committed ${committed}`)
      const [unregister] = yield* requestsOf(RequestCode.UNREGISTER_CLIENT)
      assert.strictEqual(unregister!.at, 3000)
      assert.strictEqual(unregister!.extFields.consumerGroup, GROUP)
      // A restart would get the message again.
      yield* TestClock.adjust("1 minute")
      assert.isFalse(yield* Deferred.isDone(finished), "the handler was stopped")
    })))

  it.effect("a topic that appears later is consumed, and its offset committed and the group left at close", () =>
    withCluster({ topics: {} })(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const scope = yield* Scope.make()
      const consumer = yield* Consumer.make(options({ consumeFrom: "first" })).pipe(Scope.extend(scope))
      assert.deepStrictEqual(yield* SubscriptionRef.get(consumer.assignment), [])
      yield* cluster.addTopic("TopicTest", 1)
      yield* cluster.produce("TopicTest", 0, [{ body: "late topic" }])
      // The 20 s rebalance finds the route; the 30 s heartbeat joins the group, whose notification rebalances.
      yield* TestClock.adjust("20 seconds")
      yield* settle
      yield* TestClock.adjust("10 seconds")
      const deliveries = yield* deliveriesOf(consumer)
      const delivery = yield* Queue.take(deliveries)
      assert.strictEqual(bodyText(delivery), "late topic")
      yield* delivery.ack
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* cluster.committedOffset(GROUP, "TopicTest", 0), 1n, "committed at close")
      const unregisters = yield* requestsOf(RequestCode.UNREGISTER_CLIENT)
      assert.deepStrictEqual(unregisters.map((r) => [r.address, r.extFields.consumerGroup]), [[BROKER_A, GROUP]])
    })))

  it.effect("long polling: a pull is held and a produced message is delivered without the clock moving", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const consumer = yield* Consumer.make(options())
      const deliveries = yield* deliveriesOf(consumer)
      const [pull] = yield* Effect.all([
        cluster.awaitRequest(RequestCode.PULL_MESSAGE, (r) => r.extFields.topic === "TopicTest")
      ])
      assert.strictEqual(pull!.extFields.suspendTimeoutMillis, "15000")
      assert.strictEqual(Number(pull!.extFields.sysFlag) & FakeCluster.PullSysFlag.SUSPEND, 2)
      yield* until(Effect.map(cluster.heldPulls, (n) => n >= 1), "a held pull")
      yield* settle
      assert.strictEqual(yield* Queue.size(deliveries), 0)
      yield* cluster.produce("TopicTest", 0, [{ body: "late", tags: "T" }])
      const delivery = yield* Queue.take(deliveries)
      assert.strictEqual(bodyText(delivery), "late")
      assert.strictEqual(delivery.message.topic, "TopicTest")
      assert.strictEqual(delivery.message.tags, "T")
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
      yield* delivery.ack
    })))

  it.effect("an empty long poll ends after 15 s and the next pull goes at once", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      yield* Consumer.make(options())
      yield* cluster.awaitRequest(RequestCode.PULL_MESSAGE, (r) => r.extFields.topic === "TopicTest")
      yield* TestClock.adjust("14999 millis")
      yield* settle
      assert.deepStrictEqual((yield* pullsOf("TopicTest")).map((r) => r.at), [0])
      yield* TestClock.adjust("1 millis")
      yield* cluster.awaitRequest(RequestCode.PULL_MESSAGE, (r) => r.extFields.topic === "TopicTest", 2)
      assert.deepStrictEqual((yield* pullsOf("TopicTest")).map((r) => r.at), [0, 15_000])
    })))

  it.effect("backpressure: at most maxBufferedMessagesPerQueue unsettled, pulls stop until some are acked", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      yield* produceN("TopicTest", 0, 100)
      const consumer = yield* Consumer.make(
        options({ consumeFrom: "first", maxBufferedMessagesPerQueue: 4, pullBatchSize: 2 })
      )
      const deliveries = yield* deliveriesOf(consumer)
      const first = yield* takeN(deliveries, 4)
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(yield* Queue.size(deliveries), 0, "no fifth message while four are unsettled")
      const pulls = yield* pullsOf("TopicTest")
      assert.strictEqual(pulls.length, 2, "two pulls of two")
      assert.deepStrictEqual(pulls.map((r) => [r.extFields.maxMsgNums, r.extFields.queueOffset]), [["2", "0"], [
        "2",
        "2"
      ]])
      yield* first[0]!.ack
      yield* settle
      assert.strictEqual((yield* pullsOf("TopicTest")).length, 2, "one permit is not a batch")
      yield* first[1]!.ack
      const next = yield* takeN(deliveries, 2)
      assert.deepStrictEqual(next.map((d) => d.message.queueOffset), [4n, 5n])
      yield* settle
      assert.strictEqual(yield* Queue.size(deliveries), 0)
      assert.strictEqual((yield* pullsOf("TopicTest")).length, 3)
      // Rejected messages settle too.
      for (const delivery of [first[2]!, first[3]!, ...next]) yield* delivery.ack
      const more = yield* takeN(deliveries, 4)
      assert.deepStrictEqual(more.map((d) => d.message.queueOffset), [6n, 7n, 8n, 9n])
      yield* settle
      assert.strictEqual(yield* Queue.size(deliveries), 0)
      assert.strictEqual(yield* cluster.heldPulls, 1, "only the retry queue's pull is held")
    })))

  it.effect("backpressure across queues: at most maxBufferedMessages held in all", () =>
    withCluster({ topics: { TopicTest: 2 } })(Effect.gen(function*() {
      yield* produceN("TopicTest", 0, 50)
      yield* produceN("TopicTest", 1, 50)
      const consumer = yield* Consumer.make(
        options({ consumeFrom: "first", maxBufferedMessages: 6, pullBatchSize: 2 })
      )
      const deliveries = yield* deliveriesOf(consumer)
      yield* takeN(deliveries, 2)
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      const handedOut = 2 + (yield* Queue.size(deliveries))
      assert.isAtMost(handedOut, 6, "never more than maxBufferedMessages unsettled")
      const pulls = (yield* pullsOf("TopicTest", 0)).length + (yield* pullsOf("TopicTest", 1)).length
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(
        (yield* pullsOf("TopicTest", 0)).length + (yield* pullsOf("TopicTest", 1)).length,
        pulls,
        "no pull while the buffer is full"
      )
      const all = yield* Queue.takeAll(deliveries)
      for (const delivery of all) yield* delivery.ack
      yield* takeN(deliveries, 1)
    })))

  it.effect("reject: CONSUMER_SEND_MSG_BACK to the broker that stored it; it comes back from the retry topic", () =>
    withCluster({
      brokers: [{ name: "broker-a", address: BROKER_A }, { name: "broker-b", address: BROKER_B }],
      topics: { TopicTest: 1 }
    })(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      const [stored] = yield* cluster.produce("TopicTest", 0, [{ body: "poison", tags: "T" }], "broker-b")
      const consumer = yield* Consumer.make(options({ consumeFrom: "first", maxReconsumeTimes: 5 }))
      const deliveries = yield* deliveriesOf(consumer)
      const delivery = yield* Queue.take(deliveries)
      assert.strictEqual(delivery.message.brokerName, "broker-b")
      assert.strictEqual(delivery.message.reconsumeTimes, 0)
      yield* delivery.reject
      const [back] = yield* requestsOf(RequestCode.CONSUMER_SEND_MSG_BACK)
      assert.strictEqual(back!.address, BROKER_B)
      assert.strictEqual(back!.extFields.group, GROUP)
      assert.strictEqual(back!.extFields.maxReconsumeTimes, "5")
      assert.strictEqual(back!.extFields.offset, String(stored!.commitLogOffset))
      assert.strictEqual(back!.extFields.originTopic, "TopicTest")
      const sentBack = yield* cluster.sentBack
      assert.strictEqual(sentBack.length, 1)
      assert.strictEqual(sentBack[0]!.broker, "broker-b")

      const again = yield* Queue.take(deliveries)
      assert.strictEqual(again.message.topic, "TopicTest", "the original topic, not the retry topic")
      assert.strictEqual(again.message.reconsumeTimes, 1)
      assert.strictEqual(bodyText(again), "poison")
      assert.strictEqual(again.message.properties.get("RETRY_TOPIC"), "TopicTest")
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
      yield* again.ack
      // The original's offset is committed once it went back.
      assert.strictEqual(yield* consumer.committedOffset(MessageQueue.make("TopicTest", "broker-b", 0)), 1n)
    })))

  it.effect("reject when the broker cannot take it back: resent to the retry topic as a new message", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      yield* cluster.produce("TopicTest", 0, [{ body: "poison", tags: "T", properties: { UNIQ_KEY: "U1" } }])
      const consumer = yield* Consumer.make(options({ consumeFrom: "first", maxReconsumeTimes: 5 }))
      const deliveries = yield* deliveriesOf(consumer)
      const delivery = yield* Queue.take(deliveries)
      yield* cluster.failNext(RequestCode.CONSUMER_SEND_MSG_BACK, ResponseCode.SYSTEM_ERROR, 1, "cannot")
      yield* delivery.reject
      const [resend] = yield* requestsOf(RequestCode.SEND_MESSAGE_V2)
      assert.strictEqual(resend!.extFields.b, RETRY, "to the group's retry topic")
      assert.strictEqual(resend!.extFields.a, "CLIENT_INNER_PRODUCER")
      assert.strictEqual(resend!.extFields.j, "1", "reconsumeTimes")
      assert.strictEqual(resend!.extFields.l, "5", "maxReconsumeTimes")
      const again = yield* Queue.take(deliveries)
      assert.strictEqual(again.message.topic, "TopicTest")
      assert.strictEqual(again.message.reconsumeTimes, 1)
      assert.strictEqual(again.message.msgId, "U1", "the same message id")
      assert.strictEqual(bodyText(again), "poison")
      assert.strictEqual(yield* consumer.committedOffset(MessageQueue.make("TopicTest", "broker-a", 0)), 1n)
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
    })))

  it.effect("reject when neither send-back nor resend works: delivered again here after 5 s, offset held", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      yield* cluster.produce("TopicTest", 0, [{ body: "poison" }])
      const consumer = yield* Consumer.make(options({ consumeFrom: "first" }))
      const deliveries = yield* deliveriesOf(consumer)
      const delivery = yield* Queue.take(deliveries)
      yield* cluster.failNext(RequestCode.CONSUMER_SEND_MSG_BACK, ResponseCode.SYSTEM_ERROR, 1)
      yield* cluster.failNext(RequestCode.SEND_MESSAGE_V2, ResponseCode.SYSTEM_ERROR, 10)
      yield* delivery.reject
      assert.strictEqual((yield* requestsOf(RequestCode.SEND_MESSAGE_V2)).length, 3, "the resend tried 3 times")
      const queue = MessageQueue.make("TopicTest", "broker-a", 0)
      assert.strictEqual(yield* consumer.committedOffset(queue), 0n, "not committed past the failed message")
      yield* TestClock.adjust("4999 millis")
      yield* settle
      assert.strictEqual(yield* Queue.size(deliveries), 0, "not before 5 s")
      yield* TestClock.adjust("1 millis")
      const again = yield* Queue.take(deliveries)
      assert.strictEqual(again.message.queueOffset, 0n)
      assert.strictEqual(again.message.topic, "TopicTest")
      assert.strictEqual(bodyText(again), "poison")
      assert.strictEqual(yield* Clock.currentTimeMillis, 5000)
      yield* again.ack
      assert.strictEqual(yield* consumer.committedOffset(queue), 1n)
    })))

  it.effect("PULL_OFFSET_MOVED: the queue continues at the broker's offset", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      yield* produceN("TopicTest", 0, 10)
      // An offset past the end, as after the broker lost messages: the pull answers OFFSET_OVERFLOW_BADLY → 10.
      yield* cluster.setCommittedOffset(GROUP, "TopicTest", 0, 50n)
      const consumer = yield* Consumer.make(options())
      const deliveries = yield* deliveriesOf(consumer)
      yield* cluster.awaitRequest(
        RequestCode.PULL_MESSAGE,
        (r) => r.extFields.topic === "TopicTest" && r.extFields.queueOffset === "10"
      )
      const pulls = yield* pullsOf("TopicTest")
      assert.deepStrictEqual(pulls.map((r) => r.extFields.queueOffset), ["50", "10"])
      yield* until(
        Effect.map(cluster.committedOffset(GROUP, "TopicTest", 0), (offset) => offset === 10n),
        "the moved offset is written"
      )
      yield* cluster.produce("TopicTest", 0, [{ body: "after the move" }])
      const delivery = yield* Queue.take(deliveries)
      assert.strictEqual(delivery.message.queueOffset, 10n)
      assert.strictEqual(bodyText(delivery), "after the move")
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
    })))

  it.effect("a committed offset wins over consumeFrom", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      yield* produceN("TopicTest", 0, 10)
      yield* cluster.setCommittedOffset(GROUP, "TopicTest", 0, 7n)
      const consumer = yield* Consumer.make(options({ consumeFrom: "first" }))
      const deliveries = yield* deliveriesOf(consumer)
      const got = yield* takeN(deliveries, 3)
      assert.deepStrictEqual(got.map((d) => d.message.queueOffset), [7n, 8n, 9n])
    })))

  it.effect("a young queue without a committed offset starts at 0 even with consumeFrom last (the broker answers 0)", () =>
    withCluster()(Effect.gen(function*() {
      yield* produceN("TopicTest", 0, 3)
      const consumer = yield* Consumer.make(options({ consumeFrom: "last" }))
      const deliveries = yield* deliveriesOf(consumer)
      const got = yield* takeN(deliveries, 3)
      assert.deepStrictEqual(got.map((d) => d.message.queueOffset), [0n, 1n, 2n])
    })))

  it.effect("QUERY_NOT_FOUND with consumeFrom last: starts at GET_MAX_OFFSET", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      yield* produceN("TopicTest", 0, 10)
      yield* cluster.failNext(RequestCode.QUERY_CONSUMER_OFFSET, ResponseCode.QUERY_NOT_FOUND, 1, "not found")
      const consumer = yield* Consumer.make(options({ consumeFrom: "last" }))
      const deliveries = yield* deliveriesOf(consumer)
      const [query] = yield* requestsOf(RequestCode.QUERY_CONSUMER_OFFSET)
      assert.strictEqual(query!.extFields.topic, "TopicTest")
      assert.strictEqual(query!.fault, "failed")
      const [max] = yield* requestsOf(RequestCode.GET_MAX_OFFSET)
      assert.strictEqual(max!.extFields.topic, "TopicTest")
      yield* cluster.awaitRequest(
        RequestCode.PULL_MESSAGE,
        (r) => r.extFields.topic === "TopicTest" && r.extFields.queueOffset === "10"
      )
      yield* settle
      assert.strictEqual(yield* Queue.size(deliveries), 0, "the backlog is skipped")
      yield* cluster.produce("TopicTest", 0, [{ body: "new" }])
      const delivery = yield* Queue.take(deliveries)
      assert.strictEqual(delivery.message.queueOffset, 10n)
    })))

  it.effect("QUERY_NOT_FOUND with consumeFrom first: starts at 0", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      yield* produceN("TopicTest", 0, 3)
      yield* cluster.failNext(RequestCode.QUERY_CONSUMER_OFFSET, ResponseCode.QUERY_NOT_FOUND, 1)
      const consumer = yield* Consumer.make(options({ consumeFrom: "first" }))
      const deliveries = yield* deliveriesOf(consumer)
      const got = yield* takeN(deliveries, 3)
      assert.deepStrictEqual(got.map((d) => d.message.queueOffset), [0n, 1n, 2n])
      assert.strictEqual((yield* requestsOf(RequestCode.GET_MAX_OFFSET)).length, 0)
      assert.strictEqual((yield* requestsOf(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP)).length, 0)
    })))

  it.effect("QUERY_NOT_FOUND with consumeFrom a timestamp: starts at the first message stored at or after it", () =>
    withCluster()(Effect.gen(function*() {
      const cluster = yield* FakeCluster.FakeCluster
      // Stored at 0, 1000, 2000, 3000 ms.
      for (let i = 0; i < 4; i++) {
        yield* cluster.produce("TopicTest", 0, [{ body: `at ${i}` }])
        yield* TestClock.adjust("1 second")
      }
      yield* cluster.failNext(RequestCode.QUERY_CONSUMER_OFFSET, ResponseCode.QUERY_NOT_FOUND, 1)
      const consumer = yield* Consumer.make(options({ consumeFrom: { timestamp: 2000 } }))
      const deliveries = yield* deliveriesOf(consumer)
      const [search] = yield* requestsOf(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP)
      assert.strictEqual(search!.extFields.timestamp, "2000")
      const got = yield* takeN(deliveries, 2)
      assert.deepStrictEqual(got.map(bodyText), ["at 2", "at 3"])
      assert.deepStrictEqual(got.map((d) => d.message.queueOffset), [2n, 3n])
    })))
})
