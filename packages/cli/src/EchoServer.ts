/**
 * `rmq-transport echo-server`: a framed echo peer (`TransportServer.echo`) until interrupted.
 *
 * @since 0.1.0
 */
import { TransportServer } from "@rocketmq-effect/transport-node"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { formatBytes } from "./Stats.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface EchoServerOptions {
  readonly host: string
  /** `0` picks a free port. */
  readonly port: number
  readonly maxMessageSize: number
}

/**
 * `host:port`, with an IPv6 host in brackets: `TransportConfig.formatAddress` over a bound address.
 *
 * @since 0.1.0
 * @category utils
 */
export const formatAddress = (address: { readonly host: string; readonly port: number }): string =>
  TransportConfig.formatAddress(address.host, address.port)

/**
 * Starts an echo server in the current scope and returns it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  options: EchoServerOptions
): Effect.Effect<TransportServer.TransportServer, TransportServer.TransportServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const server = yield* TransportServer.make({
      host: options.host,
      port: options.port,
      maxMessageSize: options.maxMessageSize
    })
    yield* server.serve(TransportServer.echo)
    return server
  })

/**
 * The command: prints the bound address (the first line of output, which scripts may parse) and serves
 * until interrupted.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (options: EchoServerOptions): Effect.Effect<never, TransportServer.TransportServerError> =>
  Effect.gen(function*() {
    const server = yield* start(options)
    yield* Console.log(
      `echo server listening on ${formatAddress(server.address)} ` +
        `(max message ${formatBytes(options.maxMessageSize)}); Ctrl-C to stop`
    )
    return yield* Effect.never
  }).pipe(Effect.scoped)
