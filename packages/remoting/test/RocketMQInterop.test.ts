/**
 * The client and pool against a real Apache RocketMQ 5.3.3 NameServer and Broker (`RocketMQServers`), with the
 * servers in each serialize type and the client writing each: cluster info and topic routes decoded with
 * `RouteData`, a topic created, messages sent and pulled back (records read with the `StoredMessages` test
 * helper), and a consumer heartbeat answered by the broker's NOTIFY_CONSUMER_IDS_CHANGED at a handler. The
 * NameServer and the broker are two addresses of one pool.
 *
 * Needs java, javac, mvn and Maven Central (or a warm ~/.m2): skipped with the reason outside CI when absent,
 * failed with `CI=true`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import { Connector } from "@rocketmq-effect/transport/Connector"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { LanguageCode, RequestCode, ResponseCode } from "../src/RemotingCode.js"
import type { RemotingCommand as Command, SerializeType } from "../src/RemotingCommand.js"
import { request } from "../src/RemotingCommand.js"
import * as RemotingPool from "../src/RemotingPool.js"
import * as RouteData from "../src/RouteData.js"
import * as JavaRemoting from "./JavaRemoting.js"
import { readText, text } from "./MockBroker.js"
import * as RocketMQServers from "./RocketMQServers.js"
import { decodeMessages, writeProperties } from "./StoredMessages.js"

const servers = await Effect.runPromise(RocketMQServers.availability)
const skip = JavaRemoting.skipReason(servers)
if (skip !== undefined) console.warn(`RocketMQInterop: skipping (CI would fail these tests): ${skip}`)

interface Notification {
  readonly address: string
  readonly command: Command
}

/** A pool over TCP whose clients write `serializeType` and put every NOTIFY_CONSUMER_IDS_CHANGED in `notified`. */
const makePool = (serializeType: SerializeType, notified: Queue.Queue<Notification>) =>
  RemotingPool.make({
    transport: { retryInterval: "200 millis" },
    client: {
      serializeType,
      language: LanguageCode.JAVA,
      defaultTimeout: "10 seconds",
      handlers: {
        [RequestCode.NOTIFY_CONSUMER_IDS_CHANGED]: (command, { address }) =>
          Effect.as(Queue.offer(notified, { address, command }), command)
      }
    }
  }).pipe(Effect.provideServiceEffect(Connector, NodeConnector.make), Effect.orDie)

/** Retries `effect` every 200 ms for up to 30 s. */
const poll = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 150 }))

const live = <A, E>(name: string, self: () => Effect.Effect<A, E, Scope.Scope>) =>
  it.scopedLive.skipIf(skip)(name, () => self().pipe(Logger.withMinimumLogLevel(LogLevel.Error)), 120_000)

for (const serverType of ["JSON", "ROCKETMQ"] as const) {
  describe(JavaRemoting.suiteName(`RocketMQ 5.3.3 servers in ${serverType}`, servers), () => {
    const running = skip === undefined
      ? RocketMQServers.useServers({
        brokerName: `broker-${serverType.toLowerCase()}`,
        clusterName: "InteropCluster",
        jvmOptions: serverType === "ROCKETMQ" ? ["-Drocketmq.serialize.type=ROCKETMQ"] : [],
        // RocketMQServers' own registration check reads JSON answers only; the first test below polls
        // GET_BROKER_CLUSTER_INFO through the client instead.
        awaitRegistration: serverType === "JSON"
      })
      : () => {
        throw new Error("not started")
      }

    for (const clientType of ["JSON", "ROCKETMQ"] as const) {
      const topic = `interop-${serverType}-${clientType}-${Date.now()}`.toLowerCase()

      live(`${clientType} client: GET_BROKER_CLUSTER_INFO lists the broker (RouteData)`, () =>
        Effect.gen(function*() {
          const { broker, brokerName, clusterName, nameServer } = running()
          const pool = yield* makePool(clientType, yield* Queue.unbounded<Notification>())
          const info = yield* poll(
            pool.invokeSuccess(nameServer, request(RequestCode.GET_BROKER_CLUSTER_INFO)).pipe(
              Effect.flatMap((answer) => RouteData.decodeClusterInfo(answer.body)),
              Effect.filterOrFail((info) => info.brokerAddrTable.has(brokerName))
            )
          )
          const data = info.brokerAddrTable.get(brokerName)!
          assert.strictEqual(data.cluster, clusterName)
          assert.strictEqual(RouteData.masterAddress(data), broker)
          assert.deepStrictEqual(info.clusterAddrTable.get(clusterName), [brokerName])
          // The servers answer in their own type whatever the request's: the raw JSON probe says which it got.
          const raw = yield* Effect.either(RocketMQServers.brokerClusterInfo(nameServer))
          if (serverType === "JSON") assert.isTrue(Either.isRight(raw))
          else assert.match(Either.isLeft(raw) ? raw.left.reason : "", /answered with serialize type 1/)
        }))

      live(
        `${clientType} client: UPDATE_AND_CREATE_TOPIC on the broker, then the NameServer routes it`,
        () =>
          Effect.gen(function*() {
            const { broker, brokerName, nameServer } = running()
            const pool = yield* makePool(clientType, yield* Queue.unbounded<Notification>())
            const missing = yield* pool.invoke(
              nameServer,
              request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic } })
            )
            assert.strictEqual(missing.code, ResponseCode.TOPIC_NOT_EXIST)
            yield* pool.invokeSuccess(broker, createTopic(topic))
            const route = yield* poll(
              pool.invokeSuccess(nameServer, request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic } }))
                .pipe(
                  Effect.flatMap((answer) => RouteData.decodeTopicRouteData(answer.body))
                )
            )
            assert.deepStrictEqual(
              route.queueDatas.map((q) => [q.brokerName, q.readQueueNums, q.writeQueueNums, q.perm]),
              [[brokerName, 4, 4, 6]]
            )
            assert.strictEqual(RouteData.masterAddress(route.brokerDatas[0]!), broker)
            assert.deepStrictEqual((yield* pool.addresses).slice().sort(), [broker, nameServer].sort())
          })
      )

      live(
        `${clientType} client: SEND_MESSAGE_V2 three messages, PULL_MESSAGE them back`,
        () =>
          Effect.gen(function*() {
            const { broker, brokerName } = running()
            const pool = yield* makePool(clientType, yield* Queue.unbounded<Notification>())
            const sendTopic = `${topic}-send`
            yield* pool.invokeSuccess(broker, createTopic(sendTopic))
            const offsets: Array<string | undefined> = []
            for (let i = 0; i < 3; i++) {
              const sent = yield* pool.invokeSuccess(
                broker,
                sendMessage(sendTopic, brokerName, `message ${i}`, `key-${i}`)
              )
              assert.isString(sent.extFields?.get("msgId"))
              assert.strictEqual(sent.extFields?.get("queueId"), "0")
              offsets.push(sent.extFields?.get("queueOffset"))
            }
            assert.deepStrictEqual(offsets, ["0", "1", "2"])
            const pulled = yield* poll(
              pool.invoke(broker, pullMessage(sendTopic), { timeout: "10 seconds" }).pipe(
                Effect.filterOrFail((answer) => answer.code === ResponseCode.SUCCESS),
                Effect.map((answer) => ({ answer, messages: decodeMessages(answer.body) })),
                Effect.filterOrFail(({ messages }) => messages.length === 3)
              )
            )
            assert.strictEqual(pulled.answer.extFields?.get("nextBeginOffset"), "3")
            assert.deepStrictEqual(pulled.messages.map((m) => readText(m.body)), [
              "message 0",
              "message 1",
              "message 2"
            ])
            assert.deepStrictEqual(pulled.messages.map((m) => m.queueOffset), [0n, 1n, 2n])
            for (const [i, message] of pulled.messages.entries()) {
              assert.strictEqual(message.topic, sendTopic)
              assert.strictEqual(message.queueId, 0)
              assert.strictEqual(message.properties.get("TAGS"), "tagA")
              assert.strictEqual(message.properties.get("KEYS"), `key-${i}`)
              assert.match(message.storeHost, /^127\.0\.0\.1:\d+$/)
            }
          })
      )

      live(
        `${clientType} client: a consumer HEART_BEAT makes the broker send NOTIFY_CONSUMER_IDS_CHANGED`,
        () =>
          Effect.gen(function*() {
            const { broker } = running()
            const notified = yield* Queue.unbounded<Notification>()
            const pool = yield* makePool(clientType, notified)
            const group = `cg-${serverType}-${clientType}-${Date.now()}`
            const beatTopic = `${topic}-beat`
            yield* pool.invokeSuccess(broker, createTopic(beatTopic))
            yield* pool.invokeSuccess(broker, heartbeat(`127.0.0.1@interop-${clientType}`, group, beatTopic))
            // A second consumer of the group, on another pool: every connection of the group hears of it.
            const other = yield* makePool(clientType, yield* Queue.unbounded<Notification>())
            yield* other.invokeSuccess(broker, heartbeat(`127.0.0.1@interop-other-${clientType}`, group, beatTopic))
            const notification = yield* Queue.take(notified).pipe(
              Effect.repeat({ until: (n) => n.command.extFields?.get("consumerGroup") === group }),
              Effect.timeout("30 seconds")
            )
            assert.strictEqual(notification.address, broker)
            assert.strictEqual(notification.command.code, RequestCode.NOTIFY_CONSUMER_IDS_CHANGED)
            assert.isTrue((notification.command.flag & 2) !== 0, "oneway")
            // The connection is still good after the server's request.
            const again = yield* pool.invoke(broker, heartbeat(`127.0.0.1@interop-${clientType}`, group, beatTopic))
            assert.strictEqual(again.code, ResponseCode.SUCCESS)
          })
      )
    }
  })
}

const createTopic = (topic: string) =>
  request(RequestCode.UPDATE_AND_CREATE_TOPIC, {
    extFields: {
      topic,
      defaultTopic: "TBW102",
      readQueueNums: 4,
      writeQueueNums: 4,
      perm: 6,
      topicFilterType: "SINGLE_TAG",
      topicSysFlag: 0,
      order: false
    }
  })

const sendMessage = (topic: string, brokerName: string, body: string, key: string) =>
  request(RequestCode.SEND_MESSAGE_V2, {
    extFields: {
      a: "interop-producer",
      b: topic,
      c: "TBW102",
      d: 4,
      e: 0,
      f: 0,
      g: Date.now(),
      h: 0,
      i: writeProperties({ TAGS: "tagA", KEYS: key, WAIT: "true" }),
      j: 0,
      k: false,
      m: false,
      n: brokerName
    },
    body: text(body)
  })

const pullMessage = (topic: string) =>
  request(RequestCode.PULL_MESSAGE, {
    extFields: {
      consumerGroup: "interop-puller",
      topic,
      queueId: 0,
      queueOffset: 0,
      maxMsgNums: 32,
      sysFlag: 4,
      commitOffset: 0,
      suspendTimeoutMillis: 0,
      subscription: "*",
      subVersion: 0,
      expressionType: "TAG"
    }
  })

const heartbeat = (clientID: string, group: string, topic: string) =>
  request(RequestCode.HEART_BEAT, {
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
          subString: "*",
          tagsSet: [],
          codeSet: [],
          subVersion: Date.now(),
          expressionType: "TAG",
          classFilterMode: false
        }]
      }],
      heartbeatFingerprint: 0,
      isWithoutSub: false
    }))
  })
