/**
 * The transport for code that is not written with Effect (the seed's other mode): a `TransportClient` with
 * async methods, a state listener and an async iterator of frames, running on a `ManagedRuntime`.
 *
 * Failures reject with the same tagged error classes the Effect API fails with, so `error._tag` and
 * `error.reason` work in a `catch`. The client logs in Effect's default format to standard error (standard
 * output stays the program's), at its `logLevel` and above: by default `Info`, which a healthy transport never
 * reaches. A transport that cannot connect says so once at `Warning`, then at most once a minute.
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
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as ConnectionState from "./ConnectionState.js"
import type { OperationOptions, SendOptions } from "./Transport.js"
import type { TransportService } from "./Transport.js"
import { Transport } from "./Transport.js"
import type { TransportConfig } from "./TransportConfig.js"
import { TimeoutError } from "./TransportError.js"

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
  /**
   * Resolves once connected; rejects when the transport closes or retries are exhausted, and with
   * `TimeoutError` (operation `"awaitConnected"`) after `timeout` when one is given. Default: no time bound.
   */
  readonly awaitConnected: (
    options?: OperationOptions
  ) => Promise<ConnectionState.Connected>
  readonly send: (payload: Uint8Array, options?: SendOptions) => Promise<void>
  /** Frames several payloads and writes them in order as one write; see `Transport.sendAll`. */
  readonly sendAll: (payloads: Iterable<Uint8Array>, options?: SendOptions) => Promise<void>
  readonly output: (bytes: Uint8Array, options?: SendOptions) => Promise<void>
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
   * and a failing connect (at the first failure, then at most once a minute) or a peer's invalid frame at `Warning`.
   */
  readonly logLevel?: LogLevel.Literal | LogLevel.LogLevel | undefined
}

const toLogLevel = (level: LogLevel.Literal | LogLevel.LogLevel): LogLevel.LogLevel =>
  typeof level === "string" ? LogLevel.fromLiteral(level) : level

/** Effect's default logger, writing to standard error. */
const standardError = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.stringLogger))

const awaitConnectedWithin = (transport: TransportService, options: OperationOptions | undefined) => {
  if (options?.timeout === undefined) return transport.awaitConnected
  const timeout = Duration.decode(options.timeout)
  return Duration.isFinite(timeout)
    ? Effect.timeoutFail(transport.awaitConnected, {
      duration: timeout,
      onTimeout: () => new TimeoutError({ operation: "awaitConnected", timeout, address: transport.config.address })
    })
    : transport.awaitConnected
}

/**
 * Builds `layer` (for TCP: `NodeTransport.layer(config)`) in a scope of the client's own and wraps its transport.
 * Rejects with the layer's error if it cannot be built.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E>(layer: Layer.Layer<Transport, E>, options?: Options): Promise<TransportClient> =>
  fromScoped(Effect.map(Layer.build(layer), Context.get(Transport)), options)

/**
 * Wraps the transport that `acquire` makes (for example `Transport.make(config)` with a `Connector` provided)
 * in a scope of the client's own: `stop` closes it. Rejects with `acquire`'s error. Lighter than `make` for
 * programs that hold many clients: no layer is built.
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromScoped = async <E>(
  acquire: Effect.Effect<TransportService, E, Scope.Scope>,
  options?: Options
): Promise<TransportClient> => {
  const logLevel = options?.logLevel
  // The transport keeps the runtime it was made in, and so the logger and its level, for its own fibers.
  const level = logLevel === undefined ? undefined : toLogLevel(logLevel)
  const atLevel = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const logged = Effect.provide(effect, standardError)
    return level === undefined ? logged : Logger.withMinimumLogLevel(logged, level)
  }
  const settle = <A, E>(exit: Exit.Exit<A, E>): A => {
    if (Exit.isSuccess(exit)) return exit.value
    // Reject with the tagged error itself, not a wrapper, so callers can match on `_tag`.
    throw Cause.squash(exit.cause)
  }
  // Made in a scope of the client's own, on Effect's default runtime: not a `ManagedRuntime` per client, whose
  // memo map, runtime and scopes would cost an idle client more than its transport. Its operations need no
  // services, and once it is stopped they answer with its own `ConnectionClosedError`.
  const scope = Effect.runSync(Scope.make())
  const transport = await Effect.runPromiseExit(atLevel(Scope.extend(acquire, scope))).then(async (exit) => {
    if (Exit.isFailure(exit)) await Effect.runPromise(Scope.close(scope, exit))
    return settle(exit)
  })
  // Operations that log (`stop` publishes `Closed`) log at the client's level too.
  const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromiseExit(atLevel(effect)).then(settle)
  let disposed: Promise<void> | undefined = undefined

  const stop = () => {
    if (disposed === undefined) {
      disposed = run(transport.stop).then(() => Effect.runPromise(Scope.close(scope, Exit.void)))
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
    awaitConnected: (options) => run(awaitConnectedWithin(transport, options)),
    send: (payload, options) => run(transport.send(payload, options)),
    sendAll: (payloads, options) => run(transport.sendAll(payloads, options)),
    output: (bytes, options) => run(transport.output(bytes, options)),
    recvPkg: (options) => run(transport.recvPkg(options)),
    recv: (size, options) => run(transport.recv(size, options)),
    onStateChange: (listener) => {
      const fiber = Effect.runFork(Stream.runForEach(transport.changes, (state) => Effect.sync(() => listener(state))))
      return () => {
        Effect.runFork(Fiber.interrupt(fiber))
      }
    },
    frames: () => Stream.toAsyncIterable(transport.frames)
  }
}
