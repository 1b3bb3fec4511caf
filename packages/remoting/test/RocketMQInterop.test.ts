/**
 * The client and pool against a real Apache RocketMQ 5.3.3 NameServer and Broker (`RocketMQServers`), with the
 * servers in each serialize type and the client writing each: cluster info and topic routes decoded with
 * `RouteData`, a topic created, messages sent and pulled back (records read with the `StoredMessages` test
 * helper), and a consumer heartbeat answered by the broker's NOTIFY_CONSUMER_IDS_CHANGED at a handler. The
 * NameServer and the broker are two addresses of one pool.
 *
 * Bulk: 1,000 messages of 0 B to 1 MiB sent 64 deep, pulled back and checked byte for byte, in queue order.
 *
 * Crashes, on a broker of their own (SYNC_FLUSH, so that an acknowledged message is on disk whatever kills the
 * broker): SIGKILL and a restart on the same ports and store during a stream of sends (every send answered or
 * failed with a typed error within its time bound, the client back by itself, every acknowledged message there
 * once after the restart), and a SIGKILL with calls pending (each failed at once, not at its timeout).
 *
 * Needs java, javac, mvn and Maven Central (or a warm ~/.m2): skipped with the reason outside CI when absent,
 * failed with `CI=true`.
 */
import { assert, describe } from "@effect/vitest"
import { readText, sameBytes, text } from "@rocketmq-effect/test-kit/Bytes"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as Live from "@rocketmq-effect/test-kit/Live"
import * as Prerequisites from "@rocketmq-effect/test-kit/Prerequisites"
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import { Connector } from "@rocketmq-effect/transport/Connector"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import { LanguageCode, RequestCode, ResponseCode } from "../src/RemotingCode.js"
import type { RemotingCommand as Command, SerializeType } from "../src/RemotingCommand.js"
import { request } from "../src/RemotingCommand.js"
import * as RemotingPool from "../src/RemotingPool.js"
import * as RouteData from "../src/RouteData.js"
import { createTopic, heartbeat, pullMessage as pullMessageRequest, sendMessageV2 } from "./BrokerRequests.js"
import * as RocketMQServers from "./RocketMQServers.js"
import { bodyCrc, decodeMessages, offsetMsgId, type StoredMessage, writeProperties } from "./StoredMessages.js"

const servers = await Effect.runPromise(RocketMQServers.availability)
const skip = Prerequisites.skipReason(servers)
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

const live = Live.make({ timeout: 120_000, skip })

const BULK_COUNT = 1000
const BULK_DEPTH = 64
const BULK_EMPTY = 10

for (const serverType of ["JSON", "ROCKETMQ"] as const) {
  describe(Prerequisites.suiteName(`RocketMQ 5.3.3 servers in ${serverType}`, servers), () => {
    const running = skip === undefined
      ? RocketMQServers.useServers({
        brokerName: `broker-${serverType.toLowerCase()}`,
        clusterName: "InteropCluster",
        jvmOptions: serverType === "ROCKETMQ" ? ["-Drocketmq.serialize.type=ROCKETMQ"] : [],
        // RocketMQServers' own registration check reads JSON answers only; the first test below polls
        // GET_BROKER_CLUSTER_INFO through the client instead.
        awaitRegistration: serverType === "JSON",
        brokerProperties: {
          // One send thread: two pipelined sends are stored in the order they arrived (with Java's default of
          // min(CPUs, 4) threads they may swap), so the bulk test can hold the client to its write order.
          sendMessageThreadPoolNums: "1",
          // The bulk test queues up to 64 sends of up to 1 MiB; on a loaded 2-CPU machine one may wait in the
          // broker's send queue longer than the default 200 ms, which answers SYSTEM_BUSY [TIMEOUT_CLEAN_QUEUE].
          waitTimeMillsInSendQueue: "10000"
        }
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

    // The other type than the server's, so both directions of each header codec carry the big frames.
    const bulkClient: SerializeType = serverType === "JSON" ? "ROCKETMQ" : "JSON"
    live(
      `${bulkClient} client: SEND_MESSAGE_V2 ${BULK_COUNT} messages of 1 B to 1 MiB (and ${BULK_EMPTY} empty ones), ` +
        `${BULK_DEPTH} in flight, then PULL_MESSAGE them all back byte-exact in queue order`,
      () =>
        Effect.gen(function*() {
          const { broker, brokerName } = running()
          const pool = yield* makePool(bulkClient, yield* Queue.unbounded<Notification>())
          const bulkTopic = `interop-bulk-${serverType}-${Date.now()}`.toLowerCase()
          yield* pool.invokeSuccess(broker, createTopic(bulkTopic))
          const run = runId()
          const messages = Array.from({ length: BULK_COUNT }, (_, i) => bulkMessage(run, i))
          const totalBytes = messages.reduce((sum, m) => sum + m.body.length, 0)

          // An empty body after every 100th message: Java's broker 5.3.3 cannot store one (its producer refuses
          // them: "the message body length is zero"; the broker reads `request.getBody().length`, null for an
          // empty body, and answers SYSTEM_ERROR with the NullPointerException). Sent in the same pipeline, each
          // must be answered so, and must not disturb the sends around it.
          const sends = messages.flatMap((m, i) =>
            i % 100 === 50 ? [m, { body: new Uint8Array(0), properties: { ...m.properties, UNIQ_KEY: "" } }] : [m]
          )
          const sendStarted = Date.now()
          const all = yield* Effect.forEach(
            sends,
            (m) => pool.invoke(broker, sendV2(bulkTopic, brokerName, m.body, m.properties), { timeout: "60 seconds" }),
            { concurrency: BULK_DEPTH }
          )
          const sendMs = Date.now() - sendStarted
          const empties = all.filter((_, k) => sends[k]!.body.length === 0)
          assert.strictEqual(empties.length, BULK_EMPTY)
          for (const answer of empties) {
            assert.strictEqual(answer.code, ResponseCode.SYSTEM_ERROR, `empty body: ${answer.code} ${answer.remark}`)
            assert.match(answer.remark ?? "", /NullPointerException.*getBody\(\)/)
          }
          const answers = all.filter((_, k) => sends[k]!.body.length > 0)
          for (const [i, answer] of answers.entries()) {
            assert.strictEqual(answer.code, ResponseCode.SUCCESS, `send ${i}: ${answer.code} ${answer.remark}`)
            assert.strictEqual(answer.extFields?.get("queueId"), "0", `send ${i}`)
          }
          // Each answer's queueOffset is its place in the send order: the client wrote them in the order asked,
          // and the broker (one send thread) stored them in the order they came.
          assert.deepStrictEqual(
            answers.map((a) => a.extFields?.get("queueOffset")),
            messages.map((_, i) => String(i))
          )

          const pullStarted = Date.now()
          const pulled = yield* pullAll(pool, broker, bulkTopic, 0, 0, BULK_COUNT, 32)
          const pullMs = Date.now() - pullStarted
          assert.strictEqual(pulled.records.length, BULK_COUNT)
          for (const [k, record] of pulled.records.entries()) {
            const m = messages[k]!
            const where = `record ${k} (${m.body.length} bytes)`
            assert.strictEqual(record.queueOffset, BigInt(k), `${where}: queueOffset`)
            assert.strictEqual(record.queueId, 0, where)
            assert.strictEqual(record.topic, bulkTopic, where)
            assert.strictEqual(record.sysFlag & 0x1, 0, `${where}: not compressed`)
            assert.isTrue(sameBytes(record.body, m.body), `${where}: body differs`)
            assert.strictEqual(record.bodyCRC, bodyCrc(m.body), `${where}: bodyCRC`)
            for (const key of ["TAGS", "KEYS", "UNIQ_KEY"] as const) {
              assert.strictEqual(record.properties.get(key), m.properties[key], `${where}: ${key}`)
            }
            assert.strictEqual(offsetMsgId(record), answers[k]!.extFields?.get("msgId"), `${where}: msgId`)
          }
          const added = new Set<string>()
          for (const record of pulled.records) {
            for (const key of record.properties.keys()) if (!(key in messages[0]!.properties)) added.add(key)
          }
          yield* Live.report(`bulk ${serverType} server, ${bulkClient} client`, {
            messages: BULK_COUNT,
            totalMiB: +(totalBytes / 1024 / 1024).toFixed(2),
            largest: Math.max(...messages.map((m) => m.body.length)),
            emptyRefused: empties.length,
            smallest: Math.min(...messages.map((m) => m.body.length)),
            sendMs,
            pullMs,
            pulls: pulled.pulls,
            emptyPulls: pulled.emptyPulls,
            propertiesAddedByBroker: Array.from(added).sort()
          })
        })
    )
  })
}

// ---- crashes: a broker of its own, killed and restarted ------------------------------------------------------

describe(Prerequisites.suiteName("RocketMQ 5.3.3 broker killed and restarted", servers), () => {
  const running = skip === undefined
    ? RocketMQServers.useServers({
      brokerName: "broker-restart",
      clusterName: "RestartCluster",
      brokerProperties: {
        // SYNC_FLUSH: the broker answers SUCCESS only once the commit log is forced to disk, so "nothing
        // acknowledged is lost" holds by the broker's contract for any crash, SIGKILL included. (Under
        // ASYNC_FLUSH a SIGKILL alone would lose nothing either, the mapped pages live on in the page cache; but
        // that is an accident of the default transientStorePoolEnable=false, not a promise.) A graceful SIGTERM
        // takes ~15 s and is not a crash.
        flushDiskType: "SYNC_FLUSH",
        waitTimeMillsInSendQueue: "10000"
      }
    })
    : () => {
      throw new Error("not started")
    }

  live(
    "SIGKILL and restart during a stream of sends: each send answered or failed typed within its timeout, " +
      "the client reconnects by itself, every acknowledged message is there once",
    () =>
      Effect.gen(function*() {
        const servers = running()
        const { broker, brokerName } = servers
        if (!servers.brokerRunning()) yield* servers.startBroker
        const pool = yield* makePool("JSON", yield* Queue.unbounded<Notification>())
        const topic = `interop-restart-${Date.now()}`
        yield* pool.invokeSuccess(broker, createTopic(topic))
        const run = runId()
        const timeoutMs = 5_000
        const stream = yield* startSends({
          pool,
          broker,
          message: (id) =>
            sendV2(topic, brokerName, streamBody(run, id), {
              TAGS: "restart",
              KEYS: `restart-${id}`,
              UNIQ_KEY: uniqKey(run, id),
              WAIT: "true"
            }),
          inFlight: 20,
          timeoutMs
        })

        yield* eventually(Effect.sync(() => stream.successes() >= 300), {
          every: "20 millis",
          timeout: "60 seconds",
          what: "300 sends acknowledged before the kill"
        })
        const killedAt = Date.now()
        yield* servers.killBroker
        const goneMs = Date.now() - killedAt
        const restartAt = Date.now()
        const bootMs = yield* servers.startBroker
        const upAt = Date.now()
        const beforeRestart = stream.successes()
        yield* eventually(Effect.sync(() => stream.successes() >= beforeRestart + 300), {
          every: "20 millis",
          timeout: "60 seconds",
          what: "300 more sends acknowledged after the restart"
        })
        const outcomes = yield* stream.stop

        // Every send: SUCCESS or a typed failure, and none past its time bound.
        const kinds = new Map<string, number>()
        let slowest = 0
        for (const o of outcomes) {
          kinds.set(o.kind, (kinds.get(o.kind) ?? 0) + 1)
          slowest = Math.max(slowest, o.elapsedMs)
          assert.match(o.kind, TYPED_OUTCOME, `send ${o.id}`)
          assert.isAtMost(o.elapsedMs, timeoutMs + SLACK_MS, `send ${o.id} (${o.kind}) took ${o.elapsedMs} ms`)
        }
        const failedAtKill = outcomes.filter((o) =>
          o.kind.startsWith("ConnectionError:Disconnected") && o.finishedAt >= killedAt
        )
        assert.isAbove(failedAtKill.length, 0, "sends pending at the kill failed with Disconnected")
        // Reconnected by itself: the connection is a new one, and sends succeeded on it.
        const firstAfter = outcomes.filter((o) => o.kind === "SUCCESS" && o.finishedAt > killedAt + goneMs)
          .reduce((min, o) => Math.min(min, o.finishedAt), Infinity)
        assert.isTrue(Number.isFinite(firstAfter), "a send succeeded after the restart")
        assert.isAbove(
          outcomes.filter((o) => o.kind === "SUCCESS" && o.startedAt >= upAt).length,
          0,
          "a send started after the restart succeeded"
        )
        const state = yield* pool.use(broker, (client) => client.transport.state)
        assert.strictEqual(state._tag, "Connected")
        assert.isAtLeast(state._tag === "Connected" ? state.generation : 0, 2)

        // After the restart every acknowledged message is in the queue, once, with its offset, id and body.
        const acked = outcomes.filter((o) => o.kind === "SUCCESS")
        const maxAcked = acked.reduce((max, o) => Math.max(max, Number(o.answer!.extFields?.get("queueOffset"))), -1)
        const pulled = yield* pullAll(pool, broker, topic, 0, 0, maxAcked + 1, 32, { untilEnd: true })
        pulled.records.forEach((r, k) => assert.strictEqual(r.queueOffset, BigInt(k), "queue offsets without gaps"))
        const byKey = new Map<string, Array<StoredMessage>>()
        for (const record of pulled.records) {
          const key = record.properties.get("UNIQ_KEY") ?? "(none)"
          byKey.set(key, [...(byKey.get(key) ?? []), record])
        }
        for (const [key, records] of byKey) assert.strictEqual(records.length, 1, `${key} stored once`)
        for (const o of acked) {
          const records = byKey.get(uniqKey(run, o.id))
          assert.isDefined(records, `acknowledged send ${o.id} is in the queue`)
          const record = records![0]!
          assert.strictEqual(String(record.queueOffset), o.answer!.extFields?.get("queueOffset"), `send ${o.id}`)
          assert.strictEqual(offsetMsgId(record), o.answer!.extFields?.get("msgId"), `send ${o.id}: msgId`)
          assert.isTrue(sameBytes(record.body, streamBody(run, o.id)), `send ${o.id}: body`)
        }
        const unacked = outcomes.filter((o) => o.kind !== "SUCCESS" && byKey.has(uniqKey(run, o.id)))
        yield* Live.report("restart", {
          sends: outcomes.length,
          outcomes: Object.fromEntries(kinds),
          slowestMs: slowest,
          killToExitMs: goneMs,
          pendingFailedAtKill: failedAtKill.length,
          pendingFailedWithinMs: Math.max(...failedAtKill.map((o) => o.finishedAt - killedAt)),
          disconnectCauses: Array.from(new Set(failedAtKill.map((o) => o.cause))),
          restartBootMs: bootMs,
          restartToRegisteredMs: upAt - restartAt,
          // From the new JVM's boot line: the client may be back before it (the port opens first).
          bootLineToFirstSuccessMs: firstAfter - (restartAt + bootMs),
          generation: state._tag === "Connected" ? state.generation : undefined,
          stored: pulled.records.length,
          acknowledged: acked.length,
          storedButNotAcknowledged: unacked.map((o) => `${o.id}:${o.kind}`)
        })
      }),
    150_000
  )

  live(
    "SIGKILL with calls pending (30 s timeouts): each fails at once with ConnectionError Disconnected",
    () =>
      Effect.gen(function*() {
        const servers = running()
        const { broker, brokerName } = servers
        if (!servers.brokerRunning()) yield* servers.startBroker
        const pool = yield* makePool("ROCKETMQ", yield* Queue.unbounded<Notification>())
        const topic = `interop-kill-${Date.now()}`
        // The long polls on a topic of their own: a send to their queue would answer them.
        const pollTopic = `${topic}-polls`
        yield* pool.invokeSuccess(broker, createTopic(topic))
        yield* pool.invokeSuccess(broker, createTopic(pollTopic))
        const timeout = "30 seconds"

        // Long polls on empty queues: the broker holds them (up to 25 s), so they are surely pending.
        const polls = yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          (i) =>
            Effect.fork(
              timed(
                pool.invoke(broker, pullRequest(pollTopic, { queueId: i % 4, suspendMillis: 25_000 }), { timeout })
              )
            )
        )
        yield* Effect.sleep("1 second")
        const inFlight = yield* pool.use(broker, (client) => client.inFlight)
        assert.isAtLeast(inFlight, 8, "the long polls are pending")
        // And sends in a stream, 20 in flight, none started after the kill.
        const stream = yield* startSends({
          pool,
          broker,
          message: (id) =>
            sendV2(topic, brokerName, text(`kill ${id}`), { TAGS: "kill", KEYS: `kill-${id}`, WAIT: "true" }),
          inFlight: 20,
          timeoutMs: 30_000
        })
        yield* eventually(Effect.sync(() => stream.successes() >= 100), {
          every: "20 millis",
          timeout: "60 seconds",
          what: "100 sends acknowledged"
        })
        for (const pending of polls) {
          assert.isTrue(Option.isNone(yield* Fiber.poll(pending)), "the long poll still waits")
        }

        stream.hold()
        const killedAt = Date.now()
        yield* servers.killBroker
        const goneMs = Date.now() - killedAt
        const pollOutcomes = yield* Fiber.joinAll(polls).pipe(
          Effect.timeoutFail({ duration: "35 seconds", onTimeout: () => new Error("the long polls hung") })
        )
        const sendOutcomes = yield* stream.stop

        const failedSends = sendOutcomes.filter((o) => o.kind !== "SUCCESS")
        for (const o of [...pollOutcomes, ...failedSends]) {
          assert.match(o.kind, /^ConnectionError:(Disconnected|NotConnected)$/, `${o.kind} ${o.cause}`)
          assert.isBelow(o.finishedAt - killedAt, FAST_FAIL_MS, `${o.kind} after ${o.finishedAt - killedAt} ms`)
        }
        for (const o of pollOutcomes) {
          assert.strictEqual(o.kind, "ConnectionError:Disconnected")
          assert.match(o.cause, /^ConnectionError:(PeerClosed|Read)/)
        }
        yield* Live.report("kill", {
          killToExitMs: goneMs,
          longPolls: pollOutcomes.length,
          longPollsFailedAfterMs: pollOutcomes.map((o) => o.finishedAt - killedAt),
          longPollCauses: Array.from(new Set(pollOutcomes.map((o) => o.cause))),
          sendsAcknowledged: sendOutcomes.length - failedSends.length,
          sendsFailed: failedSends.length,
          sendsFailedWithinMs: failedSends.length === 0 ? undefined : Math.max(
            ...failedSends.map((o) => o.finishedAt - killedAt)
          ),
          sendFailures: Array.from(new Set(failedSends.map((o) => `${o.kind} (${o.cause})`)))
        })
      }),
    120_000
  )
})

// ---- helpers --------------------------------------------------------------------------------------------------

/** How long past its timeout a call may take to report it, on a loaded 2-CPU machine booting a JVM. */
const SLACK_MS = 2_000
/** How soon after a SIGKILL a pending call must have failed: far under its 30 s timeout. */
const FAST_FAIL_MS = 2_000
/** SUCCESS, or a typed failure: the transport's, the call's time bound, or the broker's code. */
const TYPED_OUTCOME = /^(SUCCESS|ConnectionError:\w+|RemotingClientError:Timeout:\w+|RemotingError:\d+)$/

const LARGE_SIZES = [
  1024 * 1024,
  1024 * 1024 - 1,
  768 * 1024 + 7,
  512 * 1024,
  384 * 1024 + 1,
  256 * 1024,
  128 * 1024 - 3,
  64 * 1024 + 5
]

/** A xorshift32 generator: the same bytes for the same seed. */
const xorshift = (seed: number) => {
  let x = (seed | 0) === 0 ? 0x9e3779b9 | 0 : seed | 0
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return x >>> 0
  }
}

const randomBytes = (length: number, seed: number): Uint8Array => {
  const next = xorshift(seed)
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i += 4) {
    const word = next()
    out[i] = word & 0xff
    if (i + 1 < length) out[i + 1] = (word >>> 8) & 0xff
    if (i + 2 < length) out[i + 2] = (word >>> 16) & 0xff
    if (i + 3 < length) out[i + 3] = word >>> 24
  }
  return out
}

/**
 * The size of bulk message `i`: 20 large (64 KiB to 1 MiB, ~11 MiB), 10 of 1 B, 100 of 4 to 32 KiB, the rest
 * 1 B to 4 KiB: ~14 MiB in all.
 */
const bulkSize = (i: number): number => {
  const random = xorshift(0x5eed + i)
  if (i % 50 === 25) return LARGE_SIZES[Math.floor(i / 50) % LARGE_SIZES.length]!
  if (i % 100 === 7) return 1
  if (i % 10 === 3) return 4097 + (random() % 28_000)
  return 1 + (random() % 4096)
}

interface BulkMessage {
  readonly body: Uint8Array
  readonly properties: {
    readonly TAGS: string
    readonly KEYS: string
    readonly UNIQ_KEY: string
    readonly WAIT: string
  }
}

const bulkMessage = (run: string, i: number): BulkMessage => ({
  body: randomBytes(bulkSize(i), i + 1),
  // KEYS holds two keys (space-separated, as Java's producer joins them) and non-ASCII text.
  properties: { TAGS: `tag-${i % 7}`, KEYS: `key-${i} ключ-${i}-é`, UNIQ_KEY: uniqKey(run, i), WAIT: "true" }
})

/** 24 random hex digits for one run, so that the ids of two runs never meet. */
const runId = (): string =>
  Array.from(randomBytes(12, Date.now() ^ (Math.random() * 2 ** 31)), (b) => b.toString(16).padStart(2, "0")).join("")
    .toUpperCase()

/** 32 hex digits, as Java's UNIQ_KEY. */
const uniqKey = (run: string, i: number): string => `${run}${i.toString(16).padStart(8, "0").toUpperCase()}`

/** A body of 100 to 2,000 bytes that says whose it is. */
const streamBody = (run: string, id: number): Uint8Array => {
  const head = text(`stream ${run} ${id} `)
  const body = new Uint8Array(head.length + 100 + (id * 7919) % 1900)
  body.set(head)
  body.set(randomBytes(body.length - head.length, id + 1), head.length)
  return body
}

/** How a call ended, as a word: SUCCESS, or the error's tag and reason (and what it waited for) or code. */
interface Outcome {
  readonly id: number
  readonly kind: string
  /** The error's `cause`, when it has one: its tag and reason. */
  readonly cause: string
  readonly startedAt: number
  readonly finishedAt: number
  readonly elapsedMs: number
  readonly answer: Command | undefined
}

const describeCause = (u: unknown): string => {
  if (typeof u !== "object" || u === null) return String(u)
  const e = u as { _tag?: unknown; reason?: unknown; code?: unknown; waitingFor?: unknown; cause?: unknown }
  const parts = [e._tag, e.reason, e.waitingFor, e.code].filter((p) => p !== undefined)
  const inner = e.cause !== undefined && typeof e.cause === "object" && e.cause !== null && "message" in e.cause
    ? ` ${String((e.cause as { message: unknown }).message)}`
    : ""
  return parts.join(":") + inner
}

/** Runs `call`, recording when it ended and how, never failing. */
const timed = (call: Effect.Effect<Command, unknown>, id = 0): Effect.Effect<Outcome> =>
  Effect.suspend(() => {
    const startedAt = Date.now()
    return Effect.exit(call).pipe(Effect.map((exit): Outcome => {
      const finishedAt = Date.now()
      const base = { id, startedAt, finishedAt, elapsedMs: finishedAt - startedAt }
      if (Exit.isSuccess(exit)) {
        const answer = exit.value
        const kind = answer.code === ResponseCode.SUCCESS ? "SUCCESS" : `RemotingError:${answer.code}`
        return { ...base, kind, cause: "", answer }
      }
      const failure = Cause.failureOption(exit.cause)
      if (Option.isNone(failure)) {
        return { ...base, kind: `defect ${Cause.pretty(exit.cause)}`, cause: "", answer: undefined }
      }
      const error = failure.value as {
        _tag?: string
        reason?: string
        waitingFor?: string
        code?: number
        cause?: unknown
      }
      const kind = error._tag === "ConnectionError"
        ? `ConnectionError:${error.reason}`
        : error._tag === "RemotingClientError"
        ? `RemotingClientError:${error.reason}:${error.waitingFor ?? "-"}`
        : error._tag === "RemotingError"
        ? `RemotingError:${error.code}`
        : `other:${error._tag ?? String(error)}`
      return { ...base, kind, cause: error.cause === undefined ? "" : describeCause(error.cause), answer: undefined }
    }))
  })

/**
 * `inFlight` fibers sending one message after another (a new id each time) until `hold` or `stop`; a failed
 * send is followed by a 100 ms pause, so a broker refusing everything is not spun on. `stop` waits for the
 * sends under way and returns every outcome.
 */
const startSends = (options: {
  readonly pool: RemotingPool.RemotingPoolService
  readonly broker: string
  readonly message: (id: number) => Command
  readonly inFlight: number
  readonly timeoutMs: number
}) =>
  Effect.gen(function*() {
    const outcomes: Array<Outcome> = []
    let next = 0
    let held = false
    let successes = 0
    const worker = Effect.gen(function*() {
      while (!held) {
        const id = next++
        const outcome = yield* timed(
          options.pool.invoke(options.broker, options.message(id), { timeout: options.timeoutMs }),
          id
        )
        outcomes.push(outcome)
        if (outcome.kind === "SUCCESS") successes++
        else yield* Effect.sleep("100 millis")
      }
    })
    const fiber = yield* Effect.forkScoped(
      Effect.all(Array.from({ length: options.inFlight }, () => worker), { concurrency: "unbounded", discard: true })
    )
    return {
      successes: () => successes,
      /** No send starts after this. */
      hold: () => {
        held = true
      },
      stop: Effect.suspend(() => {
        held = true
        return Effect.as(Fiber.join(fiber), outcomes)
      })
    }
  })

const sendV2 = (
  topic: string,
  brokerName: string,
  body: Uint8Array,
  properties: Readonly<Record<string, string>>,
  queueId = 0
) =>
  sendMessageV2({
    producerGroup: "interop-producer",
    topic,
    brokerName,
    queueId,
    properties: writeProperties(properties),
    body
  })

const pullRequest = (topic: string, options?: Parameters<typeof pullMessageRequest>[2]) =>
  pullMessageRequest("interop-puller", topic, options)

/**
 * Pulls queue `queueId` from `from` until `count` records are read (then, with `untilEnd`, on until the broker
 * has nothing more): PULL_NOT_FOUND and PULL_RETRY_IMMEDIATELY before that mean the consume queue lags the
 * commit log, and are asked again 50 ms later. Within 60 s.
 */
const pullAll = (
  pool: RemotingPool.RemotingPoolService,
  broker: string,
  topic: string,
  queueId: number,
  from: number,
  count: number,
  maxMsgNums: number,
  options: { readonly untilEnd?: boolean } = {}
) =>
  Effect.gen(function*() {
    const records: Array<StoredMessage> = []
    let offset = from
    let pulls = 0
    let emptyPulls = 0
    while (true) {
      const answer = yield* pool.invoke(
        broker,
        pullRequest(topic, { queueId, queueOffset: offset, maxMsgNums }),
        { timeout: "10 seconds" }
      )
      pulls++
      if (answer.code === ResponseCode.SUCCESS) {
        const batch = decodeMessages(answer.body)
        records.push(...batch)
        const next = Number(answer.extFields?.get("nextBeginOffset"))
        assert.strictEqual(next, offset + batch.length, "nextBeginOffset")
        offset = next
        continue
      }
      if (answer.code !== ResponseCode.PULL_NOT_FOUND && answer.code !== ResponseCode.PULL_RETRY_IMMEDIATELY) {
        return yield* Effect.fail(new Error(`PULL_MESSAGE at ${offset}: code ${answer.code} ${answer.remark}`))
      }
      emptyPulls++
      if (records.length >= count && (options.untilEnd !== true || answer.code === ResponseCode.PULL_NOT_FOUND)) {
        return { records, pulls, emptyPulls }
      }
      yield* Effect.sleep("50 millis")
    }
  }).pipe(
    Effect.timeoutFail({
      duration: "60 seconds",
      onTimeout: () => new Error(`pulling ${count} records took over 60 s`)
    })
  )

const sendMessage = (topic: string, brokerName: string, body: string, key: string) =>
  sendV2(topic, brokerName, text(body), { TAGS: "tagA", KEYS: key, WAIT: "true" })

const pullMessage = (topic: string) => pullRequest(topic)
