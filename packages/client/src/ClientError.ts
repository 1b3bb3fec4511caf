/**
 * The producer's and the consumer's typed errors.
 *
 * - `ProducerError`: a send did not store its message. `reason` says why; `address`, `brokerName`, `code` and
 *   `remark` say where and what the broker answered, `attempts` how many tries were made, `cause` the last
 *   failure underneath.
 * - `ConsumerError`: the consumer could not do something it had to (start, reach a broker, decode what it
 *   pulled, send a failed message back).
 *
 * Bad options fail with the transport's `ConfigurationError` (one issue per bad field); a bad message with
 * `Message.MessageError`.
 *
 * @since 0.3.0
 */
import { RemotingCode } from "@rocketmq-effect/remoting"
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"

/**
 * @since 0.3.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@rocketmq-effect/client/ClientError")

/**
 * @since 0.3.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Why a send failed:
 * - `NoRoute`: the NameServer knows no writable queue of the topic (or could not be asked).
 * - `Rejected`: a broker refused the message with a code that is not retried (`code`, `remark`).
 * - `Unreachable`: every attempt failed on the way (connection, broker busy, a retried code) and the retry
 *   policy gave up; `cause` is the last failure.
 * - `Timeout`: the send's time budget ran out before a broker stored it; `cause` is the last failure, if any.
 * - `Closed`: the producer's scope has closed.
 *
 * @since 0.3.0
 * @category models
 */
export type ProducerErrorReason = "NoRoute" | "Rejected" | "Unreachable" | "Timeout" | "Closed"

const brokerText = (error: { readonly address?: string | undefined; readonly brokerName?: string | undefined }) =>
  error.brokerName !== undefined
    ? ` at ${error.brokerName}${error.address === undefined ? "" : ` (${error.address})`}`
    : error.address !== undefined
    ? ` at ${error.address}`
    : ""

const codeText = (code: number | undefined, remark: string | undefined) => {
  if (code === undefined) return ""
  const name = RemotingCode.responseCodeName(code)
  return `: ${name === undefined ? "" : `${name} `}(code ${code})${
    remark === undefined || remark === "" ? "" : ` ${remark}`
  }`
}

const causeText = (cause: unknown): string => {
  if (cause === undefined) return ""
  if (Predicate.hasProperty(cause, "message") && typeof cause.message === "string") return ` (last: ${cause.message})`
  return ` (last: ${String(cause)})`
}

/**
 * A send did not store its message.
 *
 * @since 0.3.0
 * @category errors
 */
export class ProducerError extends Data.TaggedError("ProducerError")<{
  readonly reason: ProducerErrorReason
  readonly topic: string
  /** The broker address of the last attempt, when one was made. */
  readonly address?: string | undefined
  readonly brokerName?: string | undefined
  /** The broker's response code, when it answered. */
  readonly code?: number | undefined
  readonly remark?: string | undefined
  /** Attempts made. */
  readonly attempts: number
  readonly cause?: unknown
}> {
  /**
   * @since 0.3.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.3.0
   */
  override get message(): string {
    const what = `send to ${this.topic}`
    const tries = this.attempts === 1 ? "1 attempt" : `${this.attempts} attempts`
    switch (this.reason) {
      case "NoRoute":
        return `${what} failed: no writable queue of the topic${codeText(this.code, this.remark)}${
          causeText(this.cause)
        }`
      case "Rejected":
        return `${what} rejected${brokerText(this)}${codeText(this.code, this.remark)}`
      case "Unreachable":
        return `${what} failed after ${tries}${brokerText(this)}${codeText(this.code, this.remark)}${
          causeText(this.cause)
        }`
      case "Timeout":
        return `${what} timed out after ${tries}${brokerText(this)}${codeText(this.code, this.remark)}${
          causeText(this.cause)
        }`
      case "Closed":
        return `${what} failed: the producer is closed`
    }
  }
}

/**
 * What the consumer could not do:
 * - `Closed`: it has closed (a new `stream` or `run` after its scope closed).
 * - `NoRoute`: a subscribed topic has no route on the NameServer.
 * - `BrokerError`: a broker answered a request with an error code (`code`, `remark`).
 * - `Unreachable`: a broker or the NameServer could not be reached (`cause`).
 * - `Decode`: a pulled body could not be decoded (`cause` says where).
 * - `AlreadyConsuming`: `stream` or `run` was called while another is running on the same consumer.
 *
 * @since 0.3.0
 * @category models
 */
export type ConsumerErrorReason = "Closed" | "NoRoute" | "BrokerError" | "Unreachable" | "Decode" | "AlreadyConsuming"

/**
 * @since 0.3.0
 * @category errors
 */
export class ConsumerError extends Data.TaggedError("ConsumerError")<{
  readonly reason: ConsumerErrorReason
  readonly group: string
  readonly topic?: string | undefined
  readonly address?: string | undefined
  readonly code?: number | undefined
  readonly remark?: string | undefined
  readonly cause?: unknown
}> {
  /**
   * @since 0.3.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.3.0
   */
  override get message(): string {
    const where = `consumer group ${this.group}${this.topic === undefined ? "" : `, topic ${this.topic}`}`
    switch (this.reason) {
      case "Closed":
        return `${where}: the consumer is closed`
      case "NoRoute":
        return `${where}: the NameServer has no route for the topic${codeText(this.code, this.remark)}${
          causeText(this.cause)
        }`
      case "BrokerError":
        return `${where}: ${this.address ?? "the broker"} answered${codeText(this.code, this.remark)}`
      case "Unreachable":
        return `${where}: could not reach ${this.address ?? "the broker"}${causeText(this.cause)}`
      case "Decode":
        return `${where}: a pulled message could not be decoded${causeText(this.cause)}`
      case "AlreadyConsuming":
        return `${where}: the consumer is already consumed by another stream or run`
    }
  }
}

/**
 * @since 0.3.0
 * @category refinements
 */
export const isClientError = (u: unknown): u is ProducerError | ConsumerError => Predicate.hasProperty(u, TypeId)
