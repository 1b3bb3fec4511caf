/**
 * The options every client command shares (where to connect, how long to wait, the largest frame) and the
 * `TransportConfig` they make.
 *
 * A command line tool makes one attempt and reports: no reconnect schedule, `maxRetries: 0`, so a refused
 * connection fails at once instead of retrying for ever as the library default does.
 *
 * @since 0.1.0
 */
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import type { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"

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
