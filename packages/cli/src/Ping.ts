/**
 * `rmq-transport ping`: round trips through an echo peer, one at a time, with latency statistics.
 *
 * Without `--port` it starts an echo server in the same process and pings that (a quick self-test of the
 * transport; the numbers then include the server's share of the one event loop). That server speaks plain
 * TCP, so the TLS flags need `--port`.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type { TransportServer } from "@rocketmq-effect/transport-node"
import { NodeTransport } from "@rocketmq-effect/transport-node"
import type * as Transport from "@rocketmq-effect/transport/Transport"
import type { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { ConnectionOptions } from "./ConnectionOptions.js"
import { tlsFlags, toConfig, toTlsConfig } from "./ConnectionOptions.js"
import * as EchoServer from "./EchoServer.js"
import { CliError, ExitCode, hintFirstExchange } from "./Failure.js"
import * as Progress from "./Progress.js"
import type { LatencySummary } from "./Stats.js"
import { formatBytes, formatCount, formatLatency, formatMillis, summarize } from "./Stats.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface PingOptions {
  /** The peer; `port` none means an in-process echo server. */
  readonly connection: Omit<ConnectionOptions, "port"> & { readonly port: Option.Option<number> }
  readonly count: number
  readonly size: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PingResult {
  readonly address: string
  readonly count: number
  readonly size: number
  readonly elapsedMillis: number
  readonly latency: LatencySummary
}

/**
 * A payload of `size` bytes whose first four bytes (where it has them) carry `sequence`, so that an echo of
 * an earlier round trip cannot pass for this one's.
 *
 * @since 0.1.0
 * @category utils
 */
export const payloadFor = (size: number, sequence: number, into?: Uint8Array): Uint8Array => {
  const payload = into ?? Uint8Array.from({ length: size }, (_, i) => (i * 31 + 7) & 0xff)
  if (size >= 4) new DataView(payload.buffer, payload.byteOffset, 4).setUint32(0, sequence >>> 0)
  return payload
}

/**
 * @since 0.1.0
 * @category utils
 */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * `count` round trips of `size` bytes over a connected transport; fails with a `CliError` on an echo that
 * does not match.
 *
 * @since 0.1.0
 * @category constructors
 */
export const roundTrips = (
  transport: Transport.TransportService,
  count: number,
  size: number,
  onEach: (millis: number) => void = () => {}
): Effect.Effect<Float64Array, Transport.OperationError | CliError> =>
  Effect.gen(function*() {
    const samples = new Float64Array(count)
    const payload = payloadFor(size, 0)
    for (let i = 0; i < count; i++) {
      payloadFor(size, i, payload)
      const started = performance.now()
      yield* transport.send(payload)
      const echo = yield* transport.recvPkg()
      samples[i] = performance.now() - started
      if (!sameBytes(echo, payload)) {
        return yield* new CliError({
          reason: `echo mismatch: round trip ${i + 1} sent ${payload.length} bytes, got back ${echo.length} ` +
            `bytes that differ`,
          exitCode: ExitCode.Mismatch
        })
      }
      onEach(samples[i]!)
    }
    return samples
  })

/**
 * The command. TLS flags without `--port` are a usage error (the in-process echo server is plain TCP).
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (
  options: PingOptions
): Effect.Effect<
  PingResult,
  Transport.OperationError | CliError | ConfigurationError | TransportServer.TransportServerError,
  FileSystem.FileSystem
> =>
  Effect.gen(function*() {
    if (!Number.isInteger(options.count) || options.count < 1) {
      return yield* new CliError({ reason: "--count must be a positive integer", exitCode: ExitCode.Usage })
    }
    if (!Number.isInteger(options.size) || options.size < 0 || options.size > options.connection.maxMessageSize) {
      return yield* new CliError({
        reason: `--size must be an integer from 0 to --max-message-size (${options.connection.maxMessageSize})`,
        exitCode: ExitCode.Usage
      })
    }
    const tlsOptions = options.connection.tls
    if (tlsOptions !== undefined && Option.isNone(options.connection.port)) {
      return yield* new CliError({
        reason: `${tlsFlags(tlsOptions)[0]} needs --port: the in-process echo server speaks plain TCP`,
        exitCode: ExitCode.Usage
      })
    }
    const tls = tlsOptions === undefined ? undefined : yield* toTlsConfig(tlsOptions)
    const port = yield* Option.match(options.connection.port, {
      onSome: Effect.succeed,
      onNone: () =>
        EchoServer.start({ host: options.connection.host, port: 0, maxMessageSize: options.connection.maxMessageSize })
          .pipe(
            Effect.tap((server) =>
              Console.error(
                `no --port given: pinging an in-process echo server on ${EchoServer.formatAddress(server.address)}`
              )
            ),
            Effect.map((server) => server.address.port)
          )
    })
    const config = yield* toConfig({ ...options.connection, port })
    yield* Console.log(
      `PING ${config.address}${tls === undefined ? "" : " (TLS)"}: ${formatCount(options.count)} round trips of ` +
        formatBytes(options.size)
    )
    const progress = yield* Progress.scoped("ping", options.count)
    const started = performance.now()
    let echoed = 0
    const hinted = hintFirstExchange({ tls: tls !== undefined, clientCertificate: tlsOptions?.certFile !== undefined })
    const samples = yield* Effect.gen(function*() {
      const transport = yield* NodeTransport.NodeTransport
      yield* transport.awaitConnected
      return yield* roundTrips(transport, options.count, options.size, () => {
        echoed++
        progress.advance()
      })
    }).pipe(
      Effect.provide(NodeTransport.layer(config, { tls })),
      // Only a loss before the first echo hints at TLS.
      Effect.catchAll((error) => echoed === 0 ? hinted(Effect.fail(error)) : Effect.fail(error))
    )
    const elapsedMillis = performance.now() - started
    progress.finish()
    const latency = summarize(samples)
    const total = samples.reduce((sum, ms) => sum + ms, 0)
    yield* Console.log(
      `${formatCount(options.count)} round trips, every echo matched, ${formatMillis(total)} in round trips ` +
        `(${formatCount(options.count / (total / 1000))} round trips/s)`
    )
    yield* Console.log(`latency: ${formatLatency(latency)}`)
    return { address: config.address, count: options.count, size: options.size, elapsedMillis, latency }
  }).pipe(Effect.scoped)
