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
 * Over TLS (`layerTls`, or `NodeTransport.layer(config, { tls })`) the TCP connection is opened the same way,
 * then the handshake runs on it; the transport's `connectTimeout` bounds both. A failure before TCP connects
 * is `reason: "Connect"` (refused, unreachable); a failure in the handshake is `reason: "Tls"`, with `tls`
 * saying why (`TransportError.TlsFailure`). Under TLS 1.3 a server checks the client's certificate after the
 * client's side of the handshake is done, so a server that refuses it drops the new connection right after
 * it connected (`reason: "Read"` with the alert, e.g. `ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE`, or `PeerClosed`
 * when the close is read first), not as a failed connect.
 *
 * @since 0.1.0
 */
import * as Connector from "@rocketmq-effect/transport/Connector"
import type { TransportConfig } from "@rocketmq-effect/transport/TransportConfig"
import type { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import { ConnectionError } from "@rocketmq-effect/transport/TransportError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { peerAddress } from "./internal/address.js"
import { fromNetSocket, readChunks, writeChunks } from "./internal/netSocket.js"
import { tlsFailure } from "./internal/tlsFailure.js"
import * as TlsConfig from "./TlsConfig.js"

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

const connectFailure = (address: string) => (cause: unknown): ConnectionError =>
  new ConnectionError({ reason: "Connect", address, cause })

const handshakeFailure = (address: string) => (cause: unknown): ConnectionError =>
  new ConnectionError({ reason: "Tls", address, tls: tlsFailure(cause), cause })

// Resolves on `event` ('connect', or 'secureConnect' for TLS). Interruption (the transport's connect timeout)
// destroys the half-open socket at once rather than when the surrounding scope happens to close.
const awaitEvent = (
  netSocket: Net.Socket,
  event: "connect" | "secureConnect",
  failure: (cause: unknown) => ConnectionError
): Effect.Effect<void, ConnectionError> =>
  Effect.async<void, ConnectionError>((resume) => {
    const cleanup = () => {
      netSocket.off(event, onConnect)
      netSocket.off("error", onError)
      netSocket.off("close", onClose)
    }
    const onConnect = () => {
      cleanup()
      resume(Effect.void)
    }
    const onError = (cause: Error) => {
      cleanup()
      resume(Effect.fail(failure(cause)))
    }
    const onClose = () => {
      cleanup()
      const cause = Object.assign(
        new Error("closed before connecting"),
        event === "secureConnect" ? { code: "ECONNRESET" } : {}
      )
      resume(Effect.fail(failure(cause)))
    }
    netSocket.once(event, onConnect)
    netSocket.once("error", onError)
    netSocket.once("close", onClose)
    return Effect.sync(() => {
      cleanup()
      netSocket.destroy()
    })
  })

// A socket's finalizer goes to the scope directly rather than by `acquireRelease`, which would keep the
// fiber's refs (and so the connect span) for the connection's whole life, only to run a `destroy` that needs
// none of them. The listener stays for the socket's whole life so that an error outside a run never becomes
// an uncaught exception; `socket.errored` keeps the error.
const owned = <S extends Net.Socket>(scope: Scope.Scope, create: () => S): Effect.Effect<S> =>
  Effect.uninterruptible(Effect.suspend(() => {
    const created = create()
    created.on("error", () => {})
    return Effect.as(Scope.addFinalizer(scope, Effect.sync(() => created.destroy())), created)
  }))

const connect =
  (tls: TlsConfig.TlsConfig | undefined) =>
  (config: TransportConfig): Effect.Effect<Connector.Connection, ConnectionError, Scope.Scope> =>
    Effect.gen(function*() {
      const address = config.address
      const scope = yield* Effect.scope
      const tcpSocket = yield* owned(scope, () => Net.createConnection(socketOptions(config)))
      yield* awaitEvent(tcpSocket, "connect", connectFailure(address))
      let netSocket: Net.Socket = tcpSocket
      if (tls !== undefined) {
        // The handshake runs on the connected TCP socket, so a refused connect and a failed handshake stay
        // apart. The TLS socket takes over the TCP socket's handle; its readable high-water mark (a
        // `tls.connect` option that Node's types omit) bounds what it holds while paused, as for TCP.
        const options: Tls.ConnectionOptions & { readonly highWaterMark: number } = {
          ...TlsConfig.connectOptions(tls, config.host),
          socket: tcpSocket,
          highWaterMark: config.receiveBufferSize
        }
        netSocket = yield* owned(scope, () => Tls.connect(options))
        yield* awaitEvent(netSocket, "secureConnect", handshakeFailure(address))
      }

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
        read: readChunks(netSocket, { coalesce: tls !== undefined })
      }
    })

/**
 * The TCP connector.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Connector.ConnectorService> = Effect.sync(() =>
  Connector.Connector.of({ connect: connect(undefined) })
)

/**
 * The TLS connector: every connection is opened over TCP, then secured with `tls` (a validated
 * `TlsConfig`, or the fields `TlsConfig.make` accepts).
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeTls = (
  tls: TlsConfig.TlsConfig | TlsConfig.TlsConfigInput
): Effect.Effect<Connector.ConnectorService, ConfigurationError> =>
  Effect.map(TlsConfig.fromInput(tls), (tls) => Connector.Connector.of({ connect: connect(tls) }))

/**
 * Provides the TCP connector as the core's `Connector`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Connector.Connector> = Layer.effect(Connector.Connector, make)

/**
 * Provides the TLS connector as the core's `Connector`, for anything that takes its connector from context
 * (the remoting client, `Transport.make`). Bad TLS input fails the layer with a `ConfigurationError`.
 *
 * @example
 * ```ts
 * import { NodeConnector } from "@rocketmq-effect/transport-node"
 * import { Transport, TransportConfig } from "@rocketmq-effect/transport"
 * import { Effect, Layer } from "effect"
 *
 * const TransportLayer = Layer.scoped(
 *   Transport.Transport,
 *   Effect.flatMap(TransportConfig.make({ host: "broker.example.com", port: 8081 }), (config) => Transport.make(config))
 * ).pipe(Layer.provide(NodeConnector.layerTls({ serverName: "broker.example.com" })))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerTls = (
  tls: TlsConfig.TlsConfig | TlsConfig.TlsConfigInput
): Layer.Layer<Connector.Connector, ConfigurationError> => Layer.effect(Connector.Connector, makeTls(tls))
