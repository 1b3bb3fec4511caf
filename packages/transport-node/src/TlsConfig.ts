/**
 * TLS for the TCP connector: what to trust, what to present, which name to check. It lives beside the
 * transport's config rather than inside it, so the pyrocketmq-compatible dictionary (`TransportConfig.toDict`)
 * keeps its keys.
 *
 * `make` validates once and builds Node's secure context once: every connection (and reconnection) reuses
 * it, and a bad PEM or a key that does not match its certificate fails `make` with a `ConfigurationError`
 * naming the field, not the first connect.
 *
 * @example
 * ```ts
 * import { NodeTransport, TlsConfig } from "@rocketmq-effect/transport-node"
 * import { Effect } from "effect"
 *
 * // The system's trusted CAs (Node's bundle) and the broker's host name: often all a managed service needs.
 * const TransportLayer = NodeTransport.layer(
 *   { host: "broker.example.com", port: 8081 },
 *   { tls: { minVersion: "TLSv1.2" } }
 * )
 *
 * // Rejected at once: a certificate needs its key.
 * const invalid = Effect.runSync(Effect.flip(TlsConfig.make({ cert: "-----BEGIN CERTIFICATE-----" })))
 * assert.strictEqual(invalid.field, "key")
 * ```
 *
 * @since 0.2.0
 */
import { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { isPem, listToNode, toNode } from "./internal/pem.js"

/**
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@rocketmq-effect/transport-node/TlsConfig")

/**
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * PEM text, as a string or its bytes.
 *
 * @since 0.2.0
 * @category models
 */
export type Pem = string | Uint8Array

/**
 * The TLS versions a connection may settle on, at least.
 *
 * @since 0.2.0
 * @category models
 */
export type TlsVersion = "TLSv1.2" | "TLSv1.3"

/**
 * What `make` accepts. Every field is optional: `{}` is TLS with Node's bundled CAs, checking the host name.
 *
 * @since 0.2.0
 * @category models
 */
export interface TlsConfigInput {
  /**
   * The CAs to trust, PEM (one or several certificates). Replaces Node's bundled CAs; omitted, those are
   * trusted.
   */
  readonly ca?: Pem | ReadonlyArray<Pem> | undefined
  /** The client's certificate chain, PEM, for mutual TLS. Needs `key`. */
  readonly cert?: Pem | undefined
  /** The private key of `cert`, PEM. Needs `cert`. */
  readonly key?: Pem | undefined
  /** The passphrase of an encrypted `key`. */
  readonly passphrase?: string | undefined
  /**
   * The name sent as SNI and checked against the server's certificate. Omitted, the host connected to: a
   * DNS name is sent and checked; an IP address is checked against the certificate's IP entries, with no SNI.
   */
  readonly serverName?: string | undefined
  /**
   * Whether a server certificate that fails verification (CA, dates, name) fails the handshake. `true`
   * unless given; `false` encrypts without authenticating the server, for tests only.
   */
  readonly rejectUnauthorized?: boolean | undefined
  /** The lowest TLS version accepted; `"TLSv1.2"` unless given. */
  readonly minVersion?: TlsVersion | undefined
}

/**
 * A validated TLS configuration, with its secure context built.
 *
 * @since 0.2.0
 * @category models
 */
export interface TlsConfig {
  readonly [TypeId]: TypeId
  readonly serverName: string | undefined
  readonly rejectUnauthorized: boolean
  readonly minVersion: TlsVersion
  /** Whether a client certificate is presented (mutual TLS). */
  readonly mutual: boolean
  /** Whether `ca` replaced Node's bundled CAs. */
  readonly customCa: boolean
  /**
   * Node's secure context, built once and shared by every connection.
   *
   * @internal
   */
  readonly secureContext: Tls.SecureContext
}

/**
 * @since 0.2.0
 * @category guards
 */
export const isTlsConfig = (u: unknown): u is TlsConfig => Predicate.hasProperty(u, TypeId)

const VERSIONS: ReadonlyArray<TlsVersion> = ["TLSv1.2", "TLSv1.3"]

interface Issue {
  readonly field: string
  readonly rule: string
  readonly value?: unknown
}

const failure = (issues: ReadonlyArray<Issue>): ConfigurationError => {
  const first = issues[0]!
  return new ConfigurationError(
    issues.length === 1 ? first : { field: first.field, rule: first.rule, value: first.value, issues }
  )
}

const messageOf = (cause: unknown): string =>
  Predicate.hasProperty(cause, "message") && typeof cause.message === "string" ? cause.message : String(cause)

// Node's own checks: a CA list it cannot parse, a certificate or key it cannot read, a key that is not the
// certificate's. The context is built once; only when that fails are the parts tried on their own, so that the
// error can name the field.
const buildContext = (input: TlsConfigInput): Either.Either<Tls.SecureContext, Issue> => {
  const ca = listToNode(input.ca)
  // createSecureContext accepts text with no certificate in it; trusting nothing is never what was meant.
  if (ca !== undefined && ca.every((entry) => !String(entry).includes("-----BEGIN CERTIFICATE-----"))) {
    return Either.left({ field: "ca", rule: "must hold at least one PEM certificate" })
  }
  const attempt = (field: string, options: Tls.SecureContextOptions): Either.Either<Tls.SecureContext, Issue> => {
    try {
      return Either.right(Tls.createSecureContext({ minVersion: input.minVersion ?? "TLSv1.2", ...options }))
    } catch (cause) {
      return Either.left({ field, rule: `is not usable: ${messageOf(cause)}` })
    }
  }
  const cert = input.cert === undefined ? undefined : toNode(input.cert)
  const key = input.key === undefined ? undefined : toNode(input.key)
  const context = attempt("tls", { ca, cert, key, passphrase: input.passphrase })
  if (Either.isRight(context)) return context
  const culprit = [
    () => ca === undefined ? undefined : attempt("ca", { ca }),
    () => cert === undefined ? undefined : attempt("cert", { cert }),
    () =>
      cert === undefined || key === undefined ? undefined : attempt("key", { cert, key, passphrase: input.passphrase })
  ].map((check) => check()).find((result) => result !== undefined && Either.isLeft(result))
  return culprit ?? context
}

const validate = (input: TlsConfigInput): ReadonlyArray<Issue> => {
  const issues: Array<Issue> = []
  const ca = input.ca
  if (ca !== undefined && !isPem(ca) && !(Array.isArray(ca) && ca.length > 0 && ca.every(isPem))) {
    issues.push({ field: "ca", rule: "must be PEM text or a non-empty list of PEM texts", value: ca })
  }
  if (input.cert !== undefined && !isPem(input.cert)) {
    issues.push({ field: "cert", rule: "must be PEM text", value: input.cert })
  }
  if (input.key !== undefined && !isPem(input.key)) {
    issues.push({ field: "key", rule: "must be PEM text", value: input.key })
  }
  if (input.cert !== undefined && input.key === undefined) {
    issues.push({ field: "key", rule: "is required with cert (mutual TLS needs the certificate's key)" })
  }
  if (input.key !== undefined && input.cert === undefined) {
    issues.push({ field: "cert", rule: "is required with key" })
  }
  if (input.passphrase !== undefined && typeof input.passphrase !== "string") {
    issues.push({ field: "passphrase", rule: "must be a string", value: input.passphrase })
  }
  if (input.serverName !== undefined && (typeof input.serverName !== "string" || input.serverName.length === 0)) {
    issues.push({ field: "serverName", rule: "must be a non-empty host name", value: input.serverName })
  }
  if (input.rejectUnauthorized !== undefined && typeof input.rejectUnauthorized !== "boolean") {
    issues.push({ field: "rejectUnauthorized", rule: "must be a boolean", value: input.rejectUnauthorized })
  }
  if (input.minVersion !== undefined && !VERSIONS.includes(input.minVersion)) {
    issues.push({ field: "minVersion", rule: `must be one of ${VERSIONS.join(", ")}`, value: input.minVersion })
  }
  return issues
}

/**
 * Validates a TLS configuration and builds its secure context. Every malformed field is reported at once;
 * PEM that Node cannot use (or a key that is not the certificate's) fails with the field's name and Node's
 * reason.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (input: TlsConfigInput = {}): Effect.Effect<TlsConfig, ConfigurationError> =>
  Effect.suspend(() => makeEither(input))

const makeEither = (input: TlsConfigInput): Either.Either<TlsConfig, ConfigurationError> => {
  const issues = validate(input)
  if (issues.length > 0) return Either.left(failure(issues))
  const context = buildContext(input)
  if (Either.isLeft(context)) return Either.left(failure([context.left]))
  return Either.right({
    [TypeId]: TypeId,
    serverName: input.serverName,
    rejectUnauthorized: input.rejectUnauthorized ?? true,
    minVersion: input.minVersion ?? "TLSv1.2",
    mutual: input.cert !== undefined,
    customCa: input.ca !== undefined,
    secureContext: context.right
  })
}

/**
 * A `TlsConfig` as it is, or the input `make` validates.
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromInput = (tls: TlsConfig | TlsConfigInput): Effect.Effect<TlsConfig, ConfigurationError> =>
  isTlsConfig(tls) ? Effect.succeed(tls) : make(tls)

/**
 * The `tls.connect` options of one connection to `host`: the shared secure context, the name to send and
 * check, and the checks to make.
 *
 * @since 0.2.0
 * @category options
 */
export const connectOptions = (tls: TlsConfig, host: string): Tls.ConnectionOptions => {
  const name = tls.serverName ?? host
  return {
    secureContext: tls.secureContext,
    // SNI carries host names only; an IP address is still checked against the certificate's IP entries.
    servername: Net.isIP(name) === 0 ? name : undefined,
    host: name,
    rejectUnauthorized: tls.rejectUnauthorized,
    minVersion: tls.minVersion
  }
}

// --- Environment variables -----------------------------------------------------------------------------

/**
 * @since 0.2.0
 * @category models
 */
export interface EnvOptions {
  /** Prepended to each variable name with `_`; `"TRANSPORT"` unless given, as for `TransportConfig.config`. */
  readonly prefix?: string | undefined
}

const FILE_VARIABLES = ["CA_FILE", "CERT_FILE", "KEY_FILE"] as const
const OTHER_VARIABLES = ["KEY_PASSPHRASE", "SERVER_NAME", "REJECT_UNAUTHORIZED", "MIN_VERSION"] as const

/**
 * The environment variables `config` reads, with `prefix` (default `TRANSPORT`): `TRANSPORT_TLS_ENABLED`, …
 *
 * @since 0.3.0
 * @category constructors
 */
export const variables = (prefix = "TRANSPORT"): ReadonlyArray<string> =>
  ["ENABLED", ...FILE_VARIABLES, ...OTHER_VARIABLES].map((suffix) =>
    prefix === "" ? `TLS_${suffix}` : `${prefix}_TLS_${suffix}`
  )

/**
 * TLS from environment variables, beside the transport's own (`TRANSPORT_HOST`, …):
 *
 * - `TRANSPORT_TLS_ENABLED`: `true` to connect over TLS; `false` unless set. The variables below are
 *   refused while it is not `true`, so that a half-made setup never silently falls back to plaintext.
 * - `TRANSPORT_TLS_CA_FILE`, `TRANSPORT_TLS_CERT_FILE`, `TRANSPORT_TLS_KEY_FILE`: paths of PEM files, read
 *   when the config is loaded (a file that cannot be read is reported with its variable).
 * - `TRANSPORT_TLS_KEY_PASSPHRASE`, `TRANSPORT_TLS_SERVER_NAME`, `TRANSPORT_TLS_REJECT_UNAUTHORIZED`,
 *   `TRANSPORT_TLS_MIN_VERSION` (`TLSv1.2` / `TLSv1.3`).
 *
 * `None` when TLS is off. Errors are `ConfigError`s whose path is the variable's name.
 *
 * @example
 * ```ts
 * import { TlsConfig } from "@rocketmq-effect/transport-node"
 * import { ConfigProvider, Effect, Option } from "effect"
 *
 * const env = ConfigProvider.fromMap(new Map([
 *   ["BROKER_TLS_ENABLED", "true"],
 *   ["BROKER_TLS_SERVER_NAME", "broker.example.com"]
 * ]))
 * const tls = Effect.runSync(Effect.withConfigProvider(TlsConfig.config({ prefix: "BROKER" }), env))
 * assert.strictEqual(Option.getOrThrow(tls).serverName, "broker.example.com")
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const config = (options?: EnvOptions): Config.Config<Option.Option<TlsConfig>> => {
  const prefix = options?.prefix ?? "TRANSPORT"
  const name = (suffix: string) => prefix === "" ? `TLS_${suffix}` : `${prefix}_TLS_${suffix}`
  const optional = (suffix: string) => Config.option(Config.string(name(suffix)))
  return Config.all({
    enabled: Config.withDefault(Config.boolean(name("ENABLED")), false),
    files: Config.all(FILE_VARIABLES.map(optional)),
    passphrase: optional("KEY_PASSPHRASE"),
    serverName: optional("SERVER_NAME"),
    rejectUnauthorized: Config.option(Config.boolean(name("REJECT_UNAUTHORIZED"))),
    minVersion: Config.option(Config.literal(...VERSIONS)(name("MIN_VERSION")))
  }).pipe(Config.mapOrFail((raw): Either.Either<Option.Option<TlsConfig>, ConfigError.ConfigError> => {
    const [caFile, certFile, keyFile] = raw.files
    if (!raw.enabled) {
      const others: ReadonlyArray<Option.Option<unknown>> = [
        raw.passphrase,
        raw.serverName,
        raw.rejectUnauthorized,
        raw.minVersion
      ]
      const given = [
        ...FILE_VARIABLES.filter((_, i) => Option.isSome(raw.files[i]!)),
        ...OTHER_VARIABLES.filter((_, i) => Option.isSome(others[i]!))
      ]
      return given.length === 0
        ? Either.right(Option.none())
        : Either.left(
          ConfigError.InvalidData(
            [name("ENABLED")],
            `must be true when ${given.map(name).join(", ")} ${given.length === 1 ? "is" : "are"} set`
          )
        )
    }
    const read = (
      suffix: string,
      path: Option.Option<string>
    ): Either.Either<string | undefined, ConfigError.ConfigError> => {
      if (Option.isNone(path)) return Either.right(undefined)
      try {
        return Either.right(Fs.readFileSync(path.value, "utf8"))
      } catch (cause) {
        return Either.left(ConfigError.InvalidData([name(suffix)], `cannot read ${path.value}: ${messageOf(cause)}`))
      }
    }
    return Either.gen(function*() {
      const ca = yield* read("CA_FILE", caFile!)
      const cert = yield* read("CERT_FILE", certFile!)
      const key = yield* read("KEY_FILE", keyFile!)
      const made = makeEither({
        ca,
        cert,
        key,
        passphrase: Option.getOrUndefined(raw.passphrase),
        serverName: Option.getOrUndefined(raw.serverName),
        rejectUnauthorized: Option.getOrUndefined(raw.rejectUnauthorized),
        minVersion: Option.getOrUndefined(raw.minVersion)
      })
      if (Either.isLeft(made)) {
        const issues: ReadonlyArray<{ readonly field: string; readonly rule: string }> = made.left.issues ??
          [made.left]
        const variable: Record<string, string> = {
          ca: "CA_FILE",
          cert: "CERT_FILE",
          key: "KEY_FILE",
          passphrase: "KEY_PASSPHRASE",
          serverName: "SERVER_NAME"
        }
        const errors = issues.map((issue) =>
          ConfigError.InvalidData([name(variable[issue.field] ?? "ENABLED")], issue.rule)
        )
        return yield* Either.left(
          errors.slice(1).reduce((all: ConfigError.ConfigError, error) => ConfigError.And(all, error), errors[0]!)
        )
      }
      return Option.some(made.right)
    })
  }))
}
