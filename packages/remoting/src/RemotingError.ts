/**
 * The remoting layer's typed errors.
 *
 * - `RemotingCodecError`: a command could not be encoded, or a payload is not a command. `reason` says
 *   which rule was broken; the other fields say what was seen.
 * - `RemotingJsonError`: a JSON body (a topic route, the cluster info) could not be read.
 * - `RemotingError`: the server answered with a code other than `SUCCESS`.
 * - `RemotingClientError`: a call gave up on its own (its time bound, the in-flight limit).
 * - `RemotingPoolError`: a pool could not give a connection to an address.
 *
 * Match on `_tag` with `Effect.catchTag`, or on `reason`.
 *
 * @since 0.2.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import { describeValue } from "./internal/describeValue.js"
import { requestCodeName, responseCodeName } from "./RemotingCode.js"
import type { SerializeType } from "./RemotingCommand.js"

/**
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@rocketmq-effect/remoting/RemotingError")

/**
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Why a command could not be encoded or decoded.
 *
 * Decoding:
 * - `PayloadTooShort`: fewer than the 4 bytes of the header mark.
 * - `FrameLengthMismatch`: (`decodeFrame` only) the length prefix does not match the bytes given.
 * - `HeaderLengthOutOfRange`: the header length in the mark is more than the bytes after the mark.
 * - `UnknownSerializeType`: the mark's top byte is neither 0 (JSON) nor 1 (ROCKETMQ).
 * - `MalformedJson`: a JSON header that does not parse (`position`, and a snippet in `detail`).
 * - `InvalidJsonHeader`: JSON that is not a command header: not an object, no `code`, a field of the
 *   wrong type or range (`field`, `value`).
 * - `TruncatedBinaryHeader`: a ROCKETMQ header that ends inside a field (`field`, `needed`, `available`).
 * - `InvalidBinaryHeader`: a ROCKETMQ header with a negative length or bytes after its last field.
 * - `InvalidUtf8`: a string (or the JSON header) that is not UTF-8.
 *
 * Encoding:
 * - `ValueOutOfRange`: a number that does not fit its field (`code` above 32767 in ROCKETMQ, for instance),
 *   or an extFields key longer than the 32767 bytes its length can say.
 * - `UnknownLanguage`: a language code that has no name to write in a JSON header.
 * - `HeaderTooLarge`: a header over the 16 MiB − 1 the mark's 24 bits can express.
 *
 * @since 0.2.0
 * @category models
 */
export type RemotingCodecErrorReason =
  | "PayloadTooShort"
  | "FrameLengthMismatch"
  | "HeaderLengthOutOfRange"
  | "UnknownSerializeType"
  | "MalformedJson"
  | "InvalidJsonHeader"
  | "TruncatedBinaryHeader"
  | "InvalidBinaryHeader"
  | "InvalidUtf8"
  | "ValueOutOfRange"
  | "UnknownLanguage"
  | "HeaderTooLarge"

/**
 * A command could not be encoded, or a payload could not be decoded into one.
 *
 * @since 0.2.0
 * @category errors
 */
export class RemotingCodecError extends Data.TaggedError("RemotingCodecError")<{
  readonly reason: RemotingCodecErrorReason
  /** The header's serialize type, when it is known. */
  readonly serializeType?: SerializeType | undefined
  /** The header field concerned (`code`, `remark`, `extFields value`, …). */
  readonly field?: string | undefined
  /** What was seen: the offending value, length or type byte. */
  readonly value?: unknown
  /** Bytes a field needed. */
  readonly needed?: number | undefined
  /** Bytes that were left. */
  readonly available?: number | undefined
  /** Where a JSON header stopped parsing (a UTF-16 index into its text). */
  readonly position?: number | undefined
  /** More words: the rule that was broken, or a snippet of the input. */
  readonly detail?: string | undefined
}> {
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.2.0
   */
  override get message(): string {
    const header = this.serializeType === undefined ? "header" : `${this.serializeType} header`
    const detail = this.detail === undefined ? "" : `: ${this.detail}`
    switch (this.reason) {
      case "PayloadTooShort":
        return `payload of ${this.available} bytes is shorter than the 4-byte header mark`
      case "FrameLengthMismatch":
        return `frame length prefix says ${describeValue(this.value)} bytes but ${this.available} follow it`
      case "HeaderLengthOutOfRange":
        return `header length ${describeValue(this.value)} exceeds the ${this.available} bytes after the header mark`
      case "UnknownSerializeType":
        return `unknown serialize type ${
          describeValue(this.value)
        } in the header mark (0 = JSON, 1 = ROCKETMQ)${detail}`
      case "MalformedJson":
        return `JSON header does not parse at position ${this.position}${detail}`
      case "InvalidJsonHeader":
        return `JSON header ${this.field === undefined ? "" : `${this.field} `}${this.detail ?? "is invalid"}${
          "value" in this ? `, got ${describeValue(this.value)}` : ""
        }`
      case "TruncatedBinaryHeader":
        return `ROCKETMQ header ends inside ${this.field}: ${this.needed} bytes needed, ${this.available} left`
      case "InvalidBinaryHeader":
        return `ROCKETMQ header ${this.field === undefined ? "" : `${this.field} `}is invalid${detail}`
      case "InvalidUtf8":
        return `${header} ${this.field === undefined ? "" : `${this.field} `}is not valid UTF-8`
      case "ValueOutOfRange":
        return `${this.field} ${describeValue(this.value)} does not fit the ${header}${detail}`
      case "UnknownLanguage":
        return `language code ${describeValue(this.value)} has no name to write in a JSON header`
      case "HeaderTooLarge":
        return `${header} of ${describeValue(this.value)} bytes exceeds the 16777215 bytes a header mark can express`
    }
  }
}

/**
 * Why a JSON body could not be read.
 *
 * - `InvalidUtf8`: the bytes are not UTF-8.
 * - `Malformed`: the text is not JSON, not even fastjson's (`position`, `detail` with a snippet).
 * - `Schema`: the JSON does not have the expected shape (`cause` is the schema's `ParseError`).
 *
 * @since 0.2.0
 * @category models
 */
export type RemotingJsonErrorReason = "InvalidUtf8" | "Malformed" | "Schema"

/**
 * A JSON body could not be read.
 *
 * @since 0.2.0
 * @category errors
 */
export class RemotingJsonError extends Data.TaggedError("RemotingJsonError")<{
  readonly reason: RemotingJsonErrorReason
  /** What the body should have been (`TopicRouteData`, …), when known. */
  readonly what?: string | undefined
  /** Where parsing stopped (a UTF-16 index into the text). */
  readonly position?: number | undefined
  readonly detail?: string | undefined
  readonly cause?: ParseResult.ParseError | undefined
}> {
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.2.0
   */
  override get message(): string {
    const what = this.what ?? "JSON body"
    switch (this.reason) {
      case "InvalidUtf8":
        return `${what} is not valid UTF-8`
      case "Malformed":
        return `${what} does not parse at position ${this.position}${
          this.detail === undefined ? "" : `: ${this.detail}`
        }`
      case "Schema":
        return `${what} does not have the expected shape${this.cause === undefined ? "" : `: ${this.cause.message}`}`
    }
  }
}

/**
 * The server answered a request with a code other than `SUCCESS`.
 *
 * @since 0.2.0
 * @category errors
 */
export class RemotingError extends Data.TaggedError("RemotingError")<{
  /** The response code. */
  readonly code: number
  readonly remark: string | undefined
  readonly opaque: number
  /** The code of the request that was answered. */
  readonly requestCode: number
}> {
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.2.0
   */
  override get message(): string {
    const request = requestCodeName(this.requestCode)
    const response = responseCodeName(this.code)
    return `request ${request === undefined ? "" : `${request} `}(code ${this.requestCode}, opaque ${this.opaque}) ` +
      `failed with ${response === undefined ? "" : `${response} `}(code ${this.code})${
        this.remark === undefined || this.remark === "" ? "" : `: ${this.remark}`
      }`
  }
}

/**
 * Why a call gave up on its own:
 * - `Timeout`: its time ran out waiting for a connection, for the write, or for the response (`waitingFor`).
 * - `InFlightLimit`: `maxInFlight` calls were under way for the whole of its time; it never got a slot.
 *
 * @since 0.2.0
 * @category models
 */
export type RemotingClientErrorReason = "Timeout" | "InFlightLimit"

/**
 * A call of a `RemotingClient` gave up on its own. Failures of the connection itself are the transport's
 * errors (`ConnectionError`, `ConnectionClosedError`).
 *
 * @since 0.2.0
 * @category errors
 */
export class RemotingClientError extends Data.TaggedError("RemotingClientError")<{
  readonly reason: RemotingClientErrorReason
  readonly address: string
  /** The code of the request. */
  readonly requestCode: number
  /** The call's time bound. */
  readonly timeout: Duration.Duration
  /** `Timeout`: what the call was waiting for when its time ran out. */
  readonly waitingFor?: "connection" | "write" | "response" | undefined
  /** The request's opaque, once it had one. */
  readonly opaque?: number | undefined
  /** `InFlightLimit`: the cap. */
  readonly maxInFlight?: number | undefined
  /** Waiting for a connection: why the last attempt or connection ended, when the transport said. */
  readonly cause?: unknown
}> {
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.2.0
   */
  override get message(): string {
    const name = requestCodeName(this.requestCode)
    const request = `request ${name === undefined ? "" : `${name} `}(code ${this.requestCode}${
      this.opaque === undefined ? "" : `, opaque ${this.opaque}`
    }) to ${this.address}`
    const after = Duration.format(this.timeout)
    if (this.reason === "InFlightLimit") {
      return `${request} waited ${after} for an in-flight slot: the in-flight limit of ${this.maxInFlight} calls was reached`
    }
    const cause = Predicate.hasProperty(this.cause, "message") && typeof this.cause.message === "string"
      ? ` (last: ${this.cause.message})`
      : ""
    const what = this.waitingFor === "connection"
      ? `a connection${cause}`
      : this.waitingFor === "write"
      ? "the write"
      : "the response"
    return `${request} timed out after ${after} waiting for ${what}`
  }
}

/**
 * Why a pool refused an address: `TooManyAddresses`, every one of its `maxAddresses` connections has a call
 * under way.
 *
 * @since 0.2.0
 * @category models
 */
export type RemotingPoolErrorReason = "TooManyAddresses"

/**
 * A `RemotingPool` could not give a connection to `address`.
 *
 * @since 0.2.0
 * @category errors
 */
export class RemotingPoolError extends Data.TaggedError("RemotingPoolError")<{
  readonly reason: RemotingPoolErrorReason
  readonly address: string
  readonly maxAddresses: number
}> {
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.2.0
   */
  override get message(): string {
    return `no connection to ${this.address}: all ${this.maxAddresses} addresses of the pool have calls under way`
  }
}
