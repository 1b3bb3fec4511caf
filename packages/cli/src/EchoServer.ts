/**
 * `rmq-transport echo-server`: a framed echo peer (`TransportServer.echo`) until interrupted, over plain TCP
 * or, with `tls`, over TLS (requiring client certificates when a CA is given).
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import { TransportServer } from "@rocketmq-effect/transport-node"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { CliError } from "./Failure.js"
import * as TlsFiles from "./internal/tlsFiles.js"
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
  /**
   * Serve TLS with these PEM files; plain TCP unless given.
   *
   * @since 0.2.0
   */
  readonly tls?: TlsOptions | undefined
}

/**
 * The TLS flags of `echo-server`: PEM files, read when the command runs.
 *
 * @since 0.2.0
 * @category models
 */
export interface TlsOptions {
  /** `--cert`: the server's certificate chain. */
  readonly certFile: string
  /** `--key`: its unencrypted private key. */
  readonly keyFile: string
  /**
   * `--ca`: the CAs client certificates must chain to. Given, every client must present a certificate signed
   * by one of them (mutual TLS); omitted, none is asked for.
   */
  readonly caFile?: string | undefined
}

/**
 * What `start` takes: the address and the limit, and TLS as PEM text already read.
 *
 * @since 0.2.0
 * @category models
 */
export interface StartOptions extends Omit<EchoServerOptions, "tls"> {
  readonly tls?: TransportServer.ServerTlsOptions | undefined
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
 * Reads the PEM files of `options` and checks them (a key that is not the certificate's, text that is not
 * PEM): every problem is a usage error (`CliError`, exit code 2) naming the flag and the path. A CA turns on
 * `requestCert`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const readTls = (
  options: TlsOptions
): Effect.Effect<TransportServer.ServerTlsOptions, CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const cert = yield* TlsFiles.read("--cert", options.certFile)
    const key = yield* TlsFiles.read("--key", options.keyFile)
    const ca = yield* TlsFiles.readOptional("--ca", options.caFile)
    // The client's config checks PEM the way the server will use it: certificate, key and CA, each by name.
    yield* TlsFiles.make({ cert, key, ca }, {
      cert: `--cert ${options.certFile}`,
      key: `--key ${options.keyFile}`,
      ...(options.caFile === undefined ? {} : { ca: `--ca ${options.caFile}` })
    })
    return ca === undefined ? { cert, key } : { cert, key, ca, requestCert: true }
  })

/**
 * Starts an echo server in the current scope and returns it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  options: StartOptions
): Effect.Effect<TransportServer.TransportServer, TransportServer.TransportServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const server = yield* TransportServer.make({
      host: options.host,
      port: options.port,
      maxMessageSize: options.maxMessageSize,
      tls: options.tls
    })
    yield* server.serve(TransportServer.echo)
    return server
  })

/**
 * The command: prints the bound address (the first line of output, which scripts may parse: `echo server
 * listening on HOST:PORT …`) and serves until interrupted.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (
  options: EchoServerOptions
): Effect.Effect<never, TransportServer.TransportServerError | CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const tls = options.tls === undefined ? undefined : yield* readTls(options.tls)
    const server = yield* start({ ...options, tls })
    const over = tls === undefined
      ? ""
      : tls.requestCert === true
      ? "TLS, client certificates required, "
      : "TLS, "
    yield* Console.log(
      `echo server listening on ${formatAddress(server.address)} ` +
        `(${over}max message ${formatBytes(options.maxMessageSize)}); Ctrl-C to stop`
    )
    return yield* Effect.never
  }).pipe(Effect.scoped)
