/**
 * How the transport opens a connection. A `Connector` turns a config into one open connection, presented as
 * an `@effect/platform` `Socket` plus flow control; the transport never learns what is underneath.
 *
 * `@rocketmq-effect/transport-node` provides the TCP connector; `TestConnector` provides an in-memory one
 * whose peer a test scripts.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { TransportConfig } from "./TransportConfig.js"
import type { ConnectionError } from "./TransportError.js"

/**
 * One open connection.
 *
 * The connection belongs to the `Scope` it was opened in: closing that scope releases it. `socket` is already
 * open: its `run` reads this connection only (a clean close by the peer ends `run` with success, a failure
 * fails it), and its `writer` writes to it, each write completing once the connection has accepted the bytes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /** The remote end actually reached, as `host:port`. */
  readonly remoteAddress: string
  readonly socket: Socket.Socket
  /**
   * Stops reading from the peer, so that its writes back up into TCP instead of into memory. Idempotent.
   */
  readonly pause: () => void
  /** Starts reading again after `pause`. Idempotent. */
  readonly resume: () => void
  /**
   * Optional: writes `chunks` in order without an Effect and calls `done` once, with `undefined` when the
   * connection accepted the last of them, or with the error. A connection that offers it is written through
   * it, straight from the sending fiber, instead of through `socket.writer` and a writer fiber; the bytes
   * and their order are the same either way.
   *
   * @since 0.2.0
   */
  readonly write?: ((chunks: ReadonlyArray<Uint8Array>, done: (error: unknown) => void) => void) | undefined
  /**
   * Optional: starts reading without an Effect. `onChunk` is called synchronously with each chunk, and
   * `onEnd` once, with `undefined` when the peer ended the connection cleanly, or with the error (a close
   * with neither is an error too). Reading stops when the connection's scope closes. A connection that offers
   * it is read through it instead of through `socket.run`, so that an idle connection needs no fiber; the
   * bytes, their order and the way it ends are the same either way.
   *
   * @since 0.2.0
   */
  readonly read?:
    | ((onChunk: (chunk: Uint8Array) => void, onEnd: (error: unknown) => void) => void)
    | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ConnectorService {
  /**
   * Opens one connection to `config.address`, honouring what it can of the config's socket options. The
   * transport bounds the attempt by `connectTimeout` itself, so a connector does not have to.
   */
  readonly connect: (config: TransportConfig) => Effect.Effect<Connection, ConnectionError, Scope.Scope>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Connector extends Context.Tag("@rocketmq-effect/transport/Connector")<Connector, ConnectorService>() {}
