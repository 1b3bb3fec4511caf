/**
 * One RemotingCommand connection: requests matched to their responses by opaque, server-initiated requests
 * dispatched to handlers, over one `Transport`.
 *
 * ```ts
 * import { RemotingClient, RemotingCode, RemotingCommand } from "@rocketmq-effect/remoting"
 * import { NodeConnector } from "@rocketmq-effect/transport-node"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* RemotingClient.RemotingClient
 *   const answer = yield* client.invokeSuccess(
 *     RemotingCommand.request(RemotingCode.RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: "orders" } })
 *   )
 *   return answer.body
 * })
 *
 * const NameServer = RemotingClient.layerTransport({ host: "127.0.0.1", port: 9876 }).pipe(
 *   Layer.provide(NodeConnector.layer)
 * )
 *
 * // Effect.runPromise(program.pipe(Effect.provide(NameServer)))
 * ```
 *
 * How a call goes (`invoke`):
 * - It takes one of `maxInFlight` slots, waits for the transport to be connected (or, with
 *   `awaitConnection: false`, fails at once with `ConnectionError` reason `"NotConnected"`), takes an opaque
 *   (a counter wrapping like Java's `int`, skipping opaques still in flight), registers itself under it, and
 *   only then writes the request. Everything is bounded by the call's `timeout` (default `defaultTimeout`, 3 s): past
 *   it the call fails with `RemotingClientError` reason `"InFlightLimit"` when it never got a slot, `"Timeout"`
 *   otherwise (saying what it was waiting for).
 * - Responses are the frames with flag bit 0 set; each goes to the call registered under its opaque. One that
 *   matches no call (its call timed out, was interrupted or failed) is dropped and counted (`lateResponses`,
 *   the `rocketmq_remoting_late_responses` metric), never handed to anyone.
 * - When the connection drops, every call written on it fails at once with the transport's `ConnectionError`
 *   reason `"Disconnected"` (why, in `cause`), not at its timeout; a write that fails fails its call at once.
 *   Calls are not replayed: whether a request is safe to send again is the caller's call.
 * - With `closeOnTimeout` (Java's `clientCloseSocketIfTimeout`, off by default), a call that times out after
 *   its request went to the connection also drops that connection: see `Options.closeOnTimeout`.
 * - The response comes back as data whatever its code; `invokeSuccess` / `expectSuccess` turn a code other than
 *   `SUCCESS` into a `RemotingError`.
 *
 * Requests from the server (flag bit 0 clear) go to the handler registered for their code, at most
 * `handlerConcurrency` at a time with at most `handlerQueueSize` waiting; the answer is written with the
 * request's opaque and serialize type. An unknown code is answered `REQUEST_CODE_NOT_SUPPORTED` with Java's
 * remark, a failing or defecting handler `SYSTEM_ERROR` with its message, a full queue `SYSTEM_BUSY`; a oneway
 * request is never answered. None of this affects the connection.
 *
 * A frame that is not a RemotingCommand drops the connection (logged at `Warning` with what was seen), failing
 * the calls on it; the transport reconnects as its schedule says. So does a peer gone silent: `idleTimeout`
 * after a request was written with no frame arriving since, the connection is presumed dead. The client drops
 * with `Transport.drop`, so over any transport, however it was made.
 *
 * What a call costs: its record, its frame, and one suspension of the caller's fiber. No fiber is forked per
 * call; one sweeper fiber per client enforces every call's timeout (`Deadlines`), and the response completes
 * the call from the reader.
 *
 * Observability: the metrics in `metrics`; a span `rocketmq.remoting.invoke` (or
 * `rocketmq.remoting.invokeOneway`) per call, with attributes `code`, `address`, then `opaque` and
 * `responseCode`, whenever a tracer is installed (`@effect/opentelemetry`'s, for instance). Under Effect's
 * default tracer, whose spans go nowhere, and with `Effect.withTracerEnabled(false)`, no span is made: it
 * would cost more than the rest of the call. Logs are quiet: `Debug` for routine events (late responses,
 * handler failures, idle drops), `Warning` for a dropped bad frame and a full handler queue.
 *
 * The client reads the transport's `frames`: nothing else should receive from the same transport.
 *
 * @since 0.2.0
 */
import type { Connector } from "@rocketmq-effect/transport/Connector"
import * as Transport from "@rocketmq-effect/transport/Transport"
import type { TransportConfig, TransportConfigInput } from "@rocketmq-effect/transport/TransportConfig"
import * as TransportConfigModule from "@rocketmq-effect/transport/TransportConfig"
import type {
  ConnectionClosedError,
  ConnectionError,
  FrameTooLargeError
} from "@rocketmq-effect/transport/TransportError"
import { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import * as clientMeters from "./internal/clientMeters.js"
import * as internal from "./internal/remotingClient.js"
import * as serverRequests from "./internal/serverRequests.js"
import { ResponseCode } from "./RemotingCode.js"
import type { RemotingCommand, SerializeType } from "./RemotingCommand.js"
import type { RemotingCodecError } from "./RemotingError.js"
import { RemotingError } from "./RemotingError.js"
import * as RemotingErrorModule from "./RemotingError.js"

/**
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = typeof TypeId

// ---- errors ---------------------------------------------------------------------------------------------

/**
 * Why a call gave up on its own (`RemotingError.RemotingClientErrorReason`).
 *
 * @since 0.2.0
 * @category models
 */
export type RemotingClientErrorReason = RemotingErrorModule.RemotingClientErrorReason

/**
 * A call ran out of time (`RemotingError.RemotingClientError`, the same class). Failures of the connection
 * itself are the transport's errors (`ConnectionError`, `ConnectionClosedError`).
 *
 * @since 0.2.0
 * @category errors
 */
export const RemotingClientError: typeof RemotingErrorModule.RemotingClientError =
  RemotingErrorModule.RemotingClientError

/**
 * @since 0.2.0
 * @category errors
 */
export type RemotingClientError = RemotingErrorModule.RemotingClientError

/**
 * What `invoke` can fail with: its own time bound (`RemotingClientError`), the connection (`ConnectionError`:
 * dropped while the call was pending, retries exhausted, write failed), the client or transport closed
 * (`ConnectionClosedError`), or a request that cannot be sent (`RemotingCodecError`: a field that does not fit
 * the serialize type; `FrameTooLargeError`: over the transport's `maxMessageSize`).
 *
 * @since 0.2.0
 * @category models
 */
export type InvokeError =
  | RemotingClientError
  | ConnectionError
  | ConnectionClosedError
  | RemotingCodecError
  | FrameTooLargeError

// ---- handlers -------------------------------------------------------------------------------------------

/**
 * Where a server request came from.
 *
 * @since 0.2.0
 * @category models
 */
export interface HandlerContext {
  /** The address of the connection (the server's `host:port`). */
  readonly address: string
}

/**
 * Answers one server-initiated request with a response (make it with `RemotingCommand.response(request, …)`;
 * the client sets the opaque and the response flag whatever the handler returned). The answer of a oneway
 * request is discarded. A failure or defect is answered `SYSTEM_ERROR` with its message.
 *
 * @since 0.2.0
 * @category models
 */
export type Handler = (request: RemotingCommand, context: HandlerContext) => Effect.Effect<RemotingCommand, unknown>

/**
 * Handlers by request code.
 *
 * @since 0.2.0
 * @category models
 */
export type Handlers = Readonly<Record<number, Handler>> | ReadonlyMap<number, Handler>

/**
 * An effect run periodically while connected (a RocketMQ `HEART_BEAT`, for instance): once as soon as a
 * connection is up, then every `interval` (at a fixed rate) until it drops; again on the next connection.
 * Failures are logged at `Debug` and do not stop it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Heartbeat {
  readonly interval: Duration.DurationInput
  readonly effect: (client: RemotingClientService) => Effect.Effect<unknown, unknown>
}

// ---- options --------------------------------------------------------------------------------------------

/**
 * Java's default cap on asynchronous calls in flight (`clientAsyncSemaphoreValue`).
 *
 * @since 0.2.0
 * @category defaults
 */
export const DEFAULT_MAX_IN_FLIGHT = 65_535

/**
 * Java's default call timeout.
 *
 * @since 0.2.0
 * @category defaults
 */
export const DEFAULT_TIMEOUT: Duration.Duration = Duration.seconds(3)

/**
 * Java's `channelMaxIdleTimeSeconds`.
 *
 * @since 0.2.0
 * @category defaults
 */
export const DEFAULT_IDLE_TIMEOUT: Duration.Duration = Duration.seconds(120)

/**
 * Server requests handled at once, by default.
 *
 * @since 0.2.0
 * @category defaults
 */
export const DEFAULT_HANDLER_CONCURRENCY = 16

/**
 * Server requests that may wait for a handler, by default; past it they are answered `SYSTEM_BUSY`.
 *
 * @since 0.2.0
 * @category defaults
 */
export const DEFAULT_HANDLER_QUEUE_SIZE = 1024

/**
 * The client's options; every one has a default.
 *
 * @example
 * ```ts
 * import { RemotingClient } from "@rocketmq-effect/remoting"
 * import { NodeConnector } from "@rocketmq-effect/transport-node"
 * import { Layer } from "effect"
 *
 * // Give a silent broker up at the first timed-out call, as Java's `clientCloseSocketIfTimeout` does.
 * const options: RemotingClient.Options = { defaultTimeout: "3 seconds", closeOnTimeout: true }
 *
 * const Broker = RemotingClient.layerTransport({ host: "127.0.0.1", port: 10911 }, options).pipe(
 *   Layer.provide(NodeConnector.layer)
 * )
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The transport to run over; by default the `Transport` in context. */
  readonly transport?: Transport.TransportService | undefined
  /** How requests are written; `JSON` by default, as Java's. Answers to the server use the request's type. */
  readonly serializeType?: SerializeType | undefined
  /**
   * Put in every command written (requests and answers). By default each command keeps its own, which
   * `RemotingCommand.request` sets to `RemotingCode.defaultLanguage`.
   */
  readonly language?: number | undefined
  /** Like `language`, for the `MQVersion` ordinal (default `RemotingCode.defaultVersion`). */
  readonly version?: number | undefined
  /** Calls under way at once; more wait for a slot within their timeout. Default 65,535 (Java's). */
  readonly maxInFlight?: number | undefined
  /** A call's time bound when it gives none. Default 3 s (Java's). */
  readonly defaultTimeout?: Duration.DurationInput | undefined
  /**
   * A connection on which a request was written and no frame has arrived for this long is presumed dead and
   * dropped (the transport reconnects). Default 120 s (Java's channel idle time); `Duration.infinity` turns it
   * off. A connection with no traffic at all is left alone: the transport would only reconnect it. A call
   * that may wait longer than this for a silent peer (a long poll) fails when its connection is dropped:
   * keep `idleTimeout` above the longest such wait.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /**
   * Drop the connection when a call on it times out, as Java's `clientCloseSocketIfTimeout` does. Default
   * `false`, as in Java.
   *
   * What happens when a call's time runs out while its request is being written or its response awaited:
   * - the call fails with its `RemotingClientError` reason `"Timeout"`, as without the option;
   * - the connection the request went on is dropped: every other call pending on it fails at once with
   *   `ConnectionError` reason `"Disconnected"`, whose `cause` is that timeout, as on any drop;
   * - the transport reconnects as its schedule says (at once for a connection that was up for `stableAfter`),
   *   and later calls wait for the new connection within their own timeouts.
   *
   * A call that timed out waiting for an in-flight slot or for a connection drops nothing, nor does one whose
   * connection is already gone.
   *
   * It trades `idleTimeout`'s patience for speed: a silent peer is given up at the first timeout rather than
   * `idleTimeout` after it, but one slow answer (a long poll with too short a timeout) costs every call on the
   * connection.
   */
  readonly closeOnTimeout?: boolean | undefined
  readonly heartbeat?: Heartbeat | undefined
  /** Handlers of server requests by code; `register` adds more. */
  readonly handlers?: Handlers | undefined
  /** Server requests handled at once. Default 16. */
  readonly handlerConcurrency?: number | undefined
  /** Server requests waiting for a handler; past it they are answered `SYSTEM_BUSY`. Default 1024. */
  readonly handlerQueueSize?: number | undefined
  /** Where the opaque counter starts (default 0): for tests of its wrap at 2^31 − 1. */
  readonly firstOpaque?: number | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface InvokeOptions {
  /** The call's time bound, from the call on. Default: the client's `defaultTimeout`. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Overrides the client's `serializeType` for this request (`POP_MESSAGE` fits `JSON` only). */
  readonly serializeType?: SerializeType | undefined
  /**
   * When there is no connection, wait for one within the call's timeout (`true`, the default, as Java's
   * `invokeSync`), or fail at once with `ConnectionError` reason `"NotConnected"` (`false`, as the transport's
   * own `send` does by default).
   *
   * @since 0.3.0
   */
  readonly awaitConnection?: boolean | undefined
}

// ---- the service ----------------------------------------------------------------------------------------

/**
 * @since 0.2.0
 * @category models
 */
export interface RemotingClientService {
  readonly [TypeId]: TypeId
  /** The transport's address. */
  readonly address: string
  readonly transport: Transport.TransportService
  /**
   * Sends `request` (its opaque is assigned here, its oneway bit cleared) and returns the response, whatever
   * its code.
   */
  readonly invoke: (request: RemotingCommand, options?: InvokeOptions) => Effect.Effect<RemotingCommand, InvokeError>
  /** `invoke`, then a code other than `SUCCESS` as a `RemotingError` (see `expectSuccess`). */
  readonly invokeSuccess: (
    request: RemotingCommand,
    options?: InvokeOptions
  ) => Effect.Effect<RemotingCommand, InvokeError | RemotingError>
  /**
   * Sends `request` with the oneway bit set; completes once it is written. The timeout bounds waiting for a
   * connection and the write.
   */
  readonly invokeOneway: (request: RemotingCommand, options?: InvokeOptions) => Effect.Effect<void, InvokeError>
  /** Handles server requests with `code` from now on, replacing any handler of that code. */
  readonly register: (code: number, handler: Handler) => Effect.Effect<void>
  /** Calls waiting for their response now. */
  readonly inFlight: Effect.Effect<number>
  /** Responses dropped so far because no call waited for them. */
  readonly lateResponses: Effect.Effect<number>
}

/**
 * @since 0.2.0
 * @category tags
 */
export class RemotingClient extends Context.Tag("@rocketmq-effect/remoting/RemotingClient")<
  RemotingClient,
  RemotingClientService
>() {}

/**
 * @since 0.2.0
 * @category refinements
 */
export const isRemotingClient = (u: unknown): u is RemotingClientService => Predicate.hasProperty(u, TypeId)

// ---- metrics --------------------------------------------------------------------------------------------

/**
 * The client's metrics, all tagged with `address`:
 * - `invocations`: calls by `code` and `outcome` (`success`, `remote_error` with `responseCode`, `timeout`,
 *   `in_flight_limit`, `disconnected`, `closed`, `invalid_request`, `interrupted`; `oneway` for a oneway
 *   written);
 * - `latency`: milliseconds from call to outcome, by `code`;
 * - `lateResponses`: responses that matched no call;
 * - `badFrames`: frames that were not commands (each dropped its connection);
 * - `idleDrops`: connections dropped by `idleTimeout`;
 * - `timeoutDrops`: connections dropped by `closeOnTimeout`;
 * - `serverRequests`: server requests by `code` and `outcome` (`handled`, `failed`, `not_supported`, `busy`).
 *
 * @since 0.3.0
 * @category metrics
 */
export const metrics: typeof clientMeters.metrics = clientMeters.metrics

/**
 * @deprecated Renamed `metrics`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const RemotingClientMetrics: typeof clientMeters.metrics = clientMeters.metrics

// ---- helpers --------------------------------------------------------------------------------------------

/**
 * The remark Java's servers answer an unknown request code with, and the client answers the server's with:
 * `" request type 42 not supported"` (with its leading space).
 *
 * @since 0.2.0
 * @category constants
 */
export const notSupportedRemark: (code: number) => string = serverRequests.notSupportedRemark

/**
 * The response if its code is `SUCCESS` (or one of `accept`), else a `RemotingError` with its code and remark.
 * An `Either`, so usable as an Effect (`yield*`) or on its own.
 *
 * @example
 * ```ts
 * import { RemotingClient, RemotingCode, RemotingCommand } from "@rocketmq-effect/remoting"
 * import { Either } from "effect"
 *
 * const ask = RemotingCommand.request(RemotingCode.RequestCode.GET_ROUTEINFO_BY_TOPIC, { opaque: 3 })
 * const answer = RemotingCommand.response(ask, RemotingCode.ResponseCode.TOPIC_NOT_EXIST, { remark: "no route" })
 * const result = RemotingClient.expectSuccess(answer, ask.code)
 * assert.strictEqual(Either.isLeft(result) && result.left.code, 17)
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const expectSuccess = (
  response: RemotingCommand,
  requestCode: number,
  options?: { readonly accept?: ReadonlyArray<number> | undefined }
): Either.Either<RemotingCommand, RemotingError> =>
  response.code === ResponseCode.SUCCESS || options?.accept?.includes(response.code) === true
    ? Either.right(response)
    : Either.left(
      new RemotingError({ code: response.code, remark: response.remark, opaque: response.opaque, requestCode })
    )

// ---- constructors ---------------------------------------------------------------------------------------

const positiveInteger = (issues: Array<ConfigurationError>, field: string, value: number | undefined) => {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
    issues.push(new ConfigurationError({ field, rule: "must be a positive integer", value }))
  }
}

const duration = (
  issues: Array<ConfigurationError>,
  field: string,
  value: Duration.DurationInput | undefined,
  fallback: Duration.Duration,
  allowInfinite: boolean
): Duration.Duration => {
  if (value === undefined) return fallback
  const decoded = Duration.decodeUnknown(value)
  const bad = decoded._tag === "None" || Duration.toMillis(decoded.value) <= 0 ||
    (!allowInfinite && !Duration.isFinite(decoded.value)) ||
    (typeof value === "number" && value < 0)
  if (bad) {
    issues.push(
      new ConfigurationError({
        field,
        rule: allowInfinite
          ? "must be a positive duration or Duration.infinity"
          : "must be a positive, finite duration",
        value
      })
    )
    return fallback
  }
  return decoded.value
}

/** The options with defaults applied, or every broken rule in one `ConfigurationError`. */
const settingsOf = (
  address: string,
  options: Options | undefined
): Effect.Effect<internal.Settings, ConfigurationError> =>
  Effect.suspend(() => {
    const issues: Array<ConfigurationError> = []
    positiveInteger(issues, "maxInFlight", options?.maxInFlight)
    positiveInteger(issues, "handlerConcurrency", options?.handlerConcurrency)
    positiveInteger(issues, "handlerQueueSize", options?.handlerQueueSize)
    const defaultTimeout = duration(issues, "defaultTimeout", options?.defaultTimeout, DEFAULT_TIMEOUT, true)
    const idleTimeout = duration(issues, "idleTimeout", options?.idleTimeout, DEFAULT_IDLE_TIMEOUT, true)
    const heartbeat = options?.heartbeat === undefined ? undefined : {
      interval: duration(issues, "heartbeat.interval", options.heartbeat.interval, Duration.seconds(30), false),
      effect: options.heartbeat.effect
    }
    const closeOnTimeout = options?.closeOnTimeout ?? false
    if (typeof closeOnTimeout !== "boolean") {
      issues.push(new ConfigurationError({ field: "closeOnTimeout", rule: "must be a boolean", value: closeOnTimeout }))
    }
    const serializeType = options?.serializeType ?? "JSON"
    if (serializeType !== "JSON" && serializeType !== "ROCKETMQ") {
      issues.push(
        new ConfigurationError({ field: "serializeType", rule: "must be JSON or ROCKETMQ", value: serializeType })
      )
    }
    const firstOpaque = options?.firstOpaque ?? 0
    if (!Number.isInteger(firstOpaque) || firstOpaque < -2_147_483_648 || firstOpaque > 2_147_483_647) {
      issues.push(
        new ConfigurationError({ field: "firstOpaque", rule: "must be a 32-bit integer", value: firstOpaque })
      )
    }
    if (issues.length > 0) {
      const first = issues[0]!
      return Effect.fail(
        new ConfigurationError({ field: first.field, rule: first.rule, value: first.value, issues })
      )
    }
    const handlers = new Map<number, Handler>()
    const given = options?.handlers
    if (given instanceof Map) {
      for (const [code, handler] of given) handlers.set(code, handler)
    } else if (given !== undefined) {
      for (const key of Object.keys(given)) handlers.set(Number(key), (given as Record<number, Handler>)[Number(key)]!)
    }
    return Effect.succeed({
      address,
      serializeType,
      language: options?.language,
      version: options?.version,
      maxInFlight: options?.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
      defaultTimeout,
      idleTimeout,
      closeOnTimeout,
      heartbeat,
      handlers,
      handlerConcurrency: options?.handlerConcurrency ?? DEFAULT_HANDLER_CONCURRENCY,
      handlerQueueSize: options?.handlerQueueSize ?? DEFAULT_HANDLER_QUEUE_SIZE,
      firstOpaque
    })
  })

/**
 * Makes a client over `options.transport`, or over the `Transport` in context, in the current scope.
 * Closing the scope stops the client (its calls fail with `ConnectionClosedError`); the transport is not
 * stopped, it belongs to whoever made it. Bad options fail with one `ConfigurationError` naming each.
 *
 * @since 0.2.0
 * @category constructors
 */
export function make(
  options: Options & { readonly transport: Transport.TransportService }
): Effect.Effect<RemotingClientService, ConfigurationError, Scope.Scope>
export function make(
  options?: Options
): Effect.Effect<RemotingClientService, ConfigurationError, Transport.Transport | Scope.Scope>
export function make(
  options?: Options
): Effect.Effect<RemotingClientService, ConfigurationError, Transport.Transport | Scope.Scope> {
  return Effect.gen(function*() {
    const transport = options?.transport ?? (yield* Transport.Transport)
    const settings = yield* settingsOf(transport.config.address, options)
    return yield* internal.make(transport, settings)
  })
}

/**
 * The client as a layer over the `Transport` in context.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<RemotingClient, ConfigurationError, Transport.Transport> =>
  Layer.scoped(RemotingClient, make(options))

/**
 * What `makeTransport` puts under the fields it is given: RocketMQ's own limits rather than the transport's
 * generic defaults. Java's frame decoder accepts 16 MiB, and its client connects within 3 s.
 *
 * @since 0.2.0
 * @category defaults
 */
export const transportDefaults: Partial<TransportConfigInput> = {
  maxMessageSize: 16 * 1024 * 1024,
  connectTimeout: "3 seconds"
}

/**
 * A transport over the `Connector` in context with RocketMQ's limits (`transportDefaults`): the transport a
 * `RemotingClient` should run over. Takes a `TransportConfig` as it is, or the fields `TransportConfig.make`
 * accepts over `transportDefaults`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeTransport = (
  config: TransportConfig | Partial<TransportConfigInput>,
  options?: Transport.Options
): Effect.Effect<Transport.TransportService, ConfigurationError, Connector | Scope.Scope> =>
  Effect.flatMap(
    TransportConfigModule.isTransportConfig(config)
      ? Effect.succeed(config)
      : TransportConfigModule.make({ ...transportDefaults, ...config }),
    (validated) => Transport.make(validated, options)
  )

/**
 * A client with a transport of its own (`makeTransport`) over the `Connector` in context: provide
 * `NodeConnector.layer` for TCP, `TestConnector.layer` in tests. Provides the transport too.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerTransport = (
  config: TransportConfig | Partial<TransportConfigInput>,
  options?: Omit<Options, "transport">,
  transportOptions?: Transport.Options
): Layer.Layer<RemotingClient | Transport.Transport, ConfigurationError, Connector> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      const transport = yield* makeTransport(config, transportOptions)
      const client = yield* make({ ...options, transport })
      return Context.make(RemotingClient, client).pipe(Context.add(Transport.Transport, transport))
    })
  )
