import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { assert, describe, it, vi } from "@effect/vitest"
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import type { Connection } from "@rocketmq-effect/transport/Connector"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Net from "node:net"
import { eventually, listenPlain, pattern, trackClose, unusedPort } from "./PlainPeers.js"
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

const MiB = 1024 * 1024

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
        yield* eventually(() => netSocket.listenerCount("data") > 0 && netSocket.bytesRead > 0 && !isReading(netSocket))
          .pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(delivered, 0)
        assert.isAbove(netSocket.readableLength, 0)

        connection.resume()
        yield* eventually(() => delivered >= MiB).pipe(Effect.timeout("5 seconds"))
        connection.pause()
        const atPause = delivered
        assert.isBelow(atPause, total)
        // Node reads on until it holds a high-water mark, then stops reading from the kernel.
        yield* eventually(() => !isReading(netSocket)).pipe(Effect.timeout("5 seconds"))
        // Flat while paused, and Node holds no more than about a high-water mark plus one 64 KiB read.
        assert.strictEqual(delivered, atPause)
        assert.isAtMost(netSocket.readableLength, 2 * highWaterMark + 64 * 1024)

        connection.resume()
        yield* eventually(() => delivered === total).pipe(Effect.timeout("5 seconds"))
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
        yield* eventually(() => netSocket.bytesRead > 0).pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(netSocket.listenerCount("data"), 0)
        let delivered = 0
        yield* Effect.forkScoped(connection.socket.run((chunk) => {
          delivered += chunk.length
        }))
        yield* eventually(() => delivered === MiB).pipe(Effect.timeout("5 seconds"))
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
      yield* eventually(() => tcpHandles().sockets > baseline.sockets).pipe(Effect.timeout("5 seconds"))
      assert.isNull(attempt.unsafePoll(), "the connect is still pending")
      yield* Fiber.interrupt(attempt)
      // The scope stays open: the socket must be gone because of the interruption, not the scope.
      yield* awaitTcpHandles(baseline)
      yield* Scope.close(scope, Exit.void)
    }), 10_000)
})
