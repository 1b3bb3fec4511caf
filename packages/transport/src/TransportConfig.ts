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
import { dual, identity } from "effect/Function"
import * as Hash from "effect/Hash"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import { getSomes } from "effect/Record"
import * as Schema from "effect/Schema"
import type { ParseOptions } from "effect/SchemaAST"
import { MAX_FRAME_LENGTH } from "./Framing.js"
import { closestName } from "./internal/closestName.js"
import { describeValue } from "./internal/describeValue.js"
import { ConfigurationError, type ConfigurationIssue } from "./TransportError.js"

/**
 * The largest payload a 32-bit unsigned length field can announce.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_MESSAGE_SIZE_LIMIT: number = MAX_FRAME_LENGTH

/**
 * `host:port`, with an IPv6 literal in brackets (`[::1]:8080`; a host already in brackets is kept as it is).
 * Every address the transport reports is spelled this way, so one read off a socket compares equal to
 * `TransportConfig.address`.
 *
 * @example
 * ```ts
 * import { TransportConfig } from "@rocketmq-effect/transport"
 *
 * assert.strictEqual(TransportConfig.formatAddress("broker", 9876), "broker:9876")
 * assert.strictEqual(TransportConfig.formatAddress("::1", 9876), "[::1]:9876")
 * ```
 *
 * @since 0.2.0
 * @category formatting
 */
export const formatAddress = (host: string, port: number): string =>
  `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`

// --- Reading a value as each source writes it ----------------------------------------------------------

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

// The spellings `Config.boolean` accepts.
const TRUE = ["true", "yes", "on", "1"]
const FALSE = ["false", "no", "off", "0"]

const parseBoolean = (s: string): Option.Option<boolean> => {
  const word = s.trim().toLowerCase()
  return TRUE.includes(word) ? Option.some(true) : FALSE.includes(word) ? Option.some(false) : Option.none()
}

/**
 * A decoding that fails where `parse` reads nothing. The readers above are not Schema's built-in ones
 * (`Schema.NumberFromString` takes `"0x10"`, `Schema.DurationFromMillis` no text, `Schema.BooleanFromString`
 * only `true`/`false`), so they stay plain functions wrapped here.
 */
const parsed = <I, A>(
  from: Schema.Schema<I>,
  to: Schema.Schema<A>,
  parse: (i: I) => Option.Option<A>,
  encode: (a: A) => I
): Schema.Schema<A, I> =>
  Schema.transformOrFail(from, to, {
    strict: true,
    decode: (i, _, ast) =>
      Option.match(parse(i), {
        onNone: () => ParseResult.fail(new ParseResult.Type(ast, i)),
        onSome: ParseResult.succeed
      }),
    encode: (a) => ParseResult.succeed(encode(a))
  })

/** A value's type as each source writes it: a field of `make`, a value of the dictionary form, a variable. */
interface Kind<A> {
  readonly input: Schema.Schema<A, any>
  readonly dict: Schema.Schema<A, any>
  readonly env: Schema.Schema<A, any>
}

type Source = keyof Kind<unknown>

const text: Kind<string> = { input: Schema.String, dict: Schema.String, env: Schema.String }

const integer: Kind<number> = {
  input: Schema.Number,
  dict: Schema.Number,
  env: parsed(Schema.String, Schema.Number, parseInteger, String)
}

const boolean: Kind<boolean> = {
  input: Schema.Boolean,
  dict: Schema.Boolean,
  env: parsed(Schema.String, Schema.Boolean, parseBoolean, String)
}

/** Any `Duration.DurationInput` (`"5 seconds"`, `Duration.seconds(5)`, a number of milliseconds). */
const DurationFromInput = parsed(Schema.Unknown, Schema.DurationFromSelf, fromDurationInput, identity)

const DurationFromSeconds = parsed(Schema.Number, Schema.DurationFromSelf, fromSeconds, Duration.toSeconds)

/** A plain number is seconds, as in the seed (`3`, `2.5`); anything else an Effect duration (`"500 millis"`). */
const DurationFromEnv = parsed(
  Schema.String,
  Schema.DurationFromSelf,
  (s) => Option.match(parseNumber(s), { onNone: () => fromDurationInput(s.trim()), onSome: fromSeconds }),
  (d) => String(Duration.toSeconds(d))
)

const duration: Kind<Duration.Duration> = { input: DurationFromInput, dict: DurationFromSeconds, env: DurationFromEnv }

/** `None` (idle detection off) is `null`, `undefined` or `Option.none()` for `make`, `null` in the dictionary. */
const optionalDuration: Kind<Option.Option<Duration.Duration>> = {
  input: Schema.Union(Schema.OptionFromSelf(DurationFromInput), Schema.OptionFromNullishOr(DurationFromInput, null)),
  dict: Schema.OptionFromNullOr(DurationFromSeconds),
  env: Schema.OptionFromUndefinedOr(DurationFromEnv)
}

// --- The fields ----------------------------------------------------------------------------------------

// With `override`, a failure anywhere inside (the source's type, a parse, any of the filters) reads as the rule.
const reportedAs = (rule: string) => ({ message: () => ({ message: rule, override: true }) })

/** A rule: the kind of value, the schema a valid one satisfies, and the rule in words (`ConfigurationError.rule`). */
interface Rule<A> {
  readonly kind: Kind<A>
  readonly schema: Schema.Schema<A>
  readonly rule: string
}

const rule = <A>(rule: string, kind: Kind<A>, schema: Schema.Schema<A>): Rule<A> => ({
  kind,
  rule,
  schema: schema.annotations(reportedAs(rule))
})

// `Schema.Int` stops at 2^53; the unbounded counts take any integer (`Number.MAX_VALUE` retries is forever too).
const Integer = Schema.Number.pipe(Schema.filter(Number.isInteger))
const FiniteDuration = Schema.DurationFromSelf.pipe(Schema.filter(Duration.isFinite))
const PositiveFiniteDuration = FiniteDuration.pipe(Schema.greaterThanDuration(0))

const Host = rule("must be a non-empty string", text, Schema.NonEmptyString)
const Port = rule("must be an integer from 0 to 65535", integer, Schema.Int.pipe(Schema.between(0, 65535)))
const PositiveDuration = rule("must be a positive, finite duration", duration, PositiveFiniteDuration)
const RetryInterval = rule("must be a finite duration of zero or more", duration, FiniteDuration)
const MaxRetries = rule(
  "must be an integer of -1 (retry forever) or more",
  integer,
  Integer.pipe(Schema.greaterThanOrEqualTo(-1))
)
const Size = rule("must be a positive integer", integer, Integer.pipe(Schema.positive()))
const MaxMessageSize = rule(
  "must be an integer from 1 to 4294967295",
  integer,
  Schema.Int.pipe(Schema.between(1, MAX_MESSAGE_SIZE_LIMIT))
)
const Flag = rule("must be a boolean", boolean, Schema.Boolean)
const IdleTimeout = rule(
  "must be a positive, finite duration, or none to turn it off",
  optionalDuration,
  Schema.OptionFromSelf(PositiveFiniteDuration)
)

const UNKNOWN_KEY = "is not a configuration key"

interface Field<A> extends Rule<A> {
  /** The key in the dictionary form; in upper case, after the prefix, the environment variable's name. */
  readonly key: keyof TransportConfigDict
  readonly default: A
}

const field = <A>(key: keyof TransportConfigDict, defaultValue: NoInfer<A>, rule: Rule<A>): Field<A> => ({
  ...rule,
  key,
  default: defaultValue
})

// Declaration order is the order in which broken rules are reported.
const table = {
  /** The broker's host name or IP address. */
  host: field("host", "localhost", Host),
  /** The broker's TCP port. */
  port: field("port", 8080, Port),
  /** How long one operation (send, receive) may take. */
  timeout: field("timeout", Duration.seconds(30), PositiveDuration),
  /** How long one connection attempt may take. */
  connectTimeout: field("connect_timeout", Duration.seconds(10), PositiveDuration),
  /** The pause between reconnection attempts; zero retries at once. */
  retryInterval: field("retry_interval", Duration.seconds(5), RetryInterval),
  /** Reconnection attempts: `-1` retries forever, `0` never retries. */
  maxRetries: field("max_retries", -1, MaxRetries),
  /** The read buffer size in bytes. */
  bufferSize: field("buffer_size", 8192, Size),
  /** The socket's send buffer size in bytes (`SO_SNDBUF`). */
  sendBufferSize: field("send_buffer_size", 8192, Size),
  /** The socket's receive buffer size in bytes (`SO_RCVBUF`). */
  receiveBufferSize: field("receive_buffer_size", 8192, Size),
  /** Whether TCP keep-alive is on. */
  keepAlive: field("keep_alive", true, Flag),
  /** The idle time before the first keep-alive probe. */
  keepAliveInterval: field("keep_alive_interval", Duration.seconds(30), PositiveDuration),
  /** How long to wait for a keep-alive probe's answer. */
  keepAliveTimeout: field("keep_alive_timeout", Duration.seconds(10), PositiveDuration),
  /** Whether Nagle's algorithm is off (`TCP_NODELAY`). */
  enableNodelay: field("enable_nodelay", true, Flag),
  /** Whether `SO_REUSEADDR` is set. */
  enableReuseAddress: field("enable_reuse_address", true, Flag),
  /** The largest frame payload, in bytes, sent or accepted. */
  maxMessageSize: field("max_message_size", 1024 * 1024, MaxMessageSize),
  /** Close the connection when no bytes arrive for this long; `None` turns idle detection off. */
  idleTimeout: field("idle_timeout", Option.none(), IdleTimeout)
}

type Table = typeof table
type FieldName = keyof Table

const fieldNames = Object.keys(table) as ReadonlyArray<FieldName>

const mapTable = <B>(f: (field: Field<any>, key: FieldName) => B): { readonly [K in FieldName]: B } =>
  Object.fromEntries(fieldNames.map((key) => [key, f(table[key], key)])) as { readonly [K in FieldName]: B }

const schemas = mapTable((field) => field.schema) as { readonly [K in FieldName]: Table[K]["schema"] }

// --- The class -----------------------------------------------------------------------------------------

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
export class TransportConfig extends Schema.Class<TransportConfig>("TransportConfig")(schemas) {
  /**
   * `host:port`, with an IPv6 host in brackets (`[::1]:8080`), as `formatAddress` spells it.
   *
   * @since 0.1.0
   */
  get address(): string {
    return formatAddress(this.host, this.port)
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

// --- Decoding what a source gives ----------------------------------------------------------------------

/**
 * The fields as `source` writes them, each under the name the user writes (`nameOf`) and optional, since a
 * field not given keeps its value.
 */
const sourceSchema = (source: Source, nameOf: (key: FieldName) => string) =>
  Schema.Struct(mapTable((field, key) => {
    const value = Schema.optionalWith(
      Schema.compose(field.kind[source], field.schema).annotations(reportedAs(field.rule)),
      { exact: true }
    )
    const name = nameOf(key)
    return name === key ? value : value.pipe(Schema.fromKey(name))
  }))

const inputSchema = sourceSchema("input", identity)
const dictSchema = sourceSchema("dict", (key) => table[key].key)

const dictKeys: ReadonlyArray<string> = fieldNames.map((key) => table[key].key)

// Every unknown name and every broken rule, not just the first.
const decodeOptions: ParseOptions = { errors: "all", onExcessProperty: "error" }

type Issues = Arr.NonEmptyReadonlyArray<ConfigurationIssue>

/** One error for all the issues: `field`, `rule` and `value` are the first's, `issues` has them all. */
const configurationError = (issues: Issues): ConfigurationError => new ConfigurationError({ ...issues[0], issues })

/**
 * Decodes `given` (the values as given, under the names the user wrote) with `schema` over `base`. The issues
 * come in Schema's order: unknown names first, then the fields in declaration order.
 */
const decodeOver = (
  schema: Schema.Schema<Partial<Fields>, any>,
  given: Record<string, unknown>,
  base: Fields
): Either.Either<TransportConfig, Issues> =>
  Either.mapBoth(Schema.decodeUnknownEither(schema)(given, decodeOptions), {
    onLeft: (error) =>
      // A parse error has at least one issue.
      ParseResult.ArrayFormatter.formatErrorSync(error).map(({ _tag, message, path: [name] }) => ({
        field: String(name),
        rule: _tag === "Unexpected" ? UNKNOWN_KEY : message,
        value: given[String(name)]
      })) as unknown as Issues,
    onRight: (fields) => new TransportConfig({ ...base, ...fields })
  })

/**
 * A plain copy of what the user gave, with a field given as `undefined` left out (it keeps its value),
 * except `idleTimeout`, where `undefined` turns idle detection off. Unknown keys stay, whatever their value.
 */
const given = (record: object, known: ReadonlyArray<string>): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(record).filter(([key, value]) =>
      value !== undefined || key === "idleTimeout" || !known.includes(key)
    )
  )

// --- Defaults and presets ------------------------------------------------------------------------------

/**
 * The seed's field defaults.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaults: Fields = mapTable((field) => field.default) as Fields

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
  base: Fields
): Effect.Effect<TransportConfig, ConfigurationError> =>
  Effect.suspend(() =>
    Either.mapLeft(decodeOver(inputSchema, given(input ?? {}, fieldNames), base), configurationError)
  )

/**
 * Validates the given fields and fills in the rest from `defaults`. Fails with one `ConfigurationError`
 * whose message lists every unknown key and every field that breaks a rule (in declaration order), each with
 * its rule and the value given; its `field`, `rule` and `value` are those of the first. A `TransportConfig`
 * given in place of the fields is already valid: it comes back as it is.
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
export const make = (
  input: Partial<TransportConfigInput> | TransportConfig = {}
): Effect.Effect<TransportConfig, ConfigurationError> =>
  isTransportConfig(input) ? Effect.succeed(input) : fromInput(input, defaults)

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
    fromInput(changes, self)
)

// --- The dictionary form -------------------------------------------------------------------------------

// Valid fields always encode.
const dictOf = (fields: Fields): TransportConfigDict => Schema.encodeSync(dictSchema)(fields) as TransportConfigDict

const decodeDict = (u: unknown): Either.Either<TransportConfig, Issues> =>
  Predicate.isRecord(u)
    ? decodeOver(dictSchema, given(u, dictKeys), defaults)
    : Either.left([{ field: "dict", rule: "must be an object of configuration keys", value: u }])

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
  const name = table[key].key.toUpperCase()
  return prefix === "" ? name : `${prefix}_${name}`
}

// Each variable is one flat name (`TRANSPORT_PORT`) rather than a nested path, so it reads the same under
// any provider's path delimiter and error messages show the name the user must fix.
const rawEnv = (prefix: string): Config.Config<Record<string, Option.Option<string>>> =>
  Config.all(Object.fromEntries(fieldNames.map((key) => {
    const name = variableName(prefix, key)
    return [name, Config.option(Config.string(name))]
  })))

const decodeEnv = (
  prefix: string,
  raw: Record<string, Option.Option<string>>
): Either.Either<TransportConfig, Issues> =>
  decodeOver(sourceSchema("env", (key) => variableName(prefix, key)), getSomes(raw), defaults)

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

/**
 * The environment variables `config` and `fromEnv` read, with `prefix` (default `TRANSPORT`):
 * `TRANSPORT_HOST`, `TRANSPORT_PORT`, …
 *
 * @since 0.3.0
 * @category constructors
 */
export const variables = (prefix = "TRANSPORT"): ReadonlyArray<string> =>
  fieldNames.map((key) => variableName(prefix, key))

/**
 * Fails with a `ConfigurationError` naming every variable under `prefix` (`TRANSPORT_…`) that is none of
 * `known` (default: `variables(prefix)`), each with the known name closest to it (`TRANSPORT_PROT`: "did you
 * mean TRANSPORT_PORT?"): a typo that would otherwise be ignored, leaving the default in its place. Reads the
 * names through the current `ConfigProvider` (`ConfigProvider.fromEnv`, `_` between the parts of a name); a
 * provider that cannot list them finds none. `NodeTransport.layerConfig()` runs it with the TLS variables
 * known too.
 *
 * @since 0.3.0
 * @category constructors
 */
export const checkVariables = (options?: {
  readonly prefix?: string | undefined
  readonly known?: Iterable<string> | undefined
}): Effect.Effect<void, ConfigurationError> =>
  Effect.configProviderWith((provider) => {
    const prefix = options?.prefix ?? "TRANSPORT"
    const known = new Set(options?.known ?? variables(prefix))
    const names = (path: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<string>, ConfigError.ConfigError> =>
      Effect.flatMap(provider.flattened.enumerateChildren(path), (children) => {
        const parts = Array.from(children)
        if (parts.length === 0) return Effect.succeed([path.join("_")])
        return Effect.map(Effect.forEach(parts, (part) => names([...path, part])), Arr.flatten)
      })
    return names([prefix]).pipe(
      Effect.orElseSucceed((): ReadonlyArray<string> => []),
      Effect.flatMap((found) => {
        const unknown = found.filter((name) => name !== prefix && !known.has(name)).sort()
        if (unknown.length === 0) return Effect.void
        const issues = unknown.map((field): ConfigurationIssue => {
          const closest = closestName(field, known)
          return {
            field,
            rule: `is not a variable the transport reads${closest === undefined ? "" : `: did you mean ${closest}?`}`
          }
        })
        return Effect.fail(configurationError(issues as unknown as Issues))
      })
    )
  })

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
