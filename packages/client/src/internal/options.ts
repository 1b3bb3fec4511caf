/**
 * Reading plain options into values, collecting one `ConfigurationError` issue per bad field, so that a
 * producer's or consumer's options fail once, naming every field that is wrong.
 */
import { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { parseNameServers, validAddress } from "./routes.js"

const NAME = /^[%|a-zA-Z0-9_-]+$/

export class OptionReader {
  private readonly issues: Array<ConfigurationError> = []

  problem(field: string, rule: string, value: unknown): void {
    this.issues.push(new ConfigurationError({ field, rule, value }))
  }

  nameServers(field: string, value: unknown): Array<string> {
    if (typeof value !== "string" || value.trim().length === 0) {
      this.problem(field, "must be \"host:port\" or \"host:port;host:port\"", value)
      return []
    }
    const addresses = parseNameServers(value)
    const bad = addresses.filter((address) => !validAddress(address))
    if (addresses.length === 0 || bad.length > 0) {
      this.problem(field, "must be \"host:port\" or \"host:port;host:port\" with ports 1 to 65535", value)
    }
    return addresses
  }

  /** A topic or group name as Java's `Validators` accepts it. */
  name(field: string, value: unknown, fallback?: string): string {
    if (value === undefined && fallback !== undefined) return fallback
    if (typeof value !== "string" || value.length === 0 || value.length > 127 || !NAME.test(value)) {
      this.problem(field, "must be 1 to 127 characters of letters, digits, %, |, _ or -", value)
      return fallback ?? ""
    }
    return value
  }

  duration(field: string, value: unknown, fallback: Duration.Duration, options: { readonly allowZero?: boolean } = {}) {
    if (value === undefined) return fallback
    if (
      ((typeof value === "number" || typeof value === "bigint") && value < 0) ||
      (typeof value === "string" && value.trim().startsWith("-"))
    ) {
      this.problem(
        field,
        options.allowZero === true ? "must be a finite duration" : "must be a positive finite duration",
        value
      )
      return fallback
    }
    const decoded = Duration.decodeUnknown(value)
    if (
      decoded._tag === "None" || !Duration.isFinite(decoded.value) ||
      (options.allowZero === true ? Duration.toMillis(decoded.value) < 0 : Duration.toMillis(decoded.value) <= 0)
    ) {
      this.problem(
        field,
        options.allowZero === true ? "must be a finite duration" : "must be a positive finite duration",
        value
      )
      return fallback
    }
    return decoded.value
  }

  integer(field: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (value === undefined) return fallback
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.problem(field, `must be an integer from ${min} to ${max}`, value)
      return fallback
    }
    return value
  }

  /** A positive number of bytes, or `Infinity`. */
  threshold(field: string, value: unknown, fallback: number): number {
    if (value === undefined) return fallback
    if (typeof value !== "number" || !(value === Infinity || (Number.isInteger(value) && value > 0))) {
      this.problem(field, "must be a positive integer or Infinity", value)
      return fallback
    }
    return value
  }

  boolean(field: string, value: unknown, fallback: boolean): boolean {
    if (value === undefined) return fallback
    if (typeof value !== "boolean") {
      this.problem(field, "must be true or false", value)
      return fallback
    }
    return value
  }

  string(field: string, value: unknown): string | undefined {
    if (value === undefined) return undefined
    if (typeof value !== "string" || value.length === 0) {
      this.problem(field, "must be a non-empty string", value)
      return undefined
    }
    return value
  }

  /** Succeeds with `value` when no field was bad, else fails with every issue. */
  result<A>(value: A): Effect.Effect<A, ConfigurationError> {
    if (this.issues.length === 0) return Effect.succeed(value)
    const first = this.issues[0]!
    return Effect.fail(
      new ConfigurationError({ field: first.field, rule: first.rule, value: first.value, issues: this.issues })
    )
  }
}
