/**
 * Bad producer and consumer options fail once, with one `ConfigurationError` whose `issues` name every bad
 * field; good ones (the edges included) are taken.
 */
import { assert, describe, it } from "@effect/vitest"
import type { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ClientHost from "../src/ClientHost.js"
import * as Consumer from "../src/Consumer.js"
import * as NodeCompression from "../src/NodeCompression.js"
import * as Producer from "../src/Producer.js"
import * as FakeCluster from "./FakeCluster.js"

const NS = "127.0.0.1:9876"

const env = Layer.mergeAll(
  FakeCluster.layerTest({ topics: { TopicTest: 1 } }),
  NodeCompression.layer,
  ClientHost.layer({ ip: "10.0.0.1", pid: 4242 })
)

const fields = (error: ConfigurationError) => (error.issues ?? [error]).map((issue) => issue.field)

/** The options as a user might write them wrong: typed loosely on purpose. */
const loose = <A>(options: Record<string, unknown>): A => options as A

const producerError = (options: Record<string, unknown>) =>
  Effect.flip(Producer.make(loose<Producer.Options>(options))).pipe(Effect.scoped, Effect.provide(env))

const consumerError = (options: Record<string, unknown>) =>
  Effect.flip(Consumer.make(loose<Consumer.Options>(options))).pipe(Effect.scoped, Effect.provide(env))

const consumerBase = { nameServer: NS, group: "cg", subscriptions: { TopicTest: "*" }, gracePeriod: 0 }

describe("Options", () => {
  it.effect("Producer: one ConfigurationError naming each bad field", () =>
    Effect.gen(function*() {
      const error = yield* producerError({
        nameServer: "nowhere",
        group: "bad group!",
        sendTimeout: -1,
        retryTimes: -1,
        compressOver: 0,
        compressionLevel: 10,
        maxMessageSize: 0,
        maxInFlight: 0,
        latencyFaultAvoidance: "yes",
        defaultTopicQueueNums: 0,
        instanceName: ""
      })
      assert.strictEqual(error._tag, "ConfigurationError")
      assert.deepStrictEqual(fields(error), [
        "nameServer",
        "group",
        "sendTimeout",
        "retryTimes",
        "compressOver",
        "compressionLevel",
        "maxMessageSize",
        "maxInFlight",
        "latencyFaultAvoidance",
        "defaultTopicQueueNums",
        "instanceName"
      ])
      assert.strictEqual(error.field, "nameServer", "the first issue is the error's own field")
      for (const field of fields(error)) assert.include(error.message, field)
      assert.include(error.message, "bad group!")
    }))

  it.effect("Producer: each bad field alone is named alone", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, unknown]> = [
        ["nameServer", ""],
        ["nameServer", "127.0.0.1:0"],
        ["nameServer", "127.0.0.1:9876;host"],
        ["nameServer", 9876],
        ["group", ""],
        ["group", "x".repeat(128)],
        ["sendTimeout", "0 millis"],
        ["sendTimeout", "forever"],
        ["sendTimeout", Infinity],
        ["retryTimes", 1.5],
        ["retryTimes", 1001],
        ["compressOver", -5],
        ["compressOver", 1.5],
        ["compressionLevel", -1],
        ["maxMessageSize", 1.5],
        ["maxInFlight", -1],
        ["latencyFaultAvoidance", 1],
        ["defaultTopicQueueNums", 1025],
        ["instanceName", 42]
      ]
      for (const [field, value] of cases) {
        const error = yield* producerError({ nameServer: NS, [field]: value })
        assert.deepStrictEqual(fields(error), [field], `${field} = ${String(value)}`)
      }
    }))

  it.effect("Producer: good options at the edges are taken", () =>
    Effect.gen(function*() {
      const producer = yield* Producer.make({
        nameServer: `${NS};127.0.0.2:9876`,
        group: "%RETRY%|a-b_c",
        sendTimeout: "1 millis",
        retryTimes: 0,
        compressOver: Infinity,
        compressionLevel: 0,
        maxMessageSize: 1,
        maxInFlight: 1,
        latencyFaultAvoidance: true,
        defaultTopicQueueNums: 1024,
        instanceName: "i"
      })
      assert.strictEqual(producer.group, "%RETRY%|a-b_c")
      assert.strictEqual(producer.clientId, "10.0.0.1@i")
      const defaults = yield* Producer.make({ nameServer: NS })
      assert.strictEqual(defaults.group, Producer.DEFAULT_GROUP)
      assert.match(defaults.clientId, /^10\.0\.0\.1@4242#/)
    }).pipe(Effect.scoped, Effect.provide(env)))

  it.effect("Consumer: one ConfigurationError naming each bad field", () =>
    Effect.gen(function*() {
      const error = yield* consumerError({
        nameServer: "",
        group: "",
        subscriptions: { "bad topic": "*", Good: 42 },
        consumeFrom: "middle",
        pullBatchSize: 0,
        maxBufferedMessagesPerQueue: 0,
        maxBufferedMessages: -1,
        maxReconsumeTimes: -1,
        pullSuspend: "0 millis",
        pullTimeout: "nope",
        pullBackoff: "soon",
        gracePeriod: "later",
        instanceName: ""
      })
      assert.strictEqual(error._tag, "ConfigurationError")
      assert.deepStrictEqual(fields(error), [
        "nameServer",
        "group",
        "subscriptions.bad topic",
        "subscriptions.Good",
        "consumeFrom",
        "pullBatchSize",
        "maxBufferedMessagesPerQueue",
        "maxBufferedMessages",
        "maxReconsumeTimes",
        "pullSuspend",
        "pullTimeout",
        "pullBackoff",
        "gracePeriod",
        "instanceName"
      ])
      for (const field of fields(error)) assert.include(error.message, field)
    }))

  it.effect("Consumer: each bad field alone is named alone", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, unknown]> = [
        ["nameServer", "host-without-port"],
        ["group", "a b"],
        ["group", undefined],
        ["subscriptions", {}],
        ["subscriptions", undefined],
        ["subscriptions", null],
        ["consumeFrom", { timestamp: Number.NaN }],
        ["consumeFrom", { at: 1 }],
        ["pullBatchSize", 1025],
        ["maxBufferedMessagesPerQueue", 2.5],
        ["maxBufferedMessages", "many"],
        ["maxReconsumeTimes", 10_001],
        ["pullSuspend", -1],
        ["pullBackoff", "soon"],
        ["gracePeriod", "later"],
        ["instanceName", 7]
      ]
      for (const [field, value] of cases) {
        const error = yield* consumerError({ ...consumerBase, [field]: value })
        assert.deepStrictEqual(fields(error), [field], `${field} = ${JSON.stringify(value)}`)
      }
      // A topic name Java refuses is named by its subscription.
      const topic = yield* consumerError({ ...consumerBase, subscriptions: { TopicTest: "*", "a/b": "*" } })
      assert.deepStrictEqual(fields(topic), ["subscriptions.a/b"])
    }))

  it.effect("Consumer: a negative pullBackoff or gracePeriod is bad, not taken as zero", () =>
    Effect.gen(function*() {
      for (const field of ["pullBackoff", "gracePeriod"]) {
        for (const value of [-1, "-5 seconds"]) {
          const error = yield* consumerError({ ...consumerBase, [field]: value })
          assert.deepStrictEqual(fields(error), [field], `${field} = ${JSON.stringify(value)}`)
        }
      }
    }))

  it.effect("Consumer: pullTimeout must be longer than pullSuspend", () =>
    Effect.gen(function*() {
      const equal = yield* consumerError({ ...consumerBase, pullSuspend: "20 seconds", pullTimeout: "20 seconds" })
      assert.deepStrictEqual(fields(equal), ["pullTimeout"])
      const shorterThanDefault = yield* consumerError({ ...consumerBase, pullTimeout: "10 seconds" })
      assert.deepStrictEqual(fields(shorterThanDefault), ["pullTimeout"], "the default suspension is 15 s")
    }))

  it.effect("Consumer: good options at the edges are taken", () =>
    Effect.gen(function*() {
      const consumer = yield* Consumer.make({
        nameServer: NS,
        group: "cg",
        subscriptions: { TopicTest: "a || b" },
        consumeFrom: { timestamp: 0 },
        pullBatchSize: 1024,
        maxBufferedMessagesPerQueue: 1,
        maxBufferedMessages: 1,
        maxReconsumeTimes: 0,
        pullSuspend: "1 millis",
        pullTimeout: "2 millis",
        pullBackoff: 0,
        gracePeriod: 0,
        instanceName: "edge"
      })
      assert.strictEqual(consumer.clientId, "10.0.0.1@edge")
      assert.strictEqual(consumer.group, "cg")
    }).pipe(Effect.scoped, Effect.provide(env)))
})
