/**
 * The transport for code that is not written with Effect (the seed's other mode): a `TransportClient` with
 * async methods, a state listener and an async iterator of frames, running on a `ManagedRuntime`.
 *
 * Failures reject with the same tagged error classes the Effect API fails with, so `error._tag` and
 * `error.reason` work in a `catch`. The client logs through Effect's default logger (the console) at its
 * `logLevel` and above: by default `Info`, which a healthy transport never reaches.
 *
 * @example
 * ```ts
 * import { NodeTransport } from "@rocketmq-effect/transport-node"
 *
 * const ping = async (): Promise<Uint8Array> => {
 *   const client = await NodeTransport.makeClient({ host: "127.0.0.1", port: 10911 }, { logLevel: "Debug" })
 *   try {
 *     await client.awaitConnected()
 *     await client.send(new TextEncoder().encode("ping"))
 *     return await client.recvPkg()
 *   } finally {
 *     await client.stop()
 *   }
 * }
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import type * as ConnectionState from "./ConnectionState.js"
import type { OperationOptions } from "./Transport.js"
import { Transport } from "./Transport.js"
import type { TransportConfig } from "./TransportConfig.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface TransportClient extends AsyncDisposable {
  readonly config: TransportConfig
  /** Starts connecting; see `Transport.start`. */
  readonly start: () => Promise<void>
  /** Stops the transport and releases everything the client holds. Idempotent. */
  readonly stop: () => Promise<void>
  /** The current state. */
  readonly state: () => Promise<ConnectionState.ConnectionState>
  readonly isConnected: () => Promise<boolean>
  /** Resolves once connected; rejects when the transport closes or retries are exhausted. */
  readonly awaitConnected: () => Promise<ConnectionState.ConnectionState & { readonly _tag: "Connected" }>
  readonly send: (payload: Uint8Array, options?: OperationOptions) => Promise<void>
  /** Frames several payloads and writes them in order as one write; see `Transport.sendAll`. */
  readonly sendAll: (payloads: Iterable<Uint8Array>, options?: OperationOptions) => Promise<void>
  readonly output: (bytes: Uint8Array, options?: OperationOptions) => Promise<void>
  readonly recvPkg: (options?: OperationOptions) => Promise<Uint8Array>
  readonly recv: (size: number, options?: OperationOptions) => Promise<Uint8Array>
  /**
   * Calls `listener` with the current state and then every transition. Returns a function that removes it.
   */
  readonly onStateChange: (listener: (state: ConnectionState.ConnectionState) => void) => () => void
  /** Every inbound payload across reconnects until the transport stops (see `Transport.frames`). */
  readonly frames: () => AsyncIterable<Uint8Array>
}

/**
 * Options of the client's runtime.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The least severe log level printed, by name (`"Debug"`, `"None"`, …) or as a `LogLevel`. Default: Effect's
   * default minimum, `Info`. The transport logs its state transitions at `Debug` (so `"Debug"` shows them)
   * and giving up on reconnecting or a peer's invalid frame at `Warning`.
   */
  readonly logLevel?: LogLevel.Literal | LogLevel.LogLevel | undefined
}

const toLogLevel = (level: LogLevel.Literal | LogLevel.LogLevel): LogLevel.LogLevel =>
  typeof level === "string" ? LogLevel.fromLiteral(level) : level

/**
 * Builds `layer` (for TCP: `NodeTransport.layer(config)`) in a `ManagedRuntime` and wraps its transport.
 * Rejects with the layer's error if it cannot be built.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = async <E>(layer: Layer.Layer<Transport, E>, options?: Options): Promise<TransportClient> => {
  const logLevel = options?.logLevel
  const runtime = ManagedRuntime.make(
    logLevel === undefined ? layer : Layer.provide(layer, Logger.minimumLogLevel(toLogLevel(logLevel)))
  )
  const settle = <A, E>(exit: Exit.Exit<A, E>): A => {
    if (Exit.isSuccess(exit)) return exit.value
    // Reject with the tagged error itself, not a wrapper, so callers can match on `_tag`.
    throw Cause.squash(exit.cause)
  }
  const transport = settle(await runtime.runPromiseExit(Transport))
  // Operations run on the runtime captured here rather than through the `ManagedRuntime`: once `stop` has
  // disposed that, it only dies with "ManagedRuntime disposed", while the closed transport still answers
  // with its own `ConnectionClosedError` (and its `Closed` state).
  const effectRuntime = await runtime.runtime()
  const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
    Runtime.runPromiseExit(effectRuntime)(effect).then(settle)
  let disposed: Promise<void> | undefined = undefined

  const stop = () => {
    if (disposed === undefined) {
      disposed = run(transport.stop).then(() => runtime.dispose())
    }
    return disposed
  }

  return {
    config: transport.config,
    start: () => run(transport.start),
    stop,
    [Symbol.asyncDispose]: stop,
    state: () => run(transport.state),
    isConnected: () => run(transport.isConnected),
    awaitConnected: () => run(transport.awaitConnected),
    send: (payload, options) => run(transport.send(payload, options)),
    sendAll: (payloads, options) => run(transport.sendAll(payloads, options)),
    output: (bytes, options) => run(transport.output(bytes, options)),
    recvPkg: (options) => run(transport.recvPkg(options)),
    recv: (size, options) => run(transport.recv(size, options)),
    onStateChange: (listener) => {
      const fiber = Runtime.runFork(effectRuntime)(
        Stream.runForEach(transport.changes, (state) => Effect.sync(() => listener(state)))
      )
      return () => {
        Runtime.runFork(effectRuntime)(Fiber.interrupt(fiber))
      }
    },
    frames: () => Stream.toAsyncIterableRuntime(transport.frames, effectRuntime)
  }
}
