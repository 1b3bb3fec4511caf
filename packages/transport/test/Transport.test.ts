import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as ConnectionState from "../src/ConnectionState.js"
import * as Connector from "../src/Connector.js"
import * as Framing from "../src/Framing.js"
import * as TestConnector from "../src/TestConnector.js"
import * as Transport from "../src/Transport.js"
import * as TransportConfig from "../src/TransportConfig.js"

const bytes = (...values: Array<number>) => new Uint8Array(values)
const text = (s: string) => new TextEncoder().encode(s)
const decodeText = (b: Uint8Array) => new TextDecoder().decode(b)

const setup = (
  input: Partial<TransportConfig.TransportConfigInput> = {},
  options?: Transport.Options,
  script?: (peer: TestConnector.TestPeerService) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    const [connector, peer] = yield* TestConnector.make
    if (script) yield* script(peer)
    const config = yield* TransportConfig.make({ host: "broker", port: 9876, ...input })
    const transport = yield* Transport.make(config, options).pipe(
      Effect.provideService(Connector.Connector, connector)
    )
    return { transport, peer, config }
  })

// Lets the supervisor and reader fibers run until they wait on something again.
const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
})

const stateTag = (transport: Transport.TransportService) => Effect.map(transport.state, (s) => s._tag)

describe("Transport", () => {
  describe("connecting", () => {
    it.scoped("connects when made and exchanges frames both ways", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup()
        const conn = yield* peer.accepted
        const connected = yield* transport.awaitConnected
        assert.strictEqual(connected.generation, 1)
        assert.strictEqual(connected.address, "broker:9876")
        assert.isTrue(yield* transport.isConnected)

        yield* transport.send(text("hello"))
        assert.strictEqual(decodeText(yield* conn.takeFrame), "hello")
        yield* transport.output(Framing.encodeHeader(0))
        assert.strictEqual((yield* conn.takeFrame).length, 0)

        yield* conn.pushFrame(text("world"))
        assert.strictEqual(decodeText(yield* transport.recvPkg()), "world")
        // An empty frame is an empty payload, never end of stream.
        yield* conn.pushFrame(new Uint8Array(0))
        assert.strictEqual((yield* transport.recvPkg()).length, 0)
      }))

    it.scoped("sendAll writes a batch in order as one write, or nothing when one payload is too large", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({ maxMessageSize: 8 })
        const conn = yield* peer.accepted
        yield* transport.awaitConnected
        yield* transport.sendAll([text("a"), new Uint8Array(0), text("ccc")])
        assert.strictEqual(decodeText(yield* conn.takeFrame), "a")
        assert.strictEqual((yield* conn.takeFrame).length, 0)
        assert.strictEqual(decodeText(yield* conn.takeFrame), "ccc")
        const error = yield* Effect.flip(transport.sendAll([text("ok"), new Uint8Array(9)]))
        assert.strictEqual(error._tag, "FrameTooLargeError")
        yield* transport.sendAll([])
        assert.strictEqual((yield* conn.written).length, 4 + 1 + 4 + 4 + 3)
      }))

    it.scoped("large payloads are written from the caller's buffer, small ones framed together, all in order", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({ maxMessageSize: 1 << 20 })
        const conn = yield* peer.accepted
        yield* transport.awaitConnected
        const payloads = [
          new Uint8Array(10).fill(1),
          new Uint8Array(100_000).fill(2),
          new Uint8Array(0),
          new Uint8Array(40_000).fill(3),
          new Uint8Array(5).fill(4)
        ]
        yield* transport.sendAll(payloads)
        yield* transport.send(new Uint8Array(70_000).fill(5))
        for (const expected of [...payloads, new Uint8Array(70_000).fill(5)]) {
          assert.deepStrictEqual(yield* conn.takeFrame, expected)
        }
      }))

    it.scoped("reads a raw prefix with recv, then frames, from one ordered sequence", () =>
      Effect.gen(function*() {
        // The raw prefix is not a length: lengths are checked when a receive reaches them.
        const { peer, transport } = yield* setup({}, { checkLengthsOnArrival: false })
        const conn = yield* peer.accepted
        yield* transport.awaitConnected
        const frame = Framing.encodeHeader(3)
        yield* conn.push(bytes(0xca, 0xfe, ...frame, 1, 2))
        assert.deepStrictEqual(yield* transport.recv(2), bytes(0xca, 0xfe))
        const pending = yield* Effect.fork(transport.recvPkg())
        yield* settle
        yield* conn.push(bytes(3))
        assert.deepStrictEqual(yield* Fiber.join(pending), bytes(1, 2, 3))
      }))

    it.scoped("publishes each transition once, in the seed's order", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup(
          { retryInterval: "1 second" },
          { autoStart: false },
          (peer) => peer.next("refuse")
        )
        const seen = yield* transport.changes.pipe(Stream.take(5), Stream.runCollect, Effect.fork)
        yield* settle
        yield* transport.start
        yield* settle
        yield* TestClock.adjust("1 second")
        const conn = yield* peer.accepted
        yield* transport.awaitConnected
        yield* conn.close
        const states = Chunk.toArray(yield* Fiber.join(seen))
        assert.deepStrictEqual(states.map((s) => s._tag), [
          "Disconnected",
          "Connecting",
          "Disconnected",
          "Connecting",
          "Connected"
        ])
        assert.strictEqual(states[1]?._tag === "Connecting" && states[1].attempt, 1)
        assert.strictEqual(states[3]?._tag === "Connecting" && states[3].attempt, 2)
        const failed = states[2]!
        assert.isTrue(failed._tag === "Disconnected" && Option.isSome(failed.cause))
        assert.deepStrictEqual(failed._tag === "Disconnected" && failed.retryIn, Option.some(Duration.seconds(1)))
      }))
  })

  describe("reconnecting on a Schedule", () => {
    it.scoped("retryInterval 5 s and maxRetries 3 against a refusing peer: attempts at 0, 5, 10, 15 s", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup(
          { retryInterval: "5 seconds", maxRetries: 3 },
          undefined,
          (peer) => peer.setDefault("refuse")
        )
        const waiting = yield* Effect.fork(Effect.exit(transport.awaitConnected))
        for (let i = 0; i < 4; i++) {
          yield* settle
          yield* TestClock.adjust("5 seconds")
        }
        yield* settle
        assert.deepStrictEqual((yield* peer.attempts).map((a) => a.at), [0, 5000, 10000, 15000])
        const state = yield* transport.state
        assert.strictEqual(state._tag, "Disconnected")
        if (state._tag === "Disconnected") {
          assert.isTrue(state.exhausted)
          assert.strictEqual(state.attempts, 4)
          assert.isTrue(Option.isNone(state.retryIn))
        }
        const exit = yield* Fiber.join(waiting)
        assert.isTrue(Exit.isFailure(exit), "a waiting awaitConnected fails when retries are exhausted")
        const failure = yield* Effect.flip(transport.awaitConnected)
        assert.strictEqual(failure._tag, "ConnectionError")
        assert.strictEqual(failure._tag === "ConnectionError" && failure.reason, "RetriesExhausted")
        assert.include(failure.message, "after 4 attempts")
        const sendError = yield* Effect.flip(transport.send(text("x")))
        assert.strictEqual(sendError._tag === "ConnectionError" && sendError.reason, "NotConnected")
        // Nothing more happens, however long we wait.
        yield* TestClock.adjust("1 hour")
        assert.strictEqual((yield* peer.attempts).length, 4)
      }))

    it.scoped("maxRetries 0 makes one attempt; start after exhaustion starts a fresh round", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({ maxRetries: 0 }, undefined, (peer) => peer.next("refuse"))
        yield* settle
        const state = yield* transport.state
        assert.isTrue(state._tag === "Disconnected" && state.exhausted)
        assert.strictEqual((yield* peer.attempts).length, 1)
        yield* transport.start
        yield* peer.accepted
        const connected = yield* transport.awaitConnected
        assert.strictEqual(connected.generation, 1)
        assert.strictEqual((yield* peer.attempts).length, 2)
      }))

    it.scoped("connectTimeout bounds a hanging attempt, then the schedule goes on", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup(
          { connectTimeout: "3 seconds", retryInterval: "2 seconds" },
          undefined,
          (peer) => peer.next("hang")
        )
        yield* settle
        assert.strictEqual(yield* stateTag(transport), "Connecting")
        yield* TestClock.adjust("3 seconds")
        yield* settle
        const state = yield* transport.state
        assert.strictEqual(state._tag, "Disconnected")
        if (state._tag === "Disconnected") {
          const cause = Option.getOrThrow(state.cause)
          assert.strictEqual(cause._tag, "TimeoutError")
          assert.strictEqual(cause._tag === "TimeoutError" && cause.operation, "connect")
        }
        yield* TestClock.adjust("2 seconds")
        yield* peer.accepted
        yield* transport.awaitConnected
        assert.deepStrictEqual((yield* peer.attempts).map((a) => a.at), [0, 5000])
      }))

    it.scoped("a custom exponential schedule replaces the config's", () =>
      Effect.gen(function*() {
        const { peer } = yield* setup(
          {},
          { reconnectSchedule: Transport.exponentialBackoff({ base: "100 millis", jitter: false, maxRetries: 4 }) },
          (peer) => peer.setDefault("refuse")
        )
        for (let i = 0; i < 20; i++) {
          yield* settle
          yield* TestClock.adjust("100 millis")
        }
        assert.deepStrictEqual((yield* peer.attempts).map((a) => a.at), [0, 100, 300, 700, 1500])
      }))

    it.scoped("after a connection that was up, the backoff starts over and the first reconnect is immediate", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({ retryInterval: "5 seconds", maxRetries: 1 })
        const first = yield* peer.accepted
        yield* transport.awaitConnected
        yield* TestClock.adjust("1 minute")
        yield* peer.next("refuse")
        yield* first.close
        yield* settle
        // Reconnect at once (refused), then once more after 5 s: maxRetries counts from the drop.
        yield* TestClock.adjust("5 seconds")
        const second = yield* peer.accepted
        const connected = yield* transport.awaitConnected
        assert.strictEqual(connected.generation, 2)
        assert.deepStrictEqual((yield* peer.attempts).map((a) => a.at), [0, 60000, 65000])
        assert.strictEqual(second.id, 2)
      }))

    it.scoped("a connection that drops at once counts as a failed attempt: no reconnect storm", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({ retryInterval: "5 seconds", maxRetries: 2 })
        for (let i = 0; i < 3; i++) {
          const conn = yield* peer.accepted
          yield* conn.close
          yield* settle
          yield* TestClock.adjust("5 seconds")
        }
        yield* settle
        assert.deepStrictEqual((yield* peer.attempts).map((a) => a.at), [0, 5000, 10000])
        const state = yield* transport.state
        assert.isTrue(state._tag === "Disconnected" && state.exhausted)
      }))

    it.scoped("idleTimeout: no inbound bytes for that long drops the connection and reconnects", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({ idleTimeout: "10 seconds", retryInterval: "1 second" })
        const first = yield* peer.accepted
        yield* transport.awaitConnected
        yield* TestClock.adjust("6 seconds")
        yield* first.pushFrame(text("alive"))
        yield* settle
        yield* TestClock.adjust("6 seconds")
        assert.isFalse(yield* first.isClosed, "inbound bytes reset the idle clock")
        yield* TestClock.adjust("4 seconds")
        yield* settle
        assert.isTrue(yield* first.isClosed)
        const state = yield* transport.state
        // The connection was up 16 s, more than the 1 s needed to count as healthy: reconnect at once.
        assert.strictEqual(state._tag, "Connected")
        assert.strictEqual(state._tag === "Connected" && state.generation, 2)
        // The frame that arrived before the drop is still delivered.
        assert.strictEqual(decodeText(yield* transport.recvPkg()), "alive")
      }))
  })

  describe("failing fast", () => {
    it.scoped("a pending receive fails at once when the connection drops", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({ retryInterval: "1 minute" })
        const conn = yield* peer.accepted
        yield* transport.awaitConnected
        const pending = yield* Effect.fork(transport.recvPkg({ timeout: Duration.infinity }))
        yield* settle
        yield* conn.push(bytes(0, 0, 0, 9, 1, 2))
        yield* conn.reset
        const error = yield* Effect.flip(Fiber.join(pending))
        assert.strictEqual(error._tag, "ConnectionError")
        if (error._tag === "ConnectionError") {
          assert.strictEqual(error.reason, "Disconnected")
          assert.strictEqual(error.generation, 1)
        }
        const next = yield* Effect.flip(transport.recvPkg())
        assert.strictEqual(next._tag === "ConnectionError" && next.reason, "NotConnected")
      }))

    it.scoped("a receive that times out consumes nothing: the half-received frame goes whole to the next", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup()
        const conn = yield* peer.accepted
        yield* transport.awaitConnected
        const frame = Framing.encodeHeader(4)
        yield* conn.push(bytes(...frame, 1, 2))
        const timedOut = yield* Effect.fork(transport.recvPkg({ timeout: "2 seconds" }))
        yield* settle
        yield* TestClock.adjust("2 seconds")
        const error = yield* Effect.flip(Fiber.join(timedOut))
        assert.strictEqual(error._tag, "TimeoutError")
        assert.strictEqual(error._tag === "TimeoutError" && error.operation, "receive")
        yield* conn.push(bytes(3, 4))
        yield* conn.pushFrame(bytes(5))
        assert.deepStrictEqual(yield* transport.recvPkg(), bytes(1, 2, 3, 4))
        assert.deepStrictEqual(yield* transport.recvPkg(), bytes(5))
      }))

    it.scoped("an oversized send is refused before touching the socket; the connection stays up", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({ maxMessageSize: 16 })
        const conn = yield* peer.accepted
        yield* transport.awaitConnected
        const error = yield* Effect.flip(transport.send(new Uint8Array(17)))
        assert.strictEqual(error._tag, "FrameTooLargeError")
        if (error._tag === "FrameTooLargeError") {
          assert.strictEqual(error.size, 17)
          assert.strictEqual(error.maxSize, 16)
        }
        yield* transport.send(new Uint8Array(16))
        assert.strictEqual((yield* conn.takeFrame).length, 16)
        assert.strictEqual((yield* conn.written).length, 20)
        assert.isTrue(yield* transport.isConnected)
      }))

    it.scoped("a garbage length prefix drops the connection with a typed error that says what was seen", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({ retryInterval: "1 second", maxMessageSize: 1024 })
        const first = yield* peer.accepted
        yield* transport.awaitConnected
        yield* first.push(text("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
        yield* settle
        assert.isTrue(yield* first.isClosed)
        const state = yield* transport.state
        assert.strictEqual(state._tag, "Disconnected")
        if (state._tag === "Disconnected") {
          const cause = Option.getOrThrow(state.cause)
          assert.strictEqual(cause._tag === "ConnectionError" && cause.reason, "Protocol")
          assert.include(cause.message, "HTTP/2")
          assert.include(cause.message, "1347569952")
        }
        yield* TestClock.adjust("1 second")
        const second = yield* peer.accepted
        yield* transport.awaitConnected
        yield* second.pushFrame(text("ok"))
        assert.strictEqual(decodeText(yield* transport.recvPkg()), "ok")
      }))
  })

  describe("bounds", () => {
    it.scoped("stops reading when the inbound budget is full and resumes as the consumer catches up", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({}, { inboundBufferBytes: 1000 })
        const conn = yield* peer.accepted
        yield* transport.awaitConnected
        for (let i = 0; i < 50; i++) yield* conn.pushFrame(new Uint8Array(96).fill(i))
        yield* settle
        assert.isTrue(yield* conn.paused, "a flood is left in the peer, not in our memory")
        for (let i = 0; i < 50; i++) {
          const frame = yield* transport.recvPkg()
          assert.strictEqual(frame[0], i)
        }
        assert.isFalse(yield* conn.paused)
      }))

    it.scoped("a receive waiting for a frame larger than the budget still gets it", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({}, { inboundBufferBytes: 100 })
        const conn = yield* peer.accepted
        yield* transport.awaitConnected
        const payload = new Uint8Array(1000).fill(7)
        const encoded = Framing.encodeHeader(1000)
        yield* conn.push(encoded)
        for (let i = 0; i < 10; i++) yield* conn.push(payload.subarray(i * 100, i * 100 + 100))
        const frame = yield* transport.recvPkg()
        assert.strictEqual(frame.length, 1000)
      }))
  })

  describe("frames", () => {
    it.scoped("streams inbound payloads across reconnects and ends when the transport stops", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({ retryInterval: "1 second" })
        const collected = yield* transport.frames.pipe(Stream.map(decodeText), Stream.runCollect, Effect.fork)
        const first = yield* peer.accepted
        yield* first.pushFrame(text("a"))
        yield* first.pushFrame(text("b"))
        yield* settle
        yield* first.close
        yield* settle
        yield* TestClock.adjust("1 second")
        const second = yield* peer.accepted
        yield* second.pushFrame(text("c"))
        yield* settle
        yield* transport.stop
        assert.deepStrictEqual(Chunk.toArray(yield* Fiber.join(collected)), ["a", "b", "c"])
      }))
  })

  describe("stop", () => {
    it.scoped("closes for good: state Closed, every operation fails typed, stop is idempotent", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup()
        const conn = yield* peer.accepted
        yield* transport.awaitConnected
        const pending = yield* Effect.fork(transport.recvPkg())
        yield* settle
        yield* transport.stop
        yield* transport.stop
        assert.strictEqual(yield* stateTag(transport), "Closed")
        assert.isTrue(yield* conn.isClosed)
        const errors = [
          yield* Effect.flip(Fiber.join(pending)),
          yield* Effect.flip(transport.send(text("x"))),
          yield* Effect.flip(transport.output(text("x"))),
          yield* Effect.flip(transport.recvPkg()),
          yield* Effect.flip(transport.recv(1)),
          yield* Effect.flip(transport.start),
          yield* Effect.flip(transport.awaitConnected)
        ]
        for (const error of errors) assert.strictEqual(error._tag, "ConnectionClosedError")
        assert.strictEqual(Chunk.size(yield* Stream.runCollect(transport.frames)), 0)
      }))

    it.scoped("stop while connecting returns at once", () =>
      Effect.gen(function*() {
        const { transport } = yield* setup({ connectTimeout: "1 hour" }, undefined, (peer) => peer.next("hang"))
        yield* settle
        assert.strictEqual(yield* stateTag(transport), "Connecting")
        yield* transport.stop
        assert.strictEqual(yield* stateTag(transport), "Closed")
      }))

    it.scoped("start while connected does nothing; autoStart false waits for start", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* setup({}, { autoStart: false })
        yield* settle
        assert.strictEqual((yield* peer.attempts).length, 0)
        yield* transport.start
        yield* peer.accepted
        yield* transport.awaitConnected
        yield* transport.start
        yield* settle
        assert.strictEqual((yield* peer.attempts).length, 1)
        assert.strictEqual(yield* stateTag(transport), "Connected")
      }))

    it.effect("closing the scope stops the transport", () =>
      Effect.gen(function*() {
        const { peer, transport } = yield* Effect.scoped(Effect.gen(function*() {
          const made = yield* setup()
          yield* made.peer.accepted
          yield* made.transport.awaitConnected
          return made
        }))
        assert.strictEqual(yield* stateTag(transport), "Closed")
        const attempts = (yield* peer.attempts).length
        yield* TestClock.adjust("1 hour")
        assert.strictEqual((yield* peer.attempts).length, attempts)
      }))
  })

  it.scoped("states carry generations that only grow", () =>
    Effect.gen(function*() {
      const { peer, transport } = yield* setup({ retryInterval: "1 second" }, { stableAfter: 0 })
      const generations: Array<number> = []
      for (let i = 0; i < 5; i++) {
        const conn = yield* peer.accepted
        const state = yield* transport.awaitConnected
        generations.push(state.generation)
        yield* conn.close
        yield* settle
      }
      assert.deepStrictEqual(generations, [1, 2, 3, 4, 5])
      assert.strictEqual(ConnectionState.format(yield* transport.state).startsWith("connected"), true)
    }))
})
