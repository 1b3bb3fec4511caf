/**
 * The transport's behaviour over any connector, as one suite that every connector's package runs with its own
 * harness: the in-memory `TestConnector` here (`Transport.test.ts`), real TCP through `NodeConnector` to a
 * `TransportServer` in `@rocketmq-effect/transport-node`.
 *
 * The suite speaks to the peer only through `Peer` and `PeerConnection`, and waits for events (a state, a
 * connection, bytes read, a fiber suspended) rather than for a number of yields or an amount of time, so that
 * the same test means the same thing over either connector.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  concatBytes,
  KiB,
  MiB,
  pattern,
  readText as decodeText,
  sameBytes,
  text
} from "@rocketmq-effect/test-kit/Bytes"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as Live from "@rocketmq-effect/test-kit/Live"
import * as Timeline from "@rocketmq-effect/test-kit/Timeline"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as ConnectionState from "../src/ConnectionState.js"
import * as Framing from "../src/Framing.js"
import * as Transport from "../src/Transport.js"
import type { TransportConfigInput } from "../src/TransportConfig.js"

/**
 * The peer's end of one accepted connection, whatever carries it.
 *
 * The peer reads everything the transport writes as it arrives, whether or not the test takes it, so the
 * transport's sends never wait on the test.
 */
export interface PeerConnection {
  /** 1 for the first connection the peer accepted, 2 for the next, … */
  readonly id: number
  /** Sends raw bytes, unframed. Does nothing once the connection is closed. */
  readonly push: (bytes: Uint8Array) => Effect.Effect<void>
  /**
   * Frames `payload` and sends it. Does nothing once the connection is closed. A frame over the transport's
   * `maxMessageSize` is sent with `push`.
   */
  readonly pushFrame: (payload: Uint8Array) => Effect.Effect<void>
  /** The next frame the transport wrote on this connection; waits for it. */
  readonly takeFrame: Effect.Effect<Uint8Array>
  /** Closes cleanly, a FIN. */
  readonly close: Effect.Effect<void>
  /** Aborts, a reset. */
  readonly reset: Effect.Effect<void>
  /** Completes once the connection is closed, by either side. */
  readonly awaitClosed: Effect.Effect<void>
  /** Whether the transport stopped reading, where the connector lets the peer see it. */
  readonly paused?: Effect.Effect<boolean> | undefined
}

/** A peer that accepts every connection, and the transports that connect to it. */
export interface Peer {
  /** The next connection the peer accepted; one accepted earlier and not yet taken comes first. */
  readonly accepted: Effect.Effect<PeerConnection>
  /**
   * A transport to this peer in the current scope, its config made from `input` over the harness's own
   * fields (the peer's address, bounds for real time).
   */
  readonly makeTransport: (
    input: Partial<TransportConfigInput>,
    options?: Transport.Options
  ) => Effect.Effect<Transport.TransportService, never, Scope.Scope>
}

/** What the suite needs from a connector. */
export interface Harness {
  /** Names the suite's `describe`. */
  readonly name: string
  /**
   * Whether the tests run on the `TestClock`: timeouts then fire only when the suite adjusts the clock.
   * Otherwise time is real and they fire on their own.
   */
  readonly virtualTime: boolean
  /** A peer in the current scope. */
  readonly makePeer: Effect.Effect<Peer, never, Scope.Scope>
}

type State = ConnectionState.ConnectionState

const bytes = (...values: Array<number>) => new Uint8Array(values)

const frame = (payload: Uint8Array) => concatBytes(Framing.encodeHeader(payload.length), payload)

/** A payload naming who sent it: bytes 0-1 the sender, 2-3 the batch, 4-5 the sequence number. */
const tagged = (sender: number, batch: number, seq: number, size = 6) => {
  const payload = pattern(size, sender * 31 + seq)
  const view = new DataView(payload.buffer)
  view.setUint16(0, sender)
  view.setUint16(2, batch)
  view.setUint16(4, seq)
  return payload
}
const tagOf = (payload: Uint8Array) => {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.length)
  return { sender: view.getUint16(0), batch: view.getUint16(2), seq: view.getUint16(4) }
}

const isConnected = (generation: number) => (state: State) =>
  state._tag === "Connected" && state.generation === generation

/** `reason` of a `ConnectionError` cause of a `Disconnected` state, or the cause's tag. */
const causeOf = (state: State): { readonly tag: string; readonly reason: string | undefined } => {
  if (state._tag !== "Disconnected" || Option.isNone(state.cause)) return { tag: "none", reason: undefined }
  const cause = state.cause.value
  return { tag: cause._tag, reason: cause._tag === "ConnectionError" ? cause.reason : undefined }
}

/** The inbound bytes the transport has read so far from its address (its `bytes_in` metric). */
const bytesIn = (transport: Transport.TransportService) =>
  Metric.value(Metric.tagged(Transport.metrics.bytesIn, "address", transport.config.address)).pipe(
    Effect.map((state) => state.count)
  )

/** Every operation of a stopped transport fails `ConnectionClosedError`; `frames` just ends. */
export const closedAfterStop = (transport: Transport.TransportService) =>
  Effect.gen(function*() {
    const failures = [
      yield* Effect.flip(transport.send(text("x"))),
      yield* Effect.flip(transport.sendAll([text("x")])),
      yield* Effect.flip(transport.output(Framing.encodeHeader(0))),
      yield* Effect.flip(transport.recvPkg()),
      yield* Effect.flip(transport.recv(1)),
      yield* Effect.flip(transport.start),
      yield* Effect.flip(transport.awaitConnected)
    ]
    for (const failure of failures) assert.strictEqual(failure._tag, "ConnectionClosedError", failure.message)
    assert.strictEqual((yield* Stream.runCollect(transport.frames)).length, 0)
    assert.strictEqual((yield* transport.state)._tag, "Closed")
  })

/**
 * Registers the transport's connector-independent tests against `harness`.
 */
export const suite = (harness: Harness): void => {
  const live = Live.make({ timeout: 20_000 })
  const test = (name: string, self: () => Effect.Effect<void, unknown, Scope.Scope>) =>
    harness.virtualTime
      ? it.scoped(name, self)
      // Over real sockets the transport's warnings, which some tests provoke on purpose, are silenced.
      : live(name, self)

  // One step of a wait: on the TestClock, letting the other fibers run; in real time, a millisecond.
  const every = harness.virtualTime ? "yield" : "1 millis"

  /** Waits until `fiber` is suspended: a receive it runs is registered and waiting. */
  const awaitSuspended = (fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
    eventually(Effect.map(Fiber.status(fiber), (status) => status._tag === "Suspended"), { every })

  /** Waits until the transport has read `count` more bytes than `from`. */
  const awaitBytesIn = (transport: Transport.TransportService, from: number, count: number) =>
    eventually(Effect.map(bytesIn(transport), (n) => n >= from + count), { every })

  /** Lets `duration` pass: the TestClock is adjusted, real time passes by itself. */
  const elapse = (duration: Duration.DurationInput) => harness.virtualTime ? TestClock.adjust(duration) : Effect.void

  /** A peer, a transport to it and its first connection, up. */
  const connect = (input: Partial<TransportConfigInput> = {}, options?: Transport.Options) =>
    Effect.gen(function*() {
      const peer = yield* harness.makePeer
      const transport = yield* peer.makeTransport(input, options)
      const conn = yield* peer.accepted
      const connected = yield* transport.awaitConnected
      return { peer, transport, conn, connected }
    })

  /** The peer sends back every frame it reads, in order. */
  const echo = (conn: PeerConnection) =>
    Effect.forkScoped(Effect.forever(Effect.flatMap(conn.takeFrame, conn.pushFrame)))

  describe(`Transport over ${harness.name}`, () => {
    describe("exchanging frames", () => {
      test("connects when made and exchanges frames both ways; an empty frame is an empty payload", () =>
        Effect.gen(function*() {
          const { conn, connected, transport } = yield* connect()
          assert.strictEqual(connected.generation, 1)
          assert.strictEqual(connected.address, transport.config.address)
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

      test("unsafeSend writes in order and calls back once accepted; with no connection, or too large, at once", () =>
        Effect.gen(function*() {
          const { conn, transport } = yield* connect({ maxMessageSize: KiB })
          const settled: Array<string> = []
          const sent = yield* Deferred.make<void>()
          for (let i = 0; i < 3; i++) {
            transport.unsafeSend(pattern(100, i), (error) => {
              settled.push(error === undefined ? `ok ${i}` : error._tag)
              if (settled.length === 3) Deferred.unsafeDone(sent, Exit.void)
            }, i === 2 ? { generation: 1 } : undefined)
          }
          for (let i = 0; i < 3; i++) assert.isTrue(sameBytes(yield* conn.takeFrame, pattern(100, i)))
          yield* Deferred.await(sent)
          assert.deepStrictEqual(settled, ["ok 0", "ok 1", "ok 2"])

          const failures: Array<string> = []
          transport.unsafeSend(text("elsewhere"), (error) => failures.push(error?._tag ?? "ok"), { generation: 2 })
          assert.deepStrictEqual(failures, ["ConnectionError"], "not on another generation")
          failures.length = 0
          transport.unsafeSend(new Uint8Array(KiB + 1), (error) => failures.push(error?._tag ?? "ok"))
          assert.deepStrictEqual(failures, ["FrameTooLargeError"], "refused before it returned")
          yield* transport.stop
          transport.unsafeSend(text("late"), (error) => failures.push(error?._tag ?? "ok"))
          assert.deepStrictEqual(failures, ["FrameTooLargeError", "ConnectionClosedError"])
        }))

      test("send / recvPkg through an echoing peer: 0 B, 1 B, 1 KiB, 64 KiB, 1 MiB", () =>
        Effect.gen(function*() {
          const { conn, transport } = yield* connect({ maxMessageSize: 2 * MiB })
          yield* echo(conn)
          for (const [i, size] of [0, 1, KiB, 64 * KiB, MiB].entries()) {
            yield* transport.send(pattern(size, i))
            const echoed = yield* transport.recvPkg()
            assert.strictEqual(echoed.length, size)
            assert.isTrue(sameBytes(echoed, pattern(size, i)), `payload of ${size} bytes`)
          }
        }))

      test("output writes pre-framed bytes, several frames in one call; frames reads the echoes in order", () =>
        Effect.gen(function*() {
          const { conn, transport } = yield* connect({ maxMessageSize: 2 * MiB })
          yield* echo(conn)
          const sizes = [0, 1, KiB, 64 * KiB, MiB]
          for (const [i, size] of sizes.entries()) yield* transport.output(frame(pattern(size, i)))
          yield* transport.output(concatBytes(frame(pattern(3, 7)), frame(pattern(0)), frame(pattern(2, 8))))
          const echoed = yield* transport.frames.pipe(Stream.take(sizes.length + 3), Stream.runCollect)
          const expected = [...sizes.map((size, i) => pattern(size, i)), pattern(3, 7), pattern(0), pattern(2, 8)]
          assert.strictEqual(echoed.length, expected.length)
          for (const [i, payload] of Array.from(echoed).entries()) {
            assert.isTrue(sameBytes(payload, expected[i]!), `frame ${i} of ${expected[i]!.length} bytes`)
          }
        }))

      test("sendAll writes a batch in order, or nothing when one payload is too large", () =>
        Effect.gen(function*() {
          const { conn, transport } = yield* connect({ maxMessageSize: 8 })
          yield* transport.sendAll([text("a"), new Uint8Array(0), text("ccc")])
          assert.strictEqual(decodeText(yield* conn.takeFrame), "a")
          assert.strictEqual((yield* conn.takeFrame).length, 0)
          assert.strictEqual(decodeText(yield* conn.takeFrame), "ccc")
          for (const tooLarge of [new Uint8Array(9), new Uint8Array(40_000)]) {
            const error = yield* Effect.flip(transport.sendAll([text("ok"), tooLarge]))
            assert.strictEqual(error._tag, "FrameTooLargeError")
            if (error._tag === "FrameTooLargeError") {
              assert.strictEqual(error.direction, "outbound")
              assert.strictEqual(error.size, tooLarge.length)
              assert.strictEqual(error.maxSize, 8)
            }
          }
          yield* transport.sendAll([])
          // Neither the refused batches nor the empty one wrote a byte: the next frame is the next send.
          yield* transport.send(text("next"))
          assert.strictEqual(decodeText(yield* conn.takeFrame), "next")
        }))

      test("large payloads are written from the caller's buffer, small ones framed together, all in order", () =>
        Effect.gen(function*() {
          const { conn, transport } = yield* connect({ maxMessageSize: MiB })
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
            assert.isTrue(sameBytes(yield* conn.takeFrame, expected), `frame of ${expected.length} bytes`)
          }
        }))

      test("recv(n) takes exactly n bytes, across chunks and frames, from the one ordered sequence", () =>
        Effect.gen(function*() {
          // The raw bytes are not lengths: lengths are checked when a receive reaches them.
          const { conn, transport } = yield* connect({}, { checkLengthsOnArrival: false })
          const before = yield* bytesIn(transport)
          yield* conn.push(concatBytes(bytes(0xca, 0xfe), Framing.encodeHeader(3), bytes(1, 2)))
          yield* awaitBytesIn(transport, before, 8)
          assert.deepStrictEqual(yield* transport.recv(2), bytes(0xca, 0xfe))
          // A receive waits with two of the frame's three bytes in hand, and gets the frame once the last comes.
          const pending = yield* Effect.fork(transport.recvPkg())
          yield* awaitSuspended(pending)
          yield* conn.push(bytes(3, 9, 8, 7))
          assert.deepStrictEqual(yield* Fiber.join(pending), bytes(1, 2, 3))
          assert.deepStrictEqual(yield* transport.recv(2), bytes(9, 8))
          const split = yield* Effect.fork(transport.recv(3))
          yield* awaitSuspended(split)
          yield* conn.push(bytes(6, 5))
          assert.deepStrictEqual(yield* Fiber.join(split), bytes(7, 6, 5))
        }))

      test("concurrent sendAll batches are never interleaved; each sender's batches arrive in order", () =>
        Effect.gen(function*() {
          const { conn, transport } = yield* connect()
          const senders = 8
          const batches = 5
          const perBatch = 20
          const sending = yield* Effect.forEach(
            Array.from({ length: senders }, (_, sender) => sender),
            (sender) =>
              Effect.forEach(
                Array.from({ length: batches }, (_, batch) => batch),
                (batch) =>
                  transport.sendAll(
                    Array.from({ length: perBatch }, (_, seq) => tagged(sender, batch, seq, 6 + (seq * 37) % 200))
                  ),
                { discard: true }
              ),
            { concurrency: "unbounded", discard: true }
          ).pipe(Effect.fork)
          const nextBatch = new Array<number>(senders).fill(0)
          for (let n = 0; n < senders * batches; n++) {
            const first = tagOf(yield* conn.takeFrame)
            assert.strictEqual(first.seq, 0, `a batch starts with its first frame, got ${JSON.stringify(first)}`)
            assert.strictEqual(first.batch, nextBatch[first.sender], `sender ${first.sender}'s batches in order`)
            for (let seq = 1; seq < perBatch; seq++) {
              const payload = yield* conn.takeFrame
              assert.deepStrictEqual(tagOf(payload), { ...first, seq }, "nothing between a batch's frames")
              assert.isTrue(sameBytes(payload, tagged(first.sender, first.batch, seq, 6 + (seq * 37) % 200)))
            }
            nextBatch[first.sender] = first.batch + 1
          }
          yield* Fiber.join(sending)
          assert.deepStrictEqual(nextBatch, new Array<number>(senders).fill(batches))
        }))
    })

    describe("failing fast", () => {
      test("a pending receive fails at once when the connection drops; then operations fail NotConnected", () =>
        Effect.gen(function*() {
          // A drop within a minute of connecting is a failed attempt: the next one waits the minute.
          const { conn, transport } = yield* connect({ retryInterval: "1 minute" })
          const pending = yield* Effect.fork(transport.recvPkg({ timeout: Duration.infinity }))
          yield* awaitSuspended(pending)
          const before = yield* bytesIn(transport)
          yield* conn.push(bytes(0, 0, 0, 9, 1, 2))
          yield* awaitBytesIn(transport, before, 6)
          yield* conn.reset
          const error = yield* Effect.flip(Fiber.join(pending))
          assert.strictEqual(error._tag, "ConnectionError")
          if (error._tag === "ConnectionError") {
            assert.strictEqual(error.reason, "Disconnected")
            assert.strictEqual(error.generation, 1)
          }
          const next = yield* Effect.flip(transport.recvPkg())
          assert.strictEqual(next._tag === "ConnectionError" && next.reason, "NotConnected")
          const sent = yield* Effect.flip(transport.send(text("x")))
          assert.strictEqual(sent._tag === "ConnectionError" && sent.reason, "NotConnected")
          const waiting = yield* Timeline.first(transport.changes, (s) => s._tag === "Disconnected")
          assert.isTrue(waiting._tag === "Disconnected" && !waiting.exhausted)
          assert.deepStrictEqual(waiting._tag === "Disconnected" && waiting.retryIn, Option.some(Duration.minutes(1)))
        }))

      test("a send with awaitConnection waits for the next connection within its timeout, then goes on it", () =>
        Effect.gen(function*() {
          const { conn, peer, transport } = yield* connect({ retryInterval: "200 millis" }, { stableAfter: "1 minute" })
          yield* conn.reset
          yield* Timeline.first(transport.changes, (s) => s._tag === "Disconnected")
          const failed = yield* Effect.flip(transport.send(text("now")))
          assert.strictEqual(failed._tag === "ConnectionError" && failed.reason, "NotConnected", "the default")
          const waiting = yield* Effect.fork(
            transport.send(text("later"), { awaitConnection: true, timeout: "5 seconds" })
          )
          yield* awaitSuspended(waiting)
          yield* elapse("200 millis")
          const second = yield* peer.accepted
          yield* Fiber.join(waiting)
          assert.strictEqual(decodeText(yield* second.takeFrame), "later")
        }))

      test("a send with awaitConnection fails TimeoutError when no connection comes within its timeout", () =>
        Effect.gen(function*() {
          const { conn, transport } = yield* connect({ retryInterval: "1 minute" }, { stableAfter: "1 minute" })
          yield* conn.reset
          yield* Timeline.first(transport.changes, (s) => s._tag === "Disconnected")
          const waiting = yield* Effect.fork(
            transport.sendAll([text("a"), text("b")], { awaitConnection: true, timeout: "100 millis" })
          )
          yield* awaitSuspended(waiting)
          yield* elapse("100 millis")
          const error = yield* Effect.flip(Fiber.join(waiting))
          assert.strictEqual(error._tag === "TimeoutError" && error.operation, "send", error.message)
        }))

      test("a receive that times out consumes nothing: the half-received frame goes whole to the next", () =>
        Effect.gen(function*() {
          const { conn, transport } = yield* connect()
          const before = yield* bytesIn(transport)
          yield* conn.push(concatBytes(Framing.encodeHeader(4), bytes(1, 2)))
          yield* awaitBytesIn(transport, before, 6)
          const timedOut = yield* Effect.fork(transport.recvPkg({ timeout: "200 millis" }))
          yield* awaitSuspended(timedOut)
          yield* elapse("200 millis")
          const error = yield* Effect.flip(Fiber.join(timedOut))
          assert.strictEqual(error._tag, "TimeoutError")
          assert.strictEqual(error._tag === "TimeoutError" && error.operation, "receive")
          yield* conn.push(bytes(3, 4))
          yield* conn.pushFrame(bytes(5))
          assert.deepStrictEqual(yield* transport.recvPkg(), bytes(1, 2, 3, 4))
          assert.deepStrictEqual(yield* transport.recvPkg(), bytes(5))
          assert.isTrue(isConnected(1)(yield* transport.state))
        }))

      test("recv of a size that is not a byte count fails IllegalArgumentException; past the largest frame, FrameTooLarge", () =>
        Effect.gen(function*() {
          const { transport } = yield* connect({ maxMessageSize: 16 })
          for (const size of [-1, 1.5, Number.NaN]) {
            const error = yield* Effect.flip(transport.recv(size))
            assert.strictEqual(error._tag, "IllegalArgumentException", String(size))
            assert.include(error.message, `got ${size}`)
          }
          const tooLarge = yield* Effect.flip(transport.recv(21))
          assert.strictEqual(tooLarge._tag, "FrameTooLargeError")
          assert.isTrue(isConnected(1)(yield* transport.state), "the connection stays up")
        }))

      test("an oversized send or output is refused before touching the socket; the connection stays up", () =>
        Effect.gen(function*() {
          const { conn, transport } = yield* connect({ maxMessageSize: 16 })
          const sent = yield* Effect.flip(transport.send(new Uint8Array(17)))
          assert.strictEqual(sent._tag, "FrameTooLargeError")
          if (sent._tag === "FrameTooLargeError") {
            assert.strictEqual(sent.direction, "outbound")
            assert.strictEqual(sent.size, 17)
            assert.strictEqual(sent.maxSize, 16)
          }
          const output = yield* Effect.flip(transport.output(frame(pattern(17))))
          assert.strictEqual(output._tag, "FrameTooLargeError")
          assert.strictEqual(output._tag === "FrameTooLargeError" && output.size, 17)
          yield* transport.send(pattern(16, 2))
          // The first frame the peer reads is the one that fitted: nothing of the refused ones was written.
          assert.isTrue(sameBytes(yield* conn.takeFrame, pattern(16, 2)))
          assert.isTrue(isConnected(1)(yield* transport.state), "still the first connection")
        }))

      test("an inbound frame of maxMessageSize arrives; a length one over drops the connection, Protocol", () =>
        Effect.gen(function*() {
          const { conn, peer, transport } = yield* connect({ maxMessageSize: KiB }, { stableAfter: 0 })
          const states = yield* Timeline.record(transport.changes)
          yield* conn.pushFrame(pattern(KiB, 1))
          assert.isTrue(sameBytes(yield* transport.recvPkg(), pattern(KiB, 1)))
          yield* conn.push(concatBytes(Framing.encodeHeader(KiB + 1), pattern(10)))
          // The transport closes the connection itself.
          yield* conn.awaitClosed
          const dropped = yield* states.next((s) => s._tag === "Disconnected")
          assert.deepStrictEqual(causeOf(dropped), { tag: "ConnectionError", reason: "Protocol" })
          if (dropped._tag === "Disconnected" && Option.isSome(dropped.cause)) {
            const error = dropped.cause.value
            assert.strictEqual(error._tag === "ConnectionError" && error.generation, 1)
            const cause = error._tag === "ConnectionError" ? error.cause : undefined
            assert.deepInclude(cause as object, { _tag: "FrameTooLargeError", direction: "inbound", size: KiB + 1 })
            assert.deepInclude(cause as object, { maxSize: KiB })
          }
          const second = yield* peer.accepted
          yield* states.next(isConnected(2))
          yield* second.pushFrame(text("ok"))
          assert.strictEqual(decodeText(yield* transport.recvPkg()), "ok")
        }))

      test("a garbage length prefix drops the connection with a typed error that says what was seen", () =>
        Effect.gen(function*() {
          const { conn, peer, transport } = yield* connect({ maxMessageSize: KiB }, { stableAfter: 0 })
          const states = yield* Timeline.record(transport.changes)
          yield* conn.push(text("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
          yield* conn.awaitClosed
          const dropped = yield* states.next((s) => s._tag === "Disconnected")
          assert.deepStrictEqual(causeOf(dropped), { tag: "ConnectionError", reason: "Protocol" })
          if (dropped._tag === "Disconnected" && Option.isSome(dropped.cause)) {
            assert.include(dropped.cause.value.message, "HTTP/2")
            assert.include(dropped.cause.value.message, "1347569952")
          }
          const second = yield* peer.accepted
          yield* states.next(isConnected(2))
          yield* second.pushFrame(text("ok"))
          assert.strictEqual(decodeText(yield* transport.recvPkg()), "ok")
        }))
    })

    describe("bounds", () => {
      test("a flood past the inbound budget arrives whole and in order; reading pauses and resumes meanwhile", () =>
        Effect.gen(function*() {
          const { conn, transport } = yield* connect({}, { inboundBufferBytes: 1000 })
          for (let i = 0; i < 50; i++) yield* conn.pushFrame(new Uint8Array(96).fill(i))
          const paused = conn.paused
          // A flood is left with the peer, not in the transport's memory; checked where the peer sees the pause.
          if (paused !== undefined) yield* eventually(paused, { every })
          for (let i = 0; i < 50; i++) {
            const payload = yield* transport.recvPkg()
            assert.strictEqual(payload.length, 96)
            assert.strictEqual(payload[0], i)
          }
          if (paused !== undefined) assert.isFalse(yield* paused)
          assert.isTrue(isConnected(1)(yield* transport.state))
        }))

      test("a receive waiting for a frame larger than the inbound budget still gets it", () =>
        Effect.gen(function*() {
          const { conn, transport } = yield* connect({}, { inboundBufferBytes: 100 })
          const payload = pattern(1000, 7)
          yield* conn.push(Framing.encodeHeader(1000))
          for (let i = 0; i < 10; i++) yield* conn.push(payload.subarray(i * 100, i * 100 + 100))
          assert.isTrue(sameBytes(yield* transport.recvPkg(), payload))
        }))

      test("frames larger than the inbound budget, all sent before one is read: nothing is lost", () =>
        Effect.gen(function*() {
          const { conn, transport } = yield* connect(
            { maxMessageSize: 2 * MiB },
            { inboundBufferBytes: 16 * KiB, outboundBufferBytes: 64 * KiB }
          )
          yield* echo(conn)
          const count = 40
          const sizeOf = (i: number) => i % 4 === 0 ? MiB : 1 + (i * 7919) % (48 * KiB)
          // The peer reads everything, so every send completes while the echoes pile up against the budget.
          yield* Effect.forEach(
            Array.from({ length: count }, (_, i) => i),
            (i) => transport.send(pattern(sizeOf(i), i)),
            { discard: true }
          )
          for (let i = 0; i < count; i++) {
            const echoed = yield* transport.recvPkg()
            assert.isTrue(sameBytes(echoed, pattern(sizeOf(i), i)), `frame ${i} of ${sizeOf(i)} bytes`)
          }
          assert.isTrue(isConnected(1)(yield* transport.state))
        }))

      test("a send larger than the outbound budget goes alone; concurrent sends through it keep their order", () =>
        Effect.gen(function*() {
          const { conn, transport } = yield* connect({ maxMessageSize: 256 * KiB }, { outboundBufferBytes: KiB })
          yield* transport.send(pattern(64 * KiB, 1))
          assert.isTrue(sameBytes(yield* conn.takeFrame, pattern(64 * KiB, 1)))
          const senders = 8
          const perSender = 20
          // 80 KiB through a 1 KiB budget.
          const sending = yield* Effect.forEach(
            Array.from({ length: senders }, (_, sender) => sender),
            (sender) =>
              Effect.forEach(
                Array.from({ length: perSender }, (_, seq) => seq),
                (seq) => transport.send(tagged(sender, 0, seq, 512)),
                { discard: true }
              ),
            { concurrency: "unbounded", discard: true }
          ).pipe(Effect.fork)
          const nextSeq = new Array<number>(senders).fill(0)
          for (let n = 0; n < senders * perSender; n++) {
            const payload = yield* conn.takeFrame
            const { sender, seq } = tagOf(payload)
            assert.strictEqual(seq, nextSeq[sender], `sender ${sender}'s sends in order`)
            assert.isTrue(sameBytes(payload, tagged(sender, 0, seq, 512)))
            nextSeq[sender] = seq + 1
          }
          yield* Fiber.join(sending)
          assert.deepStrictEqual(nextSeq, new Array<number>(senders).fill(perSender))
        }))
    })

    describe("reconnecting", () => {
      test("the peer closing (FIN) is PeerClosed, resetting is Read; each time the next generation follows", () =>
        Effect.gen(function*() {
          const peer = yield* harness.makePeer
          const transport = yield* peer.makeTransport({}, { stableAfter: 0 })
          const states = yield* Timeline.record(transport.changes)
          const first = yield* peer.accepted
          yield* states.next(isConnected(1))
          yield* first.close
          const closed = yield* states.next((s) => s._tag === "Disconnected")
          assert.deepStrictEqual(causeOf(closed), { tag: "ConnectionError", reason: "PeerClosed" })
          assert.strictEqual(closed.generation, 1)

          const second = yield* peer.accepted
          assert.strictEqual(second.id, 2)
          yield* states.next(isConnected(2))
          yield* second.reset
          const reset = yield* states.next((s) => s._tag === "Disconnected")
          assert.deepStrictEqual(causeOf(reset), { tag: "ConnectionError", reason: "Read" })
          assert.strictEqual(reset.generation, 2)

          const third = yield* peer.accepted
          yield* states.next(isConnected(3))
          // The third connection works both ways.
          yield* transport.send(pattern(100, 3))
          assert.isTrue(sameBytes(yield* third.takeFrame, pattern(100, 3)))
          yield* third.pushFrame(pattern(100, 4))
          assert.isTrue(sameBytes(yield* transport.recvPkg(), pattern(100, 4)))
        }))

      test("drop ends the connection that is up: its pending work fails, the state says why, the schedule reconnects", () =>
        Effect.gen(function*() {
          const peer = yield* harness.makePeer
          const transport = yield* peer.makeTransport({}, { stableAfter: 0 })
          const states = yield* Timeline.record(transport.changes)
          const first = yield* peer.accepted
          const connected = yield* transport.awaitConnected
          const pending = yield* Effect.fork(transport.recvPkg({ timeout: Duration.infinity }))
          yield* awaitSuspended(pending)

          assert.isFalse(
            yield* transport.drop("elsewhere", { generation: connected.generation + 1 }),
            "another generation"
          )
          assert.isTrue(yield* transport.drop("not a command", { generation: connected.generation }))
          assert.isFalse(yield* transport.drop("again"), "the same connection is dropped once")
          const error = yield* Effect.flip(Fiber.join(pending))
          assert.strictEqual(error._tag === "ConnectionError" && error.reason, "Disconnected", error.message)
          const dropped = yield* states.next((s) => s._tag === "Disconnected")
          assert.deepStrictEqual(causeOf(dropped), { tag: "ConnectionError", reason: "Dropped" })
          const cause = dropped._tag === "Disconnected" ? Option.getOrUndefined(dropped.cause) : undefined
          assert.strictEqual((cause as { readonly cause?: unknown } | undefined)?.cause, "not a command")
          assert.include(cause?.message ?? "", "was dropped: not a command")
          yield* first.awaitClosed

          // Up for longer than `stableAfter`: reconnected at once, and the new connection works.
          const second = yield* peer.accepted
          yield* states.next(isConnected(2))
          assert.isFalse(yield* transport.drop("stale", { generation: 1 }), "a generation that is gone")
          yield* transport.send(pattern(100, 5))
          assert.isTrue(sameBytes(yield* second.takeFrame, pattern(100, 5)))
        }))

      test("drop with no connection up does nothing", () =>
        Effect.gen(function*() {
          const peer = yield* harness.makePeer
          const transport = yield* peer.makeTransport({}, { autoStart: false })
          assert.isFalse(yield* transport.drop("nothing to drop"))
          assert.strictEqual((yield* transport.state)._tag, "Disconnected")
          yield* transport.stop
          assert.isFalse(yield* transport.drop("stopped"))
          assert.strictEqual((yield* transport.state)._tag, "Closed")
        }))

      test("states carry generations that only grow", () =>
        Effect.gen(function*() {
          const peer = yield* harness.makePeer
          const transport = yield* peer.makeTransport({}, { stableAfter: 0 })
          const generations: Array<number> = []
          for (let i = 0; i < 5; i++) {
            const conn = yield* peer.accepted
            assert.strictEqual(conn.id, i + 1)
            // The peer accepted this connection after the transport saw the previous one go.
            const state = yield* transport.awaitConnected
            generations.push(state.generation)
            yield* conn.close
          }
          assert.deepStrictEqual(generations, [1, 2, 3, 4, 5])
          const last = yield* Timeline.first(transport.changes, isConnected(6))
          assert.isTrue(ConnectionState.format(last).startsWith("connected"))
        }))

      test("frames streams inbound payloads across reconnects and ends when the transport stops", () =>
        Effect.gen(function*() {
          const peer = yield* harness.makePeer
          const transport = yield* peer.makeTransport({}, { stableAfter: 0 })
          const received = yield* Queue.unbounded<string>()
          const collected = yield* transport.frames.pipe(
            Stream.map(decodeText),
            Stream.tap((payload) => Queue.offer(received, payload)),
            Stream.runCollect,
            Effect.fork
          )
          const first = yield* peer.accepted
          yield* first.pushFrame(text("a"))
          yield* first.pushFrame(text("b"))
          assert.deepStrictEqual([yield* Queue.take(received), yield* Queue.take(received)], ["a", "b"])
          yield* first.close
          const second = yield* peer.accepted
          yield* second.pushFrame(text("c"))
          assert.strictEqual(yield* Queue.take(received), "c")
          yield* transport.stop
          assert.deepStrictEqual(Array.from(yield* Fiber.join(collected)), ["a", "b", "c"])
        }))
    })

    describe("stop", () => {
      test("from Connected: Closed for good, pending work fails typed, the peer sees the connection go", () =>
        Effect.gen(function*() {
          const { conn, transport } = yield* connect()
          const pending = yield* Effect.fork(transport.recvPkg({ timeout: Duration.infinity }))
          const frames = yield* Effect.fork(Stream.runCollect(transport.frames))
          yield* awaitSuspended(pending)
          yield* awaitSuspended(frames)
          yield* transport.stop
          yield* transport.stop
          assert.deepStrictEqual(yield* transport.state, ConnectionState.Closed({ generation: 1 }))
          yield* conn.awaitClosed
          const error = yield* Effect.flip(Fiber.join(pending))
          assert.strictEqual(error._tag, "ConnectionClosedError")
          // The frames stream, waiting behind the receive, ends.
          assert.strictEqual((yield* Fiber.join(frames)).length, 0)
          yield* closedAfterStop(transport)
        }))

      test("from Disconnected, never started or waiting to retry: Closed, every operation fails typed", () =>
        Effect.gen(function*() {
          const peer = yield* harness.makePeer
          const idle = yield* peer.makeTransport({}, { autoStart: false })
          yield* idle.stop
          assert.deepStrictEqual(yield* idle.state, ConnectionState.Closed({ generation: 0 }))
          yield* closedAfterStop(idle)

          const retrying = yield* peer.makeTransport({ retryInterval: "1 minute" })
          const conn = yield* peer.accepted
          yield* retrying.awaitConnected
          yield* conn.close
          yield* Timeline.first(retrying.changes, (s) => s._tag === "Disconnected" && Option.isSome(s.retryIn))
          yield* retrying.stop
          assert.deepStrictEqual(yield* retrying.state, ConnectionState.Closed({ generation: 1 }))
          yield* closedAfterStop(retrying)
        }))

      test("closing the transport's scope stops it; the peer sees the connection go", () =>
        Effect.gen(function*() {
          const peer = yield* harness.makePeer
          const { conn, transport } = yield* Effect.scoped(Effect.gen(function*() {
            const transport = yield* peer.makeTransport({})
            const conn = yield* peer.accepted
            yield* transport.awaitConnected
            return { conn, transport }
          }))
          assert.deepStrictEqual(yield* transport.state, ConnectionState.Closed({ generation: 1 }))
          yield* conn.awaitClosed
        }))
    })
  })
}
