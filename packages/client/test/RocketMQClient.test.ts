/**
 * The producer and the consumer against a real Apache RocketMQ 5.3.3 NameServer and Broker (`ClientServers`):
 * 10,000 messages of 1 B to 256 KiB from a producer to a consumer (each once, byte for byte, compressed ones
 * included), a group member leaving (its queues move at once) and a restart resuming at the committed offset,
 * retries counted and dead letters, ordered sends on one queue, and the broker SIGKILLed and restarted under
 * load.
 *
 * The broker runs with one-second delay levels (`messageDelayLevel`), so a message sent back comes again after a
 * second rather than Java's 10 s, 30 s, … Everything else is the broker's default.
 *
 * Needs java, javac, mvn and Maven Central (or a warm ~/.m2): skipped with the reason outside CI when absent,
 * failed with `CI=true`.
 */
import { assert, describe } from "@effect/vitest"
import { pattern, readText, sameBytes, text } from "@rocketmq-effect/test-kit/Bytes"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as Live from "@rocketmq-effect/test-kit/Live"
import * as Prerequisites from "@rocketmq-effect/test-kit/Prerequisites"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { ProducerError } from "../src/ClientError.js"
import * as Consumer from "../src/Consumer.js"
import * as MessageQueue from "../src/MessageQueue.js"
import * as NodeClient from "../src/NodeClient.js"
import * as Producer from "../src/Producer.js"
import type { ReceivedMessage } from "../src/StoredMessage.js"
import * as ClientServers from "./ClientServers.js"

const availability = await Effect.runPromise(ClientServers.availability)
const skip = Prerequisites.skipReason(availability)
if (skip !== undefined) console.warn(`RocketMQClient: skipping (CI would fail these tests): ${skip}`)

const ONE_SECOND_LEVELS = Array.from({ length: 18 }, () => "1s").join(" ")

const servers = skip === undefined
  ? ClientServers.useServers({ brokerProperties: { messageDelayLevel: ONE_SECOND_LEVELS } })
  : () => {
    throw new Error("no servers")
  }

const live = Live.make({ timeout: 180_000, skip, interruptBefore: 5_000 })

const provided = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, NodeClient.layer)

/** A consumer of `group` in a scope of its own, closed by the returned effect. */
const consumerIn = (options: Consumer.Options) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const consumer = yield* Consumer.make(options).pipe(Scope.extend(scope), Effect.provide(NodeClient.layer))
    return { consumer, close: Scope.close(scope, Exit.void) }
  })

const size = (i: number) => {
  if (i % 1000 === 999) return 256 * 1024
  if (i % 100 === 7) return 4096 + (i % 5000)
  return 1 + (i * 7919) % 2000
}

describe("Producer and Consumer on a real broker", () => {
  live(
    "10,000 messages of 1 B to 256 KiB, tags and keys: each consumed once, byte for byte",
    () =>
      provided(Effect.gen(function*() {
        const s = servers()
        const topic = "ClientBulk"
        yield* ClientServers.createTopic(s, topic, 8)
        const producer = yield* Producer.make({ nameServer: s.nameServer, group: "bulk_producer" })
        const sent = new Map<string, { readonly body: Uint8Array; readonly tags: string; readonly key: string }>()
        yield* Effect.forEach(Array.from({ length: 10_000 }, (_, i) => i), (i) => {
          const body = pattern(size(i), i)
          const tags = `t${i % 3}`
          const key = `k${i}`
          return producer.send({ topic, body, tags, keys: [key] }).pipe(
            Effect.tap((result) => Effect.sync(() => sent.set(result.msgId, { body, tags, key })))
          )
        }, { concurrency: 64, discard: true })
        assert.strictEqual(sent.size, 10_000)

        const consumer = yield* Consumer.make({
          nameServer: s.nameServer,
          group: "bulk_group",
          subscriptions: { [topic]: "*" },
          consumeFrom: "first"
        })
        const seen = new Map<string, ReceivedMessage>()
        const duplicates: Array<string> = []
        yield* consumer.stream.pipe(
          Stream.mapEffect((delivery) =>
            Effect.sync(() => {
              if (seen.has(delivery.message.msgId)) duplicates.push(delivery.message.msgId)
              seen.set(delivery.message.msgId, delivery.message)
            }).pipe(Effect.zipRight(delivery.ack))
          ),
          Stream.takeUntil(() => seen.size >= 10_000),
          Stream.runDrain
        )
        assert.deepStrictEqual(duplicates, [])
        let compressed = 0
        for (const [msgId, expected] of sent) {
          const got = seen.get(msgId)
          assert.isDefined(got, `message ${msgId} (${expected.key}) not consumed`)
          assert.isTrue(sameBytes(got!.body, expected.body), `body of ${expected.key}`)
          assert.strictEqual(got!.tags, expected.tags)
          assert.deepStrictEqual(got!.keys, [expected.key])
          assert.strictEqual(got!.topic, topic)
          if (expected.body.length >= 4096) compressed++
        }
        assert.isAbove(compressed, 100)
      })),
    240_000
  )

  live(
    "a member that closes gives its queues up at once; a restart resumes at the committed offset",
    () =>
      provided(Effect.gen(function*() {
        const s = servers()
        const topic = "ClientGroupMoves"
        const group = "moves_group"
        yield* ClientServers.createTopic(s, topic, 8)
        const options: Consumer.Options = {
          nameServer: s.nameServer,
          group,
          subscriptions: { [topic]: "*" },
          consumeFrom: "first"
        }
        const first = yield* consumerIn(options)
        const second = yield* consumerIn(options)
        const topicQueues = (queues: ReadonlyArray<MessageQueue.MessageQueue>) =>
          queues.filter((q) => q.topic === topic)
        yield* eventually(
          Effect.gen(function*() {
            const a = topicQueues(yield* first.consumer.assignment.get)
            const b = topicQueues(yield* second.consumer.assignment.get)
            return a.length === 4 && b.length === 4 &&
              a.every((q) => !b.some((other) => MessageQueue.equals(q, other)))
          }),
          { timeout: "30 seconds" }
        )

        // The second leaves: UNREGISTER_CLIENT, the broker notifies, the first takes all 8 within 2 s.
        yield* second.close
        const left = yield* Clock.currentTimeMillis
        yield* eventually(
          Effect.map(first.consumer.assignment.get, (queues) => topicQueues(queues).length === 8),
          { timeout: "2 seconds" }
        )
        const moved = (yield* Clock.currentTimeMillis) - left
        assert.isBelow(moved, 2_000)

        // 100 messages; the first member acknowledges 50 and closes; a new member gets exactly the other 50.
        const producer = yield* Producer.make({ nameServer: s.nameServer })
        const ids = new Set<string>()
        for (let i = 0; i < 100; i++) ids.add((yield* producer.send({ topic, body: text(`m${i}`) })).msgId)
        const acked = new Set<string>()
        yield* first.consumer.stream.pipe(
          Stream.take(50),
          Stream.mapEffect((delivery) =>
            Effect.zipRight(delivery.ack, Effect.sync(() => acked.add(delivery.message.msgId)))
          ),
          Stream.runDrain
        )
        yield* first.close
        const third = yield* consumerIn(options)
        const rest = new Set<string>()
        yield* third.consumer.stream.pipe(
          Stream.mapEffect((delivery) =>
            Effect.zipRight(delivery.ack, Effect.sync(() => rest.add(delivery.message.msgId)))
          ),
          Stream.takeUntil(() => acked.size + rest.size >= 100),
          Stream.runDrain,
          Effect.timeout("30 seconds")
        )
        // Nothing acknowledged comes again (the offsets were committed at close), nothing is missing.
        assert.deepStrictEqual([...rest].filter((id) => acked.has(id)), [])
        assert.deepStrictEqual([...ids].filter((id) => !acked.has(id) && !rest.has(id)), [])
        yield* third.close
      }))
  )

  live(
    "a message that fails twice comes back with reconsumeTimes 2; one that always fails goes to %DLQ%",
    () =>
      provided(Effect.gen(function*() {
        const s = servers()
        const topic = "ClientRetries"
        yield* ClientServers.createTopic(s, topic, 2)
        const producer = yield* Producer.make({ nameServer: s.nameServer })
        const group = "retry_group"
        const attempts = yield* Ref.make<
          ReadonlyArray<{ readonly body: string; readonly reconsumeTimes: number; readonly topic: string }>
        >([])
        const consumer = yield* Consumer.make({
          nameServer: s.nameServer,
          group,
          subscriptions: { [topic]: "*" },
          consumeFrom: "first",
          maxReconsumeTimes: 2
        })
        const runner = yield* Effect.fork(consumer.run((message) =>
          Effect.gen(function*() {
            const body = readText(message.body)
            yield* Ref.update(
              attempts,
              (list) => [...list, { body, reconsumeTimes: message.reconsumeTimes, topic: message.topic }]
            )
            if (body === "always fails") return yield* Effect.fail("no")
            if (body === "fails twice" && message.reconsumeTimes < 2) return yield* Effect.fail("not yet")
          }), { concurrency: 4 }))
        yield* producer.send({ topic, body: text("fails twice") })
        yield* producer.send({ topic, body: text("always fails") })
        yield* eventually(
          Effect.map(Ref.get(attempts), (list) =>
            list.filter((a) => a.body === "fails twice").length >= 3 &&
            list.filter((a) => a.body === "always fails").length >= 3),
          { timeout: "60 seconds" }
        )
        const list = yield* Ref.get(attempts)
        assert.deepStrictEqual(list.filter((a) => a.body === "fails twice").map((a) => a.reconsumeTimes), [0, 1, 2])
        // The retried message keeps its original topic.
        assert.isTrue(list.every((a) => a.topic === topic))
        // After maxReconsumeTimes (2) deliveries after the first, the broker puts it in the dead-letter queue.
        yield* eventually(
          Effect.map(
            Effect.either(ClientServers.maxOffset(s, `%DLQ%${group}`, 0)),
            (max) => Either.isRight(max) && max.right >= 1
          ),
          { timeout: "30 seconds" }
        )
        assert.deepStrictEqual(list.filter((a) => a.body === "always fails").map((a) => a.reconsumeTimes), [0, 1, 2])
        yield* Fiber.interrupt(runner)
      }))
  )

  live("ordered sends: one key, one queue, the one Java's hash selector picks", () =>
    provided(Effect.gen(function*() {
      const s = servers()
      const topic = "ClientOrdered"
      yield* ClientServers.createTopic(s, topic, 8)
      const producer = yield* Producer.make({ nameServer: s.nameServer })
      const queues = yield* producer.publishQueues(topic)
      for (const key of ["order-1", "order-2", "ключ", "a-much-longer-sharding-key-with-a-negative-hash?"]) {
        const expected = MessageQueue.selectByHash(queues, key)!
        const results = yield* Effect.forEach(
          Array.from({ length: 5 }, (_, i) => i),
          (i) => producer.sendOrdered({ topic, body: text(`${key} ${i}`) }, key)
        )
        for (const result of results) assert.deepStrictEqual(result.queue, expected)
        const offsets = results.map((result) => result.queueOffset)
        assert.deepStrictEqual(offsets, [...offsets].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
      }
    })))

  live(
    "the broker SIGKILLed and restarted under load: every send answered or failed typed in time, none acknowledged lost",
    () =>
      provided(Effect.gen(function*() {
        const s = servers()
        const topic = "ClientCrash"
        yield* ClientServers.createTopic(s, topic, 4)
        const producer = yield* Producer.make({ nameServer: s.nameServer, sendTimeout: "3 seconds" })
        const acknowledged = new Set<string>()
        const failures: Array<string> = []
        const overdue: Array<number> = []
        let stop = false
        const sender = yield* Effect.fork(Effect.gen(function*() {
          let i = 0
          while (!stop) {
            const started = yield* Clock.currentTimeMillis
            const result = yield* Effect.either(producer.send({ topic, body: text(`crash ${i++}`) }))
            const took = (yield* Clock.currentTimeMillis) - started
            if (took > 3_500) overdue.push(took)
            if (Either.isRight(result)) acknowledged.add(result.right.msgId)
            else {
              assert.instanceOf(result.left, ProducerError)
              failures.push((result.left as ProducerError).reason)
            }
          }
        }))
        yield* Effect.sleep("1 second")
        yield* s.killBroker
        yield* Effect.sleep("2 seconds")
        yield* s.startBroker
        yield* eventually(Effect.sync(() => acknowledged.size > 0 && failures.length > 0), { timeout: "60 seconds" })
        const before = acknowledged.size
        yield* eventually(Effect.sync(() => acknowledged.size > before + 20), { timeout: "60 seconds" })
        stop = true
        yield* Fiber.join(sender)
        assert.deepStrictEqual(overdue, [])

        const consumer = yield* Consumer.make({
          nameServer: s.nameServer,
          group: "crash_group",
          subscriptions: { [topic]: "*" },
          consumeFrom: "first"
        })
        const seen = new Set<string>()
        yield* consumer.stream.pipe(
          Stream.mapEffect((delivery) =>
            Effect.zipRight(delivery.ack, Effect.sync(() => seen.add(delivery.message.msgId)))
          ),
          Stream.takeUntil(() => [...acknowledged].every((id) => seen.has(id))),
          Stream.runDrain,
          Effect.timeout("60 seconds")
        )
        assert.deepStrictEqual([...acknowledged].filter((id) => !seen.has(id)), [])
      })),
    240_000
  )
})
