/**
 * The client over real TCP on loopback, against a mock broker built on `TransportServer`: round trips in both
 * serialize types, opaques, matching, timeouts and late responses, disconnects, the in-flight cap, server
 * requests, bad frames, oneway, metrics and the span.
 */
import { assert, describe, it } from "@effect/vitest"
import { readText, text } from "@rocketmq-effect/test-kit/Bytes"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import * as NodeTransport from "@rocketmq-effect/transport-node/NodeTransport"
import { Connector } from "@rocketmq-effect/transport/Connector"
import * as Transport from "@rocketmq-effect/transport/Transport"
import type { TransportConfigInput } from "@rocketmq-effect/transport/TransportConfig"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type { Pending } from "../src/internal/pendingTable.js"
import { PendingTable } from "../src/internal/pendingTable.js"
import * as RemotingClient from "../src/RemotingClient.js"
import { LanguageCode, MQVersion, RequestCode, ResponseCode } from "../src/RemotingCode.js"
import * as RemotingCommand from "../src/RemotingCommand.js"
import type { MockBroker, Received } from "./MockBroker.js"
import { echoScript, live, makeBroker } from "./MockBroker.js"

const { request, response } = RemotingCommand

const makeClient = (
  broker: MockBroker,
  options: Omit<RemotingClient.Options, "transport"> = {},
  transport: Partial<TransportConfigInput> = {}
) =>
  Effect.gen(function*() {
    const made = yield* RemotingClient.makeTransport({
      host: "127.0.0.1",
      port: broker.port,
      retryInterval: "50 millis",
      ...transport
    }).pipe(Effect.provideServiceEffect(Connector, NodeConnector.make), Effect.orDie)
    return yield* RemotingClient.make({ ...options, transport: made }).pipe(Effect.orDie)
  })

/** A script that answers nothing: the test answers, or nobody does. */
const silent = () => Effect.succeed(undefined)

/** The next frame the broker received, taken from the connection's own queue too; its connection. */
const nextFrame = (broker: MockBroker) =>
  Effect.gen(function*() {
    const frame = yield* Queue.take(broker.received)
    yield* Queue.take(frame.connection.received)
    return frame
  })

const takeN = (queue: Queue.Queue<Received>, n: number) => Effect.map(Queue.takeN(queue, n), Chunk.toReadonlyArray)

describe("RemotingClient over TCP", () => {
  for (const serializeType of ["JSON", "ROCKETMQ"] as const) {
    live(`invoke round trip in ${serializeType}`, () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker(({ command }) =>
          Effect.succeed(response(command, ResponseCode.SUCCESS, {
            extFields: { topic: command.extFields?.get("topic"), answered: true },
            body: text(`route of ${command.extFields?.get("topic")}`),
            remark: "ok"
          }))
        )
        const client = yield* makeClient(broker, { serializeType, language: LanguageCode.NODE_JS })
        const answer = yield* client.invoke(
          request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: "orders" }, body: text("hi") })
        )
        const seen = yield* Queue.take(broker.received)
        assert.strictEqual(seen.serializeType, serializeType)
        assert.strictEqual(seen.command.code, RequestCode.GET_ROUTEINFO_BY_TOPIC)
        assert.strictEqual(seen.command.flag, 0, "a request: neither the response nor the oneway bit")
        assert.strictEqual(seen.command.language, LanguageCode.NODE_JS)
        assert.strictEqual(seen.command.version, MQVersion.V5_3_3)
        assert.strictEqual(seen.command.extFields?.get("topic"), "orders")
        assert.strictEqual(readText(seen.command.body), "hi")

        assert.strictEqual(answer.code, ResponseCode.SUCCESS)
        assert.strictEqual(answer.opaque, seen.command.opaque)
        assert.isTrue(RemotingCommand.isResponse(answer))
        assert.strictEqual(answer.remark, "ok")
        assert.strictEqual(answer.extFields?.get("answered"), "true")
        assert.strictEqual(readText(answer.body), "route of orders")
        assert.strictEqual(yield* client.inFlight, 0)
      }))
  }

  live("answers in another serialize type than the request's are read by their own mark", () =>
    Effect.gen(function*() {
      const broker = yield* makeBroker(echoScript, { answerIn: "ROCKETMQ" })
      const client = yield* makeClient(broker, { serializeType: "JSON" })
      const answer = yield* client.invoke(request(RequestCode.HEART_BEAT, { body: text("beat") }))
      assert.strictEqual(readText(answer.body), "beat")
    }))

  live(
    "opaques count up from firstOpaque and wrap from 2^31 − 1 to −2^31, like Java's int",
    () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker()
        const client = yield* makeClient(broker, { firstOpaque: 2_147_483_645 })
        const opaques: Array<number> = []
        for (let i = 0; i < 5; i++) opaques.push((yield* client.invoke(request(RequestCode.HEART_BEAT))).opaque)
        const seen = (yield* takeN(broker.received, 5)).map((r) => r.command.opaque)
        assert.deepStrictEqual(seen, [2_147_483_645, 2_147_483_646, 2_147_483_647, -2_147_483_648, -2_147_483_647])
        assert.deepStrictEqual(opaques, seen)
      })
  )

  it("the opaque counter skips opaques still in flight", () => {
    const table = new PendingTable<Pending>(2_147_483_647)
    const held: Pending = { opaque: undefined, generation: 1 }
    const next: Pending = { opaque: undefined, generation: 1 }
    table.register(held)
    table.register(next)
    assert.deepStrictEqual([held.opaque, next.opaque], [2_147_483_647, -2_147_483_648])
    // The counter comes round to opaques still in flight: it skips them.
    table.restartAt(2_147_483_647)
    assert.strictEqual(table.allocate(), -2_147_483_647)
    table.remove(held)
    table.restartAt(2_147_483_647)
    assert.strictEqual(table.allocate(), 2_147_483_647)
  })

  live(
    "200 concurrent calls answered in reverse order each get their own answer; opaques are unique",
    () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker(silent)
        const client = yield* makeClient(broker)
        const calls = yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) =>
            client.invoke(request(RequestCode.QUERY_CONSUMER_OFFSET, { extFields: { n: i } }), {
              timeout: "10 seconds"
            }),
          { concurrency: "unbounded" }
        ).pipe(Effect.fork)
        const requests = yield* takeN(broker.received, 200)
        assert.strictEqual(new Set(requests.map((r) => r.command.opaque)).size, 200, "opaques unique in flight")
        assert.strictEqual(yield* client.inFlight, 200)
        for (const { command, connection } of requests.slice().reverse()) {
          yield* connection.send(
            response(command, ResponseCode.SUCCESS, { body: text(`answer ${command.extFields?.get("n")}`) })
          )
        }
        const answers = yield* Fiber.join(calls)
        assert.deepStrictEqual(answers.map((a) => readText(a.body)), answers.map((_, i) => `answer ${i}`))
        assert.strictEqual(yield* client.lateResponses, 0)
      })
  )

  live(
    "a call that timed out fails typed; its late response is dropped and counted; the next call gets its own",
    () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker(silent)
        const client = yield* makeClient(broker)
        const started = Date.now()
        const timedOut = yield* Effect.flip(
          client.invoke(request(RequestCode.PULL_MESSAGE, { body: text("first") }), { timeout: "200 millis" })
        )
        assert.isAtLeast(Date.now() - started, 190)
        assert.strictEqual(timedOut._tag, "RemotingClientError")
        if (timedOut._tag !== "RemotingClientError") return
        assert.strictEqual(timedOut.reason, "Timeout")
        assert.strictEqual(timedOut.waitingFor, "response")
        assert.strictEqual(timedOut.requestCode, RequestCode.PULL_MESSAGE)
        assert.match(timedOut.message, /PULL_MESSAGE \(code 11, opaque \d+\) to 127\.0\.0\.1:\d+ timed out after 200ms/)
        assert.strictEqual(yield* client.inFlight, 0)

        const first = yield* Queue.take(broker.received)
        assert.strictEqual(timedOut.opaque, first.command.opaque)
        yield* first.connection.send(response(first.command, ResponseCode.SUCCESS, { body: text("late") }))
        const second = yield* client.invoke(request(RequestCode.PULL_MESSAGE, { body: text("second") })).pipe(
          Effect.fork
        )
        const secondRequest = yield* Queue.take(broker.received)
        yield* first.connection.send(response(secondRequest.command, ResponseCode.SUCCESS, { body: text("second's") }))
        assert.strictEqual(readText((yield* Fiber.join(second)).body), "second's")
        // The late answer was written before the second's, on the same connection: it has been read.
        assert.strictEqual(yield* client.lateResponses, 1)
        const late = yield* Metric.value(
          Metric.tagged(RemotingClient.metrics.lateResponses, "address", broker.address)
        )
        assert.strictEqual(late.count, 1)
      })
  )

  live(
    "a dropped connection fails every pending call at once, not at its timeout; the next call reconnects",
    () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker(silent)
        const client = yield* makeClient(broker)
        const calls = yield* Effect.forEach(
          Array.from({ length: 10 }, () => client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "30 seconds" })),
          (call) => Effect.fork(Effect.either(call))
        )
        yield* takeN(broker.received, 10)
        const dropped = Date.now()
        yield* broker.server.closeConnections({ reset: true })
        const results = yield* Fiber.joinAll(calls)
        const elapsed = Date.now() - dropped
        assert.isBelow(elapsed, 5_000, "failed at once, well under the 30 s timeout")
        for (const result of results) {
          assert.isTrue(Either.isLeft(result))
          if (Either.isRight(result)) continue
          assert.strictEqual(result.left._tag, "ConnectionError")
          assert.strictEqual(result.left._tag === "ConnectionError" && result.left.reason, "Disconnected")
        }
        assert.strictEqual(yield* client.inFlight, 0)
        // The transport reconnects; a new call goes on the new connection.
        const again = yield* client.invoke(request(RequestCode.HEART_BEAT), { timeout: "5 seconds" }).pipe(Effect.fork)
        const next = yield* Queue.take(broker.received)
        assert.strictEqual(next.connection.id, 2)
        yield* next.connection.send(response(next.command, ResponseCode.SUCCESS))
        assert.strictEqual((yield* Fiber.join(again)).code, ResponseCode.SUCCESS)
      })
  )

  live(
    "past maxInFlight a call waits for a slot within its timeout, then fails with InFlightLimit",
    () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker(silent)
        const client = yield* makeClient(broker, { maxInFlight: 2 })
        const held = yield* Effect.forEach(
          [1, 2],
          (n) =>
            Effect.fork(
              client.invoke(request(RequestCode.PULL_MESSAGE, { extFields: { n } }), { timeout: "20 seconds" })
            )
        )
        const [first] = yield* takeN(broker.received, 2)
        // A third call waits for a slot; one frees up within its time and it goes through.
        const third = yield* Effect.fork(
          client.invoke(request(RequestCode.PULL_MESSAGE, { extFields: { n: 3 } }), { timeout: "10 seconds" })
        )
        yield* first!.connection.send(response(first!.command, ResponseCode.SUCCESS))
        const thirdRequest = yield* Queue.take(broker.received)
        assert.strictEqual(thirdRequest.command.extFields?.get("n"), "3")
        yield* thirdRequest.connection.send(response(thirdRequest.command, ResponseCode.SUCCESS, { body: text("3") }))
        assert.strictEqual(readText((yield* Fiber.join(third)).body), "3")
        // Two calls hold both slots again: a fourth never gets one.
        const again = yield* Effect.fork(client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "20 seconds" }))
        yield* Queue.take(broker.received)
        const limited = yield* Effect.flip(client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "300 millis" }))
        assert.strictEqual(limited._tag, "RemotingClientError")
        if (limited._tag === "RemotingClientError") {
          assert.strictEqual(limited.reason, "InFlightLimit")
          assert.strictEqual(limited.maxInFlight, 2)
          assert.match(limited.message, /in-flight limit of 2 calls/)
        }
        assert.strictEqual(yield* client.inFlight, 2)
        yield* Fiber.interrupt(again)
        yield* Fiber.interruptAll(held)
      })
  )

  live("interrupting a call removes its entry; its answer then counts as late", () =>
    Effect.gen(function*() {
      const broker = yield* makeBroker(silent)
      const client = yield* makeClient(broker)
      const call = yield* Effect.fork(client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "20 seconds" }))
      const seen = yield* Queue.take(broker.received)
      assert.strictEqual(yield* client.inFlight, 1)
      yield* Fiber.interrupt(call)
      assert.strictEqual(yield* client.inFlight, 0)
      yield* seen.connection.send(response(seen.command, ResponseCode.SUCCESS))
      yield* eventually(Effect.map(client.lateResponses, (n) => n === 1))
    }))

  live("a request that cannot be sent fails at once and leaves nothing pending", () =>
    Effect.gen(function*() {
      const broker = yield* makeBroker()
      const client = yield* makeClient(broker, { serializeType: "ROCKETMQ" }, { maxMessageSize: 1024 })
      const pop = yield* Effect.flip(client.invoke(request(RequestCode.POP_MESSAGE)))
      assert.strictEqual(pop._tag, "RemotingCodecError")
      const big = yield* Effect.flip(
        client.invoke(request(RequestCode.SEND_MESSAGE_V2, { body: new Uint8Array(4096) }))
      )
      assert.strictEqual(big._tag, "FrameTooLargeError")
      assert.strictEqual(yield* client.inFlight, 0)
      // POP fits JSON: the per-call serialize type.
      const answer = yield* client.invoke(request(RequestCode.POP_MESSAGE), { serializeType: "JSON" })
      assert.strictEqual(answer.code, ResponseCode.SUCCESS)
    }))

  live(
    "invokeSuccess and expectSuccess turn another code into a RemotingError with code and remark",
    () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker(({ command }) =>
          Effect.succeed(
            response(command, ResponseCode.TOPIC_NOT_EXIST, { remark: "No topic route info in name server" })
          )
        )
        const client = yield* makeClient(broker)
        const asData = yield* client.invoke(request(RequestCode.GET_ROUTEINFO_BY_TOPIC))
        assert.strictEqual(asData.code, ResponseCode.TOPIC_NOT_EXIST, "invoke returns any code as data")
        const error = yield* Effect.flip(client.invokeSuccess(request(RequestCode.GET_ROUTEINFO_BY_TOPIC)))
        assert.strictEqual(error._tag, "RemotingError")
        if (error._tag !== "RemotingError") return
        assert.strictEqual(error.code, ResponseCode.TOPIC_NOT_EXIST)
        assert.strictEqual(error.requestCode, RequestCode.GET_ROUTEINFO_BY_TOPIC)
        assert.strictEqual(error.remark, "No topic route info in name server")
        assert.isTrue(
          Either.isRight(RemotingClient.expectSuccess(asData, 105, { accept: [ResponseCode.TOPIC_NOT_EXIST] }))
        )
      })
  )

  live(
    "a server request with the server's own opaque, equal to a pending call's, goes to its handler",
    () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker(silent)
        const client = yield* makeClient(broker, {
          firstOpaque: 77,
          handlers: {
            [RequestCode.GET_CONSUMER_RUNNING_INFO]: (req) =>
              Effect.succeed(response(req, ResponseCode.SUCCESS, {
                body: text(`running info of ${req.extFields?.get("consumerGroup")}`)
              }))
          }
        })
        const pending = yield* Effect.fork(client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "10 seconds" }))
        const call = yield* nextFrame(broker)
        assert.strictEqual(call.command.opaque, 77)
        // The broker asks with opaque 77 too, in ROCKETMQ: the answer must go back to it, not to our call.
        yield* call.connection.send(
          request(RequestCode.GET_CONSUMER_RUNNING_INFO, { opaque: 77, extFields: { consumerGroup: "g1" } }),
          "ROCKETMQ"
        )
        const answer = yield* Queue.take(call.connection.received)
        assert.strictEqual(answer.serializeType, "ROCKETMQ", "answered in the request's serialize type")
        assert.strictEqual(answer.command.opaque, 77)
        assert.strictEqual(answer.command.flag, RemotingCommand.RESPONSE_FLAG)
        assert.strictEqual(answer.command.code, ResponseCode.SUCCESS)
        assert.strictEqual(readText(answer.command.body), "running info of g1")
        assert.strictEqual(yield* client.inFlight, 1, "our call is still waiting for its own answer")
        yield* call.connection.send(response(call.command, ResponseCode.SUCCESS, { body: text("ours") }))
        assert.strictEqual(readText((yield* Fiber.join(pending)).body), "ours")
      })
  )

  live(
    "a handler registered later answers; an unknown code gets REQUEST_CODE_NOT_SUPPORTED with Java's remark",
    () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker()
        const client = yield* makeClient(broker)
        yield* client.invoke(request(RequestCode.HEART_BEAT))
        const connection = (yield* nextFrame(broker)).connection
        yield* connection.send(request(999, { opaque: 5 }))
        const unknown = (yield* Queue.take(connection.received)).command
        assert.deepInclude(unknown, {
          code: ResponseCode.REQUEST_CODE_NOT_SUPPORTED,
          opaque: 5,
          flag: 1,
          remark: " request type 999 not supported"
        })
        yield* client.register(
          999,
          (req) => Effect.succeed(response(req, ResponseCode.SUCCESS, { remark: "now known" }))
        )
        yield* connection.send(request(999, { opaque: 6 }))
        const known = (yield* Queue.take(connection.received)).command
        assert.deepInclude(known, { code: ResponseCode.SUCCESS, opaque: 6, remark: "now known" })
      })
  )

  live(
    "a oneway server request gets no answer: not from a handler, a failing handler, nor for an unknown code",
    () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker()
        const notified = yield* Deferred.make<string>()
        const client = yield* makeClient(broker, {
          // One handler at a time: the requests are handled, and any answer written, in order.
          handlerConcurrency: 1,
          handlers: {
            [RequestCode.NOTIFY_CONSUMER_IDS_CHANGED]: (req) =>
              Effect.as(
                Deferred.succeed(notified, req.extFields?.get("consumerGroup") ?? ""),
                response(req, ResponseCode.SUCCESS)
              ),
            [RequestCode.CHECK_TRANSACTION_STATE]: () => Effect.fail(new Error("no transaction here"))
          }
        })
        yield* client.invoke(request(RequestCode.HEART_BEAT))
        const connection = (yield* nextFrame(broker)).connection
        yield* connection.send(
          request(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, {
            oneway: true,
            opaque: 1,
            extFields: { consumerGroup: "g" }
          })
        )
        yield* connection.send(request(RequestCode.CHECK_TRANSACTION_STATE, { oneway: true, opaque: 2 }))
        yield* connection.send(request(4242, { oneway: true, opaque: 3 }))
        yield* connection.send(request(4243, { opaque: 4 }))
        assert.strictEqual(yield* Deferred.await(notified), "g")
        const first = (yield* Queue.take(connection.received)).command
        assert.strictEqual(first.opaque, 4, "the first frame back answers the only non-oneway request")
        assert.strictEqual(first.code, ResponseCode.REQUEST_CODE_NOT_SUPPORTED)
      })
  )

  live(
    "a failing, defecting or throwing handler answers SYSTEM_ERROR with its message; the connection stays",
    () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker()
        const client = yield* makeClient(broker, {
          handlers: {
            1001: () => Effect.fail(new Error("boom")),
            1002: () => Effect.die(new Error("kaput")),
            1003: () => {
              throw new Error("thrown")
            },
            1004: () => Effect.fail({ _tag: "NoSuchConsumer" })
          }
        })
        yield* client.invoke(request(RequestCode.HEART_BEAT))
        const connection = (yield* nextFrame(broker)).connection
        const remarks: Array<string | undefined> = []
        for (const code of [1001, 1002, 1003, 1004]) {
          yield* connection.send(request(code, { opaque: code }))
          const answer = (yield* Queue.take(connection.received)).command
          assert.strictEqual(answer.code, ResponseCode.SYSTEM_ERROR)
          assert.strictEqual(answer.opaque, code)
          remarks.push(answer.remark)
        }
        assert.deepStrictEqual(remarks, ["boom", "kaput", "thrown", "NoSuchConsumer"])
        assert.strictEqual((yield* client.invoke(request(RequestCode.HEART_BEAT))).code, ResponseCode.SUCCESS)
        assert.strictEqual(yield* broker.acceptedCount, 1, "still the first connection")
      })
  )

  live("a full handler queue answers SYSTEM_BUSY and drops oneways", () =>
    Effect.gen(function*() {
      const broker = yield* makeBroker()
      const gate = yield* Deferred.make<void>()
      const client = yield* makeClient(broker, {
        handlerConcurrency: 1,
        handlerQueueSize: 1,
        handlers: { 2000: (req) => Effect.as(Deferred.await(gate), response(req, ResponseCode.SUCCESS)) }
      })
      yield* client.invoke(request(RequestCode.HEART_BEAT))
      const connection = (yield* nextFrame(broker)).connection
      // One in the handler, one waiting, the third refused.
      for (const opaque of [1, 2, 3]) yield* connection.send(request(2000, { opaque }))
      const busy = (yield* Queue.take(connection.received)).command
      assert.deepInclude(busy, {
        opaque: 3,
        code: ResponseCode.SYSTEM_BUSY,
        remark: "[OVERLOAD]system busy, start flow control for a while"
      })
      yield* Deferred.succeed(gate, undefined)
      const rest = (yield* takeN(connection.received, 2)).map((r) => [r.command.opaque, r.command.code])
      assert.deepStrictEqual(rest, [[1, 0], [2, 0]])
    }))

  live(
    "a frame that is not a command drops the connection, fails its calls at once, logs a Warning",
    () =>
      Effect.gen(function*() {
        const logs: Array<{ level: string; message: string }> = []
        const logger = Logger.make(({ logLevel, message }) => {
          logs.push({ level: logLevel.label, message: Array.isArray(message) ? message.join(" ") : String(message) })
        })
        yield* Effect.gen(function*() {
          const broker = yield* makeBroker(silent)
          const client = yield* makeClient(broker)
          const pending = yield* Effect.fork(
            client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "30 seconds" })
          )
          const call = yield* Queue.take(broker.received)
          const started = Date.now()
          // Serialize type 7: not JSON, not ROCKETMQ.
          yield* call.connection.sendPayload(new Uint8Array([7, 0, 0, 2, 0x7b, 0x7d]))
          const error = yield* Effect.flip(Fiber.join(pending))
          assert.isBelow(Date.now() - started, 5_000)
          assert.strictEqual(error._tag, "ConnectionError")
          if (error._tag === "ConnectionError") {
            assert.strictEqual(error.reason, "Disconnected")
            const protocol = error.cause as { readonly reason: string; readonly cause: { readonly _tag: string } }
            assert.strictEqual(protocol.reason, "Protocol")
            assert.strictEqual(protocol.cause._tag, "RemotingCodecError")
          }
          yield* call.connection.closed
          // The transport reconnects, and the client works on the new connection.
          const again = yield* Effect.fork(client.invoke(request(RequestCode.HEART_BEAT), { timeout: "5 seconds" }))
          const next = yield* Queue.take(broker.received)
          assert.strictEqual(next.connection.id, 2)
          yield* next.connection.send(response(next.command, ResponseCode.SUCCESS))
          yield* Fiber.join(again)
        }).pipe(
          Logger.withMinimumLogLevel(LogLevel.Warning),
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
        const warnings = logs.filter((l) => l.level === "WARN")
        assert.isTrue(
          warnings.some((l) =>
            /is not a RemotingCommand \(unknown serialize type 7.*dropping the connection/.test(l.message)
          ),
          JSON.stringify(logs)
        )
      })
  )

  live(
    "invokeOneway sets the oneway bit and completes once written; nothing waits for an answer",
    () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker()
        const client = yield* makeClient(broker)
        yield* client.invokeOneway(request(RequestCode.UPDATE_CONSUMER_OFFSET, { extFields: { queueId: 1 } }))
        assert.strictEqual(yield* client.inFlight, 0)
        const seen = yield* Queue.take(broker.received)
        assert.strictEqual(seen.command.flag, RemotingCommand.ONEWAY_FLAG)
        assert.isTrue(RemotingCommand.isOneway(seen.command))
        assert.strictEqual(seen.command.extFields?.get("queueId"), "1")
      })
  )

  live(
    "closing the client fails its pending calls with ConnectionClosedError; later calls fail the same",
    () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker(silent)
        const scope = yield* Scope.make()
        const client = yield* makeClient(broker).pipe(Scope.extend(scope))
        const pending = yield* Effect.fork(client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "30 seconds" }))
        yield* Queue.take(broker.received)
        yield* Scope.close(scope, Exit.void)
        const error = yield* Effect.flip(Fiber.join(pending))
        assert.strictEqual(error._tag, "ConnectionClosedError")
        assert.strictEqual(
          (yield* Effect.flip(client.invoke(request(RequestCode.HEART_BEAT))))._tag,
          "ConnectionClosedError"
        )
      })
  )

  live(
    "a span rocketmq.remoting.invoke per call with code, address, opaque and responseCode; counters by outcome",
    () =>
      Effect.gen(function*() {
        const spans: Array<Tracer.Span> = []
        const native = yield* Effect.tracer
        const recording = Tracer.make({
          span: (...args) => {
            const span = native.span(...args)
            spans.push(span)
            return span
          },
          context: (f, fiber) => native.context(f, fiber)
        })
        const broker = yield* makeBroker(({ command }) =>
          Effect.succeed(
            command.code === RequestCode.PULL_MESSAGE ? undefined : response(
              command,
              command.code === RequestCode.HEART_BEAT ? ResponseCode.SUCCESS : ResponseCode.TOPIC_NOT_EXIST
            )
          )
        )
        yield* Effect.gen(function*() {
          const client = yield* makeClient(broker)
          yield* client.invoke(request(RequestCode.HEART_BEAT))
          yield* client.invoke(request(RequestCode.GET_ROUTEINFO_BY_TOPIC))
          yield* Effect.either(client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "100 millis" }))
          // With tracing turned off, no span.
          yield* client.invoke(request(RequestCode.HEART_BEAT)).pipe(Effect.withTracerEnabled(false))
        }).pipe(Effect.withTracer(recording))
        const invokes = spans.filter((s) => s.name === "rocketmq.remoting.invoke")
        assert.strictEqual(invokes.length, 3)
        assert.isTrue(invokes.every((s) => s.status._tag === "Ended"), "each span ended with its call")
        const attributes = Object.fromEntries(invokes[0]!.attributes)
        assert.deepInclude(attributes, { code: RequestCode.HEART_BEAT, address: broker.address, responseCode: 0 })
        assert.isNumber(attributes.opaque)
        const count = (outcome: string, code: number) => {
          const counter = RemotingClient.metrics.invocations.pipe(
            Metric.tagged("address", broker.address),
            Metric.tagged("code", String(code)),
            Metric.tagged("outcome", outcome)
          )
          return Effect.map(
            Metric.value(
              outcome === "timeout"
                ? counter
                : Metric.tagged(counter, "responseCode", outcome === "success" ? "0" : "17")
            ),
            (state) => state.count
          )
        }
        assert.strictEqual(yield* count("success", RequestCode.HEART_BEAT), 2)
        assert.strictEqual(yield* count("remote_error", RequestCode.GET_ROUTEINFO_BY_TOPIC), 1)
        assert.strictEqual(yield* count("timeout", RequestCode.PULL_MESSAGE), 1)
        const latency = yield* Metric.value(
          RemotingClient.metrics.latency.pipe(
            Metric.tagged("address", broker.address),
            Metric.tagged("code", String(RequestCode.PULL_MESSAGE))
          )
        )
        assert.strictEqual(latency.count, 1)
        assert.isAtLeast(latency.max, 90)
      })
  )

  live(
    "layerTransport: a client with its own transport, both provided, over the Connector given",
    () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker()
        const context = yield* Layer.build(
          RemotingClient.layerTransport({ host: "127.0.0.1", port: broker.port }).pipe(
            Layer.provide(NodeConnector.layer)
          )
        )
        const client = Context.get(context, RemotingClient.RemotingClient)
        assert.strictEqual(Context.get(context, Transport.Transport), client.transport)
        assert.strictEqual(client.transport.config.maxMessageSize, 16 * 1024 * 1024, "RemotingClient.transportDefaults")
        const answer = yield* client.invoke(request(RequestCode.HEART_BEAT, { body: text("via layer") }))
        assert.strictEqual(readText(answer.body), "via layer")
      })
  )

  live(
    "layer over a transport made elsewhere: a bad frame fails the calls and drops the connection all the same",
    () =>
      Effect.gen(function*() {
        const logs: Array<string> = []
        const logger = Logger.make(({ logLevel, message }) => {
          if (logLevel.label === "WARN") logs.push(Array.isArray(message) ? message.join(" ") : String(message))
        })
        yield* Effect.gen(function*() {
          const broker = yield* makeBroker(silent)
          const context = yield* Layer.build(
            RemotingClient.layer().pipe(
              Layer.provideMerge(
                NodeTransport.layer({ host: "127.0.0.1", port: broker.port, retryInterval: "50 millis" })
              )
            )
          )
          const client = Context.get(context, RemotingClient.RemotingClient)
          const pending = yield* Effect.fork(
            client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "30 seconds" })
          )
          const call = yield* nextFrame(broker)
          yield* call.connection.sendPayload(new Uint8Array([7, 0, 0, 0]))
          const error = yield* Effect.flip(Fiber.join(pending))
          assert.strictEqual(error._tag === "ConnectionError" && error.reason, "Disconnected")
          // Transport.drop ends the connection whoever made the transport; the next call goes on a new one.
          yield* call.connection.closed
          const next = yield* Effect.fork(client.invoke(request(RequestCode.HEART_BEAT), { timeout: "5 seconds" }))
          const beat = yield* Queue.take(broker.received)
          assert.strictEqual(beat.connection.id, 2)
          yield* beat.connection.send(response(beat.command, ResponseCode.SUCCESS))
          assert.strictEqual((yield* Fiber.join(next)).code, ResponseCode.SUCCESS)
          assert.strictEqual(yield* broker.acceptedCount, 2)
        }).pipe(
          Logger.withMinimumLogLevel(LogLevel.Warning),
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
        assert.isTrue(logs.some((l) => /dropping the connection/.test(l)), JSON.stringify(logs))
      })
  )

  describe("closeOnTimeout", () => {
    /** Never answers PULL_MESSAGE nor QUERY_CONSUMER_OFFSET; echoes everything else. */
    const unanswered = new Set<number>([RequestCode.PULL_MESSAGE, RequestCode.QUERY_CONSUMER_OFFSET])
    const script = (received: Received) =>
      unanswered.has(received.command.code) ? Effect.succeed(undefined) : echoScript(received)

    /** Three calls that nobody answers, with a long timeout, written on the connection. */
    const neighbours = (client: RemotingClient.RemotingClientService, broker: MockBroker) =>
      Effect.gen(function*() {
        const calls = yield* Effect.forEach(
          [1, 2, 3],
          (n) =>
            Effect.fork(Effect.either(
              client.invoke(request(RequestCode.QUERY_CONSUMER_OFFSET, { extFields: { n } }), { timeout: "30 seconds" })
            ))
        )
        yield* takeN(broker.received, 3)
        return calls
      })

    live(
      "on: a call that times out waiting for its response drops the connection; the calls pending on it fail at once; the transport reconnects",
      () =>
        Effect.gen(function*() {
          const broker = yield* makeBroker(script)
          const client = yield* makeClient(broker, { closeOnTimeout: true })
          assert.strictEqual((yield* client.invoke(request(RequestCode.HEART_BEAT))).code, ResponseCode.SUCCESS)
          const first = yield* Queue.take(broker.accepted)
          yield* Queue.take(broker.received)
          const pending = yield* neighbours(client, broker)

          const started = Date.now()
          const timedOut = yield* Effect.flip(
            client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "300 millis" })
          )
          assert.strictEqual(timedOut._tag, "RemotingClientError")
          if (timedOut._tag !== "RemotingClientError") return
          assert.strictEqual(timedOut.reason, "Timeout", "the call fails with its own timeout, as without the option")
          assert.strictEqual(timedOut.waitingFor, "response")
          assert.isAtLeast(Date.now() - started, 290)
          for (const result of yield* Fiber.joinAll(pending)) {
            assert.isTrue(Either.isLeft(result))
            if (Either.isRight(result)) continue
            const error = result.left
            assert.strictEqual(error._tag === "ConnectionError" && error.reason, "Disconnected", error.message)
            const cause = (error._tag === "ConnectionError" ? error.cause : undefined) as
              | RemotingClient.RemotingClientError
              | undefined
            assert.strictEqual(cause?._tag, "RemotingClientError", "the drop's cause is the timeout")
            assert.strictEqual(cause?.opaque, timedOut.opaque)
          }
          assert.isBelow(Date.now() - started, 1500, "the neighbours failed at the timeout, not at theirs")
          assert.strictEqual(yield* client.inFlight, 0)
          yield* first.closed.pipe(Effect.timeout("5 seconds"))

          const again = yield* client.invoke(request(RequestCode.HEART_BEAT), { timeout: "5 seconds" })
          assert.strictEqual(again.code, ResponseCode.SUCCESS)
          assert.strictEqual(yield* broker.acceptedCount, 2, "reconnected")
          const drops = yield* Metric.value(
            Metric.tagged(RemotingClient.metrics.timeoutDrops, "address", broker.address)
          )
          assert.strictEqual(drops.count, 1)
        })
    )

    live(
      "off (the default): a timed-out call leaves the connection and the other calls alone",
      () =>
        Effect.gen(function*() {
          const broker = yield* makeBroker(script)
          const client = yield* makeClient(broker)
          const pending = yield* neighbours(client, broker)
          const timedOut = yield* Effect.flip(
            client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "300 millis" })
          )
          assert.strictEqual(timedOut._tag === "RemotingClientError" && timedOut.reason, "Timeout")
          yield* Effect.sleep("200 millis")
          for (const call of pending) assert.isTrue(Option.isNone(yield* Fiber.poll(call)), "still waiting")
          assert.strictEqual(yield* client.inFlight, 3)
          assert.strictEqual((yield* client.invoke(request(RequestCode.HEART_BEAT))).code, ResponseCode.SUCCESS)
          assert.strictEqual(yield* broker.acceptedCount, 1, "one connection throughout")
          yield* Fiber.interruptAll(pending)
        })
    )

    live("on: a call that never got an in-flight slot drops nothing", () =>
      Effect.gen(function*() {
        const broker = yield* makeBroker(script)
        const client = yield* makeClient(broker, { closeOnTimeout: true, maxInFlight: 1 })
        const held = yield* Effect.fork(
          Effect.either(client.invoke(request(RequestCode.QUERY_CONSUMER_OFFSET), { timeout: "30 seconds" }))
        )
        yield* Queue.take(broker.received)
        const limited = yield* Effect.flip(client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "300 millis" }))
        assert.strictEqual(limited._tag === "RemotingClientError" && limited.reason, "InFlightLimit")
        yield* Effect.sleep("200 millis")
        assert.isTrue(Option.isNone(yield* Fiber.poll(held)), "the call holding the slot still waits")
        assert.strictEqual(yield* broker.acceptedCount, 1)
        yield* Fiber.interrupt(held)
      }))

    it.effect("must be a boolean", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          Effect.scoped(
            RemotingClient.makeTransport({ host: "127.0.0.1", port: 1 }, { autoStart: false }).pipe(
              Effect.flatMap((transport) =>
                RemotingClient.make({ transport, closeOnTimeout: "yes" as unknown as boolean })
              ),
              Effect.provideServiceEffect(Connector, NodeConnector.make)
            )
          )
        )
        assert.strictEqual(error._tag, "ConfigurationError")
        assert.strictEqual(error.field, "closeOnTimeout")
      }))
  })

  it.effect("bad options fail with one ConfigurationError naming each", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.scoped(
          RemotingClient.makeTransport({ host: "127.0.0.1", port: 1 }, { autoStart: false }).pipe(
            Effect.flatMap((transport) =>
              RemotingClient.make({ transport, maxInFlight: 0, defaultTimeout: -5, handlerQueueSize: 1.5 })
            ),
            Effect.provideServiceEffect(Connector, NodeConnector.make)
          )
        )
      )
      assert.strictEqual(error._tag, "ConfigurationError")
      assert.deepStrictEqual(error.issues?.map((i) => i.field), ["maxInFlight", "handlerQueueSize", "defaultTimeout"])
      assert.match(error.message, /maxInFlight must be a positive integer, got 0/)
    }))
})
