import { assert, describe, it, vi } from "@effect/vitest"
import { KiB, pattern, sameBytes } from "@rocketmq-effect/test-kit/Bytes"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as NodeTransport from "@rocketmq-effect/transport-node/NodeTransport"
import * as TransportServer from "@rocketmq-effect/transport-node/TransportServer"
import * as TransportModule from "@rocketmq-effect/transport/Transport"
import type { TransportConfigInput } from "@rocketmq-effect/transport/TransportConfig"
import { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TransportSuite from "../../transport/test/TransportSuite.js"
import { unusedPort } from "./PlainPeers.js"
import {
  activeHandles,
  awaitState,
  awaitTcpHandles,
  configFor,
  echoServer,
  hangingPort,
  isConnected,
  live,
  makeTransport,
  recordStates,
  tcpHandles,
  tcpHarness
} from "./TcpFixtures.js"

// ---- 50 fibers × 200 frames: every payload says who sent it, so any mixing or reordering shows -------------

const FIBERS = 50
const FRAMES_PER_FIBER = 200

const sizeOf = (fiber: number, seq: number): number => {
  if (seq === 0) return 1
  if (seq === FRAMES_PER_FIBER - 1) return 64 * KiB
  const x = Math.imul(fiber * FRAMES_PER_FIBER + seq, 0x9e3779b1) >>> 0
  // One frame in twenty is large (up to 64 KiB), the others up to 2 KiB.
  return x % 20 === 0 ? 1 + ((x >>> 8) % (64 * KiB)) : 1 + ((x >>> 8) % (2 * KiB))
}

/** Byte 0: the fiber; bytes 1-2: the sequence number; then a fill that depends on both and on the position. */
const payloadOf = (fiber: number, seq: number): Uint8Array => {
  const size = sizeOf(fiber, seq)
  const bytes = new Uint8Array(size)
  bytes[0] = fiber
  if (size > 1) bytes[1] = seq >>> 8
  if (size > 2) bytes[2] = seq & 0xff
  for (let i = 3; i < size; i++) bytes[i] = (i * 131 + fiber * 17 + seq * 7 + (i >>> 8)) & 0xff
  return bytes
}

describe("NodeTransport", () => {
  // The core's behaviour over real sockets; what follows is what only TCP and Node's layers have.
  TransportSuite.suite(tcpHarness)

  describe("the state diagram, over real sockets", () => {
    live(
      "refused → Disconnected with the cause; a server appears → Connecting → Connected",
      () =>
        Effect.gen(function*() {
          const port = yield* unusedPort
          const transport = yield* makeTransport(yield* configFor(port), { autoStart: false })
          const states = yield* recordStates(transport)
          yield* transport.start
          const refused = yield* states.next((s) => s._tag === "Disconnected" && Option.isSome(s.cause))
          assert.strictEqual(refused._tag, "Disconnected")
          if (refused._tag === "Disconnected") {
            assert.strictEqual(refused.attempts, 1)
            assert.isFalse(refused.exhausted)
            assert.deepStrictEqual(refused.retryIn, Option.some(Duration.millis(50)))
            const cause = Option.getOrThrow(refused.cause)
            assert.strictEqual(cause._tag, "ConnectionError")
            assert.strictEqual(cause._tag === "ConnectionError" && cause.reason, "Connect")
            assert.match(cause.message, /ECONNREFUSED/)
          }
          yield* TransportServer.make({ port }).pipe(Effect.orDie)
          const connected = yield* states.next(isConnected(1))
          assert.strictEqual(connected._tag === "Connected" && connected.address, `127.0.0.1:${port}`)
          // Initial state, then refused attempts, then the one that got through.
          const tags = states.seen.map((s) => s._tag).join(" ")
          assert.match(tags, /^Disconnected Connecting Disconnected (Connecting Disconnected )*Connecting Connected$/)
          const attempts = states.seen.flatMap((s) => s._tag === "Connecting" ? [s.attempt] : [])
          assert.deepStrictEqual(attempts, attempts.map((_, i) => i + 1), "attempts counted from 1")
        })
    )

    live("stop from Connecting → Closed at once; the hanging socket is released", () =>
      Effect.gen(function*() {
        const port = yield* hangingPort
        const baseline = tcpHandles()
        const transport = yield* makeTransport(yield* configFor(port, { connectTimeout: "1 minute" }))
        yield* awaitState(transport, (s) => s._tag === "Connecting")
        yield* eventually(Effect.sync(() => tcpHandles().sockets > baseline.sockets))
        yield* transport.stop.pipe(Effect.timeout("2 seconds"))
        yield* TransportSuite.closedAfterStop(transport)
        yield* awaitTcpHandles(baseline)
      }))
  })

  describe("layerConfig", () => {
    live("layerConfig reads TRANSPORT_* through the ConfigProvider", () =>
      Effect.gen(function*() {
        const server = yield* echoServer()
        const provider = ConfigProvider.fromMap(
          new Map([["TRANSPORT_HOST", "127.0.0.1"], ["TRANSPORT_PORT", String(server.address.port)]])
        )
        const context = yield* Layer.build(NodeTransport.layerConfig()).pipe(
          Effect.withConfigProvider(provider),
          Effect.orDie
        )
        const transport = Context.get(context, NodeTransport.NodeTransport)
        assert.strictEqual(transport.config.address, `127.0.0.1:${server.address.port}`)
        yield* transport.awaitConnected
        yield* transport.send(pattern(10, 1))
        assert.isTrue(sameBytes(yield* transport.recvPkg(), pattern(10, 1)))
      }))
  })

  describe("layerConfig and typos", () => {
    it.effect("a TRANSPORT_* variable that is none it reads fails the layer, naming the closest one", () =>
      Effect.gen(function*() {
        const provider = ConfigProvider.fromMap(
          new Map([
            ["TRANSPORT_HOST", "127.0.0.1"],
            ["TRANSPORT_PROT", "10911"],
            ["TRANSPORT_IDLE_TIMOUT", "5"],
            ["TRANSPORT_TLS_SERVER_NAME", "broker"]
          ]),
          { pathDelim: "_" }
        )
        const error = yield* Effect.flip(
          Layer.build(NodeTransport.layerConfig()).pipe(
            Effect.withConfigProvider(provider),
            Effect.scoped
          )
        )
        assert.strictEqual(error._tag, "ConfigurationError")
        assert.include(
          error.message,
          "TRANSPORT_IDLE_TIMOUT is not a variable the transport reads: did you mean TRANSPORT_IDLE_TIMEOUT?"
        )
        assert.include(
          error.message,
          "TRANSPORT_PROT is not a variable the transport reads: did you mean TRANSPORT_PORT?"
        )
        assert.notInclude(error.message, "TRANSPORT_TLS_SERVER_NAME is not", "the TLS variables are known")
      }))

    it.effect("from the process environment too; a variable far from every name gets no guess", () =>
      Effect.gen(function*() {
        const before = { ...process.env }
        process.env["TRANSPORT_PROT"] = "10911"
        process.env["TRANSPORT_SOMETHING_ELSE"] = "x"
        try {
          const error = yield* Effect.flip(
            Layer.build(NodeTransport.layerConfig()).pipe(
              Effect.withConfigProvider(ConfigProvider.fromEnv()),
              Effect.scoped
            )
          )
          assert.strictEqual(error._tag, "ConfigurationError")
          assert.include(error.message, "did you mean TRANSPORT_PORT?")
          assert.include(error.message, "TRANSPORT_SOMETHING_ELSE is not a variable the transport reads")
          assert.notInclude(error.message, "TRANSPORT_SOMETHING_ELSE is not a variable the transport reads:")
        } finally {
          for (const key of Object.keys(process.env)) if (!(key in before)) delete process.env[key]
        }
      }))
  })

  describe("plain input", () => {
    live("layer({ host, port, … }) validates the fields and connects", () =>
      Effect.gen(function*() {
        const server = yield* echoServer()
        const context = yield* Layer.build(
          NodeTransport.layer({
            host: "127.0.0.1",
            port: server.address.port,
            retryInterval: "1 second",
            maxRetries: 5
          })
        )
        const transport = Context.get(context, NodeTransport.NodeTransport)
        assert.strictEqual(Context.get(context, TransportModule.Transport), transport)
        assert.strictEqual(transport.config.address, `127.0.0.1:${server.address.port}`)
        assert.isTrue(Duration.equals(transport.config.retryInterval, Duration.seconds(1)))
        assert.strictEqual(transport.config.maxRetries, 5)
        yield* transport.awaitConnected
        yield* transport.send(pattern(100, 4))
        assert.isTrue(sameBytes(yield* transport.recvPkg(), pattern(100, 4)))
      }))

    live(
      "bad fields fail the layer with one ConfigurationError naming each, before any connection",
      () =>
        Effect.gen(function*() {
          const baseline = tcpHandles()
          const error = yield* Effect.flip(
            Layer.build(NodeTransport.layer({ host: "127.0.0.1", port: 70000, timeout: -1 }))
          )
          assert.strictEqual(error._tag, "ConfigurationError")
          assert.strictEqual(error.field, "port")
          assert.strictEqual(error.value, 70000)
          assert.include(error.message, "port must be an integer from 0 to 65535, got 70000")
          assert.include(error.message, "timeout must be a positive, finite duration, got -1")
          assert.isAtMost(tcpHandles().sockets, baseline.sockets, "no connection was attempted")

          const unknown = yield* Effect.flip(
            Layer.build(NodeTransport.layer({ host: "127.0.0.1", prot: 1 } as Partial<TransportConfigInput>))
          )
          assert.strictEqual(unknown.field, "prot")
          assert.strictEqual(unknown.rule, "is not a configuration key")
        })
    )
  })

  live(
    "50 fibers × 200 frames of 1 B..64 KiB: every echo intact, unmixed, in per-fiber order",
    () =>
      Effect.gen(function*() {
        const server = yield* echoServer()
        const transport = yield* makeTransport(yield* configFor(server.address.port, { timeout: "20 seconds" }))
        yield* transport.awaitConnected
        const nextSeq = new Array<number>(FIBERS).fill(0)
        const check = (frame: Uint8Array) =>
          Effect.suspend(() => {
            if (frame.length === 0) return Effect.dieMessage("empty echo")
            const fiber = frame[0]!
            if (fiber >= FIBERS) return Effect.dieMessage(`echo names fiber ${fiber}`)
            const seq = nextSeq[fiber]!
            if (!sameBytes(frame, payloadOf(fiber, seq))) {
              return Effect.dieMessage(`fiber ${fiber}: echo of ${frame.length} bytes is not frame ${seq}`)
            }
            nextSeq[fiber] = seq + 1
            return Effect.void
          })
        const receiver = yield* transport.frames.pipe(
          Stream.take(FIBERS * FRAMES_PER_FIBER),
          Stream.runForEach(check),
          Effect.fork
        )
        yield* Effect.forEach(
          Array.from({ length: FIBERS }, (_, fiber) => fiber),
          (fiber) =>
            Effect.forEach(
              Array.from({ length: FRAMES_PER_FIBER }, (_, seq) => seq),
              (seq) => transport.send(payloadOf(fiber, seq)),
              { discard: true }
            ),
          { concurrency: "unbounded", discard: true }
        )
        yield* Fiber.join(receiver).pipe(Effect.timeout("20 seconds"))
        assert.deepStrictEqual(nextSeq, new Array<number>(FIBERS).fill(FRAMES_PER_FIBER))
        assert.isTrue(isConnected(1)(yield* transport.state), "one connection throughout")
      }),
    30_000
  )

  describe("stop", () => {
    live(
      "under load: stop returns; every send in flight succeeds or fails ConnectionClosedError",
      () =>
        Effect.gen(function*() {
          const server = yield* echoServer()
          const transport = yield* makeTransport(
            yield* configFor(server.address.port, { timeout: "1 minute" }),
            { outboundBufferBytes: 256 * KiB, inboundBufferBytes: 256 * KiB }
          )
          yield* transport.awaitConnected
          let done = 0
          // Nobody reads the echoes: the transport stops reading, the server stops echoing and reading, and the
          // sends back up into the outbox.
          const sends = yield* Effect.forEach(
            Array.from({ length: 400 }, (_, i) => i),
            (i) =>
              transport.send(pattern(64 * KiB, i)).pipe(
                Effect.tap(() => Effect.sync(() => done++)),
                Effect.exit
              ),
            { concurrency: "unbounded" }
          ).pipe(Effect.fork)
          yield* eventually(Effect.sync(() => done > 0)).pipe(Effect.timeout("5 seconds"))
          yield* transport.stop.pipe(Effect.timeout("2 seconds"))
          const exits = yield* Fiber.join(sends).pipe(Effect.timeout("2 seconds"))
          const failures = exits.flatMap((exit) => Exit.isFailure(exit) ? [exit] : [])
          assert.isAbove(failures.length, 0, "some sends were still pending")
          for (const exit of failures) {
            const error = Option.getOrThrow(Cause.failureOption(exit.cause))
            assert.strictEqual(error._tag, "ConnectionClosedError")
          }
          yield* TransportSuite.closedAfterStop(transport)
        })
    )

    live(
      "after the scope closes nothing keeps the process alive: no socket, server or timer",
      () =>
        Effect.gen(function*() {
          const baseline = tcpHandles()
          const timers = () => activeHandles()["Timeout"] ?? 0
          const baselineTimers = timers()
          const scope = yield* Scope.make()
          yield* Effect.gen(function*() {
            const server = yield* echoServer()
            const config = yield* configFor(server.address.port, { idleTimeout: "1 minute" })
            const transports = yield* Effect.forEach([1, 2, 3], () => makeTransport(config), {
              concurrency: "unbounded"
            })
            for (const transport of transports) {
              yield* transport.awaitConnected
              yield* transport.send(pattern(10))
              yield* transport.recvPkg()
            }
            // One left waiting on a receive, one waiting to retry a refused port.
            yield* Effect.forkIn(transports[0]!.recvPkg({ timeout: Duration.infinity }), scope)
            yield* makeTransport(yield* configFor(yield* unusedPort, { retryInterval: "1 minute" }))
            assert.isAbove(tcpHandles().sockets, baseline.sockets)
            assert.isAbove(tcpHandles().servers, baseline.servers)
            assert.isAbove(timers(), baselineTimers, "idle and retry timers are running")
          }).pipe(Scope.extend(scope))
          yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("5 seconds"))
          yield* awaitTcpHandles(baseline)
          // Read outside any Effect timer of the test's own: the idle and retry timers (one minute) are gone.
          yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
          assert.isAtMost(timers(), baselineTimers, "timers left behind")
        })
    )
  })

  live("1,000 connections opened and closed, 50 at a time: no socket left behind", () =>
    Effect.gen(function*() {
      const baseline = tcpHandles()
      const server = yield* echoServer()
      const config = yield* configFor(server.address.port)
      for (let batch = 0; batch < 20; batch++) {
        yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => batch * 50 + i),
          (n) =>
            Effect.gen(function*() {
              const transport = yield* makeTransport(config)
              yield* transport.awaitConnected
              yield* transport.send(pattern(16, n))
              assert.isTrue(sameBytes(yield* transport.recvPkg(), pattern(16, n)))
            }).pipe(Effect.scoped),
          { concurrency: "unbounded", discard: true }
        )
      }
      yield* eventually(Effect.sync(() => Effect.runSync(server.connectionCount) === 0)).pipe(
        Effect.timeout("5 seconds")
      )
      // Only the server's listening handle remains.
      yield* awaitTcpHandles({ sockets: baseline.sockets, servers: baseline.servers + 1 })
    }), 60_000)

  describe("the Promise API (makeClient)", () => {
    it("connects, round-trips, reports states, iterates frames until stop, rejects with tagged errors", async () => {
      const scope = Effect.runSync(Scope.make())
      try {
        const server = await Effect.runPromise(Scope.extend(echoServer(), scope))
        const config = await Effect.runPromise(configFor(server.address.port))
        const client = await NodeTransport.makeClient(config, { autoStart: false })
        const states: Array<string> = []
        const unsubscribe = client.onStateChange((state) => states.push(state._tag))
        await client.start()
        const connected = await client.awaitConnected()
        assert.strictEqual(connected.generation, 1)
        assert.isTrue(await client.isConnected())

        await client.send(pattern(1000, 1))
        assert.isTrue(sameBytes(await client.recvPkg(), pattern(1000, 1)))

        await client.send(pattern(10, 2))
        await client.send(pattern(0))
        const received: Array<Uint8Array> = []
        const iterating = (async () => {
          for await (const frame of client.frames()) {
            received.push(frame)
            if (received.length === 2) void client.stop()
          }
        })()
        await Promise.race([
          iterating,
          new Promise((_, reject) => setTimeout(() => reject(new Error("for await did not end")), 5000))
        ])
        assert.strictEqual(received.length, 2)
        assert.isTrue(sameBytes(received[0]!, pattern(10, 2)))
        assert.strictEqual(received[1]!.length, 0)
        await client.stop()
        assert.strictEqual((await client.state().catch((error: unknown) => error) as { _tag?: string })._tag, "Closed")
        unsubscribe()
        assert.deepStrictEqual(states, ["Disconnected", "Connecting", "Connected", "Closed"])

        const rejected = await client.send(pattern(1)).then(() => undefined, (error: unknown) => error)
        assert.strictEqual((rejected as { _tag?: string })._tag, "ConnectionClosedError")
      } finally {
        await Effect.runPromise(Scope.close(scope, Exit.void))
      }
    }, 15_000)

    it(
      "takes plain input; logs nothing by default, every transition with logLevel \"Debug\", to standard error",
      async () => {
        const scope = Effect.runSync(Scope.make())
        const lines: Array<string> = []
        const stdout: Array<string> = []
        const spies = [
          vi.spyOn(console, "error").mockImplementation((...args: Array<unknown>) => {
            lines.push(args.map(String).join(" "))
          }),
          vi.spyOn(console, "log").mockImplementation((...args: Array<unknown>) => {
            stdout.push(args.map(String).join(" "))
          })
        ]
        try {
          const server = await Effect.runPromise(Scope.extend(echoServer(), scope))
          const input = { host: "127.0.0.1", port: server.address.port, timeout: "5 seconds" } as const
          // No logLevel; logLevel in the options; logLevel among the config's fields.
          type Fields = Parameters<typeof NodeTransport.makeClient>[0]
          const ways: ReadonlyArray<readonly [Fields, NodeTransport.ClientOptions | undefined]> = [
            [input, undefined],
            [input, { logLevel: "Debug" }],
            [{ ...input, logLevel: "Debug" }, undefined]
          ]
          for (const [fields, options] of ways) {
            const client = await NodeTransport.makeClient(fields, options)
            assert.strictEqual(client.config.address, `127.0.0.1:${server.address.port}`)
            await client.awaitConnected()
            await client.send(pattern(10, 5))
            assert.isTrue(sameBytes(await client.recvPkg(), pattern(10, 5)))
            await client.stop()
            if (fields === input && options === undefined) {
              assert.deepStrictEqual(
                lines,
                [],
                "a healthy run prints nothing"
              )
            }
          }
          assert.strictEqual(lines.length, 6, lines.join("\n"))
          for (const at of [0, 3]) {
            assert.include(lines[at], "level=DEBUG")
            assert.include(lines[at], `connecting to 127.0.0.1:${server.address.port} (attempt 1)`)
            assert.include(lines[at + 1], "connected to")
            assert.include(lines[at + 2], "closed")
          }
          assert.deepStrictEqual(stdout, [], "standard output is the program's")
        } finally {
          for (const spy of spies) spy.mockRestore()
          await Effect.runPromise(Scope.close(scope, Exit.void))
        }
      },
      15_000
    )

    it("rejects bad plain input with a ConfigurationError naming each field", async () => {
      const error = await NodeTransport.makeClient({ host: "127.0.0.1", port: 70000, connectTimeout: "-1 seconds" })
        .then(() => undefined, (error: unknown) => error)
      assert.instanceOf(error, ConfigurationError)
      if (error instanceof ConfigurationError) {
        assert.strictEqual(error.field, "port")
        assert.include(error.message, "port must be an integer from 0 to 65535, got 70000")
        assert.include(error.message, "connectTimeout must be a positive, finite duration, got \"-1 seconds\"")
      }
    })

    it("a rejected receive carries the error's _tag and reason", async () => {
      const port = await Effect.runPromise(unusedPort)
      const config = await Effect.runPromise(configFor(port, { maxRetries: 0 }))
      // Here connecting failing is the point of the test, so the client logs errors only.
      const client = await NodeTransport.makeClient(config, { logLevel: "Error" })
      try {
        const error = await client.awaitConnected().then(() => undefined, (error: unknown) => error)
        assert.strictEqual((error as { _tag?: string })._tag, "ConnectionError")
        assert.strictEqual((error as { reason?: string }).reason, "RetriesExhausted")
        const receive = await client.recvPkg().then(() => undefined, (error: unknown) => error)
        assert.strictEqual((receive as { reason?: string }).reason, "NotConnected")
      } finally {
        await client.stop()
      }
    }, 15_000)
  })
})
