/**
 * A framed TCP server: it accepts connections and hands each one, as a stream of inbound payloads and a
 * framed `send`, to a handler running in its own fiber. It speaks the same `| length | payload |` framing as
 * the transport, with the same `maxMessageSize` check, and bounds what it buffers per connection.
 *
 * It exists for tests, demos and benchmarks: an echo peer (`echo`), a fault injector (`closeConnections`,
 * `output`, `reset`) and a reference for what a well-behaved peer does.
 *
 * @example
 * ```ts
 * import { TransportServer } from "@rocketmq-effect/transport-node"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* TransportServer.make({ port: 0 })
 *   yield* server.serve(TransportServer.echo)
 *   yield* Effect.log(`echo server on port ${server.address.port}`)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import * as Transport from "@rocketmq-effect/transport/Transport"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import type { ConnectionError, FrameError, FrameTooLargeError } from "@rocketmq-effect/transport/TransportError"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Predicate from "effect/Predicate"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { peerAddress } from "./internal/address.js"
import { listToNode, toNode } from "./internal/pem.js"
import * as internal from "./internal/serverConnection.js"
import type * as TlsConfig from "./TlsConfig.js"

// TLS needs to read during the handshake, so a TLS server cannot pause on connect: each connection is paused
// once its handshake is done instead, which holds as little (a TLS record at most).
// Connections still in their TLS handshake are not yet the server's connections, but would hold up its close:
// `handshaking` holds every raw TCP socket of a TLS server until it closes, for the finalizer to destroy.
const createServer = (
  tls: ServerTlsOptions | undefined,
  handshaking: Set<Net.Socket>,
  onConnection: (socket: Net.Socket) => void
): Net.Server => {
  if (tls === undefined) {
    const server = Net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true })
    server.on("connection", onConnection)
    return server
  }
  const server = Tls.createServer({
    allowHalfOpen: true,
    noDelay: true,
    cert: toNode(tls.cert),
    key: toNode(tls.key),
    passphrase: tls.passphrase,
    ca: listToNode(tls.ca),
    requestCert: tls.requestCert ?? false,
    rejectUnauthorized: tls.requestCert ?? false,
    minVersion: tls.minVersion ?? "TLSv1.2",
    maxVersion: tls.maxVersion ?? "TLSv1.3"
  })
  server.on("connection", (raw: Net.Socket) => {
    handshaking.add(raw)
    raw.once("close", () => handshaking.delete(raw))
  })
  server.on("secureConnection", (socket: Tls.TLSSocket) => {
    socket.pause()
    onConnection(socket)
  })
  // A failed handshake concerns that connection only; Node destroys it.
  server.on("tlsClientError", () => {})
  return server
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions {
  /** The interface to listen on; `"127.0.0.1"` unless given. */
  readonly host?: string | undefined
  /** The port to listen on; `0` (unless given) picks a free one, readable from `address`. */
  readonly port?: number | undefined
  /** The largest frame payload accepted or sent; the core's default (`TransportConfig.defaults`) unless given. */
  readonly maxMessageSize?: number | undefined
  /**
   * How many decoded bytes one connection may hold before the handler takes them; over it, the server stops
   * reading that connection until the handler catches up. 4 MiB unless given.
   */
  readonly inboundBufferBytes?: number | undefined
  /**
   * Serve TLS instead of plain TCP. A connection whose handshake fails is closed and never reaches `serve`.
   *
   * @since 0.2.0
   */
  readonly tls?: ServerTlsOptions | undefined
}

/**
 * What a TLS server presents and checks.
 *
 * @since 0.2.0
 * @category models
 */
export interface ServerTlsOptions {
  /** The server's certificate chain, PEM. */
  readonly cert: TlsConfig.Pem
  /** Its private key, PEM. */
  readonly key: TlsConfig.Pem
  readonly passphrase?: string | undefined
  /** The CAs client certificates must chain to, PEM; Node's bundled CAs unless given. */
  readonly ca?: TlsConfig.Pem | ReadonlyArray<TlsConfig.Pem> | undefined
  /** Require a client certificate signed by `ca` (mutual TLS); `false` unless given. */
  readonly requestCert?: boolean | undefined
  /** The lowest TLS version accepted; `"TLSv1.2"` unless given. */
  readonly minVersion?: TlsConfig.TlsVersion | undefined
  /** The highest TLS version accepted; `"TLSv1.3"` unless given. */
  readonly maxVersion?: TlsConfig.TlsVersion | undefined
}

/**
 * The default per-connection inbound budget: the transport's `Transport.DEFAULT_BUFFER_BYTES`.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_INBOUND_BUFFER_BYTES: number = Transport.DEFAULT_BUFFER_BYTES

/**
 * One accepted connection, framed.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerConnection {
  /** The client's address as `host:port`. */
  readonly remoteAddress: string
  /**
   * The inbound payloads, in order. Ends when the connection closes cleanly; fails with a
   * `TruncatedFrameError` when the peer closed inside a frame, with a `FrameTooLargeError` on a length over
   * `maxMessageSize` (the connection is closed at once: the stream cannot be realigned), and with a
   * `ConnectionError` (`reason: "Read"`) when the socket fails. Meant for one consumer.
   */
  readonly frames: Stream.Stream<Uint8Array, FrameError | ConnectionError>
  /**
   * Frames and writes one payload in a single socket write, so concurrent sends never interleave. Completes
   * once Node has handed the bytes to the kernel.
   */
  readonly send: (payload: Uint8Array) => Effect.Effect<void, FrameTooLargeError | ConnectionError>
  /**
   * Frames and writes a batch of payloads in order, as one corked write, without copying the payloads.
   * Completes once the whole batch is handed to the kernel. Refuses the whole batch, writing nothing, if one
   * payload is over `maxMessageSize`.
   */
  readonly sendAll: (payloads: Iterable<Uint8Array>) => Effect.Effect<void, FrameTooLargeError | ConnectionError>
  /** Writes raw bytes, unframed: for tests that need a malformed or split stream. */
  readonly output: (bytes: Uint8Array) => Effect.Effect<void, ConnectionError>
  /** Closes the connection once pending writes are flushed (a FIN). */
  readonly close: Effect.Effect<void>
  /** Aborts the connection with a TCP RST, dropping pending writes. */
  readonly reset: Effect.Effect<void>
}

/**
 * A listening server.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportServer {
  /** The address actually bound (the real port when `0` was asked for). */
  readonly address: { readonly host: string; readonly port: number }
  /**
   * Handles connections with `handler`, each in its own fiber in the current scope, until that scope
   * closes. Connections accepted before `serve` wait, unread, for it. When a handler ends, its connection is
   * closed (after flushing pending writes on success, at once on failure); a failure affects only that
   * connection.
   */
  readonly serve: <E, R>(
    handler: (connection: ServerConnection) => Effect.Effect<void, E, R>
  ) => Effect.Effect<void, never, R | Scope.Scope>
  /** How many accepted connections are open. */
  readonly connectionCount: Effect.Effect<number>
  /**
   * Closes every open accepted connection at once, with a FIN or, with `reset: true`, a RST; completes when
   * they are all closed. The server keeps listening. For tests that drop clients.
   */
  readonly closeConnections: (options?: { readonly reset?: boolean | undefined }) => Effect.Effect<void>
}

/**
 * The server could not listen on the address, or (for TLS) could not use its certificate or key; `cause` is
 * Node's error.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportServerError extends Data.TaggedError("TransportServerError")<{
  readonly address: string
  readonly cause: unknown
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    const cause = Predicate.hasProperty(this.cause, "message") && typeof this.cause.message === "string"
      ? this.cause.message
      : String(this.cause)
    return `could not listen on ${this.address}: ${cause}`
  }
}

// Resolves once every socket has emitted 'close' (and so left `connections`, whose listener runs first), so
// `connectionCount` reads zero afterwards. `socket.closed` turns true a tick before 'close' is emitted, so it
// cannot be used here.
const awaitClosed = (connections: Set<Net.Socket>, sockets: ReadonlyArray<Net.Socket>): Effect.Effect<void> =>
  Effect.forEach(
    sockets,
    (socket) =>
      connections.has(socket)
        ? Effect.async<void>((resume) => {
          const onClose = () => resume(Effect.void)
          socket.once("close", onClose)
          return Effect.sync(() => socket.off("close", onClose))
        })
        : Effect.void,
    { discard: true }
  )

const listen = (server: Net.Server, host: string, port: number): Effect.Effect<void, TransportServerError> =>
  Effect.async<void, TransportServerError>((resume) => {
    const onError = (cause: Error) => {
      server.off("listening", onListening)
      resume(Effect.fail(new TransportServerError({ address: TransportConfig.formatAddress(host, port), cause })))
    }
    const onListening = () => {
      server.off("error", onError)
      resume(Effect.void)
    }
    server.once("error", onError)
    server.once("listening", onListening)
    try {
      server.listen({ host, port })
    } catch (cause) {
      // Node throws, rather than emitting 'error', for options it rejects outright (a port out of range).
      server.off("error", onError)
      server.off("listening", onListening)
      resume(Effect.fail(new TransportServerError({ address: TransportConfig.formatAddress(host, port), cause })))
    }
  })

/**
 * Starts listening. The server, its connections and the fibers handling them belong to the scope: closing
 * it stops listening, closes every connection and interrupts the handlers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: ServerOptions = {}): Effect.Effect<TransportServer, TransportServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? "127.0.0.1"
    const connectionOptions: internal.ConnectionOptions = {
      maxMessageSize: options.maxMessageSize ?? TransportConfig.defaults.maxMessageSize,
      inboundBufferBytes: options.inboundBufferBytes ?? DEFAULT_INBOUND_BUFFER_BYTES
    }
    const connections = new Set<Net.Socket>()
    const handshaking = new Set<Net.Socket>()
    const accepted = yield* Queue.unbounded<Net.Socket>()

    const server = yield* Effect.acquireRelease(
      Effect.try({
        // Node throws for TLS material it cannot use (bad PEM, a key that is not the certificate's).
        catch: (cause) =>
          new TransportServerError({ address: TransportConfig.formatAddress(host, options.port ?? 0), cause }),
        try: () => {
          // `pauseOnConnect`: nothing is read from a connection until a handler takes it, so connections
          // waiting for `serve` cost no memory beyond the kernel's buffers. `allowHalfOpen`: a client that
          // half-closes after its last request still gets the replies; the connection closes when the handler
          // is done.
          const created = createServer(options.tls, handshaking, (socket: Net.Socket) => {
            // Kept for the socket's whole life, so an error never becomes an uncaught exception; the
            // connection's own listener reports it to the handler.
            socket.on("error", () => {})
            connections.add(socket)
            socket.once("close", () => connections.delete(socket))
            if (!Queue.unsafeOffer(accepted, socket)) socket.destroy()
          })
          // Errors after listening (an accept failing with EMFILE, say) concern one connection; the server
          // keeps listening.
          created.on("error", () => {})
          return created
        }
      }),
      (server) =>
        Effect.gen(function*() {
          yield* Queue.shutdown(accepted)
          const open = Array.from(connections)
          for (const socket of open) socket.destroy()
          for (const socket of handshaking) socket.destroy()
          yield* Effect.async<void>((resume) => {
            // The callback also runs, with an error, when the server never listened.
            server.close(() => resume(Effect.void))
          })
          yield* awaitClosed(connections, open)
        })
    )

    yield* listen(server, host, options.port ?? 0)
    const bound = server.address() as Net.AddressInfo

    const handle = <E, R>(
      socket: Net.Socket,
      handler: (connection: ServerConnection) => Effect.Effect<void, E, R>
    ): Effect.Effect<void, never, R> =>
      Effect.suspend(() => handler(internal.attach(socket, connectionOptions))).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            if (socket.destroyed) return
            if (Exit.isSuccess(exit)) socket.destroySoon()
            else socket.destroy()
          })
        ),
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logDebug("connection handler failed", cause)
        ),
        Effect.annotateLogs({
          module: "TransportServer",
          remoteAddress: peerAddress(socket.remoteAddress, socket.remotePort)
        })
      )

    const serve = <E, R>(
      handler: (connection: ServerConnection) => Effect.Effect<void, E, R>
    ): Effect.Effect<void, never, R | Scope.Scope> =>
      Effect.gen(function*() {
        const fibers = yield* FiberSet.make<void, never>()
        yield* Queue.take(accepted).pipe(
          Effect.flatMap((socket) => FiberSet.run(fibers, handle(socket, handler))),
          Effect.forever,
          Effect.forkScoped
        )
      })

    return {
      address: { host: bound.address, port: bound.port },
      serve,
      connectionCount: Effect.sync(() => connections.size),
      closeConnections: (closeOptions) =>
        Effect.suspend(() => {
          const open = Array.from(connections)
          for (const socket of open) {
            if (socket.destroyed) continue
            if (closeOptions?.reset === true) socket.resetAndDestroy()
            else socket.destroy()
          }
          return awaitClosed(connections, open)
        })
    }
  })

/**
 * A handler that sends every inbound frame back, in order. Frames are echoed a batch at a time (whatever
 * has arrived when the previous batch was written) with one corked write each, so a pipelining client is
 * answered at socket speed; waiting for each batch's write to complete keeps the memory bounded.
 *
 * @since 0.1.0
 * @category handlers
 */
export const echo = (connection: ServerConnection): Effect.Effect<void, FrameError | ConnectionError> =>
  Stream.runForEachChunk(connection.frames, (frames) => connection.sendAll(frames))
