/**
 * The transport: one logical connection to `config.address`, kept up by a supervisor fiber that reconnects on
 * a `Schedule`, carrying length-prefixed frames both ways.
 *
 * Provide it as a `Layer` (`layer(config)` here, over any `Connector`; `NodeTransport.layer(config)` in
 * `@rocketmq-effect/transport-node` for TCP). Closing the layer's scope closes the transport.
 *
 * It is quiet while healthy: state transitions are logged at `Debug` (turn them on with
 * `Logger.withMinimumLogLevel(LogLevel.Debug)`), annotated with `address` and `generation`. A connect that
 * fails is a `Warning` at the first failure and then at most once a minute while it keeps failing (and the
 * connection that follows one is an `Info` line); a peer's invalid frame is a `Warning`. Giving up on
 * reconnecting is `Debug`: the callers waiting for a connection get it as `RetriesExhausted`.
 *
 * What it guarantees:
 * - Frames are delivered whole and in order per connection; concurrent sends never interleave.
 * - Every operation completes or fails with a typed error; on a disconnect everything pending on that
 *   connection fails at once with `ConnectionError` reason `"Disconnected"` (retrying is the caller's call).
 * - A receive that times out consumes nothing: a half-received frame is delivered whole to the next receive.
 * - Inbound and outbound buffering are bounded; when the inbound budget is full the transport stops reading,
 *   and TCP pushes back on the peer.
 * - Each connection has its own reader, writer and generation number: nothing of an old connection can touch
 *   a newer one.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as ConnectionState from "./ConnectionState.js"
import type { Connector } from "./Connector.js"
import * as Framing from "./Framing.js"
import * as internal from "./internal/transport.js"
import type { TransportConfig, TransportConfigInput } from "./TransportConfig.js"
import { make as makeConfig } from "./TransportConfig.js"
import type {
  ConfigurationError,
  ConnectionClosedError,
  ConnectionError,
  FrameTooLargeError,
  TimeoutError,
  TransportError
} from "./TransportError.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@rocketmq-effect/transport/Transport")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * What an operation, a send (`send`, `sendAll`, `output`) or a receive (`recvPkg`, `recv`), can fail with.
 * A bad inbound frame is a `ConnectionError` with reason `"Protocol"` whose `cause` says what was seen.
 *
 * @since 0.3.0
 * @category models
 */
export type OperationError = ConnectionError | ConnectionClosedError | FrameTooLargeError | TimeoutError

/**
 * @deprecated The same type as `OperationError`: use that.
 *
 * @since 0.1.0
 * @category models
 */
export type SendError = OperationError

/**
 * @deprecated The same type as `OperationError`: use that.
 *
 * @since 0.1.0
 * @category models
 */
export type ReceiveError = OperationError

/**
 * Per-call options of the operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface OperationOptions {
  /**
   * Bounds the operation with a `TimeoutError`. Defaults to the config's `timeout` (the seed's operation
   * timeout); `Duration.infinity` waits for ever.
   */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * Per-call options of the sends (`send`, `sendAll`, `output`).
 *
 * @since 0.3.0
 * @category models
 */
export interface SendOptions extends OperationOptions {
  /**
   * When there is no connection, wait for one within `timeout` instead of failing at once with
   * `ConnectionError` reason `"NotConnected"` (the default, as the seed's `output`). The wait ends with the
   * schedule giving up (`RetriesExhausted`) or the transport closing, as `awaitConnected` does.
   */
  readonly awaitConnection?: boolean | undefined
}

/**
 * Options of `drop`.
 *
 * @since 0.3.0
 * @category models
 */
export interface DropOptions {
  /** Drop the connection only if it is this generation (`ConnectionState.Connected`'s `generation`). */
  readonly generation?: number | undefined
}

/**
 * Options of `unsafeSend`.
 *
 * @since 0.3.0
 * @category models
 */
export interface UnsafeSendOptions {
  /** Write only on this connection (`ConnectionState.Connected`'s `generation`). */
  readonly generation?: number | undefined
}

/**
 * The transport service.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportService {
  readonly [TypeId]: TypeId
  readonly config: TransportConfig
  /**
   * Starts connecting (the layer does this when it is built unless `autoStart` is false). Does nothing while
   * connecting or connected; after retries were exhausted it starts a fresh round. Fails once stopped.
   */
  readonly start: Effect.Effect<void, ConnectionClosedError>
  /**
   * Closes the transport for good: state `Closed`, connection released, pending work failed with
   * `ConnectionClosedError`. Idempotent; never waits on the network.
   */
  readonly stop: Effect.Effect<void>
  readonly state: Effect.Effect<ConnectionState.ConnectionState>
  readonly isConnected: Effect.Effect<boolean>
  /**
   * Ends the connection that is up now, as if it had failed: everything pending on it fails at once with
   * `ConnectionError` reason `"Disconnected"`, the state becomes `Disconnected` with a `ConnectionError`
   * reason `"Dropped"` whose `cause` is `cause`, and the reconnect schedule runs as after any drop (at once
   * for a connection that was up `stableAfter`). For a client above the transport that finds its connection
   * unusable: a frame it cannot parse, a peer that went silent, a call that timed out.
   *
   * With `generation`, only that connection is dropped: a connection that already went, and the one that
   * replaced it, are left alone. Succeeds with whether a connection was dropped: `false` when none is up
   * (connecting, waiting to reconnect, stopped) or it is not `generation`.
   *
   * @since 0.3.0
   */
  readonly drop: (cause?: unknown, options?: DropOptions) => Effect.Effect<boolean>
  /** The current state, then every transition. */
  readonly changes: Stream.Stream<ConnectionState.ConnectionState>
  /**
   * Waits until connected. Fails with `ConnectionClosedError` when the transport closes and with
   * `ConnectionError` reason `"RetriesExhausted"` when the schedule gives up.
   */
  readonly awaitConnected: Effect.Effect<
    ConnectionState.Connected,
    ConnectionError | ConnectionClosedError
  >
  /** Writes bytes that are already framed (the seed's `output`). */
  readonly output: (bytes: Uint8Array, options?: SendOptions) => Effect.Effect<void, OperationError>
  /** Frames `payload` and writes it. */
  readonly send: (payload: Uint8Array, options?: SendOptions) => Effect.Effect<void, OperationError>
  /**
   * `send` for a caller that is not a fiber (a request/response client completing its calls from callbacks):
   * frames `payload` and queues it, then calls `settled` once, with no error when the connection accepted the
   * bytes, else with why they will not be written (the errors of `send`, but never `TimeoutError`). `settled`
   * may be called before `unsafeSend` returns. There is no time bound: the caller keeps its own and, when it
   * gives up, calls the returned function, after which nothing of a frame not yet handed to the connection is
   * written and `settled` is not called. With `generation`, the frame goes only on that connection: when
   * another one is up, or none, `settled` gets `NotConnected` at once and nothing is written.
   *
   * @since 0.3.0
   */
  readonly unsafeSend: (
    payload: Uint8Array,
    settled: (error: OperationError | undefined) => void,
    options?: UnsafeSendOptions
  ) => () => void
  /**
   * Frames several payloads and writes them in order as one write: nothing else is interleaved between
   * them, and they complete or fail together. If one is over `maxMessageSize`, none is sent. The way to
   * pipeline many frames from one fiber.
   */
  readonly sendAll: (payloads: Iterable<Uint8Array>, options?: SendOptions) => Effect.Effect<void, OperationError>
  /** The next inbound payload (the seed's `recv_pkg`). An empty frame is an empty array. */
  readonly recvPkg: (options?: OperationOptions) => Effect.Effect<Uint8Array, OperationError>
  /**
   * Exactly `size` inbound bytes, ignoring framing (the seed's `recv`). A size that is not a whole number of
   * bytes (negative, fractional) fails with `Cause.IllegalArgumentException`; one over the largest frame with
   * `FrameTooLargeError`.
   */
  readonly recv: (
    size: number,
    options?: OperationOptions
  ) => Effect.Effect<Uint8Array, OperationError | Cause.IllegalArgumentException>
  /**
   * Every inbound payload, across reconnects, until the transport closes. Fails only when retries are
   * exhausted. Reads the same sequence as `recvPkg`: use one or the other.
   */
  readonly frames: Stream.Stream<Uint8Array, ConnectionError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Transport extends Context.Tag("@rocketmq-effect/transport/Transport")<Transport, TransportService>() {}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isTransport = (u: unknown): u is TransportService => Predicate.hasProperty(u, TypeId)

/**
 * Options of the transport beyond the seed's config.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Replaces the reconnect schedule built from `retryInterval` and `maxRetries`. */
  readonly reconnectSchedule?: Schedule.Schedule<unknown, TransportError> | undefined
  /**
   * A connection that stayed up at least this long counts as healthy when it drops: the schedule starts over
   * and the first reconnect is immediate. One that drops sooner counts as a failed attempt, so a peer that
   * accepts and hangs up at once cannot cause a reconnect storm. Default: `retryInterval`, at least 1 second.
   */
  readonly stableAfter?: Duration.DurationInput | undefined
  /**
   * Unread inbound bytes the transport holds before it stops reading the socket. Default: 4 MiB or four
   * of the largest frames, whichever is more. A receive
   * that waits for a frame larger than this still gets it: reading goes on while someone waits.
   */
  readonly inboundBufferBytes?: number | undefined
  /**
   * Outbound bytes accepted but not yet written. Default: 4 MiB or four of the largest frames, whichever is
   * more. A larger single send is let in alone.
   */
  readonly outboundBufferBytes?: number | undefined
  /**
   * Check each frame's length prefix as soon as its four bytes arrive, so a bogus one (another protocol on
   * the port) drops the connection even while nobody receives. Default `true`. Set it to `false` when the
   * peer sends raw bytes that `recv(n)` reads before the frames start: a bad length is then reported when a
   * receive reaches it.
   */
  readonly checkLengthsOnArrival?: boolean | undefined
  /** Start connecting when the transport is made. Default `true`. */
  readonly autoStart?: boolean | undefined
}

/**
 * The reconnect schedule the seed's config describes: attempts spaced by `retryInterval`, at most
 * `maxRetries` retries after the first attempt (-1: for ever, 0: none).
 *
 * @since 0.3.0
 * @category schedules
 */
export const defaultReconnectSchedule = (
  config: Pick<TransportConfig, "retryInterval" | "maxRetries">
): Schedule.Schedule<unknown, unknown> => {
  const spaced = Schedule.spaced(config.retryInterval)
  return config.maxRetries < 0 ? spaced : Schedule.intersect(spaced, Schedule.recurs(config.maxRetries))
}

/**
 * @deprecated Renamed `defaultReconnectSchedule`: what `Options.reconnectSchedule` replaces.
 *
 * @since 0.1.0
 * @category schedules
 */
export const reconnectSchedule: (
  config: Pick<TransportConfig, "retryInterval" | "maxRetries">
) => Schedule.Schedule<unknown, unknown> = defaultReconnectSchedule

/**
 * A ready reconnect schedule for fleets: exponential backoff from `base` (default 100 ms) by `factor`
 * (default 2), each delay capped at `max` (default 30 s) and jittered (±20 %), at most `maxRetries`
 * retries (default: for ever).
 *
 * @since 0.1.0
 * @category schedules
 */
export const exponentialBackoff = (options?: {
  readonly base?: Duration.DurationInput | undefined
  readonly factor?: number | undefined
  readonly max?: Duration.DurationInput | undefined
  readonly maxRetries?: number | undefined
  readonly jitter?: boolean | undefined
}): Schedule.Schedule<unknown, unknown> => {
  const max = Duration.decode(options?.max ?? Duration.seconds(30))
  const exponential = Schedule.exponential(options?.base ?? Duration.millis(100), options?.factor ?? 2).pipe(
    Schedule.modifyDelay((delay) => Duration.min(delay, max))
  )
  const jittered = options?.jitter === false ? exponential : Schedule.jittered(exponential)
  const maxRetries = options?.maxRetries ?? -1
  return maxRetries < 0 ? jittered : Schedule.intersect(jittered, Schedule.recurs(maxRetries))
}

/**
 * The default budget of unread inbound bytes and of outbound bytes not yet written, per connection: 4 MiB.
 * The transport takes four of the largest frames instead when that is more.
 *
 * @since 0.2.0
 * @category constants
 */
export const DEFAULT_BUFFER_BYTES: number = 4 * 1024 * 1024

/**
 * The transport's metrics, tagged with `address`: frames and bytes in and out, connection attempts,
 * reconnects and the current state.
 *
 * @since 0.3.0
 * @category metrics
 */
export const metrics = {
  framesIn: Metric.counter("rocketmq_transport_frames_in", { description: "Inbound frames delivered" }),
  framesOut: Metric.counter("rocketmq_transport_frames_out", { description: "Outbound frames written" }),
  bytesIn: Metric.counter("rocketmq_transport_bytes_in", { description: "Inbound bytes read" }),
  bytesOut: Metric.counter("rocketmq_transport_bytes_out", { description: "Outbound bytes written" }),
  connectAttempts: Metric.counter("rocketmq_transport_connect_attempts", { description: "Connection attempts" }),
  reconnects: Metric.counter("rocketmq_transport_reconnects", {
    description: "Connections established after the first"
  }),
  state: Metric.gauge("rocketmq_transport_state", {
    description: "Current state: 0 disconnected, 1 connecting, 2 connected, 3 closed"
  })
}

/**
 * @deprecated Renamed `metrics`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const TransportMetrics: typeof metrics = metrics

/**
 * Makes a transport in the current scope, over the `Connector` in context. Closing the scope stops it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  config: TransportConfig,
  options?: Options
): Effect.Effect<TransportService, never, Connector | Scope.Scope> =>
  Effect.gen(function*() {
    // By default room for a few of the largest frames, so that big frames in flight do not stall on the budget.
    const defaultBudget = Math.max(DEFAULT_BUFFER_BYTES, 4 * (Framing.HEADER_SIZE + config.maxMessageSize))
    const operations = yield* internal.make(config, {
      schedule: options?.reconnectSchedule ?? defaultReconnectSchedule(config),
      stableAfter: options?.stableAfter ?? Duration.max(config.retryInterval, Duration.seconds(1)),
      inboundBufferBytes: Math.max(1, options?.inboundBufferBytes ?? defaultBudget),
      outboundBufferBytes: Math.max(1, options?.outboundBufferBytes ?? defaultBudget),
      checkLengthsOnArrival: options?.checkLengthsOnArrival !== false,
      metrics
    })
    const service: TransportService = { [TypeId]: TypeId, config, ...operations }
    // Nothing has closed the transport yet, so starting cannot fail here.
    if (options?.autoStart !== false) yield* Effect.orDie(service.start)
    return service
  })

/**
 * The transport as a layer over the `Connector` in context. Takes a `TransportConfig`, or the fields
 * `TransportConfig.make` accepts, validated when the layer is built: bad input fails the layer with a
 * `ConfigurationError` naming every offending field.
 *
 * @example
 * ```ts
 * import { TestConnector, Transport } from "@rocketmq-effect/transport"
 * import { Layer } from "effect"
 *
 * const TransportLayer = Transport.layer({ host: "broker", port: 9876, retryInterval: "1 second" }).pipe(
 *   Layer.provide(TestConnector.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export function layer(config: TransportConfig, options?: Options): Layer.Layer<Transport, never, Connector>
export function layer(
  config: TransportConfig | Partial<TransportConfigInput>,
  options?: Options
): Layer.Layer<Transport, ConfigurationError, Connector>
export function layer(
  config: TransportConfig | Partial<TransportConfigInput>,
  options?: Options
): Layer.Layer<Transport, ConfigurationError, Connector> {
  return Layer.scoped(
    Transport,
    Effect.flatMap(
      makeConfig(config),
      (config) => make(config, options)
    )
  )
}

/**
 * The transport as a layer whose config is loaded through Effect `Config` (see `TransportConfig.config`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<TransportConfig>,
  options?: Options
): Layer.Layer<Transport, ConfigError.ConfigError, Connector> =>
  Layer.scoped(Transport, Effect.flatMap(config, (config) => make(config, options)))
