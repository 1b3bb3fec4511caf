/**
 * The TypeScript client and Apache RocketMQ's own Java client (rocketmq-client 5.3.3, `JavaClient`) on one real
 * NameServer and Broker (`ClientServers`), each side reading what the other wrote and sharing consumer groups:
 *
 * 1. Java's producer → our `Consumer`: ids, bodies (a compressed one), tags, keys, user properties, a batch, a
 *    delayed message after its delay; Java's own consumer reads every field of those records as ours does.
 * 2. Our `Producer` → Java's `DefaultMQPushConsumer`: ids, Java's tag filter over our tags, a compressed body
 *    inflated, our batch's ids; our consumer reads every field of those records as Java's does.
 * 3. `reconsumeTimes` across clients: a message rejected by one side comes back from the group's retry topic
 *    to whichever member owns its one queue, with `reconsumeTimes` 1 and its original topic.
 * 4. A mixed group (Java, ours in-process, ours in a child process, `TsConsumerPeer.ts`): Java's allocation
 *    everywhere, a close and a SIGKILL under load, nothing lost.
 * 5. Ordered sends: our `sendOrdered` and Java's `SelectMessageQueueByHash` pick the same queue for a key.
 *
 * The broker runs with one-second delay levels, so a delayed or retried message comes after a second. Needs
 * java, javac, mvn and Maven Central (or a warm ~/.m2): skipped with the reason outside CI, failed with `CI=true`.
 */
import { assert, describe } from "@effect/vitest"
import * as ChildPeer from "@rocketmq-effect/test-kit/ChildPeer"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as Live from "@rocketmq-effect/test-kit/Live"
import * as Prerequisites from "@rocketmq-effect/test-kit/Prerequisites"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Consumer from "../src/Consumer.js"
import * as MessageQueue from "../src/MessageQueue.js"
import * as NodeClient from "../src/NodeClient.js"
import * as Producer from "../src/Producer.js"
import * as Rebalance from "../src/Rebalance.js"
import type { ReceivedMessage } from "../src/StoredMessage.js"
import * as ClientServers from "./ClientServers.js"
import * as JavaClient from "./JavaClient.js"

const availability = await Effect.runPromise(ClientServers.availabilityWithJava)
const skip = Prerequisites.skipReason(availability)
if (skip !== undefined) console.warn(`JavaInterop: skipping (CI would fail these tests): ${skip}`)

const ONE_SECOND_LEVELS = Array.from({ length: 18 }, () => "1s").join(" ")

/**
 * Java's push consumer bumps a topic's subVersion whenever its allocation changes and announces it with a
 * heartbeat that is skipped when another heartbeat holds the client's lock ("lock heartBeat, but failed"); until
 * the next one (30 s later by default) the broker answers its pulls SUBSCRIPTION_NOT_LATEST. Java consumers here
 * heartbeat every second, so that race costs a second, not the test's time.
 */
const JAVA_PERIODS = { pollNameServerInterval: 1_000, heartbeatBrokerInterval: 1_000 } as const

const live = Live.make({ timeout: 180_000, skip, interruptBefore: 10_000, before: JavaClient.requireClasspath })

const provided = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, NodeClient.layer)

const run = Date.now()

// ---- helpers ----------------------------------------------------------------------------------------------

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** `size` bytes that say which message they are, then a 26-letter pattern (compressible). */
const bodyOf = (name: string, size: number): Uint8Array => {
  const head = encoder.encode(`${name} `)
  const body = new Uint8Array(Math.max(size, head.length))
  body.set(head)
  for (let i = head.length; i < body.length; i++) body[i] = 97 + (i * 7) % 26
  return body
}

/** Every byte value, then the name: a body that is no text. */
const binaryBody = (name: string): Uint8Array => {
  const tail = encoder.encode(name)
  const body = new Uint8Array(256 + tail.length)
  for (let i = 0; i < 256; i++) body[i] = 255 - i
  body.set(tail, 256)
  return body
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0

interface QueueRef {
  readonly topic: string
  readonly brokerName: string
  readonly queueId: number
}

const keyOf = (queue: QueueRef) => `${queue.topic}@${queue.brokerName}@${queue.queueId}`
const keysOf = (queues: ReadonlyArray<QueueRef>) => queues.map(keyOf).sort()
const ofTopic = (topic: string) => (queues: ReadonlyArray<QueueRef>) => queues.filter((q) => q.topic === topic)

/** `Rebalance.allocateAveragely` for `self`, as sorted queue keys. */
const javaShare = (queues: ReadonlyArray<QueueRef>, members: ReadonlyArray<string>, self: string) =>
  keysOf(
    Rebalance.allocateAveragely(queues.map((q) => MessageQueue.make(q.topic, q.brokerName, q.queueId)), members, self)
  )

/** Properties Java's push consumer adds after decoding: MIN_OFFSET and MAX_OFFSET, CONSUME_START_TIME. */
const JAVA_CONSUMER_PROPERTIES = new Set(["MIN_OFFSET", "MAX_OFFSET", "CONSUME_START_TIME"])

/** What Java's `MessageExt` exposes, from either side, for a field-by-field comparison. */
const asJava = (m: JavaClient.JavaMessage | ReceivedMessage) => ({
  msgId: m.msgId,
  offsetMsgId: m.offsetMsgId,
  topic: m.topic,
  tags: m.tags,
  keys: m.keys,
  body: Buffer.from(m.body).toString("base64"),
  reconsumeTimes: m.reconsumeTimes,
  queueId: m.queueId,
  queueOffset: Number(m.queueOffset),
  brokerName: m.brokerName,
  bornTimestamp: m.bornTimestamp,
  storeTimestamp: m.storeTimestamp,
  commitLogOffset: Number(m.commitLogOffset),
  sysFlag: m.sysFlag,
  bodyCRC: m.bodyCRC,
  storeSize: m.storeSize,
  flag: m.flag,
  bornHost: m.bornHost,
  storeHost: m.storeHost,
  properties: Object.fromEntries(
    (m.properties instanceof Map ? [...m.properties] : Object.entries(m.properties))
      .filter(([name]) => !JAVA_CONSUMER_PROPERTIES.has(name))
      .sort(([a], [b]) => a < b ? -1 : 1)
  )
})

const inStoreOrder = (list: ReadonlyArray<ReturnType<typeof asJava>>) =>
  [...list].sort((a, b) => a.queueId - b.queueId || a.queueOffset - b.queueOffset)

/** A consumer in a scope of its own, closed by the returned effect. */
const consumerIn = (options: Consumer.Options) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const consumer = yield* Consumer.make(options).pipe(Scope.extend(scope), provided)
    return { consumer, close: Scope.close(scope, Exit.void) }
  })

/** Everything `consumer.stream` delivers, acknowledged, with when it arrived; the stream runs in the scope. */
const collect = (consumer: Consumer.ConsumerService) =>
  Effect.gen(function*() {
    const seen: Array<{ readonly message: ReceivedMessage; readonly at: number }> = []
    const fiber = yield* consumer.stream.pipe(
      // Recorded once acknowledged, in one uninterruptible step: a recorded message is committed, and an
      // acknowledged one is recorded.
      Stream.runForEach((delivery) =>
        Effect.uninterruptible(
          Effect.zipRight(delivery.ack, Effect.sync(() => seen.push({ message: delivery.message, at: Date.now() })))
        )
      ),
      Effect.forkScoped
    )
    return { seen, fiber }
  })

// ---- our consumer in a child process ----------------------------------------------------------------------

// tsx as a loader in the child itself (its CLI would run the script in a grandchild that SIGKILL would orphan).
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm")).href
const peerScript = fileURLToPath(new URL("./TsConsumerPeer.ts", import.meta.url))

interface PeerMessage {
  readonly msgId: string
  readonly topic: string
  readonly tags: string | null
  readonly queueId: number
  readonly queueOffset: number
  readonly reconsumeTimes: number
  readonly body: string
  /** When the line reached this process (`Date.now()`). */
  readonly at: number
}

interface ChildConsumer {
  readonly clientId: string
  readonly peer: ChildPeer.ChildPeer
  readonly messages: ReadonlyArray<PeerMessage>
  /** The last assignment it printed. */
  readonly assignment: () => ReadonlyArray<QueueRef>
}

const startChildConsumer = (options: Record<string, unknown>) =>
  Effect.gen(function*() {
    const peer = yield* ChildPeer.start(
      process.execPath,
      ["--import", tsxLoader, peerScript, JSON.stringify(options)],
      {
        name: `TsConsumerPeer ${String(options.group)}`,
        cwd: JavaClient.packageDir,
        env: { ...process.env, NODE_OPTIONS: "" },
        watched: true,
        maxLines: 100,
        grace: "5 seconds"
      }
    )
    const messages: Array<PeerMessage> = []
    let assignment: ReadonlyArray<QueueRef> = []
    let partial = ""
    peer.child.stdout!.on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n")
      partial = parts.pop()!
      for (const part of parts) {
        if (part.trim() === "") continue
        const line = JSON.parse(part) as Record<string, unknown>
        if (line.event === "message") messages.push({ ...(line as unknown as PeerMessage), at: Date.now() })
        else if (line.event === "assignment") assignment = line.queues as ReadonlyArray<QueueRef>
      }
    })
    const ready = yield* peer.awaitLine((line) => line.includes("\"event\":\"ready\"")).pipe(
      Effect.timeoutFail({
        duration: "90 seconds",
        onTimeout: () => new ChildPeer.ChildPeerError({ reason: `${peer.name}: no ready line; ${peer.stderr()}` })
      })
    )
    const clientId = String((JSON.parse(ready) as { clientId: string }).clientId)
    return { clientId, peer, messages, assignment: () => assignment } satisfies ChildConsumer
  })

describe(Prerequisites.suiteName("JavaInterop", availability), () => {
  const servers = skip === undefined
    ? ClientServers.useServers({ brokerProperties: { messageDelayLevel: ONE_SECOND_LEVELS } })
    : () => {
      throw new Error("not started")
    }

  // ---- 1 ------------------------------------------------------------------------------------------------

  live(
    "Java's producer → our consumer: ids, bodies, compression, tags, keys, properties, a batch, a delay",
    () =>
      provided(Effect.gen(function*() {
        const s = servers()
        const topic = `interop-java-to-ts-${run}`
        yield* ClientServers.createTopic(s, topic, 4)
        const consumer = yield* Consumer.make({
          nameServer: s.nameServer,
          group: `interop-java-to-ts-${run}`,
          subscriptions: { [topic]: "*" },
          consumeFrom: "first"
        })
        const { seen } = yield* collect(consumer)
        const producer = yield* JavaClient.startProducer(s.nameServer, `interop-java-producer-${run}`)

        const singles: ReadonlyArray<
          JavaClient.OutgoingMessage & { readonly body: Uint8Array; readonly name: string }
        > = [
          {
            name: "big",
            body: bodyOf("big", 6_000),
            tags: "big",
            keys: ["k-big", "order-1"],
            properties: { name: "big", origin: "java", text: "ключ é ✓" }
          },
          {
            name: "binary",
            body: binaryBody("binary"),
            tags: "binary",
            keys: ["k-binary"],
            properties: { name: "binary", origin: "java" }
          },
          {
            name: "delayed",
            body: bodyOf("delayed", 64),
            tags: "delayed",
            keys: ["k-delayed"],
            properties: { name: "delayed", origin: "java" },
            delayLevel: 1
          }
        ]
        const sentSingles: Array<{ readonly result: JavaClient.SendResult; readonly sentAt: number }> = []
        for (const message of singles) {
          const result = yield* producer.send(topic, message)
          assert.strictEqual(result.status, "SEND_OK")
          sentSingles.push({ result, sentAt: Date.now() })
        }
        const batch = [0, 1, 2].map((i) => ({
          body: bodyOf(`batch-${i}`, 100 + i),
          tags: "batch",
          keys: [`k-batch-${i}`],
          properties: { name: `batch-${i}`, origin: "java" }
        }))
        const batchResult = yield* producer.sendBatch(topic, batch)
        const batchIds = batchResult.msgId.split(",")
        assert.strictEqual(batchIds.length, 3)

        yield* eventually(Effect.sync(() => seen.length >= 6), { every: "50 millis", timeout: "30 seconds" })
        yield* Effect.sleep("1 second")
        assert.strictEqual(seen.length, 6, "nothing delivered twice")
        const byName = new Map(seen.map((entry) => [entry.message.properties.get("name"), entry]))
        assert.strictEqual(byName.size, 6)

        for (const [i, message] of singles.entries()) {
          const { result, sentAt } = sentSingles[i]!
          const got = byName.get(message.name)
          assert.isDefined(got, message.name)
          const received = got!.message
          // Java's SendResult.msgId (its UNIQ_KEY) is the id we see.
          assert.strictEqual(received.msgId, result.msgId, message.name)
          assert.strictEqual(received.properties.get("UNIQ_KEY"), result.msgId)
          assert.isTrue(sameBytes(received.body, message.body), `body of ${message.name}`)
          assert.strictEqual(received.topic, topic)
          assert.strictEqual(received.tags, message.tags)
          assert.deepStrictEqual(received.keys, message.keys)
          for (const [name, value] of Object.entries(message.properties!)) {
            assert.strictEqual(received.properties.get(name), value, `property ${name} of ${message.name}`)
          }
          assert.strictEqual(received.queueId, result.queue.queueId)
          assert.strictEqual(received.brokerName, result.queue.brokerName)
          assert.strictEqual(received.reconsumeTimes, 0)
          if (message.name === "delayed") {
            // Java's SendResult names the record in the schedule topic; after its delay the broker stores a copy in
            // the topic's queue (REAL_QID) under a new offset (so a new offsetMsgId). The copy keeps DELAY: 5.3.3's
            // ScheduleMessageService.messageTimeUp encodes the properties before it clears DELAY from the map, so a
            // Java consumer sees getDelayTimeLevel() 1 too.
            assert.notStrictEqual(received.offsetMsgId, result.offsetMsgId)
            assert.strictEqual(received.delayLevel, 1)
            assert.strictEqual(received.properties.get("DELAY"), "1")
            assert.strictEqual(received.properties.get("REAL_TOPIC"), topic)
            assert.isAtLeast(received.storeTimestamp - received.bornTimestamp, 950)
            assert.isAtLeast(got!.at - sentAt, 800, "the delayed message came after its delay")
          } else {
            assert.strictEqual(received.offsetMsgId, result.offsetMsgId, message.name)
            assert.strictEqual(received.queueOffset, BigInt(result.queueOffset))
            assert.isAtMost(got!.at - sentAt, 5_000)
          }
          // Java compresses bodies of 4096 bytes or more (zlib); we inflate it and clear the compressed bit, as Java
          // does; the stored record is smaller than the body.
          assert.strictEqual(received.sysFlag & 1, 0)
          assert.strictEqual(received.storeSize < message.body.length, message.name === "big", `${message.name} size`)
        }

        // A Java 5.3.3 batch: the SendResult lists one UNIQ_KEY per message, but the batch carries a UNIQ_KEY of its
        // own that the broker appends to every message's properties; read last, it wins. So all three arrive with
        // one id, the batch's, which is none of those the SendResult listed (as Java's own consumer sees them).
        const batchReceived = [0, 1, 2].map((i) => byName.get(`batch-${i}`)!.message)
        assert.strictEqual(new Set(batchReceived.map((m) => m.msgId)).size, 1)
        assert.notInclude(batchIds, batchReceived[0]!.msgId)
        batchReceived.forEach((received, i) => {
          assert.isTrue(sameBytes(received.body, batch[i]!.body), `body of batch-${i}`)
          assert.strictEqual(received.tags, "batch")
          assert.deepStrictEqual(received.keys, [`k-batch-${i}`])
          assert.strictEqual(received.properties.get("origin"), "java")
          assert.strictEqual(received.queueId, batchResult.queue.queueId)
          assert.strictEqual(received.queueOffset, BigInt(batchResult.queueOffset + i))
        })
        assert.deepStrictEqual(producer.noise(), [])

        // The same stored records through Java's own consumer (another group): every field of its MessageExt reads
        // as ours does, properties included (but for those Java's consumer adds after decoding).
        const java = yield* JavaClient.startConsumer(s.nameServer, `interop-java-beside-ts-${run}`, topic, "*", {
          ...JAVA_PERIODS
        })
        const javaReceived = yield* java.awaitReceived(6, "60 seconds")
        yield* Effect.sleep("1 second")
        assert.strictEqual(java.received().length, 6)
        assert.deepStrictEqual(
          inStoreOrder(seen.map(({ message }) => asJava(message))),
          inStoreOrder(javaReceived.map(asJava))
        )
      }))
  )

  // ---- 2 ------------------------------------------------------------------------------------------------

  live(
    "our producer → Java's push consumer: ids, Java's tag filter, a compressed body, our batch",
    () =>
      provided(Effect.gen(function*() {
        const s = servers()
        const topic = `interop-ts-to-java-${run}`
        yield* ClientServers.createTopic(s, topic, 4)
        const java = yield* JavaClient.startConsumer(s.nameServer, `interop-ts-to-java-${run}`, topic, "a || b", {
          ...JAVA_PERIODS,
          rebalanceInterval: 2_000
        })
        yield* java.awaitAssignment((queues) => queues.length === 4)
        const producer = yield* Producer.make({ nameServer: s.nameServer, group: `interop-ts-producer-${run}` })

        interface Sent {
          readonly name: string
          readonly body: Uint8Array
          readonly tags: string
          readonly keys: ReadonlyArray<string>
          readonly msgId: string
          readonly result: Producer.SendResult
        }
        const sent: Array<Sent> = []
        for (let i = 0; i < 9; i++) {
          const name = `single-${i}`
          const tags = ["a", "b", "c"][i % 3]!
          const body = i % 2 === 0 ? bodyOf(name, 20 + i) : binaryBody(name)
          const keys = [`k-${i}`, "shared"]
          const result = yield* producer.send({
            topic,
            body,
            tags,
            keys,
            properties: { name, origin: "ts", text: "é ✓" }
          })
          sent.push({ name, body, tags, keys, msgId: result.msgId, result })
        }
        const big = bodyOf("big", 8_000)
        const bigResult = yield* producer.send({
          topic,
          body: big,
          tags: "a",
          keys: ["k-big"],
          properties: { name: "big", origin: "ts" }
        })
        sent.push({ name: "big", body: big, tags: "a", keys: ["k-big"], msgId: bigResult.msgId, result: bigResult })

        const batch = ["a", "c", "b"].map((tags, i) => ({
          topic,
          body: bodyOf(`batch-${i}`, 50 + i),
          tags,
          keys: [`k-batch-${i}`],
          properties: { name: `batch-${i}`, origin: "ts" }
        }))
        const batchResult = yield* producer.sendBatch(batch)
        const batchIds = batchResult.msgId.split(",")
        assert.strictEqual(batchIds.length, 3)
        assert.strictEqual(new Set(batchIds).size, 3)

        // a and b pass Java's filter: singles 0, 1, 3, 4, 6, 7, the big one, batch 0 and 2.
        const expected = 6 + 1 + 2
        yield* java.awaitReceived(expected, "60 seconds")
        // The c ones are stored too, at the offsets before and after the a and b ones: give them time to show up.
        yield* Effect.sleep("2 seconds")
        const received = java.received()
        assert.deepStrictEqual(received.filter((m) => m.tags === "c").map((m) => m.properties.name), [])
        assert.strictEqual(received.length, expected)
        const byName = new Map(received.map((m) => [m.properties.name, m]))
        assert.strictEqual(byName.size, expected)

        for (const message of sent) {
          const got = byName.get(message.name)
          if (message.tags === "c") {
            assert.isUndefined(got)
            continue
          }
          assert.isDefined(got, message.name)
          assert.strictEqual(got!.msgId, message.msgId, `Java's msgId of ${message.name} is our SendResult.msgId`)
          assert.strictEqual(got!.offsetMsgId, message.result.offsetMsgId)
          assert.isTrue(sameBytes(got!.body, message.body), `body of ${message.name}`)
          assert.strictEqual(got!.topic, topic)
          assert.strictEqual(got!.tags, message.tags)
          assert.deepStrictEqual(got!.keys, message.keys)
          assert.strictEqual(got!.properties.origin, "ts")
          assert.strictEqual(got!.queueId, message.result.queue.queueId)
          assert.strictEqual(got!.brokerName, message.result.queue.brokerName)
          assert.strictEqual(got!.queueOffset, Number(message.result.queueOffset))
          assert.strictEqual(got!.reconsumeTimes, 0)
          // Java inflates what we compressed and clears the compressed bit; only the big one was stored smaller.
          assert.strictEqual(got!.sysFlag & 1, 0)
          assert.strictEqual(got!.storeSize < message.body.length, message.name === "big", `${message.name} size`)
        }
        assert.strictEqual(byName.get("single-1")!.properties.text, "é ✓")

        // Our batch carries no UNIQ_KEY of its own, so every message keeps its own: Java sees exactly the ids our
        // SendResult lists, in order, at consecutive offsets from the one it names.
        batch.forEach((message, i) => {
          const got = byName.get(`batch-${i}`)
          if (message.tags === "c") {
            assert.isUndefined(got)
            return
          }
          assert.isDefined(got, `batch-${i}`)
          assert.strictEqual(got!.msgId, batchIds[i])
          assert.strictEqual(got!.properties.UNIQ_KEY, batchIds[i])
          assert.isTrue(sameBytes(got!.body, message.body))
          assert.strictEqual(got!.tags, message.tags)
          assert.deepStrictEqual(got!.keys, message.keys)
          assert.strictEqual(got!.queueId, batchResult.queue.queueId)
          assert.strictEqual(got!.queueOffset, Number(batchResult.queueOffset) + i)
        })
        assert.deepStrictEqual(java.noise(), [])

        // The same stored records through our consumer (another group, the same filter): every field of Java's
        // MessageExt reads the same, properties included but for those Java's consumer adds after decoding
        // (MIN_OFFSET and MAX_OFFSET from the pull, CONSUME_START_TIME before the listener).
        const ours = yield* Consumer.make({
          nameServer: s.nameServer,
          group: `interop-ts-beside-java-${run}`,
          subscriptions: { [topic]: "a || b" },
          consumeFrom: "first"
        })
        const { seen } = yield* collect(ours)
        yield* eventually(Effect.sync(() => seen.length >= expected), { every: "50 millis", timeout: "30 seconds" })
        yield* Effect.sleep("1 second")
        assert.strictEqual(seen.length, expected)
        assert.deepStrictEqual(
          inStoreOrder(seen.map(({ message }) => asJava(message))),
          inStoreOrder(received.map(asJava))
        )
      }))
  )

  // ---- 3 ------------------------------------------------------------------------------------------------

  live(
    "reconsumeTimes across clients: a message rejected on one side comes back to the retry queue's owner",
    () =>
      provided(Effect.gen(function*() {
        const s = servers()
        const facts: Array<Record<string, unknown>> = []
        // Twice: once with our consumer first in the group's sorted member list (it owns the retry topic's one
        // queue), once with Java's first, when the two client ids share their address.
        for (const [round, tsInstance, javaInstance] of [[0, "a-ts", "b-java"], [1, "b-ts", "a-java"]] as const) {
          const topic = `interop-retry-${round}-${run}`
          const group = `interop-retry-${round}-${run}`
          const retryTopic = `%RETRY%${group}`
          yield* ClientServers.createTopic(s, topic, 2)
          const observed: Array<
            {
              readonly side: "ts" | "java"
              readonly body: string
              readonly msgId: string
              readonly topic: string
              readonly reconsumeTimes: number
              readonly retryTopic: string | undefined
              readonly result: "ok" | "rejected"
              readonly at: number
            }
          > = []
          const started = Date.now()
          const scope = yield* Scope.make()
          yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
          const ts = yield* Consumer.make({
            nameServer: s.nameServer,
            group,
            subscriptions: { [topic]: "*" },
            consumeFrom: "first",
            instanceName: tsInstance,
            // The retry topic's route exists once the broker has a heartbeat of the group: look for it soon.
            rebalanceEvery: Schedule.spaced("1 second")
          }).pipe(Scope.extend(scope))
          yield* ts.run((message) =>
            Effect.suspend(() => {
              const body = decoder.decode(message.body)
              const reject = body === "ts rejects" && message.reconsumeTimes === 0
              observed.push({
                side: "ts",
                body,
                msgId: message.msgId,
                topic: message.topic,
                reconsumeTimes: message.reconsumeTimes,
                retryTopic: message.properties.get("RETRY_TOPIC"),
                result: reject ? "rejected" : "ok",
                at: Date.now()
              })
              return reject ? Effect.fail("rejected") : Effect.void
            })
          ).pipe(Effect.forkIn(scope))
          const java = yield* JavaClient.startConsumer(s.nameServer, group, topic, "*", {
            instanceName: javaInstance,
            ...JAVA_PERIODS,
            rebalanceInterval: 1_000
          })

          // Both members, each with one of the topic's queues, and the retry queue with the member Java's
          // allocation names.
          let last: unknown
          const settled = Effect.gen(function*() {
            const members = yield* ClientServers.consumerIds(s, group)
            const tsQueues = yield* ts.assignment.get
            const javaQueues = [...(yield* java.assignment(topic)), ...(yield* java.assignment(retryTopic))]
            last = { members, ts: keysOf(tsQueues), java: keysOf(javaQueues) }
            const all = [...tsQueues, ...javaQueues]
            const share = (id: string) =>
              [...javaShare(ofTopic(topic)(all), members, id), ...javaShare(ofTopic(retryTopic)(all), members, id)]
                .sort().join()
            return members.length === 2 && ofTopic(topic)(all).length === 2 &&
              ofTopic(retryTopic)(all).length === 1 && new Set(all.map(keyOf)).size === 3 &&
              keysOf(tsQueues).join() === share(ts.clientId) && keysOf(javaQueues).join() === share(java.clientId)
          }).pipe(Effect.orElseSucceed(() => false))
          yield* eventually(settled, { every: "200 millis", timeout: "60 seconds", what: `round ${round}: the group` })
            .pipe(Effect.tapDefect(() => Effect.sync(() => console.error(JSON.stringify(last)))))
          const settledMs = Date.now() - started
          const sorted = [...(yield* ClientServers.consumerIds(s, group))].sort()
          const retryOwner = sorted[0] === ts.clientId ? "ts" : "java"
          const tsQueue = ofTopic(topic)(yield* ts.assignment.get)[0]!
          const javaQueue = ofTopic(topic)(yield* java.assignment(topic))[0]!

          // Our producer, onto each member's queue through a sharding key that hashes there.
          const producer = yield* Producer.make({ nameServer: s.nameServer })
          const publish = yield* producer.publishQueues(topic)
          const keyFor = (queue: QueueRef) =>
            Array.from({ length: 100 }, (_, i) => `key-${i}`).find((key) =>
              keyOf(MessageQueue.selectByHash(publish, key)!) === keyOf(queue)
            )!
          const timed = () => [
            ...observed,
            ...java.received().map((m) => ({
              side: "java" as const,
              body: decoder.decode(m.body),
              msgId: m.msgId,
              topic: m.topic,
              reconsumeTimes: m.reconsumeTimes,
              retryTopic: m.properties.RETRY_TOPIC,
              result: m.consumeResult === "RECONSUME_LATER" ? "rejected" as const : "ok" as const,
              at: m.receivedAt
            }))
          ]
          const union = () =>
            timed().map(({ body, msgId, reconsumeTimes, result, retryTopic, side, topic }) => ({
              side,
              body,
              msgId,
              topic,
              reconsumeTimes,
              retryTopic,
              result
            })).sort((a, b) => `${a.body}/${a.reconsumeTimes}` < `${b.body}/${b.reconsumeTimes}` ? -1 : 1)
          // Java's next consume call fails: the one message on its queue, sent before anything can be retried.
          yield* java.failNext(1)
          const javaSent = yield* producer.sendOrdered(
            { topic, body: encoder.encode("java rejects") },
            keyFor(javaQueue)
          )
          yield* java.awaitReceived(1, "30 seconds")
          const tsSent = yield* producer.sendOrdered({ topic, body: encoder.encode("ts rejects") }, keyFor(tsQueue))
          yield* eventually(
            Effect.sync(() => union().filter((o) => o.reconsumeTimes === 1).length >= 2),
            { every: "100 millis", timeout: "60 seconds", what: `round ${round}: both retried messages delivered` }
          ).pipe(Effect.tapDefect(() => Effect.sync(() => console.error(JSON.stringify(union())))))
          // Nothing more comes: each retried message was accepted.
          yield* Effect.sleep("2 seconds")

          // Precisely: each message first on the member owning its queue and rejected there, then once more with
          // reconsumeTimes 1, its own id and its original topic, on the retry queue's owner, and accepted.
          assert.deepStrictEqual(union(), [
            {
              side: "java",
              body: "java rejects",
              msgId: javaSent.msgId,
              topic,
              reconsumeTimes: 0,
              retryTopic: undefined,
              result: "rejected"
            },
            {
              side: retryOwner,
              body: "java rejects",
              msgId: javaSent.msgId,
              topic,
              reconsumeTimes: 1,
              retryTopic: topic,
              result: "ok"
            },
            {
              side: "ts",
              body: "ts rejects",
              msgId: tsSent.msgId,
              topic,
              reconsumeTimes: 0,
              retryTopic: undefined,
              result: "rejected"
            },
            {
              side: retryOwner,
              body: "ts rejects",
              msgId: tsSent.msgId,
              topic,
              reconsumeTimes: 1,
              retryTopic: topic,
              result: "ok"
            }
          ])
          const retryMs = (body: string) => {
            const deliveries = timed().filter((o) => o.body === body).sort((a, b) =>
              a.reconsumeTimes - b.reconsumeTimes
            )
            return deliveries[1]!.at - deliveries[0]!.at
          }
          facts.push({
            round,
            members: sorted,
            retryOwner,
            settledMs,
            javaRejectsRetriedAfterMs: retryMs("java rejects"),
            tsRejectsRetriedAfterMs: retryMs("ts rejects")
          })
          yield* java.shutdown
          yield* Scope.close(scope, Exit.void)
        }
        yield* Live.report("reconsumeTimes across clients", { rounds: facts })
      })),
    240_000
  )

  // ---- 4 ------------------------------------------------------------------------------------------------

  live(
    "a mixed group (Java, ours, ours in a child): Java's allocation; a close and a SIGKILL under load lose nothing",
    () =>
      provided(Effect.gen(function*() {
        const s = servers()
        const topic = `interop-mixed-${run}`
        const group = `interop-mixed-${run}`
        yield* ClientServers.createTopic(s, topic, 8)
        const queues = Array.from({ length: 8 }, (_, queueId) => ({ topic, brokerName: s.brokerName, queueId }))
        const mine = ofTopic(topic)

        // Instance names fix the sorted member order (when the client ids share their address): ours in-process
        // first (queues 0-2), Java (3-5), the child (6, 7). After the first leaves Java takes 0-3 and the child
        // 4-7 (Java gives 4 and 5 up); after the child's death Java has all 8.
        const java = yield* JavaClient.startConsumer(s.nameServer, group, topic, "*", {
          instanceName: "interop-b-java",
          ...JAVA_PERIODS
        })
        const inProcess = yield* consumerIn({
          nameServer: s.nameServer,
          group,
          subscriptions: { [topic]: "*" },
          consumeFrom: "first",
          instanceName: "interop-a-ts"
        })
        const inProcessSeen = yield* collect(inProcess.consumer)
        const child = yield* startChildConsumer({
          nameServer: s.nameServer,
          group,
          subscriptions: { [topic]: "*" },
          consumeFrom: "first",
          instanceName: "interop-c-child",
          // Commits every second, so that its SIGKILL leaves at most about a second of consumption uncommitted.
          persistOffsetsEveryMs: 1_000
        })

        const members = () => ClientServers.consumerIds(s, group)
        let last: unknown
        const settled = (
          expected: ReadonlyArray<
            { readonly id: string; readonly get: Effect.Effect<ReadonlyArray<QueueRef>, unknown> }
          >
        ) =>
          Effect.gen(function*() {
            const ids = yield* members()
            const owned = yield* Effect.forEach(expected, (member) => Effect.map(member.get, (q) => keysOf(mine(q))))
            last = { ids, owned }
            if (ids.length !== expected.length || !expected.every((member) => ids.includes(member.id))) return false
            const all = owned.flat()
            return all.length === 8 && new Set(all).size === 8 &&
              expected.every((member, i) => owned[i]!.join() === javaShare(queues, ids, member.id).join())
          }).pipe(Effect.orElseSucceed(() => false))
        const javaMember = { id: java.clientId, get: java.assignment() }
        const inProcessMember = { id: inProcess.consumer.clientId, get: inProcess.consumer.assignment.get }
        const childMember = { id: child.clientId, get: Effect.sync(child.assignment) }

        yield* eventually(settled([javaMember, inProcessMember, childMember]), {
          every: "200 millis",
          timeout: "60 seconds",
          what: "three members, each with Java's share"
        }).pipe(Effect.tapDefect(() => Effect.sync(() => console.error(JSON.stringify(last)))))
        const threeIds = [...(yield* members())].sort()
        const threeShares = {
          inProcess: keysOf(mine(yield* inProcess.consumer.assignment.get)),
          java: keysOf(yield* java.assignment()),
          child: keysOf(mine(child.assignment()))
        }

        // Under load: 400 messages, one every 15 ms, while the in-process member closes and the child is killed.
        const producer = yield* Producer.make({ nameServer: s.nameServer })
        const sent: Array<{ readonly msgId: string; readonly queueId: number }> = []
        const sender = yield* Effect.fork(Effect.forEach(
          Array.from({ length: 400 }, (_, i) => i),
          (i) =>
            producer.send({ topic, body: encoder.encode(`mixed ${i}`) }).pipe(
              Effect.tap((result) =>
                Effect.sync(() => sent.push({ msgId: result.msgId, queueId: result.queue.queueId }))
              ),
              Effect.zipLeft(Effect.sleep("15 millis"))
            ),
          { discard: true }
        ))
        yield* Effect.sleep("1500 millis")

        yield* Fiber.interrupt(inProcessSeen.fiber)
        const closing = yield* Clock.currentTimeMillis
        yield* inProcess.close
        const closed = yield* Clock.currentTimeMillis
        yield* eventually(settled([javaMember, childMember]), {
          every: "20 millis",
          timeout: "2 seconds",
          what: "the others owning the closed member's queues within 2 s"
        }).pipe(Effect.tapDefect(() => Effect.sync(() => console.error(JSON.stringify(last)))))
        const movedAfterClose = (yield* Clock.currentTimeMillis) - closed
        const twoShares = { java: keysOf(yield* java.assignment()), child: keysOf(mine(child.assignment())) }

        yield* Effect.sleep("1500 millis")
        const killed = yield* Clock.currentTimeMillis
        yield* ChildPeer.kill(child.peer)
        yield* eventually(settled([javaMember]), {
          every: "50 millis",
          timeout: "30 seconds",
          what: "Java owning every queue after the child's SIGKILL"
        }).pipe(Effect.tapDefect(() => Effect.sync(() => console.error(JSON.stringify(last)))))
        const movedAfterKill = (yield* Clock.currentTimeMillis) - killed

        yield* Fiber.join(sender)
        assert.strictEqual(sent.length, 400)
        interface Consumption {
          readonly who: "java" | "inProcess" | "child"
          readonly msgId: string
          readonly queueId: number
          readonly at: number
        }
        const consumptions = (): Array<Consumption> => [
          ...inProcessSeen.seen.map(({ at, message }) => ({
            who: "inProcess" as const,
            msgId: message.msgId,
            queueId: message.queueId,
            at
          })),
          ...child.messages.map((m) => ({ who: "child" as const, msgId: m.msgId, queueId: m.queueId, at: m.at })),
          ...java.received().map((m) => ({
            who: "java" as const,
            msgId: m.msgId,
            queueId: m.queueId,
            at: m.receivedAt
          }))
        ]
        yield* eventually(
          Effect.sync(() => {
            const consumed = new Set(consumptions().map((c) => c.msgId))
            return sent.every((m) => consumed.has(m.msgId))
          }),
          { every: "200 millis", timeout: "60 seconds", what: "every sent message consumed by some member" }
        )
        yield* Effect.sleep("2 seconds")
        const all = consumptions()
        const sentIds = new Set(sent.map((m) => m.msgId))
        assert.deepStrictEqual(all.filter((c) => !sentIds.has(c.msgId)), [], "nothing but what was sent")
        const byId = new Map<string, Array<Consumption>>()
        for (const c of all) byId.set(c.msgId, [...(byId.get(c.msgId) ?? []), c])
        for (const list of byId.values()) list.sort((a, b) => a.at - b.at)
        const duplicates = [...byId.values()].filter((list) => list.length > 1)
        // The in-process member committed what it acknowledged when it closed: none of it came again.
        assert.deepStrictEqual(
          duplicates.filter((list) => list.some((c) => c.who === "inProcess")).map((list) => list.map((c) => c.who)),
          []
        )
        // Duplicates only of consumption not yet committed when a queue changed hands: the killed child's last
        // second or so (it commits every second), and what Java was consuming on the queues it gave up when the
        // in-process member left (Java persists a queue's offset when it drops it, not what is still in flight).
        const queueIdOf = (key: string) => Number(key.split("@")[2])
        const givenUpByJava = new Set(threeShares.java.filter((key) => !twoShares.java.includes(key)).map(queueIdOf))
        const childDuplicates = duplicates.filter((list) => list[0]!.who === "child")
        const oldestChildDuplicateMs = Math.max(0, ...childDuplicates.map((list) => killed - list[0]!.at))
        assert.isAtMost(oldestChildDuplicateMs, 2_500, "a child duplicate older than its commit period")
        assert.deepStrictEqual(
          duplicates.filter((list) => list[0]!.who === "java" && !givenUpByJava.has(list[0]!.queueId)),
          []
        )
        // The child did commit: most of what it consumed did not come again.
        assert.isBelow(childDuplicates.length, child.messages.length)

        assert.deepStrictEqual(threeIds.map((id) => id.split("@")[1]), [
          "interop-a-ts",
          "interop-b-java",
          "interop-c-child"
        ])
        yield* Live.report("mixed group", {
          members: threeIds,
          threeShares,
          twoShares,
          closeMs: closed - closing,
          movedAfterCloseMs: movedAfterClose,
          movedAfterKillMs: movedAfterKill,
          consumed: {
            inProcess: inProcessSeen.seen.length,
            child: child.messages.length,
            java: java.received().length
          },
          duplicates: duplicates.length,
          oldestChildDuplicateMs,
          duplicatesByFirstConsumer: duplicates.reduce<Record<string, number>>((acc, list) => {
            acc[list[0]!.who] = (acc[list[0]!.who] ?? 0) + 1
            return acc
          }, {})
        })
      })),
    240_000
  )

  // ---- 5 ------------------------------------------------------------------------------------------------

  live(
    "ordered sends: our sendOrdered, Java's queueFor and Java's sendOrdered agree on each key's queue",
    () =>
      provided(Effect.gen(function*() {
        const s = servers()
        const topic = `interop-ordered-${run}`
        yield* ClientServers.createTopic(s, topic, 8)
        const java = yield* JavaClient.startProducer(s.nameServer, `interop-ordered-java-${run}`)
        const ours = yield* Producer.make({ nameServer: s.nameServer, group: `interop-ordered-ts-${run}` })
        assert.deepStrictEqual(
          (yield* ours.publishQueues(topic)).map(keyOf),
          (yield* java.publishQueues(topic)).map(keyOf)
        )
        const keys = [
          "order-1",
          "order-2",
          "customer-42",
          "",
          "été",
          "ключ",
          "😀 emoji",
          "a-much-longer-sharding-key-with-a-negative-hash?",
          String(2 ** 31)
        ]
        const picked = new Set<number>()
        for (const key of keys) {
          const javaQueue = yield* java.queueFor(topic, key)
          picked.add(javaQueue.queueId)
          for (let i = 0; i < 3; i++) {
            const ourResult = yield* ours.sendOrdered({ topic, body: encoder.encode(`${key} ts ${i}`) }, key)
            assert.deepStrictEqual(keyOf(ourResult.queue), keyOf(javaQueue), `our sendOrdered(${key})`)
            const javaResult = yield* java.sendOrdered(topic, key, { body: `${key} java ${i}` })
            assert.deepStrictEqual(keyOf(javaResult.queue), keyOf(javaQueue), `Java's sendOrdered(${key})`)
            // One queue, one order: Java's send follows ours on that queue.
            assert.strictEqual(javaResult.queueOffset, Number(ourResult.queueOffset) + 1)
          }
        }
        assert.isAbove(picked.size, 3)
      }))
  )
})
