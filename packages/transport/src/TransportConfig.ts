/**
 * The transport's settings (the seed's `TransportConfig` dataclass): where to connect, how long to wait,
 * how to retry, socket options and the largest frame accepted.
 *
 * A `TransportConfig` is always valid: build one with `make` (camelCase fields, durations as
 * `Duration.DurationInput`), `fromDict` (the seed's snake_case dictionary, durations in seconds), `config` /
 * `fromEnv` (environment variables such as `TRANSPORT_PORT`), or start from a preset (`DEFAULT`,
 * `HIGH_PERFORMANCE`, `DEBUG`) and change it with `copyWith`. Every failure is one `ConfigurationError`
 * whose `message` lists every offending field as the user wrote it, with its rule and the value given;
 * `field`, `rule` and `value` are those of the first.
 *
 * @since 0.1.0
 */
import * as Arr from "effect/Array"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import { dual } from "effect/Function"
import * as Hash from "effect/Hash"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import { describeValue } from "./internal/describeValue.js"
import { ConfigurationError, type ConfigurationIssue } from "./TransportError.js"

// The rules, in words, as they appear in `ConfigurationError.rule`. Each predicate below is shared by the
// class's schema and by the entry points, so a value the entry points accept never fails the constructor.

const rules = {
  host: "must be a non-empty string",
  port: "must be an integer from 0 to 65535",
  positiveDuration: "must be a positive, finite duration",
  retryInterval: "must be a finite duration of zero or more",
  idleTimeout: "must be a positive, finite duration, or none to turn it off",
  maxRetries: "must be an integer of -1 (retry forever) or more",
  size: "must be a positive integer",
  maxMessageSize: "must be an integer from 1 to 4294967295",
  boolean: "must be a boolean",
  unknownKey: "is not a configuration key"
} as const

/**
 * The largest payload a 32-bit unsigned length field can announce.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_MESSAGE_SIZE_LIMIT = 4_294_967_295

const isHost = (s: string): boolean => s.length > 0
const isPort = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 65535
const isPositiveDuration = (d: Duration.Duration): boolean =>
  Duration.isFinite(d) && Duration.greaterThan(d, Duration.zero)
const isFiniteDuration = (d: Duration.Duration): boolean => Duration.isFinite(d)
const isMaxRetries = (n: number): boolean => Number.isInteger(n) && n >= -1
const isSize = (n: number): boolean => Number.isInteger(n) && n >= 1
const isMaxMessageSize = (n: number): boolean => isSize(n) && n <= MAX_MESSAGE_SIZE_LIMIT

const checked = <S extends Schema.Schema.Any>(schema: S, check: (a: Schema.Schema.Type<S>) => boolean, rule: string) =>
  schema.pipe(Schema.filter((a: Schema.Schema.Type<S>) => check(a), { message: () => rule }))

const PositiveDuration = checked(Schema.DurationFromSelf, isPositiveDuration, rules.positiveDuration)
const Size = checked(Schema.Number, isSize, rules.size)

const sameValue = (a: unknown, b: unknown): boolean => {
  if (Duration.isDuration(a) && Duration.isDuration(b)) return Duration.equals(a, b)
  if (Option.isOption(a) && Option.isOption(b)) return Option.getEquivalence(sameValue)(a, b)
  return a === b
}

const hashValue = (u: unknown): number => {
  // A duration is hashed by its length, not its representation: `Duration.millis(5000)` and
  // `Duration.nanos(5_000_000_000n)` are the same setting.
  if (Duration.isDuration(u)) return Hash.hash(Option.getOrElse(Duration.toNanos(u), () => "Infinity"))
  if (Option.isOption(u)) return Option.match(u, { onNone: () => Hash.hash("None"), onSome: hashValue })
  return Hash.hash(u)
}

/**
 * A valid transport configuration. Times are `Duration`s; `idleTimeout` is `None` when idle detection is
 * off. Instances are immutable and compare with `Equal.equals` by value (durations by length, whatever their
 * representation).
 *
 * @since 0.1.0
 * @category models
 */
export class TransportConfig extends Schema.Class<TransportConfig>("TransportConfig")({
  /** The broker's host name or IP address. */
  host: checked(Schema.String, isHost, rules.host),
  /** The broker's TCP port. */
  port: checked(Schema.Number, isPort, rules.port),
  /** How long one operation (send, receive) may take. */
  timeout: PositiveDuration,
  /** How long one connection attempt may take. */
  connectTimeout: PositiveDuration,
  /** The pause between reconnection attempts; zero retries at once. */
  retryInterval: checked(Schema.DurationFromSelf, isFiniteDuration, rules.retryInterval),
  /** Reconnection attempts: `-1` retries forever, `0` never retries. */
  maxRetries: checked(Schema.Number, isMaxRetries, rules.maxRetries),
  /** The read buffer size in bytes. */
  bufferSize: Size,
  /** The socket's send buffer size in bytes (`SO_SNDBUF`). */
  sendBufferSize: Size,
  /** The socket's receive buffer size in bytes (`SO_RCVBUF`). */
  receiveBufferSize: Size,
  /** Whether TCP keep-alive is on. */
  keepAlive: Schema.Boolean,
  /** The idle time before the first keep-alive probe. */
  keepAliveInterval: PositiveDuration,
  /** How long to wait for a keep-alive probe's answer. */
  keepAliveTimeout: PositiveDuration,
  /** Whether Nagle's algorithm is off (`TCP_NODELAY`). */
  enableNodelay: Schema.Boolean,
  /** Whether `SO_REUSEADDR` is set. */
  enableReuseAddress: Schema.Boolean,
  /** The largest frame payload, in bytes, sent or accepted. */
  maxMessageSize: checked(Schema.Number, isMaxMessageSize, rules.maxMessageSize),
  /** Close the connection when no bytes arrive for this long; `None` turns idle detection off. */
  idleTimeout: Schema.OptionFromSelf(
    checked(Schema.DurationFromSelf, isPositiveDuration, rules.idleTimeout)
  )
}) {
  /**
   * `host:port`, with an IPv6 host in brackets (`[::1]:8080`).
   *
   * @since 0.1.0
   */
  get address(): string {
    const host = this.host.includes(":") && !this.host.startsWith("[") ? `[${this.host}]` : this.host
    return `${host}:${this.port}`
  }

  /**
   * @since 0.1.0
   */
  [Equal.symbol](that: Equal.Equal): boolean {
    return that instanceof TransportConfig && fieldNames.every((key) => sameValue(this[key], that[key]))
  }

  /**
   * @since 0.1.0
   */
  [Hash.symbol](): number {
    return Hash.cached(this, Hash.array(fieldNames.map((key) => hashValue(this[key]))))
  }
}

/**
 * Whether `u` is a `TransportConfig` (and so already valid), as opposed to fields still to be validated.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isTransportConfig = (u: unknown): u is TransportConfig => u instanceof TransportConfig

type Fields = Schema.Struct.Type<typeof TransportConfig.fields>
type FieldName = keyof Fields

const fieldNames = Object.keys(TransportConfig.fields) as ReadonlyArray<FieldName>

/**
 * What `make` and `copyWith` accept: the class's fields, with times as any `Duration.DurationInput`
 * (`"5 seconds"`, `Duration.seconds(5)`, or a number of milliseconds). `idleTimeout` also takes `null`,
 * `undefined` or an `Option` (`None` turns idle detection off).
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportConfigInput {
  readonly host: string
  readonly port: number
  readonly timeout: Duration.DurationInput
  readonly connectTimeout: Duration.DurationInput
  readonly retryInterval: Duration.DurationInput
  readonly maxRetries: number
  readonly bufferSize: number
  readonly sendBufferSize: number
  readonly receiveBufferSize: number
  readonly keepAlive: boolean
  readonly keepAliveInterval: Duration.DurationInput
  readonly keepAliveTimeout: Duration.DurationInput
  readonly enableNodelay: boolean
  readonly enableReuseAddress: boolean
  readonly maxMessageSize: number
  readonly idleTimeout: Duration.DurationInput | Option.Option<Duration.DurationInput> | null | undefined
}

/**
 * The seed's dictionary form (`TransportConfig.to_dict()`): snake_case keys, times as numbers of seconds,
 * `idle_timeout` `null` when off.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportConfigDict {
  readonly host: string
  readonly port: number
  readonly timeout: number
  readonly connect_timeout: number
  readonly retry_interval: number
  readonly max_retries: number
  readonly buffer_size: number
  readonly send_buffer_size: number
  readonly receive_buffer_size: number
  readonly keep_alive: boolean
  readonly keep_alive_interval: number
  readonly keep_alive_timeout: number
  readonly enable_nodelay: boolean
  readonly enable_reuse_address: boolean
  readonly max_message_size: number
  readonly idle_timeout: number | null
}

const dictKeys: { readonly [K in FieldName]: keyof TransportConfigDict } = {
  host: "host",
  port: "port",
  timeout: "timeout",
  connectTimeout: "connect_timeout",
  retryInterval: "retry_interval",
  maxRetries: "max_retries",
  bufferSize: "buffer_size",
  sendBufferSize: "send_buffer_size",
  receiveBufferSize: "receive_buffer_size",
  keepAlive: "keep_alive",
  keepAliveInterval: "keep_alive_interval",
  keepAliveTimeout: "keep_alive_timeout",
  enableNodelay: "enable_nodelay",
  enableReuseAddress: "enable_reuse_address",
  maxMessageSize: "max_message_size",
  idleTimeout: "idle_timeout"
}

const dictKeyNames: ReadonlyArray<string> = Object.values(dictKeys)

// --- Reading values from the three sources -------------------------------------------------------------

const NANOS_PER_MILLI = 1_000_000n
const MAX_SAFE_MILLIS = BigInt(Number.MAX_SAFE_INTEGER)

/** Whole milliseconds when the length allows it, so values read back compare like `Duration.seconds(n)`. */
const fromNanos = (nanos: bigint): Duration.Duration =>
  nanos % NANOS_PER_MILLI === 0n && nanos / NANOS_PER_MILLI <= MAX_SAFE_MILLIS
    ? Duration.millis(Number(nanos / NANOS_PER_MILLI))
    : Duration.nanos(nanos)

/**
 * Seconds to a duration, rounded to the nearest nanosecond. `String(seconds)` is the shortest decimal that
 * reads back as the same double, so `0.001` is taken as the one millisecond the user wrote, not as its
 * binary approximation (`0.001 * 1e9` is `1000000.0000000001`).
 */
const fromSeconds = (seconds: number): Option.Option<Duration.Duration> => {
  if (Number.isNaN(seconds) || seconds < 0) return Option.none()
  if (seconds === Infinity) return Option.some(Duration.infinity)
  const match = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(String(seconds))
  if (match === null) return Option.none()
  const [, whole, fraction = "", exponent = "0"] = match
  const digits = BigInt(whole + fraction)
  const scale = Number(exponent) - fraction.length + 9
  if (scale >= 0) return Option.some(fromNanos(digits * 10n ** BigInt(scale)))
  const divisor = 10n ** BigInt(-scale)
  const rounded = digits / divisor + (2n * (digits % divisor) >= divisor ? 1n : 0n)
  return Option.some(fromNanos(rounded))
}

const toSeconds = (duration: Duration.Duration): number => Duration.toSeconds(duration)

/** `Duration.decode` maps negative inputs to zero; a negative setting is a mistake, so refuse it here. */
const fromDurationInput = (u: unknown): Option.Option<Duration.Duration> => {
  if (typeof u === "number") return Number.isNaN(u) || u < 0 ? Option.none() : Option.some(Duration.millis(u))
  if (typeof u === "bigint") return u < 0n ? Option.none() : Option.some(Duration.nanos(u))
  if (typeof u === "string" && u.trim().startsWith("-")) return Option.none()
  if (Array.isArray(u) && !u.every((n) => typeof n === "number" && n >= 0)) return Option.none()
  return Duration.decodeUnknown(u)
}

const parseInteger = (s: string): Option.Option<number> =>
  /^[+-]?\d+$/.test(s.trim()) ? Option.some(Number(s.trim())) : Option.none()

const parseNumber = (s: string): Option.Option<number> =>
  /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s.trim()) ? Option.some(Number(s.trim())) : Option.none()

const parseBoolean = (s: string): Option.Option<boolean> => {
  // The spellings `Config.boolean` accepts.
  switch (s.trim().toLowerCase()) {
    case "true":
    case "yes":
    case "on":
    case "1":
      return Option.some(true)
    case "false":
    case "no":
    case "off":
    case "0":
      return Option.some(false)
    default:
      return Option.none()
  }
}

type Source = "input" | "dict" | "env"

interface Kind<A> {
  readonly input: (u: unknown) => Option.Option<A>
  readonly dict: (u: unknown) => Option.Option<A>
  readonly env: (u: unknown) => Option.Option<A>
}

const fromString = <A>(parse: (s: string) => Option.Option<A>) => (u: unknown): Option.Option<A> =>
  Predicate.isString(u) ? parse(u) : Option.none()

const textKind: Kind<string> = {
  input: Option.liftPredicate(Predicate.isString),
  dict: Option.liftPredicate(Predicate.isString),
  env: Option.liftPredicate(Predicate.isString)
}

const numberKind: Kind<number> = {
  input: Option.liftPredicate(Predicate.isNumber),
  dict: Option.liftPredicate(Predicate.isNumber),
  env: fromString(parseInteger)
}

const booleanKind: Kind<boolean> = {
  input: Option.liftPredicate(Predicate.isBoolean),
  dict: Option.liftPredicate(Predicate.isBoolean),
  env: fromString(parseBoolean)
}

const secondsFromUnknown = (u: unknown): Option.Option<Duration.Duration> =>
  Predicate.isNumber(u) ? fromSeconds(u) : Option.none()

/** A plain number is seconds, as in the seed (`3`, `2.5`); anything else an Effect duration (`"500 millis"`). */
const parseEnvDuration = (s: string): Option.Option<Duration.Duration> =>
  Option.match(parseNumber(s), { onNone: () => fromDurationInput(s.trim()), onSome: fromSeconds })

const durationKind: Kind<Duration.Duration> = {
  input: fromDurationInput,
  dict: secondsFromUnknown,
  env: fromString(parseEnvDuration)
}

const optionalDurationKind: Kind<Option.Option<Duration.Duration>> = {
  input: (u) => {
    if (Predicate.isNullable(u)) return Option.some(Option.none())
    if (Option.isOption(u)) {
      return Option.match(u, { onNone: () => Option.some(Option.none()), onSome: (d) => optionalDuration(d) })
    }
    return optionalDuration(u)
  },
  dict: (u) => (u === null ? Option.some(Option.none()) : Option.map(secondsFromUnknown(u), Option.some)),
  env: (u) => Option.map(durationKind.env(u), Option.some)
}

function optionalDuration(u: unknown): Option.Option<Option.Option<Duration.Duration>> {
  return Option.map(fromDurationInput(u), Option.some)
}

interface Spec<A> {
  readonly kind: Kind<A>
  readonly rule: string
  readonly check: (a: A) => boolean
}

const positiveDurationSpec: Spec<Duration.Duration> = {
  kind: durationKind,
  rule: rules.positiveDuration,
  check: isPositiveDuration
}
const sizeSpec: Spec<number> = { kind: numberKind, rule: rules.size, check: isSize }
const booleanSpec: Spec<boolean> = { kind: booleanKind, rule: rules.boolean, check: () => true }

const specs: { readonly [K in FieldName]: Spec<Fields[K]> } = {
  host: { kind: textKind, rule: rules.host, check: isHost },
  port: { kind: numberKind, rule: rules.port, check: isPort },
  timeout: positiveDurationSpec,
  connectTimeout: positiveDurationSpec,
  retryInterval: { kind: durationKind, rule: rules.retryInterval, check: isFiniteDuration },
  maxRetries: { kind: numberKind, rule: rules.maxRetries, check: isMaxRetries },
  bufferSize: sizeSpec,
  sendBufferSize: sizeSpec,
  receiveBufferSize: sizeSpec,
  keepAlive: booleanSpec,
  keepAliveInterval: positiveDurationSpec,
  keepAliveTimeout: positiveDurationSpec,
  enableNodelay: booleanSpec,
  enableReuseAddress: booleanSpec,
  maxMessageSize: { kind: numberKind, rule: rules.maxMessageSize, check: isMaxMessageSize },
  idleTimeout: {
    kind: optionalDurationKind,
    rule: rules.idleTimeout,
    check: Option.match({ onNone: () => true, onSome: isPositiveDuration })
  }
}

type Issues = Arr.NonEmptyReadonlyArray<ConfigurationIssue>

/** One error for all the issues: `field`, `rule` and `value` are the first's, `issues` has them all. */
const configurationError = (issues: Issues): ConfigurationError => new ConfigurationError({ ...issues[0], issues })

const unknownKeys = (record: Record<string, unknown>, known: ReadonlyArray<string>): Array<ConfigurationIssue> =>
  Object.keys(record).flatMap((key) =>
    known.includes(key) ? [] : [{ field: key, rule: rules.unknownKey, value: record[key] }]
  )

/**
 * Reads every field in declaration order and reports every bad one, after the `issues` already found
 * (unknown keys). `raw` returns `undefined` for a field that was not given, which then keeps its value from
 * `base`.
 */
const build = (
  source: Source,
  raw: (key: FieldName) => unknown,
  nameOf: (key: FieldName) => string,
  base: Fields,
  issues: ReadonlyArray<ConfigurationIssue> = []
): Either.Either<TransportConfig, Issues> => {
  const fields: Record<string, unknown> = {}
  const found = [...issues]
  for (const key of fieldNames) {
    const value = raw(key)
    if (value === undefined) {
      fields[key] = base[key]
      continue
    }
    const spec = specs[key] as Spec<unknown>
    const decoded = spec.kind[source](value)
    if (Option.isNone(decoded) || !spec.check(decoded.value)) {
      found.push({ field: nameOf(key), rule: spec.rule, value })
      continue
    }
    fields[key] = decoded.value
  }
  return Arr.isNonEmptyReadonlyArray(found) ? Either.left(found) : Either.right(new TransportConfig(fields as Fields))
}

const identity = (key: FieldName): string => key

// --- Defaults and presets ------------------------------------------------------------------------------

/**
 * The seed's field defaults.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaults: Fields = {
  host: "localhost",
  port: 8080,
  timeout: Duration.seconds(30),
  connectTimeout: Duration.seconds(10),
  retryInterval: Duration.seconds(5),
  maxRetries: -1,
  bufferSize: 8192,
  sendBufferSize: 8192,
  receiveBufferSize: 8192,
  keepAlive: true,
  keepAliveInterval: Duration.seconds(30),
  keepAliveTimeout: Duration.seconds(10),
  enableNodelay: true,
  enableReuseAddress: true,
  maxMessageSize: 1024 * 1024,
  idleTimeout: Option.none()
}

/**
 * Every field at its default (the seed's `TransportConfig()`).
 *
 * @since 0.1.0
 * @category presets
 */
export const DEFAULT: TransportConfig = new TransportConfig(defaults)

/**
 * Short timeouts, quick retries, large buffers and 2 MiB messages (the seed's `HIGH_PERFORMANCE_CONFIG`).
 *
 * @since 0.1.0
 * @category presets
 */
export const HIGH_PERFORMANCE: TransportConfig = new TransportConfig({
  ...defaults,
  connectTimeout: Duration.seconds(5),
  timeout: Duration.seconds(10),
  retryInterval: Duration.seconds(1),
  maxRetries: -1,
  bufferSize: 16384,
  sendBufferSize: 32768,
  receiveBufferSize: 32768,
  keepAliveInterval: Duration.seconds(15),
  keepAliveTimeout: Duration.seconds(5),
  maxMessageSize: 2 * 1024 * 1024,
  idleTimeout: Option.none()
})

/**
 * Long timeouts for stepping through code, 512 KiB messages and a five-minute idle timeout (the seed's
 * `DEBUG_CONFIG`).
 *
 * @since 0.1.0
 * @category presets
 */
export const DEBUG: TransportConfig = new TransportConfig({
  ...defaults,
  connectTimeout: Duration.seconds(30),
  timeout: Duration.seconds(60),
  retryInterval: Duration.seconds(10),
  maxRetries: -1,
  bufferSize: 8192,
  sendBufferSize: 8192,
  receiveBufferSize: 8192,
  keepAliveInterval: Duration.seconds(60),
  keepAliveTimeout: Duration.seconds(30),
  maxMessageSize: 512 * 1024,
  idleTimeout: Option.some(Duration.seconds(300))
})

// --- Constructors and combinators ----------------------------------------------------------------------

const fromInput = (
  input: Partial<TransportConfigInput>,
  base: Fields,
  idleTimeoutOff: boolean
): Effect.Effect<TransportConfig, ConfigurationError> =>
  Effect.suspend(() => {
    const record: Record<string, unknown> = input ?? {}
    return Either.mapLeft(
      build(
        "input",
        (key) => key === "idleTimeout" && idleTimeoutOff ? Option.none() : record[key],
        identity,
        base,
        unknownKeys(record, fieldNames)
      ),
      configurationError
    )
  })

/**
 * Validates the given fields and fills in the rest from `defaults`. Fails with one `ConfigurationError`
 * whose message lists every unknown key and every field that breaks a rule (in declaration order), each with
 * its rule and the value given; its `field`, `rule` and `value` are those of the first.
 *
 * @example
 * ```ts
 * import { TransportConfig } from "@rocketmq-effect/transport"
 * import { Effect, Either } from "effect"
 *
 * const config = Effect.runSync(TransportConfig.make({ host: "broker", port: 9876, timeout: "5 seconds" }))
 * assert.strictEqual(config.address, "broker:9876")
 *
 * const refused = Effect.runSync(Effect.either(TransportConfig.make({ port: 70000 })))
 * assert.ok(Either.isLeft(refused) && refused.left.field === "port")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (input: Partial<TransportConfigInput> = {}): Effect.Effect<TransportConfig, ConfigurationError> =>
  fromInput(input, defaults, false)

/**
 * A copy of `self` with `changes` applied, validated like `make`; `self` is unchanged. A field given as
 * `undefined` keeps its value, except `idleTimeout`, where an explicit `undefined` (or `null`) turns idle
 * detection off.
 *
 * @since 0.1.0
 * @category combinators
 */
export const copyWith: {
  (
    changes: Partial<TransportConfigInput>
  ): (self: TransportConfig) => Effect.Effect<TransportConfig, ConfigurationError>
  (self: TransportConfig, changes: Partial<TransportConfigInput>): Effect.Effect<TransportConfig, ConfigurationError>
} = dual(
  2,
  (self: TransportConfig, changes: Partial<TransportConfigInput>): Effect.Effect<TransportConfig, ConfigurationError> =>
    fromInput(changes, self, changes !== null && "idleTimeout" in changes && changes.idleTimeout === undefined)
)

// --- The dictionary form -------------------------------------------------------------------------------

const dictOf = (fields: Fields): TransportConfigDict => ({
  host: fields.host,
  port: fields.port,
  timeout: toSeconds(fields.timeout),
  connect_timeout: toSeconds(fields.connectTimeout),
  retry_interval: toSeconds(fields.retryInterval),
  max_retries: fields.maxRetries,
  buffer_size: fields.bufferSize,
  send_buffer_size: fields.sendBufferSize,
  receive_buffer_size: fields.receiveBufferSize,
  keep_alive: fields.keepAlive,
  keep_alive_interval: toSeconds(fields.keepAliveInterval),
  keep_alive_timeout: toSeconds(fields.keepAliveTimeout),
  enable_nodelay: fields.enableNodelay,
  enable_reuse_address: fields.enableReuseAddress,
  max_message_size: fields.maxMessageSize,
  idle_timeout: Option.match(fields.idleTimeout, { onNone: () => null, onSome: toSeconds })
})

const decodeDict = (u: unknown): Either.Either<TransportConfig, Issues> => {
  if (!Predicate.isRecord(u)) {
    return Either.left([{ field: "dict", rule: "must be an object of configuration keys", value: u }])
  }
  return build("dict", (key) => u[dictKeys[key]], (key) => dictKeys[key], defaults, unknownKeys(u, dictKeyNames))
}

/**
 * The seed's `to_dict()`: snake_case keys, times as numbers of seconds, `idle_timeout` `null` when off.
 *
 * Seconds are floats, so a time survives `toDict` then `fromDict` exactly when its length in seconds has at
 * most 15 significant digits: every whole number of milliseconds up to about 31,000 years, and every whole
 * number of nanoseconds up to about 11 days. Other lengths come back rounded to the nearest nanosecond.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toDict = (self: TransportConfig): TransportConfigDict => dictOf(self)

/**
 * The seed's `TransportConfig(**dict)` / `from_dict`: missing keys take their defaults, `idle_timeout: null`
 * turns idle detection off, times are seconds (floats allowed, read to the nanosecond; see `toDict` for
 * what round-trips exactly). Unknown keys, wrong types and broken rules fail with one `ConfigurationError`
 * listing each by its snake_case key (its `field` is the first one's).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromDict = (dict: unknown): Effect.Effect<TransportConfig, ConfigurationError> =>
  Effect.suspend(() => Either.mapLeft(decodeDict(dict), configurationError))

const Seconds = Schema.Number.annotations({ description: "a number of seconds" })

/**
 * The dictionary form as a schema: every key optional (missing keys take their defaults), unknown keys
 * rejected.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TransportConfigDictSchema = Schema.Struct({
  host: Schema.optional(Schema.String),
  port: Schema.optional(Schema.Number),
  timeout: Schema.optional(Seconds),
  connect_timeout: Schema.optional(Seconds),
  retry_interval: Schema.optional(Seconds),
  max_retries: Schema.optional(Schema.Number),
  buffer_size: Schema.optional(Schema.Number),
  send_buffer_size: Schema.optional(Schema.Number),
  receive_buffer_size: Schema.optional(Schema.Number),
  keep_alive: Schema.optional(Schema.Boolean),
  keep_alive_interval: Schema.optional(Seconds),
  keep_alive_timeout: Schema.optional(Seconds),
  enable_nodelay: Schema.optional(Schema.Boolean),
  enable_reuse_address: Schema.optional(Schema.Boolean),
  max_message_size: Schema.optional(Schema.Number),
  idle_timeout: Schema.optional(Schema.NullOr(Seconds))
}).annotations({ identifier: "TransportConfigDict", parseOptions: { onExcessProperty: "error" } })

/**
 * Decodes the dictionary form into a `TransportConfig` (as `fromDict` does) and encodes it back (as
 * `toDict` does). Every broken rule is reported at its snake_case key.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TransportConfigFromDict: Schema.Schema<TransportConfig, typeof TransportConfigDictSchema.Encoded> = Schema
  .transformOrFail(TransportConfigDictSchema, TransportConfig, {
    strict: true,
    decode: (dict, _options, ast) =>
      Either.mapLeft(decodeDict(dict), (issues) => {
        const pointers = Arr.map(
          issues,
          (issue) => new ParseResult.Pointer(issue.field, dict, new ParseResult.Type(ast, issue.value, issue.rule))
        )
        return pointers.length === 1 ? pointers[0] : new ParseResult.Composite(ast, dict, pointers)
      }),
    encode: (fields) => ParseResult.succeed(dictOf(fields))
  })

// --- Environment variables -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface EnvOptions {
  /** Prepended to each variable name with `_`; `"TRANSPORT"` unless given, `""` for none. */
  readonly prefix?: string | undefined
}

const variableName = (prefix: string, key: FieldName): string => {
  const name = dictKeys[key].toUpperCase()
  return prefix === "" ? name : `${prefix}_${name}`
}

// Each variable is one flat name (`TRANSPORT_PORT`) rather than a nested path, so it reads the same under
// any provider's path delimiter and error messages show the name the user must fix.
const rawEnv = (prefix: string): Config.Config<Record<string, Option.Option<string>>> =>
  Config.all(
    Object.fromEntries(fieldNames.map((key) => [key, Config.option(Config.string(variableName(prefix, key)))]))
  )

const decodeEnv = (
  prefix: string,
  raw: Record<string, Option.Option<string>>
): Either.Either<TransportConfig, Issues> =>
  build("env", (key) => Option.getOrUndefined(raw[key]!), (key) => variableName(prefix, key), defaults)

const leaves = (error: ConfigError.ConfigError): Issues => {
  switch (error._op) {
    case "And":
    case "Or":
      return Arr.appendAll(leaves(error.left), leaves(error.right))
    default:
      return [{ field: error.path.join("_"), rule: error.message }]
  }
}

/**
 * Reads the configuration from environment variables through Effect's `Config`: `TRANSPORT_HOST`,
 * `TRANSPORT_PORT`, `TRANSPORT_TIMEOUT`, … `TRANSPORT_IDLE_TIMEOUT` (the `toDict` keys in upper case, after
 * the prefix). Every variable is optional and takes its default; times are plain numbers of seconds, as in
 * the seed (`TRANSPORT_TIMEOUT=2.5`), or Effect durations (`TRANSPORT_TIMEOUT="500 millis"`); booleans are
 * `true`/`false`/`yes`/`no`/`on`/`off`/`1`/`0`. Every malformed value and broken rule is reported at once:
 * a `ConfigError` per variable (joined with `ConfigError.And`), whose path is the variable's name.
 *
 * @example
 * ```ts
 * import { ConfigProvider, Effect } from "effect"
 * import { TransportConfig } from "@rocketmq-effect/transport"
 *
 * // BROKER_HOST, BROKER_PORT, …
 * const program = Effect.gen(function*() {
 *   const config = yield* TransportConfig.config({ prefix: "BROKER" })
 *   return config.address
 * })
 *
 * // The environment by default; a map here.
 * const env = ConfigProvider.fromMap(new Map([["BROKER_HOST", "broker"], ["BROKER_PORT", "9876"]]))
 * assert.strictEqual(Effect.runSync(Effect.withConfigProvider(program, env)), "broker:9876")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const config = (options?: EnvOptions): Config.Config<TransportConfig> => {
  const prefix = options?.prefix ?? "TRANSPORT"
  return Config.mapOrFail(rawEnv(prefix), (raw) =>
    Either.mapLeft(decodeEnv(prefix, raw), (issues) =>
      Arr.reduce(
        Arr.tailNonEmpty(issues),
        invalidData(Arr.headNonEmpty(issues)),
        (error, issue) => ConfigError.And(error, invalidData(issue))
      )))
}

const invalidData = (issue: ConfigurationIssue): ConfigError.ConfigError =>
  ConfigError.InvalidData([issue.field], `${issue.rule}, got ${describeValue(issue.value)}`)

/**
 * Like `config`, loaded with the current `ConfigProvider`, with a failure as one `ConfigurationError` whose
 * message lists every bad variable, and whose `field` is the first one's name (`TRANSPORT_PORT`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEnv = (options?: EnvOptions): Effect.Effect<TransportConfig, ConfigurationError> => {
  const prefix = options?.prefix ?? "TRANSPORT"
  return rawEnv(prefix).pipe(
    Effect.mapError((error) =>
      configurationError(Arr.map(leaves(error), (issue) => issue.field === "" ? { ...issue, field: prefix } : issue))
    ),
    Effect.flatMap((raw) => Either.mapLeft(decodeEnv(prefix, raw), configurationError))
  )
}
