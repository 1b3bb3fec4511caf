/**
 * The options every client command shares (where to connect, how long to wait, the largest frame, TLS) and
 * the `TransportConfig` and `TlsConfig` they make.
 *
 * A command line tool makes one attempt and reports: no reconnect schedule, `maxRetries: 0`, so a refused
 * connection fails at once instead of retrying for ever as the library default does.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type { TlsConfig } from "@rocketmq-effect/transport-node"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import type { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { CliError, ExitCode } from "./Failure.js"
import * as TlsFiles from "./internal/tlsFiles.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ConnectionOptions {
  readonly host: string
  readonly port: number
  /** Seconds one connection attempt may take. */
  readonly connectTimeout: number
  /** Seconds one send or receive may take. */
  readonly timeout: number
  /** The largest frame payload in bytes, either way. */
  readonly maxMessageSize: number
  /**
   * Connect over TLS; plain TCP unless given. `{}` trusts Node's bundled CAs and checks the certificate
   * against `host`.
   *
   * @since 0.2.0
   */
  readonly tls?: TlsOptions | undefined
}

/**
 * The TLS flags of a client command: the PEM files to read (`--ca`, `--cert`, `--key`) and how the server is
 * checked (`--server-name`, `--insecure`).
 *
 * @since 0.2.0
 * @category models
 */
export interface TlsOptions {
  /** `--ca`: the CAs to trust, instead of Node's bundled ones. */
  readonly caFile?: string | undefined
  /** `--cert`: the client's certificate chain, for a server that requires one (mutual TLS). Needs `keyFile`. */
  readonly certFile?: string | undefined
  /** `--key`: the unencrypted private key of `certFile`. Needs `certFile`. */
  readonly keyFile?: string | undefined
  /** `--server-name`: the name sent as SNI and checked against the server's certificate, instead of `host`. */
  readonly serverName?: string | undefined
  /** `--insecure`: encrypt without verifying the server's certificate (`rejectUnauthorized: false`). */
  readonly insecure?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  host: "127.0.0.1",
  connectTimeout: 3,
  timeout: 10,
  maxMessageSize: TransportConfig.defaults.maxMessageSize
} as const

/**
 * The transport config for one-shot use: the given address and limits, no retries.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toConfig = (
  options: ConnectionOptions,
  overrides: Partial<TransportConfig.TransportConfigInput> = {}
): Effect.Effect<TransportConfig.TransportConfig, ConfigurationError> =>
  TransportConfig.make({
    host: options.host,
    port: options.port,
    connectTimeout: Duration.seconds(options.connectTimeout),
    timeout: Duration.seconds(options.timeout),
    maxMessageSize: options.maxMessageSize,
    maxRetries: 0,
    retryInterval: Duration.zero,
    ...overrides
  })

/**
 * The flags that `options` stand for, as a user typed them (`--tls` when none of the others): for messages
 * that must name what asked for TLS.
 *
 * @since 0.2.0
 * @category utils
 */
export const tlsFlags = (options: TlsOptions): ReadonlyArray<string> => {
  const given = [
    options.caFile === undefined ? undefined : "--ca",
    options.certFile === undefined ? undefined : "--cert",
    options.keyFile === undefined ? undefined : "--key",
    options.serverName === undefined ? undefined : "--server-name",
    options.insecure === true ? "--insecure" : undefined
  ].filter((flag) => flag !== undefined)
  return given.length === 0 ? ["--tls"] : given
}

const usage = (reason: string) => new CliError({ reason, exitCode: ExitCode.Usage })

/**
 * The TLS config of a client command: the files read, then checked by `TlsConfig.make`. Every problem is a
 * usage error (`CliError`, exit code 2) naming the flag: `--cert` without `--key` (or the reverse),
 * `--insecure` with `--ca` (which it would ignore), a file that cannot be read (with its path), PEM that Node
 * cannot use or a key that is not the certificate's.
 *
 * @example
 * ```ts
 * import { ConnectionOptions } from "@rocketmq-effect/cli"
 * import * as NodeContext from "@effect/platform-node/NodeContext"
 * import { Effect } from "effect"
 *
 * const error = Effect.runSync(
 *   ConnectionOptions.toTlsConfig({ certFile: "client.pem" }).pipe(Effect.flip, Effect.provide(NodeContext.layer))
 * )
 * assert.strictEqual(error.message, "--cert needs --key (the certificate's private key)")
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const toTlsConfig = (
  options: TlsOptions
): Effect.Effect<TlsConfig.TlsConfig, CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    if (options.certFile !== undefined && options.keyFile === undefined) {
      return yield* usage("--cert needs --key (the certificate's private key)")
    }
    if (options.keyFile !== undefined && options.certFile === undefined) {
      return yield* usage("--key needs --cert (the certificate it is the key of)")
    }
    if (options.insecure === true && options.caFile !== undefined) {
      return yield* usage("--insecure checks no certificate, so --ca would be ignored: give one of them")
    }
    if (options.serverName !== undefined && options.serverName.length === 0) {
      return yield* usage("--server-name must not be empty")
    }
    const ca = yield* TlsFiles.readOptional("--ca", options.caFile)
    const cert = yield* TlsFiles.readOptional("--cert", options.certFile)
    const key = yield* TlsFiles.readOptional("--key", options.keyFile)
    return yield* TlsFiles.make(
      {
        ca,
        cert,
        key,
        serverName: options.serverName,
        rejectUnauthorized: options.insecure !== true
      },
      {
        ...(options.caFile === undefined ? {} : { ca: `--ca ${options.caFile}` }),
        ...(options.certFile === undefined ? {} : { cert: `--cert ${options.certFile}` }),
        ...(options.keyFile === undefined ? {} : { key: `--key ${options.keyFile}` }),
        serverName: "--server-name"
      }
    )
  })
