import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as FastCheck from "effect/FastCheck"
import * as Hash from "effect/Hash"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as TransportConfig from "../src/TransportConfig.js"
import type { ConfigurationError } from "../src/TransportError.js"

const seedDefaults = {
  host: "localhost",
  port: 8080,
  timeout: 30,
  connect_timeout: 10,
  retry_interval: 5,
  max_retries: -1,
  buffer_size: 8192,
  send_buffer_size: 8192,
  receive_buffer_size: 8192,
  keep_alive: true,
  keep_alive_interval: 30,
  keep_alive_timeout: 10,
  enable_nodelay: true,
  enable_reuse_address: true,
  max_message_size: 1048576,
  idle_timeout: null
}

const failure = <A>(effect: Effect.Effect<A, ConfigurationError>): ConfigurationError =>
  Effect.runSync(Effect.flip(effect))

const envProvider = (entries: ReadonlyArray<readonly [string, string]>) =>
  ConfigProvider.fromMap(new Map(entries), { pathDelim: "_" })

describe("TransportConfig", () => {
  it("DEFAULT has the seed's defaults", () => {
    const c = TransportConfig.DEFAULT
    assert.strictEqual(c.host, "localhost")
    assert.strictEqual(c.port, 8080)
    assert.isTrue(Duration.equals(c.timeout, Duration.seconds(30)))
    assert.isTrue(Duration.equals(c.connectTimeout, Duration.seconds(10)))
    assert.isTrue(Duration.equals(c.retryInterval, Duration.seconds(5)))
    assert.strictEqual(c.maxRetries, -1)
    assert.strictEqual(c.bufferSize, 8192)
    assert.strictEqual(c.sendBufferSize, 8192)
    assert.strictEqual(c.receiveBufferSize, 8192)
    assert.isTrue(c.keepAlive)
    assert.isTrue(Duration.equals(c.keepAliveInterval, Duration.seconds(30)))
    assert.isTrue(Duration.equals(c.keepAliveTimeout, Duration.seconds(10)))
    assert.isTrue(c.enableNodelay)
    assert.isTrue(c.enableReuseAddress)
    assert.strictEqual(c.maxMessageSize, 1048576)
    assert.isTrue(Option.isNone(c.idleTimeout))
    assert.deepStrictEqual(TransportConfig.toDict(c), seedDefaults)
  })

  it.effect("make() with no input is DEFAULT", () =>
    Effect.gen(function*() {
      assert.isTrue(Equal.equals(yield* TransportConfig.make(), TransportConfig.DEFAULT))
      assert.isTrue(Equal.equals(yield* TransportConfig.make({}), TransportConfig.DEFAULT))
    }))

  it.effect("make(config) gives a TransportConfig back as it is: the one way to take either", () =>
    Effect.gen(function*() {
      const config = yield* TransportConfig.make({ host: "broker", port: 9876 })
      assert.strictEqual(yield* TransportConfig.make(config), config)
      assert.strictEqual(TransportConfig.MAX_MESSAGE_SIZE_LIMIT, 0xffffffff)
    }))

  it("presets have the seed's values", () => {
    assert.deepStrictEqual(TransportConfig.toDict(TransportConfig.HIGH_PERFORMANCE), {
      ...seedDefaults,
      connect_timeout: 5,
      timeout: 10,
      retry_interval: 1,
      max_retries: -1,
      buffer_size: 16384,
      send_buffer_size: 32768,
      receive_buffer_size: 32768,
      keep_alive_interval: 15,
      keep_alive_timeout: 5,
      max_message_size: 2097152,
      idle_timeout: null
    })
    assert.deepStrictEqual(TransportConfig.toDict(TransportConfig.DEBUG), {
      ...seedDefaults,
      connect_timeout: 30,
      timeout: 60,
      retry_interval: 10,
      max_retries: -1,
      buffer_size: 8192,
      send_buffer_size: 8192,
      receive_buffer_size: 8192,
      keep_alive_interval: 60,
      keep_alive_timeout: 30,
      max_message_size: 524288,
      idle_timeout: 300
    })
  })

  it.effect("make takes any DurationInput and fills in the defaults", () =>
    Effect.gen(function*() {
      const c = yield* TransportConfig.make({
        host: "broker",
        port: 9876,
        timeout: "5 seconds",
        connectTimeout: Duration.seconds(2),
        retryInterval: 250,
        idleTimeout: "1 minute"
      })
      assert.strictEqual(c.host, "broker")
      assert.strictEqual(c.port, 9876)
      assert.isTrue(Duration.equals(c.timeout, Duration.seconds(5)))
      assert.isTrue(Duration.equals(c.connectTimeout, Duration.seconds(2)))
      assert.isTrue(Duration.equals(c.retryInterval, Duration.millis(250)))
      assert.deepStrictEqual(c.idleTimeout, Option.some(Duration.minutes(1)))
      assert.strictEqual(c.bufferSize, 8192)
      for (const off of [null, undefined, Option.none()]) {
        assert.isTrue(Option.isNone((yield* TransportConfig.make({ idleTimeout: off })).idleTimeout))
      }
      const some = yield* TransportConfig.make({ idleTimeout: Option.some("2 seconds") })
      assert.deepStrictEqual(some.idleTimeout, Option.some(Duration.seconds(2)))
    }))

  describe("validation", () => {
    const rejected: ReadonlyArray<readonly [string, unknown, string]> = [
      ["host", "", "must be a non-empty string"],
      ["host", 42, "must be a non-empty string"],
      ["port", -1, "must be an integer from 0 to 65535"],
      ["port", 65536, "must be an integer from 0 to 65535"],
      ["port", 80.5, "must be an integer from 0 to 65535"],
      ["port", Number.NaN, "must be an integer from 0 to 65535"],
      ["port", "8080", "must be an integer from 0 to 65535"],
      ["timeout", 0, "must be a positive, finite duration"],
      ["timeout", -1000, "must be a positive, finite duration"],
      ["timeout", "-5 seconds", "must be a positive, finite duration"],
      ["timeout", Duration.infinity, "must be a positive, finite duration"],
      ["timeout", Infinity, "must be a positive, finite duration"],
      ["timeout", "soon", "must be a positive, finite duration"],
      ["connectTimeout", Duration.zero, "must be a positive, finite duration"],
      ["connectTimeout", Duration.infinity, "must be a positive, finite duration"],
      ["retryInterval", -1, "must be a finite duration of zero or more"],
      ["retryInterval", Duration.infinity, "must be a finite duration of zero or more"],
      ["retryInterval", [-1, 0], "must be a finite duration of zero or more"],
      ["maxRetries", -2, "must be an integer of -1 (retry forever) or more"],
      ["maxRetries", 1.5, "must be an integer of -1 (retry forever) or more"],
      ["bufferSize", 0, "must be a positive integer"],
      ["bufferSize", 1024.5, "must be a positive integer"],
      ["sendBufferSize", -1, "must be a positive integer"],
      ["sendBufferSize", 0.5, "must be a positive integer"],
      ["receiveBufferSize", 0, "must be a positive integer"],
      ["receiveBufferSize", Infinity, "must be a positive integer"],
      ["keepAlive", "yes", "must be a boolean"],
      ["keepAliveInterval", 0, "must be a positive, finite duration"],
      ["keepAliveTimeout", Duration.infinity, "must be a positive, finite duration"],
      ["enableNodelay", 1, "must be a boolean"],
      ["enableReuseAddress", null, "must be a boolean"],
      ["maxMessageSize", 0, "must be an integer from 1 to 4294967295"],
      ["maxMessageSize", 4294967296, "must be an integer from 1 to 4294967295"],
      ["maxMessageSize", 1.5, "must be an integer from 1 to 4294967295"],
      ["idleTimeout", 0, "must be a positive, finite duration, or none to turn it off"],
      ["idleTimeout", Duration.infinity, "must be a positive, finite duration, or none to turn it off"],
      ["idleTimeout", Option.some(-5), "must be a positive, finite duration, or none to turn it off"]
    ]

    for (const [field, value, rule] of rejected) {
      it(`rejects ${field} = ${String(value)}`, () => {
        const error = failure(TransportConfig.make({ [field]: value }))
        assert.strictEqual(error._tag, "ConfigurationError")
        assert.strictEqual(error.field, field)
        assert.strictEqual(error.rule, rule)
        assert.isTrue(Object.is(error.value, value))
        assert.include(error.message, field)
      })
    }

    const accepted: ReadonlyArray<readonly [string, unknown, unknown]> = [
      ["port", 0, 0],
      ["port", 65535, 65535],
      ["maxRetries", -1, -1],
      ["maxRetries", 0, 0],
      ["maxRetries", 10, 10],
      ["maxMessageSize", 1, 1],
      ["maxMessageSize", 4294967295, 4294967295],
      ["retryInterval", 0, Duration.zero],
      ["retryInterval", Duration.zero, Duration.zero],
      ["timeout", 1, Duration.millis(1)],
      ["timeout", Duration.nanos(1n), Duration.nanos(1n)],
      ["bufferSize", 1, 1],
      ["idleTimeout", 1, Option.some(Duration.millis(1))]
    ]

    for (const [field, value, expected] of accepted) {
      it.effect(`accepts ${field} = ${String(value)}`, () =>
        Effect.gen(function*() {
          const c = yield* TransportConfig.make({ [field]: value })
          assert.isTrue(Equal.equals((c as unknown as Record<string, unknown>)[field], expected))
        }))
    }

    it("names the first offending field in declaration order", () => {
      const error = failure(TransportConfig.make({ maxMessageSize: 0, port: -1 }))
      assert.strictEqual(error.field, "port")
    })

    it("rejects an unknown key", () => {
      const error = failure(TransportConfig.make({ prot: 1 } as any))
      assert.strictEqual(error.field, "prot")
      assert.strictEqual(error.rule, "is not a configuration key")
    })

    it("reports every offending field at once, each with its rule and the value given", () => {
      const error = failure(TransportConfig.make({ port: 70000, timeout: -1 }))
      assert.strictEqual(error._tag, "ConfigurationError")
      assert.strictEqual(error.field, "port")
      assert.strictEqual(error.rule, "must be an integer from 0 to 65535")
      assert.strictEqual(error.value, 70000)
      assert.strictEqual(
        error.message,
        "invalid configuration: port must be an integer from 0 to 65535, got 70000; " +
          "timeout must be a positive, finite duration, got -1"
      )
      assert.deepStrictEqual(error.issues, [
        { field: "port", rule: "must be an integer from 0 to 65535", value: 70000 },
        { field: "timeout", rule: "must be a positive, finite duration", value: -1 }
      ])
    })

    it("lists unknown keys first, then the broken rules in declaration order", () => {
      const error = failure(TransportConfig.make({ maxMessageSize: 0, prot: 1, host: "" } as any))
      assert.strictEqual(error.field, "prot")
      assert.strictEqual(
        error.message,
        "invalid configuration: prot is not a configuration key, got 1; host must be a non-empty string, got \"\"; " +
          "maxMessageSize must be an integer from 1 to 4294967295, got 0"
      )
    })

    it("quotes values as given, not as the JSON of a Duration or an Option", () => {
      const zero = failure(TransportConfig.make({ timeout: Duration.zero, keepAliveInterval: "abc" as any }))
      assert.include(zero.message, "timeout must be a positive, finite duration, got Duration(0)")
      assert.include(zero.message, "keepAliveInterval must be a positive, finite duration, got \"abc\"")
      const idle = failure(TransportConfig.make({ idleTimeout: Option.some(Duration.zero), connectTimeout: NaN }))
      assert.include(idle.message, "connectTimeout must be a positive, finite duration, got NaN")
      assert.include(idle.message, "idleTimeout must be a positive, finite duration, or none to turn it off, got ")
      assert.include(idle.message, "Option.some(Duration(0))")
      for (const error of [zero, idle]) assert.notInclude(error.message, "_id")
    })

    it("isTransportConfig tells a config from plain fields", () => {
      assert.isTrue(TransportConfig.isTransportConfig(TransportConfig.DEFAULT))
      assert.isFalse(TransportConfig.isTransportConfig(TransportConfig.toDict(TransportConfig.DEFAULT)))
      assert.isFalse(TransportConfig.isTransportConfig({ ...TransportConfig.defaults }))
      assert.isFalse(TransportConfig.isTransportConfig(null))
    })

    it("the class's constructor applies the same rules", () => {
      assert.throws(() => new TransportConfig.TransportConfig({ ...TransportConfig.defaults, port: 70000 }))
      const decoded = Schema.decodeUnknownEither(TransportConfig.TransportConfig)({
        ...TransportConfig.defaults,
        retryInterval: Duration.infinity
      })
      assert.isTrue(Either.isLeft(decoded))
    })
  })

  describe("copyWith", () => {
    it.effect("validates, and leaves the original unchanged", () =>
      Effect.gen(function*() {
        const base = TransportConfig.DEFAULT
        const changed = yield* TransportConfig.copyWith(base, { port: 9876, timeout: "3 seconds" })
        assert.strictEqual(changed.port, 9876)
        assert.isTrue(Duration.equals(changed.timeout, Duration.seconds(3)))
        assert.strictEqual(changed.host, "localhost")
        assert.strictEqual(base.port, 8080)
        assert.isTrue(Duration.equals(base.timeout, Duration.seconds(30)))
        assert.isFalse(Equal.equals(changed, base))

        const error = yield* Effect.flip(TransportConfig.copyWith(base, { maxRetries: -2 }))
        assert.strictEqual(error.field, "maxRetries")
        assert.strictEqual(error.value, -2)
      }))

    it.effect("is dual and keeps fields set in the original", () =>
      Effect.gen(function*() {
        const debug = TransportConfig.DEBUG
        const changed = yield* TransportConfig.copyWith({ host: "broker" })(debug)
        assert.strictEqual(changed.host, "broker")
        assert.deepStrictEqual(changed.idleTimeout, Option.some(Duration.seconds(300)))
        assert.isTrue(Duration.equals(changed.timeout, Duration.seconds(60)))
      }))

    it.effect("an explicit undefined idleTimeout turns idle detection off", () =>
      Effect.gen(function*() {
        const off = yield* TransportConfig.copyWith(TransportConfig.DEBUG, { idleTimeout: undefined })
        assert.isTrue(Option.isNone(off.idleTimeout))
        const alsoOff = yield* TransportConfig.copyWith(TransportConfig.DEBUG, { idleTimeout: null })
        assert.isTrue(Option.isNone(alsoOff.idleTimeout))
      }))
  })

  it.effect("compares by value, whatever the durations' representation", () =>
    Effect.gen(function*() {
      const a = yield* TransportConfig.make({ timeout: Duration.nanos(30_000_000_000n), retryInterval: "5000 millis" })
      assert.isTrue(Equal.equals(a, TransportConfig.DEFAULT))
      assert.strictEqual(Hash.hash(a), Hash.hash(TransportConfig.DEFAULT))
      const b = yield* TransportConfig.make({ idleTimeout: Duration.nanos(1_500_000_000n) })
      const c = yield* TransportConfig.make({ idleTimeout: "1500 millis" })
      assert.isTrue(Equal.equals(b, c))
      assert.isFalse(Equal.equals(b, TransportConfig.DEFAULT))
      assert.isFalse(Equal.equals(TransportConfig.DEFAULT, TransportConfig.HIGH_PERFORMANCE))
    }))

  it.effect("address is host:port, with IPv6 hosts in brackets", () =>
    Effect.gen(function*() {
      assert.strictEqual(TransportConfig.DEFAULT.address, "localhost:8080")
      assert.strictEqual((yield* TransportConfig.make({ host: "10.0.0.1", port: 9876 })).address, "10.0.0.1:9876")
      assert.strictEqual((yield* TransportConfig.make({ host: "::1" })).address, "[::1]:8080")
      assert.strictEqual((yield* TransportConfig.make({ host: "fe80::1%eth0", port: 1 })).address, "[fe80::1%eth0]:1")
    }))

  describe("dictionary form", () => {
    it("toDict has exactly the seed's keys, times in seconds", () => {
      const dict = TransportConfig.toDict(TransportConfig.DEBUG)
      assert.deepStrictEqual(Object.keys(dict).sort(), Object.keys(seedDefaults).sort())
      assert.strictEqual(dict.idle_timeout, 300)
      assert.strictEqual(dict.timeout, 60)
    })

    it.effect("loads a Python-style dict, with defaults for missing keys", () =>
      Effect.gen(function*() {
        const c = yield* TransportConfig.fromDict({
          host: "broker",
          port: 9876,
          timeout: 30.0,
          retry_interval: 0.25,
          idle_timeout: null
        })
        assert.strictEqual(c.address, "broker:9876")
        assert.isTrue(Duration.equals(c.timeout, Duration.seconds(30)))
        assert.isTrue(Duration.equals(c.retryInterval, Duration.millis(250)))
        assert.isTrue(Option.isNone(c.idleTimeout))
        assert.strictEqual(c.maxMessageSize, 1048576)
        const full = yield* TransportConfig.fromDict(JSON.parse(JSON.stringify(seedDefaults)))
        assert.isTrue(Equal.equals(full, TransportConfig.DEFAULT))
        assert.isTrue(Equal.equals(yield* TransportConfig.fromDict({}), TransportConfig.DEFAULT))
      }))

    it.effect("reads seconds as the decimal written, to the nanosecond", () =>
      Effect.gen(function*() {
        const c = yield* TransportConfig.fromDict({ timeout: 0.001, connect_timeout: 1e-9, idle_timeout: 1.5 })
        assert.deepStrictEqual(c.timeout, Duration.millis(1))
        assert.deepStrictEqual(c.connectTimeout, Duration.nanos(1n))
        assert.deepStrictEqual(c.idleTimeout, Option.some(Duration.millis(1500)))
      }))

    it("rejects an unknown key, naming it", () => {
      const error = failure(TransportConfig.fromDict({ host: "broker", max_retry: 3 }))
      assert.strictEqual(error.field, "max_retry")
      assert.strictEqual(error.rule, "is not a configuration key")
      assert.strictEqual(error.value, 3)
    })

    const rejected: ReadonlyArray<readonly [string, unknown]> = [
      ["host", ""],
      ["port", "9876"],
      ["port", 70000],
      ["timeout", "30"],
      ["timeout", 0],
      ["connect_timeout", -1],
      ["retry_interval", Number.NaN],
      ["max_retries", "3"],
      ["max_retries", -2],
      ["buffer_size", 0],
      ["send_buffer_size", 1.5],
      ["receive_buffer_size", null],
      ["keep_alive", "true"],
      ["keep_alive_interval", 0],
      ["keep_alive_timeout", Infinity],
      ["enable_nodelay", 0],
      ["enable_reuse_address", "no"],
      ["max_message_size", 4294967296],
      ["idle_timeout", 0],
      ["idle_timeout", "300"]
    ]

    for (const [key, value] of rejected) {
      it(`rejects ${key} = ${typeof value === "string" ? JSON.stringify(value) : String(value)}, naming the key`, () => {
        const error = failure(TransportConfig.fromDict({ [key]: value }))
        assert.strictEqual(error.field, key)
        assert.isTrue(Object.is(error.value, value))
      })
    }

    it("rejects what is not an object", () => {
      for (const input of [null, 42, "host=broker", undefined]) {
        assert.strictEqual(failure(TransportConfig.fromDict(input)).field, "dict")
      }
    })

    it("reports every unknown key and broken rule at once, naming the snake_case keys", () => {
      const error = failure(TransportConfig.fromDict({ port: 70000, connect_timeout: -1, colour: "blue" }))
      assert.strictEqual(error.field, "colour")
      assert.strictEqual(error.rule, "is not a configuration key")
      assert.strictEqual(error.value, "blue")
      assert.strictEqual(
        error.message,
        "invalid configuration: colour is not a configuration key, got \"blue\"; " +
          "port must be an integer from 0 to 65535, got 70000; " +
          "connect_timeout must be a positive, finite duration, got -1"
      )
    })

    it("TransportConfigFromDict reports every broken rule", () => {
      const broken = Schema.decodeUnknownEither(TransportConfig.TransportConfigFromDict)({ max_retries: -2, port: 1e6 })
      assert.isTrue(Either.isLeft(broken))
      if (Either.isLeft(broken)) {
        assert.include(broken.left.message, "port")
        assert.include(broken.left.message, "must be an integer from 0 to 65535")
        assert.include(broken.left.message, "max_retries")
        assert.include(broken.left.message, "must be an integer of -1 (retry forever) or more")
      }
    })

    it("TransportConfigFromDict decodes and encodes", () => {
      const decode = Schema.decodeUnknownEither(TransportConfig.TransportConfigFromDict)
      const decoded = decode({ host: "broker", idle_timeout: 10 })
      assert.isTrue(Either.isRight(decoded))
      if (Either.isRight(decoded)) {
        assert.strictEqual(decoded.right.host, "broker")
        assert.deepStrictEqual(
          Schema.encodeSync(TransportConfig.TransportConfigFromDict)(decoded.right),
          { ...seedDefaults, host: "broker", idle_timeout: 10 }
        )
      }
      const broken = decode({ max_retries: -2 })
      assert.isTrue(Either.isLeft(broken))
      if (Either.isLeft(broken)) {
        assert.include(broken.left.message, "max_retries")
        assert.include(broken.left.message, "must be an integer of -1 (retry forever) or more")
      }
      const unknown = decode({ colour: "blue" })
      assert.isTrue(Either.isLeft(unknown))
      if (Either.isLeft(unknown)) assert.include(unknown.left.message, "colour")
    })

    const millis = (min: number) => FastCheck.integer({ min, max: 1_000_000_000_000 }).map(Duration.millis)
    const nanos = (min: number) => FastCheck.bigInt({ min: BigInt(min), max: 999_999_999_999_999n }).map(Duration.nanos)

    const arbitraryConfig = (duration: (min: number) => FastCheck.Arbitrary<Duration.Duration>) =>
      FastCheck.record({
        host: FastCheck.string({ minLength: 1 }),
        port: FastCheck.integer({ min: 0, max: 65535 }),
        timeout: duration(1),
        connectTimeout: duration(1),
        retryInterval: duration(0),
        maxRetries: FastCheck.integer({ min: -1, max: 1_000_000 }),
        bufferSize: FastCheck.integer({ min: 1, max: 2 ** 31 }),
        sendBufferSize: FastCheck.integer({ min: 1, max: 2 ** 31 }),
        receiveBufferSize: FastCheck.integer({ min: 1, max: 2 ** 31 }),
        keepAlive: FastCheck.boolean(),
        keepAliveInterval: duration(1),
        keepAliveTimeout: duration(1),
        enableNodelay: FastCheck.boolean(),
        enableReuseAddress: FastCheck.boolean(),
        maxMessageSize: FastCheck.integer({ min: 1, max: 4294967295 }),
        idleTimeout: FastCheck.option(duration(1), { nil: undefined }).map(Option.fromNullable)
      }).map((fields) => new TransportConfig.TransportConfig(fields))

    const roundTrips = (c: TransportConfig.TransportConfig): boolean => {
      const direct = Effect.runSync(TransportConfig.fromDict(TransportConfig.toDict(c)))
      const viaJson = Effect.runSync(TransportConfig.fromDict(JSON.parse(JSON.stringify(TransportConfig.toDict(c)))))
      return Equal.equals(direct, c) && Equal.equals(viaJson, c)
    }

    it("fromDict(toDict(c)) equals c for times in whole milliseconds", () => {
      FastCheck.assert(FastCheck.property(arbitraryConfig(millis), roundTrips), { numRuns: 500 })
    })

    it("fromDict(toDict(c)) equals c for times in whole nanoseconds under 10^15", () => {
      FastCheck.assert(FastCheck.property(arbitraryConfig(nanos), roundTrips), { numRuns: 500 })
    })
  })

  describe("environment", () => {
    it.effect("reads TRANSPORT_* variables, defaulting the rest", () =>
      Effect.gen(function*() {
        const c = yield* TransportConfig.config().pipe(
          Effect.withConfigProvider(envProvider([
            ["TRANSPORT_HOST", "broker"],
            ["TRANSPORT_PORT", "9876"],
            ["TRANSPORT_TIMEOUT", "2.5"],
            ["TRANSPORT_MAX_RETRIES", "0"],
            ["TRANSPORT_KEEP_ALIVE", "false"],
            ["TRANSPORT_IDLE_TIMEOUT", "120"]
          ]))
        )
        assert.strictEqual(c.address, "broker:9876")
        assert.isTrue(Duration.equals(c.timeout, Duration.millis(2500)))
        assert.strictEqual(c.maxRetries, 0)
        assert.isFalse(c.keepAlive)
        assert.deepStrictEqual(c.idleTimeout, Option.some(Duration.seconds(120)))
        assert.isTrue(Duration.equals(c.connectTimeout, Duration.seconds(10)))

        const empty = yield* TransportConfig.config().pipe(Effect.withConfigProvider(envProvider([])))
        assert.isTrue(Equal.equals(empty, TransportConfig.DEFAULT))
      }))

    it.effect("reads every variable", () =>
      Effect.gen(function*() {
        const dict = TransportConfig.toDict(TransportConfig.DEBUG)
        const entries = Object.entries(dict).flatMap(([key, value]) =>
          value === null ? [] : [[`TRANSPORT_${key.toUpperCase()}`, String(value)] as const]
        )
        const c = yield* TransportConfig.config().pipe(Effect.withConfigProvider(envProvider(entries)))
        assert.isTrue(Equal.equals(c, TransportConfig.DEBUG))
        // the variables are flat names, so the provider's delimiter does not matter
        const dotted = yield* TransportConfig.config().pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries)))
        )
        assert.isTrue(Equal.equals(dotted, TransportConfig.DEBUG))
      }))

    it.effect("takes a custom prefix", () =>
      Effect.gen(function*() {
        const provider = envProvider([["BROKER_PORT", "10911"], ["TRANSPORT_PORT", "1"], [
          "BROKER_ENABLE_NODELAY",
          "no"
        ]])
        const c = yield* TransportConfig.config({ prefix: "BROKER" }).pipe(Effect.withConfigProvider(provider))
        assert.strictEqual(c.port, 10911)
        assert.isFalse(c.enableNodelay)
        const loaded = yield* TransportConfig.fromEnv({ prefix: "BROKER" }).pipe(Effect.withConfigProvider(provider))
        assert.isTrue(Equal.equals(loaded, c))
      }))

    for (
      const [value, rule] of [["abc", "must be an integer from 0 to 65535"], ["70000", "must be an integer"]] as const
    ) {
      it.effect(`TRANSPORT_PORT=${value} is an error naming the variable`, () =>
        Effect.gen(function*() {
          const provider = envProvider([["TRANSPORT_PORT", value]])
          const error = yield* Effect.flip(TransportConfig.config().pipe(Effect.withConfigProvider(provider)))
          assert.include(String(error), "TRANSPORT_PORT")
          assert.include(String(error), rule)
          assert.include(String(error), value)

          const failed = yield* Effect.flip(TransportConfig.fromEnv().pipe(Effect.withConfigProvider(provider)))
          assert.strictEqual(failed._tag, "ConfigurationError")
          assert.strictEqual(failed.field, "TRANSPORT_PORT")
          assert.strictEqual(failed.value, value)
        }))
    }

    it.effect("names the variable with a custom prefix and for other fields", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          TransportConfig.fromEnv({ prefix: "BROKER" }).pipe(
            Effect.withConfigProvider(envProvider([["BROKER_KEEP_ALIVE_TIMEOUT", "0"], ["BROKER_KEEP_ALIVE", "maybe"]]))
          )
        )
        assert.strictEqual(error.field, "BROKER_KEEP_ALIVE")
        assert.strictEqual(error.rule, "must be a boolean")
        const timeout = yield* Effect.flip(
          TransportConfig.fromEnv().pipe(Effect.withConfigProvider(envProvider([["TRANSPORT_IDLE_TIMEOUT", "-1"]])))
        )
        assert.strictEqual(timeout.field, "TRANSPORT_IDLE_TIMEOUT")
      }))

    const durations: ReadonlyArray<readonly [string, Duration.Duration]> = [
      ["3", Duration.seconds(3)],
      ["2.5", Duration.millis(2500)],
      ["0.001", Duration.millis(1)],
      ["3 seconds", Duration.seconds(3)],
      ["500 millis", Duration.millis(500)],
      [" 2 minutes ", Duration.minutes(2)],
      ["1500 micros", Duration.micros(1500n)]
    ]

    for (const [value, expected] of durations) {
      it.effect(`TRANSPORT_TIMEOUT=${JSON.stringify(value)} is ${Duration.format(expected)}`, () =>
        Effect.gen(function*() {
          const provider = envProvider([["TRANSPORT_TIMEOUT", value], ["TRANSPORT_IDLE_TIMEOUT", value]])
          const c = yield* TransportConfig.fromEnv().pipe(Effect.withConfigProvider(provider))
          assert.isTrue(Duration.equals(c.timeout, expected))
          assert.isTrue(Option.exists(c.idleTimeout, Duration.equals(expected)))
          const viaConfig = yield* TransportConfig.config().pipe(Effect.withConfigProvider(provider))
          assert.isTrue(Equal.equals(viaConfig, c))
        }))
    }

    for (const value of ["abc", "-1", "-1 seconds", "0", "0 millis", "3 parsecs", "Infinity", ""]) {
      it.effect(`TRANSPORT_TIMEOUT=${JSON.stringify(value)} is refused, quoted as given`, () =>
        Effect.gen(function*() {
          const provider = envProvider([["TRANSPORT_TIMEOUT", value]])
          const error = yield* Effect.flip(TransportConfig.fromEnv().pipe(Effect.withConfigProvider(provider)))
          assert.strictEqual(error.field, "TRANSPORT_TIMEOUT")
          assert.strictEqual(error.value, value)
          assert.strictEqual(
            error.message,
            `invalid configuration: TRANSPORT_TIMEOUT must be a positive, finite duration, got ${JSON.stringify(value)}`
          )
        }))
    }

    it.effect("reports every bad variable at once, naming each", () =>
      Effect.gen(function*() {
        const provider = envProvider([
          ["TRANSPORT_PORT", "abc"],
          ["TRANSPORT_TIMEOUT", "-1"],
          ["TRANSPORT_KEEP_ALIVE", "maybe"],
          ["TRANSPORT_HOST", "broker"]
        ])
        const error = yield* Effect.flip(TransportConfig.fromEnv().pipe(Effect.withConfigProvider(provider)))
        assert.strictEqual(error.field, "TRANSPORT_PORT")
        assert.strictEqual(error.rule, "must be an integer from 0 to 65535")
        assert.strictEqual(error.value, "abc")
        assert.strictEqual(
          error.message,
          "invalid configuration: TRANSPORT_PORT must be an integer from 0 to 65535, got \"abc\"; " +
            "TRANSPORT_TIMEOUT must be a positive, finite duration, got \"-1\"; " +
            "TRANSPORT_KEEP_ALIVE must be a boolean, got \"maybe\""
        )

        const configError = yield* Effect.flip(TransportConfig.config().pipe(Effect.withConfigProvider(provider)))
        assert.strictEqual(configError._op, "And")
        const text = String(configError)
        for (const name of ["TRANSPORT_PORT", "TRANSPORT_TIMEOUT", "TRANSPORT_KEEP_ALIVE"]) assert.include(text, name)
        assert.include(text, "must be a boolean, got \"maybe\"")
        assert.notInclude(text, "TRANSPORT_HOST")
      }))
  })
})
