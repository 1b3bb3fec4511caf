/**
 * The Java peer harness itself (`JavaClient`, `ClientServers`) on a real RocketMQ 5.3.3 NameServer and Broker:
 * an 8-queue topic created and routed; Java's producer sends 20 messages (single sends, some of them over the
 * 4 KiB compression threshold, one batch, tags, keys, user properties) and Java's push consumer is handed all
 * 20 with their bodies, tags, keys and properties, at the queues and offsets the sends reported; `queueFor` is
 * Java's hash selection and `sendOrdered` lands there; a lone consumer's assignment is all 8 queues, the
 * broker lists it as the group's member, and its `shutdown` unregisters it.
 *
 * Needs java, javac, mvn and Maven Central (or a warm ~/.m2): skipped with the reason outside CI, failed with
 * `CI=true`.
 */
import { assert, describe } from "@effect/vitest"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as Live from "@rocketmq-effect/test-kit/Live"
import * as Prerequisites from "@rocketmq-effect/test-kit/Prerequisites"
import * as Effect from "effect/Effect"
import * as ClientServers from "./ClientServers.js"
import * as JavaClient from "./JavaClient.js"

const availability = await Effect.runPromise(ClientServers.availabilityWithJava)
const skip = Prerequisites.skipReason(availability)
if (skip !== undefined) console.warn(`JavaClient: skipping (CI would fail these tests): ${skip}`)

const live = Live.make({ timeout: 150_000, skip, interruptBefore: 10_000, before: JavaClient.requireClasspath })

const run = Date.now()
const QUEUES = 8

/** Java's String.hashCode, for checking `queueFor` independently of the package's own. */
const javaHashCode = (text: string): number => {
  let hash = 0
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0
  return hash
}

/** A body of `size` bytes that says which message it is. */
const bodyOf = (index: number, size: number): Uint8Array => {
  const head = new TextEncoder().encode(`message ${index} `)
  const body = new Uint8Array(Math.max(size, head.length))
  body.set(head)
  for (let i = head.length; i < body.length; i++) body[i] = 97 + (i * 7 + index) % 26
  return body
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0

describe(Prerequisites.suiteName("JavaClient", availability), () => {
  const servers = skip === undefined
    ? ClientServers.useServers()
    : () => {
      throw new Error("not started")
    }

  live("createTopic: the NameServer routes 8 read and write queues on the broker", () =>
    Effect.gen(function*() {
      const topic = `java-client-route-${run}`
      const route = yield* ClientServers.createTopic(servers(), topic, QUEUES)
      assert.deepStrictEqual(
        route.queueDatas.map((queue) => [queue.brokerName, queue.readQueueNums, queue.writeQueueNums, queue.perm]),
        [[servers().brokerName, QUEUES, QUEUES, 6]]
      )
      assert.isTrue(route.brokerDatas.some((broker) => broker.brokerName === servers().brokerName))
    }))

  live(
    "Java's producer sends 20 messages (compressed, batched, tagged) and Java's consumer is handed each",
    () =>
      Effect.gen(function*() {
        const { nameServer } = servers()
        const topic = `java-client-send-${run}`
        yield* ClientServers.createTopic(servers(), topic, QUEUES)
        const producer = yield* JavaClient.startProducer(nameServer, `java-client-producer-${run}`)

        interface Sent {
          readonly index: number
          readonly message: JavaClient.OutgoingMessage & { readonly body: Uint8Array }
          readonly msgId: string
          readonly queue: JavaClient.QueueRef
          readonly queueOffset: number | undefined
        }
        const sent: Array<Sent> = []
        // 16 single sends: every fourth body 5-9 KiB (over Java's 4096-byte compression threshold).
        for (let index = 0; index < 16; index++) {
          const message = {
            body: bodyOf(index, index % 4 === 0 ? 5_000 + index * 256 : 10 + index * 50),
            tags: `tag-${index % 3}`,
            keys: [`key-${index}`, `order-${index % 5}`],
            properties: { index: String(index), origin: "java" }
          }
          const result = yield* producer.send(topic, message)
          assert.strictEqual(result.status, "SEND_OK")
          assert.strictEqual(result.queue.topic, topic)
          // UNIQ_KEY: the client's IPv4 or IPv6 address leads (32 or 56 digits); offsetMsgId: the broker's 127.0.0.1.
          assert.match(result.msgId, /^[0-9A-F]{32}(?:[0-9A-F]{24})?$/)
          assert.match(result.offsetMsgId, /^[0-9A-F]{32}$/)
          sent.push({ index, message, msgId: result.msgId, queue: result.queue, queueOffset: result.queueOffset })
        }
        // One batch of 4 (Java never compresses a batch), to one queue.
        const batch = [16, 17, 18, 19].map((index) => ({
          body: bodyOf(index, 100 + index),
          tags: "batch",
          keys: [`key-${index}`],
          properties: { index: String(index), origin: "java" }
        }))
        const batchResult = yield* producer.sendBatch(topic, batch)
        assert.strictEqual(batchResult.status, "SEND_OK")
        const batchIds = batchResult.msgId.split(",")
        assert.strictEqual(batchIds.length, 4)
        batch.forEach((message, i) =>
          sent.push({ index: 16 + i, message, msgId: batchIds[i]!, queue: batchResult.queue, queueOffset: undefined })
        )
        // The batch takes consecutive offsets from the one the result names.
        const batchStart = batchResult.queueOffset

        const consumer = yield* JavaClient.startConsumer(nameServer, `java-client-consumer-${run}`, topic, "*")
        const received = yield* consumer.awaitReceived(20, "90 seconds")
        // No more than 20 (no redelivery in a clean run).
        yield* Effect.sleep("500 millis")
        assert.strictEqual(consumer.received().length, 20)

        const byIndex = new Map(received.map((message) => [Number(message.properties.index), message]))
        assert.strictEqual(byIndex.size, 20)
        for (const expected of sent) {
          const message = byIndex.get(expected.index)
          assert.isDefined(message, `message ${expected.index} (${expected.msgId}) was not received`)
          assert.isTrue(sameBytes(message!.body, expected.message.body), `body of message ${expected.index}`)
          assert.strictEqual(message!.topic, topic)
          assert.strictEqual(message!.tags, expected.message.tags)
          assert.deepStrictEqual(message!.keys, expected.message.keys)
          assert.strictEqual(message!.properties.origin, "java")
          assert.strictEqual(message!.msgId, message!.properties.UNIQ_KEY)
          assert.strictEqual(message!.brokerName, expected.queue.brokerName)
          assert.strictEqual(message!.queueId, expected.queue.queueId)
          if (expected.queueOffset !== undefined) {
            assert.strictEqual(message!.msgId, expected.msgId)
            assert.strictEqual(message!.queueOffset, expected.queueOffset)
          } else {
            assert.strictEqual(message!.queueOffset, batchStart + (expected.index - 16))
          }
          assert.strictEqual(message!.reconsumeTimes, 0)
          assert.strictEqual(message!.consumeResult, "CONSUME_SUCCESS")
          // Java clears COMPRESSED in the sysFlag it hands over once it has inflated the body, so the stored
          // record's size says whether the producer compressed it (these bodies repeat a 26-byte pattern).
          const compressed = expected.index < 16 && expected.message.body.length > 4096
          assert.strictEqual(message!.sysFlag & 1, 0)
          assert.strictEqual(
            message!.storeSize < expected.message.body.length,
            compressed,
            `storeSize ${message!.storeSize} of message ${expected.index}, body ${expected.message.body.length} B`
          )
        }
        // What 5.3.3 does with a batch: the SendResult lists each message's own UNIQ_KEY, but the broker appends
        // the batch's properties (its own UNIQ_KEY among them) to every message's, and the last one read wins,
        // so all four arrive with the batch's id, which is none of the four.
        const batchReceived = [16, 17, 18, 19].map((index) => byIndex.get(index)!.msgId)
        assert.strictEqual(new Set(batchReceived).size, 1)
        assert.notInclude(batchIds, batchReceived[0])
        // Round-robin single sends spread over every queue.
        assert.strictEqual(new Set(sent.slice(0, 16).map((s) => s.queue.queueId)).size, QUEUES)
        assert.deepStrictEqual(producer.noise(), [])
        assert.deepStrictEqual(consumer.noise(), [])
      })
  )

  live(
    "queueFor is Java's SelectMessageQueueByHash over the publish queues, and sendOrdered lands there",
    () =>
      Effect.gen(function*() {
        const { nameServer } = servers()
        const topic = `java-client-ordered-${run}`
        yield* ClientServers.createTopic(servers(), topic, QUEUES)
        const producer = yield* JavaClient.startProducer(nameServer, `java-client-ordered-${run}`)
        const queues = yield* producer.publishQueues(topic)
        assert.deepStrictEqual(
          queues.map((queue) => queue.queueId),
          Array.from({ length: QUEUES }, (_, i) => i)
        )
        for (
          const key of [
            "order-1",
            "order-2",
            "customer-42",
            "",
            "\u00e9t\u00e9",
            "a-much-longer-sharding-key-0123456789"
          ]
        ) {
          const picked = yield* producer.queueFor(topic, key)
          assert.deepStrictEqual(picked, queues[Math.abs(javaHashCode(key) % QUEUES)], `queueFor(${key})`)
          const result = yield* producer.sendOrdered(topic, key, { body: `ordered ${key}` })
          assert.deepStrictEqual(result.queue, picked, `sendOrdered(${key})`)
        }
        // A SIGKILL ends the JVM at once.
        yield* producer.kill
        assert.isTrue(producer.process.hasExited())
      })
  )

  live(
    "a lone consumer is assigned all 8 queues, listed by the broker, and unregistered by shutdown",
    () =>
      Effect.gen(function*() {
        const { nameServer } = servers()
        const topic = `java-client-assign-${run}`
        const group = `java-client-assign-${run}`
        yield* ClientServers.createTopic(servers(), topic, QUEUES)
        const consumer = yield* JavaClient.startConsumer(nameServer, group, topic, "*")
        assert.strictEqual(yield* consumer.queryClientId, consumer.clientId)
        const assigned = yield* consumer.awaitAssignment((queues) => queues.length === QUEUES)
        assert.deepStrictEqual(
          assigned,
          Array.from({ length: QUEUES }, (_, queueId) => ({ topic, brokerName: servers().brokerName, queueId }))
        )
        assert.deepStrictEqual(yield* ClientServers.consumerIds(servers(), group), [consumer.clientId])
        yield* consumer.shutdown
        assert.isTrue(consumer.process.hasExited())
        yield* eventually(
          Effect.map(
            Effect.orDie(ClientServers.consumerIds(servers(), group)),
            (ids) => ids.length === 0
          ),
          { every: "200 millis", timeout: "20 seconds", what: "the broker dropping the consumer" }
        )
      })
  )

  live(
    "failNext: RECONSUME_LATER brings a message back from the retry topic; tag filter; offsets; benchConsume",
    () =>
      Effect.gen(function*() {
        const { nameServer } = servers()
        const topic = `java-client-retry-${run}`
        const group = `java-client-retry-${run}`
        yield* ClientServers.createTopic(servers(), topic, 2)
        // The retry topic's route exists only once the broker has the consumer's heartbeat: with Java's 30 s
        // route refresh the retry would come back after up to 30 s, so refresh every second.
        const consumer = yield* JavaClient.startConsumer(nameServer, group, topic, "a", {
          pollNameServerInterval: 1_000,
          rebalanceInterval: 2_000
        })
        yield* consumer.awaitAssignment((queues) => queues.length === 2)
        // Before anything is sent, so that the first message is the one that fails; level 1 = 1 s.
        yield* consumer.failNext(1, 1)
        const producer = yield* JavaClient.startProducer(nameServer, `java-client-retry-producer-${run}`)
        const sent: Array<JavaClient.SendResult> = []
        for (const [index, tags] of ["a", "b", "a"].entries()) {
          sent.push(
            yield* producer.send(topic, { body: `retry ${index}`, tags }, {
              queue: sent[0]?.queue ?? {
                brokerName: servers().brokerName,
                queueId: 0
              }
            })
          )
        }
        // Tag "b" is filtered out: 2 deliveries of the first, failed then retried, and 1 of the third.
        const received = yield* consumer.awaitReceived(3, "60 seconds")
        // Two consume threads may take the first two messages at once: the one that failed is whichever took the
        // failure, not necessarily the first printed.
        const failures = received.filter((message) => message.consumeResult === "RECONSUME_LATER")
        assert.strictEqual(failures.length, 1)
        const failed = failures[0]!
        assert.strictEqual(failed.reconsumeTimes, 0)
        const retried = received.find((message) => message.msgId === failed.msgId && message !== failed)
        assert.isDefined(retried, "the failed message came back")
        assert.strictEqual(retried!.reconsumeTimes, 1)
        assert.strictEqual(retried!.topic, topic)
        assert.strictEqual(retried!.consumeResult, "CONSUME_SUCCESS")
        assert.strictEqual(retried!.properties.RETRY_TOPIC, topic)
        assert.deepStrictEqual(
          new Set(received.map((message) => new TextDecoder().decode(message.body))),
          new Set(["retry 0", "retry 2"])
        )
        assert.isTrue(received.every((message) => message.tags === "a"))

        // shutdown persists the offsets: all three messages of queue 0 consumed.
        yield* consumer.shutdown
        assert.strictEqual(yield* ClientServers.maxOffset(servers(), topic, 0), 3)
        assert.strictEqual(yield* ClientServers.consumerOffset(servers(), group, topic, 0), 3)
        assert.strictEqual(yield* ClientServers.consumerOffset(servers(), `never-${group}`, topic, 0), undefined)

        const bench = yield* JavaClient.benchConsume(nameServer, `java-client-bench-${run}`, topic, 3, {
          timeout: "60 seconds",
          rebalanceInterval: 2_000
        })
        assert.isAtLeast(bench.count, 3)
        assert.isAbove(bench.elapsedMs, 0)
        assert.isAbove(bench.cpuMs, 0)
        assert.isAtLeast(bench.processCpuMs, bench.cpuMs)
      })
  )
})
