/**
 * The transport over TCP: `NodeTransport.layer(config)` is the layer users provide into their programs. It
 * provides both this module's tag and the abstract `Transport.Transport`, so code written against the core
 * runs unchanged.
 *
 * @example
 * ```ts
 * import { NodeTransport } from "@rocketmq-effect/transport-node"
 * import { Transport } from "@rocketmq-effect/transport"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const transport = yield* Transport.Transport
 *   yield* transport.awaitConnected
 *   yield* transport.send(new TextEncoder().encode("ping"))
 *   return yield* transport.recvPkg()
 * })
 *
 * const TransportLayer = NodeTransport.layer({ host: "127.0.0.1", port: 10911, retryInterval: "1 second" })
 *
 * // Connects when run: `Effect.runPromise(main)`, or `NodeRuntime.runMain(main)` from `@effect/platform-node`.
 * const main = program.pipe(Effect.provide(TransportLayer))
 * ```
 *
 * @since 0.1.0
 */
import * as Connector from "@rocketmq-effect/transport/Connector"
import * as Transport from "@rocketmq-effect/transport/Transport"
import * as TransportClient from "@rocketmq-effect/transport/TransportClient"
import type { TransportConfig, TransportConfigInput } from "@rocketmq-effect/transport/TransportConfig"
import * as TransportConfigModule from "@rocketmq-effect/transport/TransportConfig"
import type { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as NodeConnector from "./NodeConnector.js"
import type * as TlsConfig from "./TlsConfig.js"
import * as TlsConfigModule from "./TlsConfig.js"

/**
 * The TCP transport's own tag, for programs that want to say they need TCP in particular.
 *
 * @since 0.1.0
 * @category tags
 */
export class NodeTransport extends Context.Tag("@rocketmq-effect/transport-node/NodeTransport")<
  NodeTransport,
  Transport.TransportService
>() {}

const makeContext = (config: TransportConfig, options: Transport.Options | undefined) =>
  Effect.map(
    Transport.make(config, options),
    (transport) => Context.make(Transport.Transport, transport).pipe(Context.add(NodeTransport, transport))
  )

/**
 * Options of `layer` and `layerConfig`: the transport's, and TLS.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options extends Transport.Options {
  /**
   * Connect over TLS: a `TlsConfig`, or the fields `TlsConfig.make` accepts (`{}` trusts Node's bundled CAs
   * and checks the host name). Plain TCP unless given.
   */
  readonly tls?: TlsConfig.TlsConfig | TlsConfig.TlsConfigInput | undefined
}

// The connector provided to the transport directly rather than as a layer of its own: one layer to build per
// transport, not two.
const withConnector = (tls: TlsConfig.TlsConfig | TlsConfig.TlsConfigInput | undefined) =>
  Effect.provideServiceEffect(
    Connector.Connector,
    tls === undefined ? NodeConnector.make : NodeConnector.makeTls(tls)
  )

/**
 * The transport over TCP, connecting to `config.address` when the layer is built (unless `autoStart` is
 * false). Closing the layer's scope closes the transport.
 *
 * Takes a `TransportConfig`, or the fields `TransportConfig.make` accepts
 * (`{ host: "127.0.0.1", port: 10911, retryInterval: "1 second" }`), validated when the layer is built: bad
 * input fails the layer with a `ConfigurationError` naming every offending field.
 *
 * @since 0.1.0
 * @category layers
 */
export function layer(
  config: TransportConfig,
  options?: Transport.Options & { readonly tls?: TlsConfig.TlsConfig | undefined }
): Layer.Layer<Transport.Transport | NodeTransport>
export function layer(
  config: TransportConfig | Partial<TransportConfigInput>,
  options?: Options
): Layer.Layer<Transport.Transport | NodeTransport, ConfigurationError>
export function layer(
  config: TransportConfig | Partial<TransportConfigInput>,
  options?: Options
): Layer.Layer<Transport.Transport | NodeTransport, ConfigurationError> {
  return Layer.scopedContext(
    Effect.flatMap(TransportConfigModule.make(config), (config) => makeContext(config, options)).pipe(
      withConnector(options?.tls)
    )
  )
}

/**
 * The transport over TCP with its config loaded through Effect `Config`, by default from `TRANSPORT_*`
 * environment variables (see `TransportConfig.config`), and TLS from `TRANSPORT_TLS_*` ones (see
 * `TlsConfig.config`; plain TCP unless `TRANSPORT_TLS_ENABLED=true`). A `tls` option replaces what the
 * environment says of TLS. With the default config, a `TRANSPORT_*` variable that is none of these (a typo:
 * `TRANSPORT_PROT`) fails the layer with a `ConfigurationError` naming it and the closest known name.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config?: Config.Config<TransportConfig>,
  options?: Options & { readonly tlsConfig?: Config.Config<Option.Option<TlsConfig.TlsConfig>> | undefined }
): Layer.Layer<Transport.Transport | NodeTransport, ConfigError.ConfigError | ConfigurationError> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      if (config === undefined) {
        // The default: TRANSPORT_* variables. One that is none of them is a typo, not a setting to ignore.
        yield* TransportConfigModule.checkVariables({
          known: [
            ...TransportConfigModule.variables(),
            ...(options?.tlsConfig === undefined ? TlsConfigModule.variables() : [])
          ]
        })
      }
      const transportConfig = yield* (config ?? TransportConfigModule.config())
      const tls = options?.tls ??
        Option.getOrUndefined(yield* options?.tlsConfig ?? TlsConfigModule.config())
      return yield* makeContext(transportConfig, options).pipe(withConnector(tls))
    })
  )

/**
 * Options of `makeClient`: the transport's and the client runtime's (`logLevel`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions extends Options, TransportClient.Options {}

/**
 * The Promise API over TCP: a `TransportClient` for code that does not use Effect. Takes a `TransportConfig`
 * or the fields `TransportConfig.make` accepts (and the client's `logLevel`, which may also go in `options`);
 * bad input rejects with a `ConfigurationError`.
 *
 * @example
 * ```ts
 * import { NodeTransport } from "@rocketmq-effect/transport-node"
 *
 * const ping = async (): Promise<Uint8Array> => {
 *   const client = await NodeTransport.makeClient({ host: "127.0.0.1", port: 10911 })
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
 * @category constructors
 */
export const makeClient = (
  config: TransportConfig | (Partial<TransportConfigInput> & Pick<TransportClient.Options, "logLevel">),
  options?: ClientOptions
): Promise<TransportClient.TransportClient> => {
  // `logLevel` is the client's, not the transport's: taken from either argument (the second wins).
  let fields: TransportConfig | Partial<TransportConfigInput> = config
  let clientOptions = options
  if (!TransportConfigModule.isTransportConfig(config) && "logLevel" in config) {
    const { logLevel, ...rest } = config
    fields = rest
    if (options?.logLevel === undefined && logLevel !== undefined) clientOptions = { ...options, logLevel }
  }
  return TransportClient.fromScoped(
    Effect.flatMap(TransportConfigModule.make(fields), (config) => Transport.make(config, clientOptions)).pipe(
      withConnector(clientOptions?.tls)
    ),
    clientOptions
  )
}
