import { afterEach, assert, describe, it, vi } from "@effect/vitest"
import { text } from "@rocketmq-effect/test-kit/Bytes"
import * as Timeline from "@rocketmq-effect/test-kit/Timeline"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Connector from "../src/Connector.js"
import * as TestConnector from "../src/TestConnector.js"
import * as Transport from "../src/Transport.js"
import * as TransportClient from "../src/TransportClient.js"
import * as TransportConfig from "../src/TransportConfig.js"

const decodeText = (b: Uint8Array) => new TextDecoder().decode(b)

interface Entry {
  readonly level: LogLevel.LogLevel
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A logger in place of the default one that keeps every entry it is given. */
const captureLogs = () => {
  const entries: Array<Entry> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    entries.push({
      level: logLevel,
      message: Array.isArray(message) ? message.map(String).join(" ") : String(message),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return { entries, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const atLeast = (level: LogLevel.LogLevel) => (entry: Entry) => LogLevel.greaterThanEqual(entry.level, level)

const setup = (input: Partial<TransportConfig.TransportConfigInput> = {}) =>
  Effect.gen(function*() {
    const [connector, peer] = yield* TestConnector.make
    const config = yield* TransportConfig.make({ host: "broker", port: 9876, ...input })
    const transport = yield* Transport.make(config).pipe(Effect.provideService(Connector.Connector, connector))
    return { transport, peer }
  })

/** Connect, one round trip, stop: what a healthy program does. */
const healthyRun = Effect.gen(function*() {
  const { peer, transport } = yield* setup()
  const conn = yield* peer.accepted
  yield* transport.awaitConnected
  yield* transport.send(text("ping"))
  assert.strictEqual(decodeText(yield* conn.takeFrame), "ping")
  yield* conn.pushFrame(text("pong"))
  assert.strictEqual(decodeText(yield* transport.recvPkg()), "pong")
  yield* transport.stop
})

describe("Transport setup", () => {
  describe("logging", () => {
    it.scoped("a healthy connect, send, receive and stop logs nothing at Info or above", () => {
      const logs = captureLogs()
      return Effect.gen(function*() {
        yield* healthyRun
        assert.deepStrictEqual(logs.entries.filter(atLeast(LogLevel.Info)), [])
        assert.deepStrictEqual(logs.entries, [])
      }).pipe(Effect.provide(logs.layer))
    })

    it.scoped("every transition is logged at Debug, annotated with address and generation", () => {
      const logs = captureLogs()
      return Effect.gen(function*() {
        yield* healthyRun
        assert.deepStrictEqual(logs.entries.map((entry) => entry.message), [
          "connecting to broker:9876 (attempt 1)",
          "connected to broker:9876 (generation 1)",
          "closed"
        ])
        for (const entry of logs.entries) {
          assert.strictEqual(entry.level._tag, "Debug", entry.message)
          assert.strictEqual(entry.annotations["address"], "broker:9876")
        }
        assert.deepStrictEqual(logs.entries.map((entry) => entry.annotations["generation"]), [0, 1, 1])
      }).pipe(Logger.withMinimumLogLevel(LogLevel.Debug), Effect.provide(logs.layer))
    })

    it.scoped("a failing connect is a Warning at the first failure, then at most once a minute; coming up is Info", () => {
      const logs = captureLogs()
      return Effect.gen(function*() {
        const { peer, transport } = yield* setup({ retryInterval: "10 seconds" })
        yield* peer.setDefault("refuse")
        const warnings = () => logs.entries.filter(atLeast(LogLevel.Warning))
        yield* Timeline.first(transport.changes, (state) => state._tag === "Disconnected" && state.attempts === 1)
        assert.strictEqual(warnings().length, 1, "at the first failure, without waiting")
        const [first] = warnings()
        assert.strictEqual(first!.level._tag, "Warning")
        assert.include(first!.message, "cannot connect to broker:9876 (1 failed attempt so far)")
        assert.include(first!.message, "could not connect to broker:9876")
        assert.include(first!.message, "retrying in 10s")
        assert.strictEqual(first!.annotations["address"], "broker:9876")
        // Attempts every 10 s for 3 minutes: 18 more failures, a Warning at 60, 120 and 180 s only.
        for (let i = 0; i < 18; i++) {
          yield* TestClock.adjust("10 seconds")
          yield* Timeline.first(transport.changes, (state) => state._tag === "Disconnected" && state.attempts === i + 2)
        }
        assert.deepStrictEqual(
          warnings().map((entry) => /\((\d+) failed attempts? so far\)/.exec(entry.message)?.[1]),
          ["1", "7", "13", "19"]
        )
        yield* peer.setDefault("accept")
        yield* TestClock.adjust("10 seconds")
        yield* transport.awaitConnected
        const info = logs.entries.filter((entry) => entry.level._tag === "Info")
        assert.deepStrictEqual(info.map((entry) => entry.message), [
          "connected to broker:9876 after 19 failed attempts"
        ])
      }).pipe(Effect.provide(logs.layer))
    })

    it.scoped("giving up is Debug: the callers get RetriesExhausted; the failure before it was a Warning", () => {
      const logs = captureLogs()
      return Effect.gen(function*() {
        const { peer, transport } = yield* setup({ maxRetries: 1, retryInterval: 0 })
        yield* peer.setDefault("refuse")
        const error = yield* Effect.flip(transport.awaitConnected)
        assert.strictEqual(error._tag === "ConnectionError" && error.reason, "RetriesExhausted")
        const warnings = logs.entries.filter(atLeast(LogLevel.Warning))
        assert.deepStrictEqual(warnings.map((entry) => entry.message), [
          "cannot connect to broker:9876 (1 failed attempt so far): could not connect to broker:9876: connection refused by the test peer; retrying now"
        ])
        const debug = logs.entries.filter((entry) => entry.level._tag === "Debug").map((entry) => entry.message)
        assert.include(debug, "connecting to broker:9876 (attempt 2)")
        assert.isTrue(debug.some((message) => message.includes("retries exhausted")), debug.join("\n"))
      }).pipe(Logger.withMinimumLogLevel(LogLevel.Debug), Effect.provide(logs.layer))
    })

    it.scoped("with no retries, the one failure is only the caller's: nothing at Warning", () => {
      const logs = captureLogs()
      return Effect.gen(function*() {
        const { peer, transport } = yield* setup({ maxRetries: 0 })
        yield* peer.setDefault("refuse")
        const error = yield* Effect.flip(transport.awaitConnected)
        assert.strictEqual(error._tag === "ConnectionError" && error.reason, "RetriesExhausted")
        assert.deepStrictEqual(logs.entries.filter(atLeast(LogLevel.Info)), [])
      }).pipe(Effect.provide(logs.layer))
    })

    it.scoped("a peer's invalid frame is a Warning, even at the default level", () => {
      const logs = captureLogs()
      return Effect.gen(function*() {
        const { peer, transport } = yield* setup()
        const conn = yield* peer.accepted
        yield* transport.awaitConnected
        yield* conn.push(text("GET / HTTP/1.1\r\n"))
        yield* Timeline.first(transport.changes, (state) => state._tag === "Disconnected" && Option.isSome(state.cause))
        assert.strictEqual(logs.entries.length, 1)
        const [warning] = logs.entries
        assert.strictEqual(warning!.level._tag, "Warning")
        assert.include(warning!.message, "sent an invalid frame")
        assert.include(warning!.message, "looks like HTTP/1")
        assert.strictEqual(warning!.annotations["address"], "broker:9876")
        assert.strictEqual(warning!.annotations["generation"], 1)
      }).pipe(Effect.provide(logs.layer))
    })
  })

  describe("layer", () => {
    it.scoped("takes the fields TransportConfig.make accepts", () =>
      Effect.gen(function*() {
        const context = yield* Layer.build(
          Transport.layer({ host: "broker", port: 9876, retryInterval: "1 second" }).pipe(
            Layer.provideMerge(TestConnector.layer)
          )
        )
        const transport = Context.get(context, Transport.Transport)
        const peer = Context.get(context, TestConnector.TestPeer)
        assert.strictEqual(transport.config.address, "broker:9876")
        assert.strictEqual(transport.config.maxRetries, TransportConfig.DEFAULT.maxRetries)
        const conn = yield* peer.accepted
        yield* transport.awaitConnected
        yield* transport.send(text("hello"))
        assert.strictEqual(decodeText(yield* conn.takeFrame), "hello")
      }))

    it.scoped("fails with one ConfigurationError naming every bad field; makes no attempt", () =>
      Effect.gen(function*() {
        const [connector, peer] = yield* TestConnector.make
        const error = yield* Effect.flip(
          Layer.build(
            Transport.layer({ host: "broker", port: 70000, timeout: -1 }).pipe(
              Layer.provide(Layer.succeed(Connector.Connector, connector))
            )
          )
        )
        assert.strictEqual(error._tag, "ConfigurationError")
        assert.strictEqual(error.field, "port")
        assert.include(error.message, "port must be an integer from 0 to 65535, got 70000")
        assert.include(error.message, "timeout must be a positive, finite duration, got -1")
        assert.deepStrictEqual(yield* peer.attempts, [])
      }))

    it.scoped("still takes a TransportConfig, which cannot fail", () =>
      Effect.gen(function*() {
        const config = yield* TransportConfig.make({ host: "broker", port: 1 })
        const layer: Layer.Layer<Transport.Transport, never, Connector.Connector> = Transport.layer(config)
        const context = yield* Layer.build(layer.pipe(Layer.provideMerge(TestConnector.layer)))
        assert.strictEqual(Context.get(context, Transport.Transport).config, config)
      }))
  })

  describe("TransportClient logLevel", () => {
    // What the client logs goes to standard error (`lines`); standard output (`stdout`) stays the program's.
    let lines: Array<string> = []
    let stdout: Array<string> = []
    const captureConsole = () => {
      lines = []
      stdout = []
      vi.spyOn(console, "error").mockImplementation((...args: Array<unknown>) => {
        lines.push(args.map(String).join(" "))
      })
      vi.spyOn(console, "log").mockImplementation((...args: Array<unknown>) => {
        stdout.push(args.map(String).join(" "))
      })
    }
    afterEach(() => {
      vi.restoreAllMocks()
    })

    const roundTrip = async (options?: TransportClient.Options) => {
      const [connector, peer] = Effect.runSync(TestConnector.make)
      const layer = Transport.layer({ host: "broker", port: 9876 }).pipe(
        Layer.provide(Layer.succeed(Connector.Connector, connector))
      )
      const client = await TransportClient.make(layer, options)
      await client.awaitConnected()
      const conn = await Effect.runPromise(peer.accepted)
      await client.send(text("ping"))
      await Effect.runPromise(Effect.flatMap(conn.takeFrame, conn.pushFrame))
      assert.strictEqual(decodeText(await client.recvPkg()), "ping")
      await client.stop()
    }

    it("prints nothing for a healthy run by default", async () => {
      captureConsole()
      await roundTrip()
      await roundTrip({})
      assert.deepStrictEqual(lines, [])
    })

    for (const logLevel of ["Debug", LogLevel.Debug] as const) {
      it(`logLevel ${typeof logLevel === "string" ? `"Debug"` : "LogLevel.Debug"} prints every transition`, async () => {
        captureConsole()
        await roundTrip({ logLevel })
        assert.strictEqual(lines.length, 3, lines.join("\n"))
        for (const line of lines) {
          assert.include(line, "level=DEBUG")
          assert.include(line, "address=broker:9876")
        }
        assert.include(lines[0], "connecting to broker:9876 (attempt 1)")
        assert.include(lines[1], "connected to broker:9876 (generation 1)")
        assert.include(lines[2], "closed")
        assert.deepStrictEqual(stdout, [], "nothing on standard output")
      })
    }

    it("warns on standard error that connecting fails, not that it gave up (that it rejects with); \"None\" is silent", async () => {
      const giveUp = async (
        input: Partial<TransportConfig.TransportConfigInput>,
        options?: TransportClient.Options
      ) => {
        const [connector, peer] = Effect.runSync(TestConnector.make)
        Effect.runSync(peer.setDefault("refuse"))
        const layer = Transport.layer({ host: "broker", port: 9876, ...input }).pipe(
          Layer.provide(Layer.succeed(Connector.Connector, connector))
        )
        const client = await TransportClient.make(layer, options)
        const error = await client.awaitConnected().then(() => undefined, (error: unknown) => error)
        assert.strictEqual((error as { reason?: string }).reason, "RetriesExhausted")
        await client.stop()
      }
      captureConsole()
      await giveUp({ maxRetries: 0 })
      assert.deepStrictEqual([...lines, ...stdout], [], "the rejection says it all")
      await giveUp({ maxRetries: 2, retryInterval: 0 })
      assert.strictEqual(lines.length, 1, lines.join("\n"))
      assert.include(lines[0], "level=WARN")
      assert.include(lines[0], "cannot connect to broker:9876 (1 failed attempt so far)")
      assert.deepStrictEqual(stdout, [])
      lines.length = 0
      await giveUp({ maxRetries: 2, retryInterval: 0 }, { logLevel: "None" })
      assert.deepStrictEqual([...lines, ...stdout], [])
    })

    it("awaitConnected({ timeout }) rejects with TimeoutError when no connection comes in time", async () => {
      const [connector, peer] = Effect.runSync(TestConnector.make)
      Effect.runSync(peer.setDefault("hang"))
      const layer = Transport.layer({ host: "broker", port: 9876, connectTimeout: "1 minute" }).pipe(
        Layer.provide(Layer.succeed(Connector.Connector, connector))
      )
      const client = await TransportClient.make(layer)
      const started = Date.now()
      const error = await client.awaitConnected({ timeout: "100 millis" }).then(() => undefined, (e: unknown) => e)
      assert.strictEqual((error as { _tag?: string })._tag, "TimeoutError")
      assert.strictEqual((error as { operation?: string }).operation, "awaitConnected")
      assert.isBelow(Date.now() - started, 5_000)
      await client.stop()
    })

    it("rejects with the layer's ConfigurationError for bad input", async () => {
      const [connector] = Effect.runSync(TestConnector.make)
      const layer = Transport.layer({ host: "", port: 9876 }).pipe(
        Layer.provide(Layer.succeed(Connector.Connector, connector))
      )
      const error = await TransportClient.make(layer).then(() => undefined, (error: unknown) => error)
      assert.strictEqual((error as { _tag?: string })._tag, "ConfigurationError")
      assert.strictEqual((error as { field?: string }).field, "host")
    })
  })
})
