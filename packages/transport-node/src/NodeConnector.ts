/**
 * The TCP connector: each `connect` opens one `node:net` connection and presents it as an `@effect/platform`
 * `Socket` (a lean one over the connected `net.Socket`) with `pause` / `resume` for inbound flow control.
 *
 * How the config's socket options reach Node (`socketOptions` computes them):
 *
 * - `enableNodelay` → `noDelay` (`TCP_NODELAY`).
 * - `keepAlive` → `keepAlive` (`SO_KEEPALIVE`), and `keepAliveInterval` → `keepAliveInitialDelay`, the idle
 *   time before the first probe (`TCP_KEEPIDLE`). Node passes it to the kernel in whole seconds and silently
 *   ignores anything under one second, so it is rounded to whole seconds and raised to at least 1000 ms.
 * - `receiveBufferSize` / `sendBufferSize` → the stream's `readableHighWaterMark` / `writableHighWaterMark`.
 *   Node has no way to set `SO_RCVBUF` / `SO_SNDBUF` on a TCP socket; the kernel's buffers keep their
 *   (auto-tuned) sizes. The high-water marks bound what Node itself holds: while the connection is paused,
 *   Node stops reading from the kernel once about `receiveBufferSize` bytes are buffered, so the peer's
 *   writes back up into TCP.
 *
 * What Node cannot do:
 *
 * - The keep-alive probe interval and probe count (`TCP_KEEPINTVL`, `TCP_KEEPCNT`) are fixed by libuv
 *   (1 second, 10 probes), and `keepAliveTimeout` has no Node equivalent (nor has `TCP_USER_TIMEOUT`). A peer
 *   that vanished is detected by the transport's `idleTimeout` instead.
 * - `enableReuseAddress` (`SO_REUSEADDR`) only matters for a socket that binds a chosen port; a client
 *   connect binds an ephemeral one, so there is nothing to set.
 * - `bufferSize` (the seed's read size) does not apply: libuv reads in chunks of up to 64 KiB.
 *
 * @since 0.1.0
 */
import * as Connector from "@rocketmq-effect/transport/Connector"
import type { TransportConfig } from "@rocketmq-effect/transport/TransportConfig"
import { ConnectionError } from "@rocketmq-effect/transport/TransportError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Net from "node:net"
import { peerAddress } from "./internal/address.js"
import { fromNetSocket, readChunks, writeChunks } from "./internal/netSocket.js"

/**
 * The options `connect` passes to `net.createConnection`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketOptions {
  readonly host: string
  readonly port: number
  readonly noDelay: boolean
  readonly keepAlive: boolean
  /** Milliseconds, a whole number of seconds and at least 1000. */
  readonly keepAliveInitialDelay: number
  readonly readableHighWaterMark: number
  readonly writableHighWaterMark: number
}

/**
 * Node's smallest effective keep-alive delay: it converts to whole seconds, and zero seconds is refused by
 * the kernel without an error being reported.
 */
const MIN_KEEP_ALIVE_DELAY_MILLIS = 1000

/**
 * The `net.createConnection` options for a config.
 *
 * @example
 * ```ts
 * import { NodeConnector } from "@rocketmq-effect/transport-node"
 * import { TransportConfig } from "@rocketmq-effect/transport"
 *
 * assert.deepStrictEqual(NodeConnector.socketOptions(TransportConfig.DEFAULT), {
 *   host: "localhost",
 *   port: 8080,
 *   noDelay: true,
 *   keepAlive: true,
 *   keepAliveInitialDelay: 30000,
 *   readableHighWaterMark: 8192,
 *   writableHighWaterMark: 8192
 * })
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export const socketOptions = (config: TransportConfig): SocketOptions => {
  const seconds = Math.round(Duration.toMillis(config.keepAliveInterval) / 1000)
  return {
    host: config.host,
    port: config.port,
    noDelay: config.enableNodelay,
    keepAlive: config.keepAlive,
    keepAliveInitialDelay: Math.max(MIN_KEEP_ALIVE_DELAY_MILLIS, seconds * 1000),
    readableHighWaterMark: config.receiveBufferSize,
    writableHighWaterMark: config.sendBufferSize
  }
}

// Resolves on 'connect'. Interruption (the transport's connect timeout) destroys the half-open socket at once
// rather than when the surrounding scope happens to close.
const awaitConnect = (netSocket: Net.Socket, address: string): Effect.Effect<void, ConnectionError> =>
  Effect.async<void, ConnectionError>((resume) => {
    const cleanup = () => {
      netSocket.off("connect", onConnect)
      netSocket.off("error", onError)
      netSocket.off("close", onClose)
    }
    const onConnect = () => {
      cleanup()
      resume(Effect.void)
    }
    const onError = (cause: Error) => {
      cleanup()
      resume(Effect.fail(new ConnectionError({ reason: "Connect", address, cause })))
    }
    const onClose = () => {
      cleanup()
      resume(
        Effect.fail(new ConnectionError({ reason: "Connect", address, cause: new Error("closed before connecting") }))
      )
    }
    netSocket.once("connect", onConnect)
    netSocket.once("error", onError)
    netSocket.once("close", onClose)
    return Effect.sync(() => {
      cleanup()
      netSocket.destroy()
    })
  })

const connect = (config: TransportConfig): Effect.Effect<Connector.Connection, ConnectionError, Scope.Scope> =>
  Effect.gen(function*() {
    const address = config.address
    const scope = yield* Effect.scope
    // Added to the scope directly rather than by `acquireRelease`, which would keep the fiber's refs (and so
    // the connect span) for the connection's whole life, only to run a `destroy` that needs none of them.
    const netSocket = yield* Effect.uninterruptible(Effect.suspend(() => {
      const created = Net.createConnection(socketOptions(config))
      // A run listens for errors only while it runs; this listener stays for the socket's whole life so that
      // an error outside a run never becomes an uncaught exception. `netSocket.errored` keeps the error.
      created.on("error", () => {})
      return Effect.as(Scope.addFinalizer(scope, Effect.sync(() => created.destroy())), created)
    }))
    yield* awaitConnect(netSocket, address)

    // A run attaches its listeners when it starts. A socket that already failed or closed by then would never
    // emit again, so such a run fails at once (with the error that destroyed the socket, if any).
    const socket = fromNetSocket(netSocket)

    let paused = false
    // `Readable.resume()` with no 'data' listener would flow bytes to nobody. A resume that comes before `run`
    // attaches its listener is therefore deferred until the listener arrives.
    netSocket.on("newListener", (event: string | symbol) => {
      if (event === "data" && !paused && netSocket.readableFlowing === false) netSocket.resume()
    })

    return {
      remoteAddress: netSocket.remoteAddress === undefined
        ? address
        : peerAddress(netSocket.remoteAddress, netSocket.remotePort),
      socket,
      pause: () => {
        paused = true
        netSocket.pause()
      },
      resume: () => {
        paused = false
        if (netSocket.listenerCount("data") > 0) netSocket.resume()
      },
      write: writeChunks(netSocket),
      read: readChunks(netSocket)
    }
  })

/**
 * The TCP connector.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Connector.ConnectorService> = Effect.sync(() => Connector.Connector.of({ connect }))

/**
 * Provides the TCP connector as the core's `Connector`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Connector.Connector> = Layer.effect(Connector.Connector, make)
