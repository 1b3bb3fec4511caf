import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Socket from "@effect/platform/Socket"
import { assert, describe, it, vi } from "@effect/vitest"
import { MiB, pattern } from "@rocketmq-effect/test-kit/Bytes"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import type { Connection } from "@rocketmq-effect/transport/Connector"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Net from "node:net"
import { fromNetSocket } from "../src/internal/netSocket.js"
import { connectPlain, listenPlain, trackClose, unusedPort } from "./PlainPeers.js"
import type { PlainServer } from "./PlainPeers.js"
import { awaitTcpHandles, hangingPort, tcpHandles } from "./TcpFixtures.js"

const configFor = (port: number, changes: Partial<TransportConfig.TransportConfigInput> = {}) =>
  TransportConfig.make({ host: "127.0.0.1", port, ...changes })

// Node keeps the options it applied under private symbols; reading them is the only way to see them from
// JavaScript (there is no getsockopt). A Node upgrade that renames them fails this test loudly, not silently.
const appliedOption = (socket: Net.Socket, name: string): unknown => {
  const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === name)
  assert.isDefined(symbol, `net.Socket has no ${name} symbol`)
  return (socket as unknown as Record<symbol, unknown>)[symbol!]
}

const RUN_EVENTS = ["data", "end", "error", "close"] as const
const listenerCounts = (socket: Net.Socket) => RUN_EVENTS.map((event) => socket.listenerCount(event))

/** A raw loopback connection to `server` presented as a `Socket`, with the peer's end of it. */
const socketPair = (server: PlainServer) =>
  Effect.gen(function*() {
    const netSocket = yield* connectPlain(server.port)
    // What the connector does: one 'error' listener for the socket's whole life, so that an error outside a run
    // never becomes an uncaught exception.
    netSocket.removeAllListeners("error")
    netSocket.on("error", () => {})
    const peer = yield* Queue.take(server.accepted).pipe(Effect.timeout("5 seconds"))
    return { netSocket, peer, socket: fromNetSocket(netSocket) }
  })

class HandlerError extends Data.TaggedError("HandlerError")<{}> {}

/**
 * Pauses `connection` and returns the `net.Socket` under it, which the connector does not expose: the one
 * `pause` is called on.
 */
const pauseCapturing = (connection: Connection): Net.Socket => {
  const spy = vi.spyOn(Net.Socket.prototype, "pause")
  try {
    connection.pause()
    const socket: unknown = spy.mock.contexts[0]
    assert.instanceOf(socket, Net.Socket, "pause reached the net.Socket")
    return socket as Net.Socket
  } finally {
    spy.mockRestore()
  }
}

// Whether Node is reading the socket from the kernel: `net` clears its handle's `reading` flag once the
// stream's buffer is full. Internal, like the option symbols above; a Node that drops it fails loudly.
const isReading = (socket: Net.Socket): boolean => {
  const reading = (socket as unknown as { readonly _handle?: { readonly reading?: unknown } })._handle?.reading
  assert.isBoolean(reading, "net.Socket has no _handle.reading")
  return reading as boolean
}

describe("NodeConnector", () => {
  it.scopedLive("connects and round-trips bytes through the Socket", () =>
    Effect.gen(function*() {
      const server = yield* listenPlain((socket) => socket.pipe(socket))
      const config = yield* configFor(server.port)
      const connector = yield* NodeConnector.make
      const connection = yield* connector.connect(config)
      assert.strictEqual(connection.remoteAddress, `127.0.0.1:${server.port}`)

      const payload = pattern(256 * 1024)
      const received: Array<Uint8Array> = []
      let total = 0
      const done = yield* Deferred.make<void>()
      yield* Effect.forkScoped(connection.socket.run((chunk) => {
        received.push(chunk)
        total += chunk.length
        if (total >= payload.length) Deferred.unsafeDone(done, Effect.void)
      }))
      const write = yield* connection.socket.writer
      yield* write(payload)
      yield* Deferred.await(done).pipe(Effect.timeout("5 seconds"))
      assert.deepStrictEqual(Buffer.concat(received), Buffer.from(payload))
    }), 10_000)

  it.scopedLive("fails with ConnectionError reason Connect when refused", () =>
    Effect.gen(function*() {
      const port = yield* unusedPort
      const connector = yield* NodeConnector.make
      const error = yield* connector.connect(yield* configFor(port)).pipe(Effect.flip, Effect.timeout("5 seconds"))
      assert.strictEqual(error._tag, "ConnectionError")
      assert.strictEqual(error.reason, "Connect")
      assert.strictEqual(error.address, `127.0.0.1:${port}`)
      assert.match(error.message, /ECONNREFUSED/)
    }), 10_000)

  it.effect("socketOptions maps the config, keep-alive delay in whole seconds of at least 1000 ms", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(NodeConnector.socketOptions(TransportConfig.DEFAULT), {
        host: "localhost",
        port: 8080,
        noDelay: true,
        keepAlive: true,
        keepAliveInitialDelay: 30_000,
        readableHighWaterMark: 8192,
        writableHighWaterMark: 8192
      })
      const options = NodeConnector.socketOptions(
        yield* configFor(1, {
          enableNodelay: false,
          keepAlive: false,
          sendBufferSize: 1000,
          receiveBufferSize: 2000
        })
      )
      assert.strictEqual(options.noDelay, false)
      assert.strictEqual(options.keepAlive, false)
      assert.strictEqual(options.writableHighWaterMark, 1000)
      assert.strictEqual(options.readableHighWaterMark, 2000)
      const delay = (interval: Duration.DurationInput) =>
        Effect.map(
          configFor(1, { keepAliveInterval: interval }),
          (c) => NodeConnector.socketOptions(c).keepAliveInitialDelay
        )
      assert.strictEqual(yield* delay("1 millis"), 1000)
      assert.strictEqual(yield* delay("300 millis"), 1000)
      assert.strictEqual(yield* delay("1499 millis"), 1000)
      assert.strictEqual(yield* delay("1500 millis"), 2000)
      assert.strictEqual(yield* delay("2400 millis"), 2000)
      assert.strictEqual(yield* delay("15 seconds"), 15_000)
    }))

  it.scopedLive("applies the socket options to the net.Socket", () =>
    Effect.gen(function*() {
      const server = yield* listenPlain((socket) => socket.write("x"))
      const config = yield* configFor(server.port, {
        enableNodelay: true,
        keepAlive: true,
        keepAliveInterval: "2400 millis",
        sendBufferSize: 12_345,
        receiveBufferSize: 23_456
      })
      const connection = yield* (yield* NodeConnector.make).connect(config)
      // `fromDuplex` provides the net.Socket to the effects a run handler returns.
      const captured = yield* Deferred.make<Net.Socket>()
      yield* Effect.forkScoped(
        connection.socket.run(() =>
          Effect.flatMap(Effect.serviceOption(NodeSocket.NetSocket), (socket) =>
            Deferred.succeed(captured, Option.getOrThrow(socket)))
        )
      )
      const netSocket = yield* Deferred.await(captured).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(netSocket.readableHighWaterMark, 23_456)
      assert.strictEqual(netSocket.writableHighWaterMark, 12_345)
      assert.strictEqual(appliedOption(netSocket, "kSetNoDelay"), true)
      assert.strictEqual(appliedOption(netSocket, "kSetKeepAlive"), true)
      // Node stores the delay in seconds.
      assert.strictEqual(appliedOption(netSocket, "kSetKeepAliveInitialDelay"), 2)
    }), 10_000)

  it.scopedLive(
    "pause stops reading (bounded by the high-water mark) and resume delivers the rest",
    () =>
      Effect.gen(function*() {
        const total = 10 * MiB
        const peerWrote = yield* Deferred.make<void>()
        const server = yield* listenPlain((socket) =>
          socket.end(pattern(total), () => Deferred.unsafeDone(peerWrote, Effect.void))
        )
        const highWaterMark = 64 * 1024
        const config = yield* configFor(server.port, { receiveBufferSize: highWaterMark })
        const connection = yield* (yield* NodeConnector.make).connect(config)

        // Paused before `run` attaches its listener: nothing may be delivered.
        const netSocket = pauseCapturing(connection)
        let delivered = 0
        const run = yield* Effect.forkScoped(connection.socket.run((chunk) => {
          delivered += chunk.length
        }))
        // The listener is there and Node has read until its buffer is full: a flowing stream would have
        // delivered those bytes.
        yield* eventually(
          Effect.sync(() => netSocket.listenerCount("data") > 0 && netSocket.bytesRead > 0 && !isReading(netSocket))
        )
          .pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(delivered, 0)
        assert.isAbove(netSocket.readableLength, 0)

        connection.resume()
        yield* eventually(Effect.sync(() => delivered >= MiB)).pipe(Effect.timeout("5 seconds"))
        connection.pause()
        const atPause = delivered
        assert.isBelow(atPause, total)
        // Node reads on until it holds a high-water mark, then stops reading from the kernel.
        yield* eventually(Effect.sync(() => !isReading(netSocket))).pipe(Effect.timeout("5 seconds"))
        // Flat while paused, and Node holds no more than about a high-water mark plus one 64 KiB read.
        assert.strictEqual(delivered, atPause)
        assert.isAtMost(netSocket.readableLength, 2 * highWaterMark + 64 * 1024)

        connection.resume()
        yield* eventually(Effect.sync(() => delivered === total)).pipe(Effect.timeout("5 seconds"))
        yield* Deferred.await(peerWrote).pipe(Effect.timeout("5 seconds"))
        // A clean FIN from the peer ends `run` with success.
        const exit = yield* Fiber.await(run).pipe(Effect.timeout("5 seconds"))
        assert.isTrue(Exit.isSuccess(exit))
      }),
    20_000
  )

  it.scopedLive(
    "a resume that comes before run still delivers everything once run starts",
    () =>
      Effect.gen(function*() {
        const server = yield* listenPlain((socket) => socket.end(pattern(MiB)))
        const connection = yield* (yield* NodeConnector.make).connect(yield* configFor(server.port))
        const netSocket = pauseCapturing(connection)
        connection.resume()
        // Bytes arrive before `run`: had `resume` set the stream flowing with no 'data' listener, they would be
        // dropped.
        yield* eventually(Effect.sync(() => netSocket.bytesRead > 0)).pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(netSocket.listenerCount("data"), 0)
        let delivered = 0
        yield* Effect.forkScoped(connection.socket.run((chunk) => {
          delivered += chunk.length
        }))
        yield* eventually(Effect.sync(() => delivered === MiB)).pipe(Effect.timeout("5 seconds"))
      }),
    10_000
  )

  it.scopedLive("closing the connection's scope destroys the socket", () =>
    Effect.gen(function*() {
      const server = yield* listenPlain()
      const config = yield* configFor(server.port)
      const scope = yield* Scope.make()
      yield* (yield* NodeConnector.make).connect(config).pipe(Scope.extend(scope))
      const accepted = yield* Queue.take(server.accepted).pipe(Effect.timeout("5 seconds"))
      const closed = yield* trackClose(accepted)
      yield* Scope.close(scope, Exit.void)
      const seen = yield* Deferred.await(closed).pipe(Effect.timeout("5 seconds"))
      assert.isFalse(seen.hadError)
    }), 10_000)

  it.scopedLive("interrupting a pending connect destroys the half-open socket", () =>
    Effect.gen(function*() {
      // A listener that never completes a handshake: the connect stays pending until interrupted.
      const port = yield* hangingPort
      const baseline = tcpHandles()
      const connector = yield* NodeConnector.make
      const scope = yield* Scope.make()
      // Interrupted while connecting, as the transport's connect timeout would.
      const attempt = yield* Effect.fork(connector.connect(yield* configFor(port)).pipe(Scope.extend(scope)))
      // The socket exists: there is something for the interruption to destroy.
      yield* eventually(Effect.sync(() => tcpHandles().sockets > baseline.sockets)).pipe(Effect.timeout("5 seconds"))
      assert.isNull(attempt.unsafePoll(), "the connect is still pending")
      yield* Fiber.interrupt(attempt)
      // The scope stays open: the socket must be gone because of the interruption, not the scope.
      yield* awaitTcpHandles(baseline)
      yield* Scope.close(scope, Exit.void)
    }), 10_000)

  it.scopedLive(
    "a run on a connection the peer already reset fails at once with reason Read",
    () =>
      Effect.gen(function*() {
        const server = yield* listenPlain()
        const connection = yield* (yield* NodeConnector.make).connect(yield* configFor(server.port))
        const peer = yield* Queue.take(server.accepted).pipe(Effect.timeout("5 seconds"))
        peer.resetAndDestroy()
        // The reset reaches the client while nobody runs: its 'error' and 'close' events are gone by then.
        yield* Effect.sleep("200 millis")
        const error = yield* connection.socket.run(() => {}).pipe(Effect.flip, Effect.timeout("1 second"))
        assert.strictEqual(error._tag, "SocketError")
        assert.strictEqual(error.reason, "Read")
        assert.match(String((error as Socket.SocketGenericError).cause), /ECONNRESET/)
      }),
    10_000
  )

  describe("its Socket over the net.Socket", () => {
    it.scopedLive(
      "hands the handler every byte as Uint8Array chunks; the peer's FIN ends run with success",
      () =>
        Effect.gen(function*() {
          const server = yield* listenPlain((socket) => socket.end(pattern(MiB)))
          const { netSocket, socket } = yield* socketPair(server)
          const before = listenerCounts(netSocket)
          const chunks: Array<Uint8Array> = []
          yield* socket.run((chunk) => {
            chunks.push(chunk)
          }).pipe(Effect.timeout("5 seconds"))
          assert.isTrue(chunks.every((chunk) => chunk instanceof Uint8Array))
          assert.deepStrictEqual(Buffer.concat(chunks), Buffer.from(pattern(MiB)))
          assert.deepStrictEqual(listenerCounts(netSocket), before)
        }),
      10_000
    )

    it.scopedLive(
      "a reset fails run with SocketGenericError reason Read and removes its listeners",
      () =>
        Effect.gen(function*() {
          const server = yield* listenPlain()
          const { netSocket, peer, socket } = yield* socketPair(server)
          const before = listenerCounts(netSocket)
          const run = yield* Effect.fork(socket.run(() => {}))
          yield* eventually(Effect.sync(() => netSocket.listenerCount("data") > before[0]!)).pipe(
            Effect.timeout("1 second")
          )
          peer.resetAndDestroy()
          const error = yield* Fiber.join(run).pipe(Effect.flip, Effect.timeout("5 seconds"))
          assert.instanceOf(error, Socket.SocketGenericError)
          assert.strictEqual(error.reason, "Read")
          assert.match(String((error as Socket.SocketGenericError).cause), /ECONNRESET/)
          assert.deepStrictEqual(listenerCounts(netSocket), before)
        }),
      10_000
    )

    it.scopedLive("interrupting run removes its listeners", () =>
      Effect.gen(function*() {
        const server = yield* listenPlain()
        const { netSocket, socket } = yield* socketPair(server)
        const before = listenerCounts(netSocket)
        const run = yield* Effect.fork(socket.run(() => {}))
        yield* eventually(Effect.sync(() => netSocket.listenerCount("data") > before[0]!)).pipe(
          Effect.timeout("1 second")
        )
        assert.deepStrictEqual(listenerCounts(netSocket), before.map((n) => n + 1))
        yield* Fiber.interrupt(run)
        assert.deepStrictEqual(listenerCounts(netSocket), before)
      }), 10_000)

    it.scopedLive("concurrent runs each see every chunk", () =>
      Effect.gen(function*() {
        const server = yield* listenPlain()
        const { peer, socket } = yield* socketPair(server)
        let first = 0
        let second = 0
        const runs = yield* Effect.fork(Effect.all([
          socket.run((chunk) => {
            first += chunk.length
          }),
          socket.run((chunk) => {
            second += chunk.length
          })
        ], { concurrency: "unbounded" }))
        yield* Effect.sleep("50 millis")
        peer.end(pattern(64 * 1024))
        yield* Fiber.join(runs).pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(first, 64 * 1024)
        assert.strictEqual(second, 64 * 1024)
      }), 10_000)

    it.scopedLive(
      "an Effect the handler returns runs with NetSocket; its failure fails run",
      () =>
        Effect.gen(function*() {
          const server = yield* listenPlain()
          const { netSocket, peer, socket } = yield* socketPair(server)
          const before = listenerCounts(netSocket)
          const seen = yield* Deferred.make<Net.Socket>()
          let chunks = 0
          const run = yield* Effect.fork(socket.run(() => {
            chunks++
            return chunks === 1
              ? Effect.flatMap(
                Effect.serviceOption(NodeSocket.NetSocket),
                (socket) => Deferred.succeed(seen, Option.getOrThrow(socket))
              )
              : Effect.zipRight(Effect.sleep("10 millis"), Effect.fail(new HandlerError()))
          }))
          peer.write("a")
          assert.strictEqual(yield* Deferred.await(seen).pipe(Effect.timeout("5 seconds")), netSocket)
          peer.write("b")
          const error = yield* Fiber.join(run).pipe(Effect.flip, Effect.timeout("5 seconds"))
          assert.instanceOf(error, HandlerError)
          assert.deepStrictEqual(listenerCounts(netSocket), before)
        }),
      10_000
    )

    it.scopedLive("a throwing handler fails run with the defect", () =>
      Effect.gen(function*() {
        const server = yield* listenPlain((socket) => socket.write("x"))
        const { netSocket, socket } = yield* socketPair(server)
        const before = listenerCounts(netSocket)
        const exit = yield* socket.run(() => {
          throw new Error("handler bug")
        }).pipe(Effect.exit, Effect.timeout("5 seconds"))
        assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
        assert.deepStrictEqual(listenerCounts(netSocket), before)
      }), 10_000)

    it.scopedLive("onOpen runs once the listeners are attached", () =>
      Effect.gen(function*() {
        const server = yield* listenPlain()
        const { netSocket, peer, socket } = yield* socketPair(server)
        const before = listenerCounts(netSocket)
        let atOpen: ReadonlyArray<number> = []
        yield* Effect.fork(socket.run(() => {}, {
          onOpen: Effect.sync(() => {
            atOpen = listenerCounts(netSocket)
            peer.end()
          })
        })).pipe(Effect.flatMap(Fiber.join), Effect.timeout("5 seconds"))
        assert.deepStrictEqual(atOpen, before.map((n) => n + 1))
        assert.deepStrictEqual(listenerCounts(netSocket), before)
      }), 10_000)

    it.scopedLive(
      "a write completes on Node's callback, and fails typed once the socket is destroyed",
      () =>
        Effect.gen(function*() {
          const server = yield* listenPlain((socket) => socket.pause())
          const { netSocket, peer, socket } = yield* socketPair(server)
          const write = yield* socket.writer
          // More than the kernel buffers while the peer does not read: Node calls back only once it drained.
          const size = 64 * MiB
          const pending = yield* Effect.fork(write(new Uint8Array(size)))
          yield* Effect.sleep("200 millis")
          assert.isNull(pending.unsafePoll())
          let read = 0
          peer.on("data", (chunk: Buffer) => {
            read += chunk.length
          })
          peer.resume()
          yield* Fiber.join(pending).pipe(Effect.timeout("10 seconds"))
          assert.isAbove(read, 0)

          netSocket.destroy()
          const error = yield* write(new Uint8Array(1)).pipe(Effect.flip, Effect.timeout("1 second"))
          assert.instanceOf(error, Socket.SocketGenericError)
          assert.strictEqual(error.reason, "Write")
        }),
      20_000
    )

    it.scopedLive("a write pending when the socket is destroyed completes", () =>
      Effect.gen(function*() {
        const server = yield* listenPlain((socket) => socket.pause())
        const { netSocket, socket } = yield* socketPair(server)
        const write = yield* socket.writer
        const pending = yield* Effect.fork(write(new Uint8Array(64 * MiB)))
        yield* Effect.sleep("100 millis")
        netSocket.destroy()
        yield* Fiber.await(pending).pipe(Effect.timeout("5 seconds"))
      }), 10_000)

    it.scopedLive("a CloseEvent destroys the socket, with an error for codes above 1000", () =>
      Effect.gen(function*() {
        const server = yield* listenPlain()
        const clean = yield* socketPair(server)
        yield* Effect.flatMap(clean.socket.writer, (write) => write(new Socket.CloseEvent()))
        assert.isTrue(clean.netSocket.destroyed)
        assert.isNull(clean.netSocket.errored)

        const failed = yield* socketPair(server)
        const run = yield* Effect.fork(failed.socket.run(() => {}))
        yield* eventually(Effect.sync(() => failed.netSocket.listenerCount("data") > 0)).pipe(
          Effect.timeout("1 second")
        )
        yield* Effect.flatMap(failed.socket.writer, (write) => write(new Socket.CloseEvent(4000, "going away")))
        assert.isTrue(failed.netSocket.destroyed)
        const error = yield* Fiber.join(run).pipe(Effect.flip, Effect.timeout("5 seconds"))
        assert.strictEqual(error.reason, "Read")
        assert.match(String((error as Socket.SocketGenericError).cause), /4000/)
      }), 10_000)

    it.scopedLive("releasing the writer's scope ends the writable side", () =>
      Effect.gen(function*() {
        const server = yield* listenPlain()
        const { netSocket, peer, socket } = yield* socketPair(server)
        const peerEnded = yield* Deferred.make<void>()
        peer.on("end", () => Deferred.unsafeDone(peerEnded, Effect.void))
        peer.resume()
        const scope = yield* Scope.make()
        const write = yield* socket.writer.pipe(Scope.extend(scope))
        yield* write("bye")
        yield* Scope.close(scope, Exit.void)
        assert.isTrue(netSocket.writableEnded)
        yield* Deferred.await(peerEnded).pipe(Effect.timeout("5 seconds"))
        const error = yield* write("late").pipe(Effect.flip)
        assert.strictEqual(error.reason, "Write")
      }), 10_000)
  })
})
