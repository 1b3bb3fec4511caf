/**
 * Connections to many RocketMQ servers by address: one `RemotingClient` (with its own transport) per
 * `host:port`, made on first use and shared by every caller, as Java's `NettyRemotingClient` keeps one channel
 * per broker address.
 *
 * ```ts
 * import { RemotingCode, RemotingCommand, RemotingPool } from "@rocketmq-effect/remoting"
 * import { NodeConnector } from "@rocketmq-effect/transport-node"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* RemotingPool.RemotingPool
 *   const route = yield* pool.invokeSuccess(
 *     "127.0.0.1:9876",
 *     RemotingCommand.request(RemotingCode.RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: "orders" } })
 *   )
 *   return route.body
 * })
 *
 * const Pool = RemotingPool.layer({ client: { defaultTimeout: "5 seconds" } }).pipe(Layer.provide(NodeConnector.layer))
 * ```
 *
 * - The first call to an address makes its transport and client; concurrent first callers wait on that one
 *   (at most one connection, so one connect in flight, per address). The call then waits for the connection
 *   within its own timeout, like any call.
 * - Addresses are `host:port` (`[::1]:10911` or `::1:10911` for IPv6) and are told apart as written after
 *   parsing: `localhost:9876` and `127.0.0.1:9876` are two connections. Anything else fails the call with a
 *   `ConfigurationError` (field `address`), as do transport fields that break the transport's rules.
 * - An address no call has used for `closeIdleAfter` (default 3 minutes) is closed: its client and transport,
 *   so its heartbeat too. Only an address with no call under way is closed, so closing never fails a call; the
 *   next call makes a new connection.
 * - At most `maxAddresses` (default 1024) addresses are open. A new one past it closes the least recently used
 *   address with no call under way; when every address is busy, the call fails with `RemotingPoolError`
 *   reason `"TooManyAddresses"`.
 * - Closing the pool's scope closes every connection; calls under way fail with `ConnectionClosedError`.
 *
 * Each connection's transport is a `RemotingClient.makeTransport` one; its client drops it on a bad frame or a
 * silent peer, and a bad frame drops that connection only.
 *
 * @since 0.2.0
 */
import type { Connector } from "@rocketmq-effect/transport/Connector"
import type * as Transport from "@rocketmq-effect/transport/Transport"
import type { TransportConfigInput } from "@rocketmq-effect/transport/TransportConfig"
import type { ConnectionClosedError } from "@rocketmq-effect/transport/TransportError"
import { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/remotingPool.js"
import * as RemotingClient from "./RemotingClient.js"
import type { RemotingCommand } from "./RemotingCommand.js"
import type { RemotingError } from "./RemotingError.js"
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

/**
 * Why the pool refused an address (`RemotingError.RemotingPoolErrorReason`).
 *
 * @since 0.2.0
 * @category models
 */
export type RemotingPoolErrorReason = RemotingErrorModule.RemotingPoolErrorReason

/**
 * The pool could not give a connection to `address` (`RemotingError.RemotingPoolError`, the same class).
 *
 * @since 0.2.0
 * @category errors
 */
export const RemotingPoolError: typeof RemotingErrorModule.RemotingPoolError = RemotingErrorModule.RemotingPoolError

/**
 * @since 0.2.0
 * @category errors
 */
export type RemotingPoolError = RemotingErrorModule.RemotingPoolError

/**
 * What the pool adds to a call's errors: a bad address or transport config (`ConfigurationError`), a full pool
 * (`RemotingPoolError`), the pool closed (`ConnectionClosedError`).
 *
 * @since 0.2.0
 * @category models
 */
export type PoolError = ConfigurationError | RemotingPoolError | ConnectionClosedError

/**
 * A client's options, without the transport (the pool makes it).
 *
 * @since 0.2.0
 * @category models
 */
export type ClientOptions = Omit<RemotingClient.Options, "transport">

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * Transport fields for every connection, over `RemotingClient.transportDefaults`; host and port come from
   * the address. Or a function of the address, whose result may also change host and port.
   */
  readonly transport?: Partial<TransportConfigInput> | ((address: string) => Partial<TransportConfigInput>) | undefined
  /** The transport's options (reconnect schedule, buffers), for every connection or by address. */
  readonly transportOptions?: Transport.Options | ((address: string) => Transport.Options) | undefined
  /** The client's options (timeouts, handlers, heartbeat, …), for every connection or by address. */
  readonly client?: ClientOptions | ((address: string) => ClientOptions) | undefined
  /** An address no call used for this long is closed. Default 3 minutes; `Duration.infinity` never. */
  readonly closeIdleAfter?: Duration.DurationInput | undefined
  /** Addresses open at once. Default 1024. */
  readonly maxAddresses?: number | undefined
}

/**
 * The default of `closeIdleAfter`.
 *
 * @since 0.2.0
 * @category defaults
 */
export const DEFAULT_CLOSE_IDLE_AFTER: Duration.Duration = Duration.minutes(3)

/**
 * The default of `maxAddresses`.
 *
 * @since 0.2.0
 * @category defaults
 */
export const DEFAULT_MAX_ADDRESSES = 1024

/**
 * @since 0.2.0
 * @category models
 */
export interface RemotingPoolService {
  readonly [TypeId]: TypeId
  /** `RemotingClient.invoke` on the connection to `address`. */
  readonly invoke: (
    address: string,
    request: RemotingCommand,
    options?: RemotingClient.InvokeOptions
  ) => Effect.Effect<RemotingCommand, RemotingClient.InvokeError | PoolError>
  /** `RemotingClient.invokeSuccess` on the connection to `address`. */
  readonly invokeSuccess: (
    address: string,
    request: RemotingCommand,
    options?: RemotingClient.InvokeOptions
  ) => Effect.Effect<RemotingCommand, RemotingClient.InvokeError | RemotingError | PoolError>
  /** `RemotingClient.invokeOneway` on the connection to `address`. */
  readonly invokeOneway: (
    address: string,
    request: RemotingCommand,
    options?: RemotingClient.InvokeOptions
  ) => Effect.Effect<void, RemotingClient.InvokeError | PoolError>
  /**
   * Runs `f` with the client of `address`; the address is not closed as idle while `f` runs. For what the
   * pool does not wrap (`register`, `inFlight`, …); do not keep the client past `f`.
   */
  readonly use: <A, E, R>(
    address: string,
    f: (client: RemotingClient.RemotingClientService) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | PoolError, R>
  /** The addresses open now. */
  readonly addresses: Effect.Effect<ReadonlyArray<string>>
}

/**
 * @since 0.2.0
 * @category tags
 */
export class RemotingPool extends Context.Tag("@rocketmq-effect/remoting/RemotingPool")<
  RemotingPool,
  RemotingPoolService
>() {}

/**
 * @since 0.2.0
 * @category refinements
 */
export const isRemotingPool = (u: unknown): u is RemotingPoolService => Predicate.hasProperty(u, TypeId)

const byAddress =
  <A extends object>(value: A | ((address: string) => A) | undefined) => (address: string): A | undefined =>
    typeof value === "function" ? value(address) : value

/**
 * Makes a pool over the `Connector` in context (`NodeConnector.layer` for TCP), in the current scope. Bad
 * options fail with one `ConfigurationError` naming each.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<RemotingPoolService, ConfigurationError, Connector | Scope.Scope> =>
  Effect.suspend(() => {
    const issues: Array<ConfigurationError> = []
    const maxAddresses = options.maxAddresses ?? DEFAULT_MAX_ADDRESSES
    if (!Number.isSafeInteger(maxAddresses) || maxAddresses < 1) {
      issues.push(
        new ConfigurationError({ field: "maxAddresses", rule: "must be a positive integer", value: maxAddresses })
      )
    }
    let closeIdleAfter = DEFAULT_CLOSE_IDLE_AFTER
    if (options.closeIdleAfter !== undefined) {
      const decoded = Duration.decodeUnknown(options.closeIdleAfter)
      if (decoded._tag === "None" || Duration.toMillis(decoded.value) <= 0) {
        issues.push(
          new ConfigurationError({
            field: "closeIdleAfter",
            rule: "must be a positive duration or Duration.infinity",
            value: options.closeIdleAfter
          })
        )
      } else closeIdleAfter = decoded.value
    }
    if (issues.length > 0) {
      const first = issues[0]!
      return Effect.fail(new ConfigurationError({ field: first.field, rule: first.rule, value: first.value, issues }))
    }
    const transport = options.transport
    return internal.make({
      transport: typeof transport === "function"
        ? (address, host, port) => ({ ...RemotingClient.transportDefaults, host, port, ...transport(address) })
        : (_, host, port) => ({ ...RemotingClient.transportDefaults, ...transport, host, port }),
      transportOptions: byAddress(options.transportOptions),
      client: byAddress(options.client),
      closeIdleAfter,
      maxAddresses
    })
  })

/**
 * The pool as a layer over the `Connector` in context.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<RemotingPool, ConfigurationError, Connector> =>
  Layer.scoped(RemotingPool, make(options))
