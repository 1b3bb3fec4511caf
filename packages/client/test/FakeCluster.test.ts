/**
 * The fake cluster answers raw remoting calls as a NameServer and brokers would: routes, sends, pulls with
 * long polling on the `TestClock`, group membership and its notifications, committed offsets, send-back to
 * retry and DLQ, and the injected faults.
 */
import { assert, describe, it } from "@effect/vitest"
import { RequestCode, ResponseCode } from "@rocketmq-effect/remoting/RemotingCode"
import type { RemotingCommand } from "@rocketmq-effect/remoting/RemotingCommand"
import * as Command from "@rocketmq-effect/remoting/RemotingCommand"
import * as RemotingPool from "@rocketmq-effect/remoting/RemotingPool"
import * as RouteData from "@rocketmq-effect/remoting/RouteData"
import type { Connector } from "@rocketmq-effect/transport/Connector"
import * as TestConnector from "@rocketmq-effect/transport/TestConnector"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as FakeCluster from "./FakeCluster.js"

const NS = "127.0.0.1:9876"
const BROKER_A = "127.0.0.1:10911"
const BROKER_B = "127.0.0.1:10921"
const text = (s: string) => new TextEncoder().encode(s)
const readText = (b: Uint8Array) => new TextDecoder().decode(b)

const header = (response: RemotingCommand, name: string) => response.extFields?.get(name)

/** A cluster and a pool over one TestConnector; `makePool` opens more clients (another connection each). */
const setup = (options: FakeCluster.Options = { topics: { TopicTest: 4 } }) =>
  Effect.gen(function*() {
    const cluster = yield* FakeCluster.make(options)
    const makePool = (clientOptions: RemotingPool.ClientOptions = {}) =>
      RemotingPool.make({ client: { defaultTimeout: "30 seconds", ...clientOptions } }).pipe(Effect.orDie)
    const pool = yield* makePool()
    return { cluster, pool, makePool }
  })

const run = <A, E>(effect: Effect.Effect<A, E, TestConnector.TestPeer | Connector | Scope.Scope>) =>
  effect.pipe(Effect.provide(TestConnector.layer))

const sendV2 = (topic: string, queueId: number, body: string, properties: Record<string, string> = {}) =>
  Command.request(RequestCode.SEND_MESSAGE_V2, {
    extFields: {
      a: "pg",
      b: topic,
      c: "TBW102",
      d: 4,
      e: queueId,
      f: 0,
      g: 1_700_000_000_000,
      h: 0,
      i: FakeCluster.encodeProperties(new Map(Object.entries({ WAIT: "true", ...properties }))),
      j: 0,
      k: false,
      m: false,
      n: "broker-a"
    },
    body: text(body)
  })

const pull = (fields: {
  readonly topic?: string
  readonly group?: string
  readonly queueId?: number
  readonly queueOffset: number
  readonly sysFlag: number
  readonly commitOffset?: number
  readonly subscription?: string
  readonly subVersion?: number
  readonly maxMsgNums?: number
}) =>
  Command.request(RequestCode.PULL_MESSAGE, {
    extFields: {
      consumerGroup: fields.group ?? "cg",
      topic: fields.topic ?? "TopicTest",
      queueId: fields.queueId ?? 0,
      queueOffset: fields.queueOffset,
      maxMsgNums: fields.maxMsgNums ?? 32,
      sysFlag: fields.sysFlag,
      commitOffset: fields.commitOffset ?? 0,
      suspendTimeoutMillis: 15_000,
      subscription: fields.subscription ?? "*",
      subVersion: fields.subVersion ?? 0,
      expressionType: "TAG"
    }
  })

const heartbeat = (clientID: string, group: string, topic: string, subString = "*") =>
  Command.request(RequestCode.HEART_BEAT, {
    body: text(JSON.stringify({
      clientID,
      producerDataSet: [],
      consumerDataSet: [{
        groupName: group,
        consumeType: "CONSUME_PASSIVELY",
        messageModel: "CLUSTERING",
        consumeFromWhere: "CONSUME_FROM_LAST_OFFSET",
        unitMode: false,
        subscriptionDataSet: [{
          topic,
          subString,
          tagsSet: subString === "*" ? [] : subString.split("||").map((t) => t.trim()),
          codeSet: subString === "*" ? [] : subString.split("||").map((t) => FakeCluster.javaHashCode(t.trim())),
          subVersion: 1,
          expressionType: "TAG",
          classFilterMode: false
        }]
      }],
      heartbeatFingerprint: 0,
      isWithoutSub: false
    }))
  })

const SUSPEND_SUB = FakeCluster.PullSysFlag.SUSPEND | FakeCluster.PullSysFlag.SUBSCRIPTION

describe("FakeCluster", () => {
  it.scoped("the NameServer answers a route that RouteData decodes, and TOPIC_NOT_EXIST for an unknown topic", () =>
    run(Effect.gen(function*() {
      const { pool } = yield* setup({
        brokers: [{ name: "broker-a", address: BROKER_A }, { name: "broker-b", address: BROKER_B }],
        topics: { TopicTest: 4, OnlyB: { queues: 2, brokers: ["broker-b"] } }
      })
      const answer = yield* pool.invoke(
        NS,
        Command.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: "TopicTest" } })
      )
      assert.strictEqual(answer.code, ResponseCode.SUCCESS)
      assert.include(readText(answer.body), "\"brokerAddrs\":{\"0\":\"127.0.0.1:10911\"}")
      const route = Either.getOrThrow(RouteData.decodeTopicRouteData(answer.body))
      assert.deepStrictEqual(
        route.queueDatas.map((q) => [q.brokerName, q.readQueueNums, q.writeQueueNums, q.perm]),
        [["broker-a", 4, 4, 6], ["broker-b", 4, 4, 6]]
      )
      assert.deepStrictEqual(route.brokerDatas.map(RouteData.masterAddress), [BROKER_A, BROKER_B])
      assert.deepStrictEqual(route.brokerDatas.map((b) => b.cluster), ["DefaultCluster", "DefaultCluster"])

      const onlyB = yield* pool.invoke(
        NS,
        Command.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: "OnlyB" } })
      )
      const routeB = Either.getOrThrow(RouteData.decodeTopicRouteData(onlyB.body))
      assert.deepStrictEqual(routeB.queueDatas.map((q) => [q.brokerName, q.readQueueNums]), [["broker-b", 2]])

      // An old client (version < 4.9.4) gets the unquoted integer keys, which still decode.
      const old = yield* pool.invoke(
        NS,
        Command.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: "TopicTest" }, version: 317 })
      )
      assert.include(readText(old.body), "\"brokerAddrs\":{0:\"127.0.0.1:10911\"}")
      assert.deepStrictEqual(
        Either.getOrThrow(RouteData.decodeTopicRouteData(old.body)).brokerDatas.map(RouteData.masterAddress),
        [BROKER_A, BROKER_B]
      )

      const missing = yield* pool.invoke(
        NS,
        Command.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: "Nope" } })
      )
      assert.strictEqual(missing.code, ResponseCode.TOPIC_NOT_EXIST)
    })))

  it.scoped("a send is stored with offsets and an offsetMsgId; a pull returns it in the store layout", () =>
    run(Effect.gen(function*() {
      const { cluster, pool } = yield* setup()
      const first = yield* pool.invoke(BROKER_A, sendV2("TopicTest", 1, "hello", { TAGS: "TagA", UNIQ_KEY: "U1" }))
      assert.strictEqual(first.code, ResponseCode.SUCCESS)
      assert.strictEqual(header(first, "msgId"), "7F00000100002A9F0000000000000000")
      assert.strictEqual(header(first, "queueId"), "1")
      assert.strictEqual(header(first, "queueOffset"), "0")
      const second = yield* pool.invoke(BROKER_A, sendV2("TopicTest", 1, "world"))
      assert.strictEqual(header(second, "queueOffset"), "1")
      const stored = yield* cluster.messages("TopicTest", 1)
      assert.strictEqual(stored.length, 2)
      assert.strictEqual(
        stored[1]!.commitLogOffset,
        BigInt(stored[0]!.storeSize),
        "commit log offsets are byte offsets"
      )
      assert.strictEqual(header(second, "msgId"), stored[1]!.offsetMsgId)
      assert.strictEqual(stored[0]!.tagsCode, FakeCluster.javaHashCode("TagA"))

      const answer = yield* pool.invoke(
        BROKER_A,
        pull({ queueId: 1, queueOffset: 0, sysFlag: FakeCluster.PullSysFlag.SUBSCRIPTION })
      )
      assert.strictEqual(answer.code, ResponseCode.SUCCESS)
      assert.strictEqual(header(answer, "nextBeginOffset"), "2")
      assert.strictEqual(header(answer, "minOffset"), "0")
      assert.strictEqual(header(answer, "maxOffset"), "2")
      const records = FakeCluster.decodeRecords(answer.body)
      assert.deepStrictEqual(records.map((r) => readText(r.body)), ["hello", "world"])
      assert.deepStrictEqual(records.map((r) => r.queueOffset), [0n, 1n])
      assert.strictEqual(records[0]!.magic, FakeCluster.MAGIC_V1)
      assert.strictEqual(records[0]!.topic, "TopicTest")
      assert.strictEqual(records[0]!.queueId, 1)
      assert.strictEqual(records[0]!.storeHost, BROKER_A)
      assert.strictEqual(records[0]!.bornTimestamp, 1_700_000_000_000)
      assert.strictEqual(records[0]!.bodyCRC, FakeCluster.bodyCrc(text("hello")))
      assert.strictEqual(records[0]!.properties.get("TAGS"), "TagA")
      assert.strictEqual(records[0]!.properties.get("UNIQ_KEY"), "U1")
      assert.strictEqual(records[0]!.properties.get("CLUSTER"), "DefaultCluster")

      const moved = yield* pool.invoke(
        BROKER_A,
        pull({ queueId: 1, queueOffset: 7, sysFlag: FakeCluster.PullSysFlag.SUBSCRIPTION })
      )
      assert.strictEqual(moved.code, ResponseCode.PULL_OFFSET_MOVED)
      assert.strictEqual(header(moved, "nextBeginOffset"), "2")
      const caughtUp = yield* pool.invoke(
        BROKER_A,
        pull({ queueId: 1, queueOffset: 2, sysFlag: FakeCluster.PullSysFlag.SUBSCRIPTION })
      )
      assert.strictEqual(caughtUp.code, ResponseCode.PULL_NOT_FOUND, "no SUSPEND: answered at once")
      const unknown = yield* pool.invoke(BROKER_A, sendV2("Nope", 0, "x"))
      assert.strictEqual(unknown.code, ResponseCode.TOPIC_NOT_EXIST)
    })))

  it.scoped("a batch is stored as separate messages; GET_MAX_OFFSET counts them", () =>
    run(Effect.gen(function*() {
      const { cluster, pool } = yield* setup()
      const entry = (body: string, properties: Record<string, string>) => {
        const props = text(FakeCluster.encodeProperties(new Map(Object.entries(properties))))
        const bytes = new Uint8Array(22 + body.length + props.length)
        const view = new DataView(bytes.buffer)
        view.setInt32(0, bytes.length)
        view.setInt32(12, 0)
        view.setInt32(16, body.length)
        bytes.set(text(body), 20)
        view.setInt16(20 + body.length, props.length)
        bytes.set(props, 22 + body.length)
        return bytes
      }
      const a = entry("one", { UNIQ_KEY: "K1" })
      const b = entry("two", { UNIQ_KEY: "K2" })
      const body = new Uint8Array(a.length + b.length)
      body.set(a)
      body.set(b, a.length)
      const request = sendV2("TopicTest", 2, "")
      const batch = Command.request(RequestCode.SEND_BATCH_MESSAGE, { extFields: request.extFields!, body })
      const answer = yield* pool.invoke(BROKER_A, batch)
      assert.strictEqual(answer.code, ResponseCode.SUCCESS)
      const stored = yield* cluster.messages("TopicTest", 2)
      assert.deepStrictEqual(stored.map((r) => [readText(r.body), r.properties.get("UNIQ_KEY"), r.queueOffset]), [
        ["one", "K1", 0n],
        ["two", "K2", 1n]
      ])
      assert.strictEqual(header(answer, "msgId"), stored.map((r) => r.offsetMsgId).join(","))
      const max = yield* pool.invoke(
        BROKER_A,
        Command.request(RequestCode.GET_MAX_OFFSET, { extFields: { topic: "TopicTest", queueId: 2 } })
      )
      assert.strictEqual(header(max, "offset"), "2")
    })))

  it.scoped("a long poll answers PULL_NOT_FOUND exactly when 15 s pass on the TestClock", () =>
    run(Effect.gen(function*() {
      const { cluster, pool } = yield* setup()
      const call = yield* Effect.fork(pool.invoke(BROKER_A, pull({ queueOffset: 0, sysFlag: SUSPEND_SUB })))
      yield* cluster.awaitRequest(RequestCode.PULL_MESSAGE)
      assert.strictEqual(yield* cluster.heldPulls, 1)
      yield* TestClock.adjust("14999 millis")
      yield* Effect.yieldNow()
      assert.isTrue(Option.isNone(yield* Fiber.poll(call)), "still held at 14999 ms")
      yield* TestClock.adjust("1 millis")
      const answer = yield* Fiber.join(call)
      assert.strictEqual(answer.code, ResponseCode.PULL_NOT_FOUND)
      assert.strictEqual(header(answer, "nextBeginOffset"), "0")
      assert.strictEqual(yield* Clock.currentTimeMillis, 15_000)
      assert.strictEqual(yield* cluster.heldPulls, 0)
    })))

  it.scoped("a held pull answers at once when a message arrives (sent or produced)", () =>
    run(Effect.gen(function*() {
      const { cluster, pool } = yield* setup()
      const call = yield* Effect.fork(pool.invoke(BROKER_A, pull({ queueOffset: 0, sysFlag: SUSPEND_SUB })))
      const request = yield* cluster.awaitRequest(RequestCode.PULL_MESSAGE)
      assert.strictEqual(request.at, 0)
      yield* TestClock.adjust("5 seconds")
      assert.isTrue(Option.isNone(yield* Fiber.poll(call)))
      assert.strictEqual((yield* pool.invoke(BROKER_A, sendV2("TopicTest", 0, "late"))).code, ResponseCode.SUCCESS)
      const answer = yield* Fiber.join(call)
      assert.strictEqual(answer.code, ResponseCode.SUCCESS)
      assert.deepStrictEqual(FakeCluster.decodeRecords(answer.body).map((r) => readText(r.body)), ["late"])
      assert.strictEqual(yield* Clock.currentTimeMillis, 5_000, "no more time passed")

      // A message for another queue does not wake it; one produced into its queue does.
      const second = yield* Effect.fork(pool.invoke(BROKER_A, pull({ queueOffset: 1, sysFlag: SUSPEND_SUB })))
      yield* cluster.awaitRequest(RequestCode.PULL_MESSAGE, undefined, 2)
      yield* cluster.produce("TopicTest", 3, [{ body: "elsewhere" }])
      yield* Effect.yieldNow()
      assert.isTrue(Option.isNone(yield* Fiber.poll(second)))
      yield* cluster.produce("TopicTest", 0, [{ body: "produced", tags: "T" }])
      const woken = yield* Fiber.join(second)
      assert.strictEqual(woken.code, ResponseCode.SUCCESS)
      assert.deepStrictEqual(FakeCluster.decodeRecords(woken.body).map((r) => r.queueOffset), [1n])
      assert.strictEqual(yield* Clock.currentTimeMillis, 5_000)
    })))

  it.scoped("tags filter by the heartbeat's codes; without a heartbeat a plain pull is SUBSCRIPTION_NOT_EXIST", () =>
    run(Effect.gen(function*() {
      const { cluster, pool } = yield* setup()
      yield* cluster.produce("TopicTest", 0, [{ body: "a1", tags: "TagA" }, { body: "b", tags: "TagB" }, {
        body: "a2",
        tags: "TagA"
      }])
      const before = yield* pool.invoke(BROKER_A, pull({ queueOffset: 0, sysFlag: 0 }))
      assert.strictEqual(before.code, ResponseCode.SUBSCRIPTION_NOT_EXIST)
      assert.strictEqual(
        (yield* pool.invoke(BROKER_A, heartbeat("c1", "cg", "TopicTest", "TagA"))).code,
        ResponseCode.SUCCESS
      )
      const answer = yield* pool.invoke(BROKER_A, pull({ queueOffset: 0, sysFlag: 0, subVersion: 1 }))
      assert.strictEqual(answer.code, ResponseCode.SUCCESS)
      assert.deepStrictEqual(FakeCluster.decodeRecords(answer.body).map((r) => readText(r.body)), ["a1", "a2"])
      assert.strictEqual(header(answer, "nextBeginOffset"), "3")
      const newer = yield* pool.invoke(BROKER_A, pull({ queueOffset: 0, sysFlag: 0, subVersion: 2 }))
      assert.strictEqual(newer.code, FakeCluster.ExtraResponseCode.SUBSCRIPTION_NOT_LATEST)
      // The pull's own expression (SUBSCRIPTION flag) wins over the heartbeat's.
      const own = yield* pool.invoke(
        BROKER_A,
        pull({ queueOffset: 0, sysFlag: FakeCluster.PullSysFlag.SUBSCRIPTION, subscription: "TagB" })
      )
      assert.deepStrictEqual(FakeCluster.decodeRecords(own.body).map((r) => readText(r.body)), ["b"])
      const none = yield* pool.invoke(
        BROKER_A,
        pull({ queueOffset: 2, sysFlag: FakeCluster.PullSysFlag.SUBSCRIPTION, subscription: "TagB" })
      )
      assert.strictEqual(none.code, ResponseCode.PULL_RETRY_IMMEDIATELY)
      assert.strictEqual(header(none, "nextBeginOffset"), "3")
    })))

  it.scoped("committed offsets: the pull's COMMIT flag, UPDATE (oneway) and QUERY", () =>
    run(Effect.gen(function*() {
      const { cluster, pool } = yield* setup()
      const query = (queueId: number) =>
        pool.invoke(
          BROKER_A,
          Command.request(RequestCode.QUERY_CONSUMER_OFFSET, {
            extFields: { consumerGroup: "cg", topic: "TopicTest", queueId }
          })
        )
      assert.strictEqual((yield* query(0)).code, ResponseCode.QUERY_NOT_FOUND, "nothing committed, empty queue")
      yield* cluster.produce("TopicTest", 1, [{ body: "x" }])
      const zero = yield* query(1)
      assert.deepStrictEqual(
        [zero.code, header(zero, "offset")],
        [ResponseCode.SUCCESS, "0"],
        "first message in memory"
      )

      yield* pool.invoke(
        BROKER_A,
        pull({
          queueOffset: 0,
          queueId: 1,
          sysFlag: FakeCluster.PullSysFlag.COMMIT_OFFSET | FakeCluster.PullSysFlag.SUBSCRIPTION,
          commitOffset: 1
        })
      )
      assert.strictEqual(yield* cluster.committedOffset("cg", "TopicTest", 1), 1n)
      yield* pool.invokeOneway(
        BROKER_A,
        Command.request(RequestCode.UPDATE_CONSUMER_OFFSET, {
          extFields: { consumerGroup: "cg", topic: "TopicTest", queueId: 0, commitOffset: 42 }
        })
      )
      const update = yield* cluster.awaitRequest(RequestCode.UPDATE_CONSUMER_OFFSET)
      assert.isTrue(update.oneway)
      const answer = yield* query(0)
      assert.deepStrictEqual([answer.code, header(answer, "offset")], [ResponseCode.SUCCESS, "42"])
      assert.deepStrictEqual(
        (yield* cluster.offsets).map((o) => [o.queueId, o.offset]),
        [[1, 1n], [0, 42n]]
      )
    })))

  it.scoped("membership by connection: joining and leaving (UNREGISTER_CLIENT or a closed connection) notify", () =>
    run(Effect.gen(function*() {
      const { cluster, makePool } = yield* setup()
      const notified = (name: string, queue: Queue.Queue<string>) => ({
        handlers: {
          [RequestCode.NOTIFY_CONSUMER_IDS_CHANGED]: (request: RemotingCommand) =>
            Effect.as(
              Queue.offer(queue, `${name}:${request.extFields?.get("consumerGroup")}`),
              Command.response(request, ResponseCode.SUCCESS)
            )
        }
      })
      const toA = yield* Queue.unbounded<string>()
      const toB = yield* Queue.unbounded<string>()
      const poolA = yield* makePool(notified("A", toA))
      const scopeB = yield* Scope.make()
      const poolB = yield* makePool(notified("B", toB)).pipe(Scope.extend(scopeB))

      yield* poolA.invokeSuccess(BROKER_A, heartbeat("A", "cg", "TopicTest"))
      assert.strictEqual(yield* Queue.take(toA), "A:cg", "the new member itself is told")
      yield* poolB.invokeSuccess(BROKER_A, heartbeat("B", "cg", "TopicTest"))
      assert.strictEqual(yield* Queue.take(toA), "A:cg")
      assert.strictEqual(yield* Queue.take(toB), "B:cg")
      assert.deepStrictEqual(yield* cluster.members("cg"), ["A", "B"])
      const list = yield* poolA.invokeSuccess(
        BROKER_A,
        Command.request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { extFields: { consumerGroup: "cg" } })
      )
      assert.deepStrictEqual(JSON.parse(readText(list.body)), { consumerIdList: ["A", "B"] })
      // A repeated heartbeat changes nothing and tells nobody.
      yield* poolA.invokeSuccess(BROKER_A, heartbeat("A", "cg", "TopicTest"))
      assert.strictEqual((yield* cluster.notifications).length, 3)

      yield* poolB.invokeSuccess(
        BROKER_A,
        Command.request(RequestCode.UNREGISTER_CLIENT, { extFields: { clientID: "B", consumerGroup: "cg" } })
      )
      assert.strictEqual(yield* Queue.take(toA), "A:cg", "the one left is told")
      assert.deepStrictEqual(yield* cluster.members("cg"), ["A"])
      assert.strictEqual(yield* Queue.size(toB), 0)

      yield* poolB.invokeSuccess(BROKER_A, heartbeat("B", "cg", "TopicTest"))
      yield* Queue.take(toA)
      yield* Queue.take(toB)
      yield* Scope.close(scopeB, Exit.void)
      assert.strictEqual(yield* Queue.take(toA), "A:cg", "a closed connection leaves the group")
      assert.deepStrictEqual(yield* cluster.members("cg"), ["A"])
      const notes = yield* cluster.notifications
      assert.strictEqual(notes.length, 7)
      assert.isTrue(notes.every((n) => n.group === "cg" && n.broker === "broker-a"))
    })))

  it.scoped("send-back: to %RETRY%<group> with reconsumeTimes + 1 until maxReconsumeTimes, then %DLQ%<group>", () =>
    run(Effect.gen(function*() {
      const { cluster, pool } = yield* setup()
      const [original] = yield* cluster.produce("TopicTest", 2, [{
        body: "poison",
        tags: "T",
        properties: { UNIQ_KEY: "U9" }
      }])
      const sendBack = (record: FakeCluster.StoredRecord, delayLevel = 0) =>
        pool.invoke(
          BROKER_A,
          Command.request(RequestCode.CONSUMER_SEND_MSG_BACK, {
            extFields: {
              offset: record.commitLogOffset,
              group: "cg",
              delayLevel,
              originMsgId: record.offsetMsgId,
              originTopic: record.topic,
              unitMode: false,
              maxReconsumeTimes: 2,
              bname: "broker-a"
            }
          })
        )
      assert.strictEqual((yield* sendBack(original!)).code, ResponseCode.SUCCESS)
      const [retry1] = yield* cluster.messages("%RETRY%cg", 0)
      assert.strictEqual(retry1!.reconsumeTimes, 1)
      assert.strictEqual(retry1!.properties.get("RETRY_TOPIC"), "TopicTest")
      assert.strictEqual(retry1!.properties.get("ORIGIN_MESSAGE_ID"), original!.offsetMsgId)
      assert.strictEqual(retry1!.properties.get("UNIQ_KEY"), "U9")
      assert.deepStrictEqual(readText(retry1!.body), "poison")
      // The retry topic is routable, as the broker registers it with the NameServer.
      const route = yield* pool.invoke(
        NS,
        Command.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: "%RETRY%cg" } })
      )
      assert.deepStrictEqual(
        Either.getOrThrow(RouteData.decodeTopicRouteData(route.body)).queueDatas.map((q) => q.readQueueNums),
        [1]
      )

      assert.strictEqual((yield* sendBack(retry1!, 5)).code, ResponseCode.SUCCESS)
      const retry2 = (yield* cluster.messages("%RETRY%cg", 0))[1]!
      assert.strictEqual(retry2.reconsumeTimes, 2)
      assert.strictEqual(retry2.properties.get("RETRY_TOPIC"), "TopicTest")
      assert.strictEqual(retry2.properties.get("ORIGIN_MESSAGE_ID"), original!.offsetMsgId, "kept from the first")

      assert.strictEqual((yield* sendBack(retry2)).code, ResponseCode.SUCCESS)
      const [dead] = yield* cluster.messages("%DLQ%cg", 0)
      assert.strictEqual(dead!.reconsumeTimes, 3)
      assert.strictEqual(dead!.properties.get("ORIGIN_MESSAGE_ID"), original!.offsetMsgId)
      assert.deepStrictEqual(
        (yield* cluster.sentBack).map((s) => [s.requestedDelayLevel, s.delayLevel, s.dlq, s.stored.topic]),
        [[0, 3, false, "%RETRY%cg"], [5, 5, false, "%RETRY%cg"], [0, 0, true, "%DLQ%cg"]]
      )

      // delayLevel -1 goes straight to the DLQ; an unknown offset is a SYSTEM_ERROR.
      assert.strictEqual((yield* sendBack(original!, -1)).code, ResponseCode.SUCCESS)
      assert.strictEqual((yield* cluster.messages("%DLQ%cg", 0)).length, 2)
      const lost = yield* sendBack({ ...original!, commitLogOffset: 123_456n })
      assert.strictEqual(lost.code, ResponseCode.SYSTEM_ERROR)
    })))

  it.scoped("faults: failNext answers with a code, hang never answers, dropConnections makes the client reconnect", () =>
    run(Effect.gen(function*() {
      const { cluster, pool } = yield* setup()
      yield* cluster.failNext(RequestCode.SEND_MESSAGE_V2, ResponseCode.SYSTEM_BUSY, 1, "busy")
      const busy = yield* pool.invoke(BROKER_A, sendV2("TopicTest", 0, "a"))
      assert.deepStrictEqual([busy.code, busy.remark], [ResponseCode.SYSTEM_BUSY, "busy"])
      assert.strictEqual((yield* cluster.messages("TopicTest", 0)).length, 0, "not stored")
      assert.strictEqual((yield* pool.invoke(BROKER_A, sendV2("TopicTest", 0, "b"))).code, ResponseCode.SUCCESS)

      yield* cluster.hang(RequestCode.GET_ROUTEINFO_BY_TOPIC)
      const hung = yield* Effect.fork(
        pool.invoke(NS, Command.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: "TopicTest" } }), {
          timeout: "3 seconds"
        })
      )
      yield* cluster.awaitRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC)
      yield* TestClock.adjust("3 seconds")
      const error = yield* Effect.flip(Fiber.join(hung))
      assert.strictEqual(error._tag, "RemotingClientError")
      const again = yield* pool.invoke(
        NS,
        Command.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: "TopicTest" } })
      )
      assert.strictEqual(again.code, ResponseCode.SUCCESS, "only the next one hangs")

      assert.strictEqual(yield* cluster.dropConnections(BROKER_A), 1)
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* pool.invoke(BROKER_A, sendV2("TopicTest", 0, "c"))).code, ResponseCode.SUCCESS)
      const toBroker = (yield* cluster.connections).filter((c) => c.address === BROKER_A)
      assert.deepStrictEqual(toBroker.map((c) => c.open), [false, true])
      const sends = yield* cluster.requestsOf(RequestCode.SEND_MESSAGE_V2)
      assert.deepStrictEqual(sends.map((s) => s.fault), ["failed", undefined, undefined])
      assert.notStrictEqual(sends[0]!.connection, sends[2]!.connection)
    })))
})
