import { assert, describe } from "@effect/vitest"
import { concatBytes, KiB, MiB, numbered, pattern, sameBytes, seqOf } from "@rocketmq-effect/test-kit/Bytes"
import { failureOf } from "@rocketmq-effect/test-kit/Causes"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as ConnectionState from "@rocketmq-effect/transport/ConnectionState"
import * as Framing from "@rocketmq-effect/transport/Framing"
import * as Transport from "@rocketmq-effect/transport/Transport"
import { ConnectionError } from "@rocketmq-effect/transport/TransportError"
import type { FrameTooLargeError, TransportError } from "@rocketmq-effect/transport/TransportError"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Net from "node:net"
import { listenPlain, trackClose, unusedPort } from "./PlainPeers.js"
import {
  awaitState,
  awaitTcpHandles,
  causeReason,
  configFor,
  echoServer,
  hangingPort,
  isConnected,
  isDisconnectedWith,
  live,
  makeTransport,
  recordStates,
  tcpHandles
} from "./TcpFixtures.js"

/** Writes `bytes` and waits until Node has handed them to the kernel. */
const write = (socket: Net.Socket, bytes: Uint8Array) =>
  Effect.async<void>((resume) => {
    socket.write(bytes, () => resume(Effect.void))
  })

const frame = (payload: Uint8Array) => concatBytes(Framing.encodeHeader(payload.length), payload)

/** Inbound bytes the transport to `address` has read so far (its `bytes_in` metric). */
const bytesIn = (address: string) =>
  Metric.value(Metric.tagged(Transport.metrics.bytesIn, "address", address)).pipe(
    Effect.map((state) => state.count)
  )

/**
 * Collects the sequence numbers of the frames `transport` receives, noting any whose bytes are not the
 * numbered pattern (or, with `sizeOf`, not of the size that sequence number was sent with).
 */
const collectNumbered = (transport: Transport.TransportService, sizeOf?: (seq: number) => number) =>
  Effect.gen(function*() {
    const received: Array<number> = []
    const corrupt: Array<string> = []
    yield* transport.frames.pipe(
      Stream.runForEach((payload) =>
        Effect.sync(() => {
          const seq = seqOf(payload)
          if (
            !sameBytes(payload, numbered(seq, payload.length)) ||
            (sizeOf !== undefined && payload.length !== sizeOf(seq))
          ) {
            corrupt.push(`frame ${seq} of ${payload.length} bytes`)
          }
          received.push(seq)
        })
      ),
      Effect.forkScoped
    )
    return { received, corrupt }
  })

describe("FaultInjection", () => {
  live(
    "server restart during traffic: outage sends fail typed, reconnect to generation 2, nothing duplicated",
    () =>
      Effect.gen(function*() {
        const port = yield* unusedPort
        const firstServer = yield* Scope.make()
        yield* echoServer({ port }).pipe(Scope.extend(firstServer))
        const transport = yield* makeTransport(yield* configFor(port, { timeout: "2 seconds" }))
        const states = yield* recordStates(transport)
        yield* states.next(isConnected(1))

        const sizeOf = (seq: number) => 4 + (seq * 7919) % (8 * KiB)
        const { corrupt, received } = yield* collectNumbered(transport, sizeOf)
        const sent: Array<number> = []
        const failures: Array<TransportError> = []
        let phase: "before" | "outage" | "after" = "before"
        const sentAfter: Array<number> = []
        const sender = yield* Effect.gen(function*() {
          for (let seq = 0;; seq++) {
            const exit = yield* Effect.exit(transport.send(numbered(seq, sizeOf(seq))))
            if (Exit.isSuccess(exit)) {
              sent.push(seq)
              if (phase === "after") sentAfter.push(seq)
            } else {
              failures.push(failureOf(exit) as TransportError)
            }
            yield* Effect.sleep("2 millis")
          }
        }).pipe(Effect.forkScoped)

        yield* eventually(Effect.sync(() => received.length >= 50)).pipe(Effect.timeout("5 seconds"))
        phase = "outage"
        yield* Scope.close(firstServer, Exit.void)
        yield* states.next((s) => s._tag === "Disconnected")
        // Sends keep coming during the outage; the port refuses connections until the new server is up.
        yield* eventually(Effect.sync(() => failures.length >= 5)).pipe(Effect.timeout("5 seconds"))
        yield* echoServer({ port })
        phase = "after"
        yield* states.next(isConnected(2))
        yield* eventually(Effect.sync(() => sentAfter.length >= 50 && received.includes(sentAfter[49]!))).pipe(
          Effect.timeout("5 seconds")
        )
        yield* Fiber.interrupt(sender)

        assert.deepStrictEqual(corrupt, [])
        for (const failure of failures) {
          assert.strictEqual(failure._tag, "ConnectionError", failure.message)
          assert.include(["NotConnected", "Disconnected"], causeReason(failure), failure.message)
        }
        for (let i = 1; i < received.length; i++) {
          assert.isAbove(received[i]!, received[i - 1]!, "echoes arrive once each, in order")
        }
        const attempted = new Set([...sent, ...received])
        assert.isTrue(received.every((seq) => attempted.has(seq)))
        // Every send that succeeded on the new connection came back.
        const echoed = new Set(received)
        for (const seq of sentAfter.slice(0, 50)) assert.isTrue(echoed.has(seq), `frame ${seq} echoed`)
        assert.isTrue(isConnected(2)(yield* transport.state))
      }),
    20_000
  )

  live(
    "the server restarts 100 times during traffic: nothing duplicated or corrupted, every failure typed",
    () =>
      Effect.gen(function*() {
        const restarts = 100
        const port = yield* unusedPort
        let server = yield* Scope.make()
        yield* echoServer({ port }).pipe(Scope.extend(server))
        const transport = yield* makeTransport(
          yield* configFor(port, { timeout: "2 seconds", retryInterval: "10 millis" })
        )
        let generation = 0
        const { corrupt, received } = yield* collectNumbered(transport)
        const failures: Array<TransportError> = []
        yield* Effect.gen(function*() {
          for (let seq = 0;; seq++) {
            const exit = yield* Effect.exit(transport.send(numbered(seq, 4 + (seq * 131) % 2000)))
            if (Exit.isFailure(exit)) failures.push(failureOf(exit) as TransportError)
            yield* Effect.sleep("1 millis")
          }
        }).pipe(Effect.forkScoped)

        for (let i = 0; i < restarts; i++) {
          const state = yield* transport.awaitConnected.pipe(Effect.timeout("5 seconds"))
          assert.isAbove(state.generation, generation, "each restart brings a new connection")
          generation = state.generation
          const before = received.length
          yield* eventually(Effect.sync(() => received.length >= before + 3)).pipe(Effect.timeout("5 seconds"))
          yield* Scope.close(server, Exit.void)
          yield* eventually(Effect.sync(() => !ConnectionState.isConnected(Effect.runSync(transport.state)))).pipe(
            Effect.timeout("5 seconds")
          )
          server = yield* Scope.make()
          yield* echoServer({ port }).pipe(Scope.extend(server))
        }
        const last = yield* transport.awaitConnected.pipe(Effect.timeout("5 seconds"))
        assert.isAtLeast(last.generation, restarts + 1)
        yield* Scope.close(server, Exit.void)

        assert.deepStrictEqual(corrupt, [])
        for (let i = 1; i < received.length; i++) {
          assert.isAbove(received[i]!, received[i - 1]!, "each echo arrives once, in order")
        }
        assert.isAbove(failures.length, 0, "some sends met an outage")
        for (const failure of failures) {
          assert.strictEqual(failure._tag, "ConnectionError", failure.message)
          assert.include(["NotConnected", "Disconnected"], causeReason(failure), failure.message)
        }
      }),
    60_000
  )

  describe("the peer drops the connection inside a frame", () => {
    const cases: ReadonlyArray<{
      readonly name: string
      readonly bytes: Uint8Array
      readonly drop: (socket: Net.Socket) => void
      readonly reason: ConnectionError["reason"]
    }> = [
      {
        name: "reset mid-body",
        bytes: concatBytes(Framing.encodeHeader(100), pattern(50)),
        drop: (socket) => socket.resetAndDestroy(),
        reason: "Read"
      },
      {
        name: "close (FIN) mid-header",
        bytes: new Uint8Array([0, 0]),
        drop: (socket) => socket.end(),
        reason: "PeerClosed"
      },
      {
        name: "close (FIN) mid-body",
        bytes: concatBytes(Framing.encodeHeader(100), pattern(50)),
        drop: (socket) => socket.end(),
        reason: "PeerClosed"
      }
    ]
    for (const { bytes, drop, name, reason } of cases) {
      live(
        `${name}: the pending receive fails Disconnected at once, reconnect follows, the stream is aligned`,
        () =>
          Effect.gen(function*() {
            const server = yield* listenPlain()
            const transport = yield* makeTransport(yield* configFor(server.port, { timeout: "1 minute" }))
            yield* transport.awaitConnected
            const first = yield* Queue.take(server.accepted)
            const pending = yield* Effect.fork(transport.recvPkg())
            yield* write(first, bytes)
            // The partial frame has been read by the transport before the peer drops.
            const address = transport.config.address
            yield* eventually(Effect.sync(() => Effect.runSync(bytesIn(address)) >= bytes.length)).pipe(
              Effect.timeout("5 seconds")
            )
            drop(first)
            // Far sooner than the receive's own one-minute timeout.
            const exit = yield* Fiber.await(pending).pipe(Effect.timeout("5 seconds"))
            const error = failureOf(exit)
            assert.strictEqual(error._tag, "ConnectionError")
            if (error._tag === "ConnectionError") {
              assert.strictEqual(error.reason, "Disconnected")
              assert.strictEqual(error.generation, 1)
              assert.strictEqual(causeReason(error.cause), reason, error.message)
            }
            // The next connection starts clean: nothing of the partial frame is left in front of its frames.
            const second = yield* Queue.take(server.accepted).pipe(Effect.timeout("5 seconds"))
            yield* awaitState(transport, isConnected(2))
            yield* write(second, frame(pattern(20, 2)))
            assert.isTrue(sameBytes(yield* transport.recvPkg(), pattern(20, 2)))
          })
      )
    }
  })

  live("a peer that writes one byte at a time: frames still arrive whole", () =>
    Effect.gen(function*() {
      const server = yield* listenPlain()
      const transport = yield* makeTransport(yield* configFor(server.port))
      yield* transport.awaitConnected
      const socket = yield* Queue.take(server.accepted)
      socket.setNoDelay(true)
      const payloads = [pattern(0), pattern(3, 1), pattern(40, 2)]
      const bytes = concatBytes(...payloads.map(frame))
      const received = yield* Effect.fork(
        Effect.forEach(payloads, () => transport.recvPkg())
      )
      for (const byte of bytes) {
        yield* write(socket, new Uint8Array([byte]))
        yield* Effect.sleep("1 millis")
      }
      const frames = yield* Fiber.join(received)
      assert.strictEqual(frames.length, payloads.length)
      for (const [i, payload] of payloads.entries()) assert.isTrue(sameBytes(frames[i]!, payload), `frame ${i}`)
      assert.isTrue(isConnected(1)(yield* transport.state))
    }))

  live(
    "idle timeout over real sockets: a silent peer is dropped with reason Idle, then reconnected",
    () =>
      Effect.gen(function*() {
        const server = yield* listenPlain()
        const transport = yield* makeTransport(yield* configFor(server.port, { idleTimeout: "300 millis" }))
        const states = yield* recordStates(transport)
        yield* states.next(isConnected(1))
        const first = yield* Queue.take(server.accepted)
        const firstClosed = yield* trackClose(first)
        const idle = yield* states.next((s) => s._tag === "Disconnected")
        assert.isTrue(isDisconnectedWith("Idle")(idle), ConnectionState.format(idle))
        // The transport closed the silent connection itself.
        yield* firstClosed.pipe(Effect.timeout("5 seconds"))
        yield* states.next(isConnected(2))
        yield* Queue.take(server.accepted).pipe(Effect.timeout("5 seconds"))
      })
  )

  live(
    "connect timeout: a connect that hangs is bounded by connectTimeout, retried, then given up",
    () =>
      Effect.gen(function*() {
        const port = yield* hangingPort
        const baseline = tcpHandles()
        const transport = yield* makeTransport(
          yield* configFor(port, { connectTimeout: "200 millis", retryInterval: "50 millis", maxRetries: 1 })
        )
        const error = yield* transport.awaitConnected.pipe(Effect.flip, Effect.timeout("5 seconds"))
        assert.strictEqual(error._tag, "ConnectionError")
        if (error._tag === "ConnectionError") {
          assert.strictEqual(error.reason, "RetriesExhausted")
          assert.strictEqual(error.attempts, 2)
          const cause = error.cause as TransportError
          assert.strictEqual(cause._tag, "TimeoutError")
          assert.strictEqual(causeReason(cause), "connect")
          assert.match(error.message, /after 2 attempts: connect to 127\.0\.0\.1:\d+ timed out after 200ms/)
        }
        // Both timed-out attempts released their sockets.
        yield* awaitTcpHandles(baseline)
      })
  )

  describe("garbage where a length should be", () => {
    const cases: ReadonlyArray<{ readonly name: string; readonly bytes: Uint8Array; readonly seen: RegExp }> = [
      {
        name: "an HTTP/2 preface",
        bytes: new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        seen: /50 52 49 20 "PRI ", looks like an HTTP\/2 connection preface/
      },
      {
        name: "a TLS ClientHello",
        bytes: new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x5a, 0x11]),
        seen: /16 03 01 02 "\.\.\.\.", looks like a TLS handshake record/
      },
      {
        name: "random bytes",
        bytes: new Uint8Array([0x9f, 0x3a, 0xc2, 0x11, 0x07, 0xe4, 0x58, 0x2b, 0xd0, 0x66]),
        seen: /9f 3a c2 11/
      },
      {
        name: "0xFFFFFFFF",
        bytes: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x00]),
        seen: /length 4294967295 exceeds the maximum message size of 1048576 bytes \(length bytes ff ff ff ff/
      }
    ]
    const checkError = (error: unknown, bytes: Uint8Array, seen: RegExp) => {
      assert.isTrue(error instanceof ConnectionError, String(error))
      if (error instanceof ConnectionError) {
        assert.strictEqual(error.reason, "Protocol")
        assert.strictEqual(error.generation, 1)
        const cause = error.cause as FrameTooLargeError
        assert.strictEqual(cause._tag, "FrameTooLargeError")
        assert.strictEqual(cause.direction, "inbound")
        assert.strictEqual(cause.size, new DataView(bytes.buffer).getUint32(0))
        assert.deepStrictEqual(cause.header, bytes.subarray(0, 4))
        assert.match(error.message, seen)
      }
    }
    for (const { bytes, name, seen } of cases) {
      for (const checkLengthsOnArrival of [true, false]) {
        live(
          `${name}: a Protocol error naming what was seen, the connection dropped and reconnected (${
            checkLengthsOnArrival ? "checked on arrival, nobody receiving" : "found by a receive"
          })`,
          () =>
            Effect.gen(function*() {
              let connections = 0
              // Only the first connection speaks the wrong protocol.
              const server = yield* listenPlain((socket) => {
                if (connections++ === 0) socket.write(bytes)
              })
              const transport = yield* makeTransport(yield* configFor(server.port), { checkLengthsOnArrival })
              const states = yield* recordStates(transport)
              yield* states.next(isConnected(1))
              const first = yield* Queue.take(server.accepted)
              const firstClosed = yield* trackClose(first)
              if (!checkLengthsOnArrival) checkError(yield* Effect.flip(transport.recvPkg()), bytes, seen)
              const dropped = yield* states.next((s) => s._tag === "Disconnected")
              assert.isTrue(isDisconnectedWith("Protocol")(dropped), ConnectionState.format(dropped))
              if (dropped._tag === "Disconnected") checkError(Option.getOrUndefined(dropped.cause), bytes, seen)
              yield* firstClosed.pipe(Effect.timeout("5 seconds"))
              yield* states.next(isConnected(2))
              const second = yield* Queue.take(server.accepted).pipe(Effect.timeout("5 seconds"))
              yield* write(second, frame(pattern(9, 9)))
              assert.isTrue(sameBytes(yield* transport.recvPkg(), pattern(9, 9)))
            })
        )
      }
    }
  })

  live(
    "a peer that never reads: sends block on the outbound budget, then fail TimeoutError send",
    () =>
      Effect.gen(function*() {
        const server = yield* listenPlain()
        const transport = yield* makeTransport(
          yield* configFor(server.port, { timeout: "300 millis" }),
          { outboundBufferBytes: 256 * KiB }
        )
        yield* transport.awaitConnected
        const peer = yield* Queue.take(server.accepted)
        const memoryBefore = process.memoryUsage().arrayBuffers

        // One sender, 64 KiB at a time, until a send cannot complete: the kernel's buffers are full.
        const size = 64 * KiB
        const succeeded: Array<number> = []
        let firstFailure: TransportError | undefined
        for (let seq = 0; seq < 1024 && firstFailure === undefined; seq++) {
          const exit = yield* Effect.exit(transport.send(numbered(seq, size)))
          if (Exit.isSuccess(exit)) succeeded.push(seq)
          else firstFailure = failureOf(exit) as TransportError
        }
        assert.isDefined(firstFailure, "sends blocked before 64 MiB were accepted")
        assert.strictEqual(firstFailure!._tag, "TimeoutError")
        assert.strictEqual(causeReason(firstFailure), "send")

        // Many concurrent senders: all of them time out; nothing piles up beyond the budget.
        const exits = yield* Effect.forEach(
          Array.from({ length: 64 }, (_, i) => 10_000 + i),
          (seq) => Effect.exit(transport.send(numbered(seq, size))),
          { concurrency: "unbounded" }
        )
        for (const exit of exits) {
          const error = failureOf(exit) as TransportError
          assert.strictEqual(error._tag, "TimeoutError")
          assert.strictEqual(causeReason(error), "send")
        }
        assert.isTrue(isConnected(1)(yield* transport.state), "a slow peer is not a dead one")
        const growth = process.memoryUsage().arrayBuffers - memoryBefore
        assert.isBelow(growth, 64 * MiB, `arrayBuffers grew by ${growth} bytes`)

        // The peer starts reading: what it gets is whole frames only, in order, every accepted send among them.
        const decoder = Framing.makeDecoder({ maxMessageSize: MiB })
        const got: Array<number> = []
        const bad: Array<string> = []
        peer.on("data", (chunk: Uint8Array) => {
          decoder.push(chunk)
          for (let next = decoder.nextFrame(); next !== undefined; next = decoder.nextFrame()) {
            if (!(next instanceof Uint8Array)) {
              bad.push(next.message)
              return
            }
            const seq = seqOf(next)
            if (!sameBytes(next, numbered(seq, next.length))) bad.push(`frame ${seq} corrupt`)
            got.push(seq)
          }
        })
        const marker = 99_999
        yield* transport.send(numbered(marker, 16), { timeout: "10 seconds" })
        yield* eventually(Effect.sync(() => got.includes(marker) || bad.length > 0)).pipe(Effect.timeout("10 seconds"))
        assert.deepStrictEqual(bad, [])
        for (let i = 1; i < got.length; i++) assert.isAbove(got[i]!, got[i - 1]!)
        const delivered = new Set(got)
        for (const seq of succeeded) assert.isTrue(delivered.has(seq), `accepted frame ${seq} delivered`)
        assert.strictEqual(decoder.buffered, 0, "no partial frame left over")
      }),
    30_000
  )
})
