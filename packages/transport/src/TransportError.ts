/**
 * The transport's typed errors. They replace the seed's exception hierarchy
 * (`TransportError` → `ConnectionError`, `TimeoutError`, `ConfigurationError`,
 * `InvalidStateTransitionError`, `ConnectionClosedError`) and add frame errors for the cases the seed
 * lumps into `ValueError`.
 *
 * Every error carries what a caller needs to act on it (address, state, sizes, cause) and renders a
 * readable `message`. Match on `_tag` with `Effect.catchTag`, or on `reason` where one class covers
 * several cases.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import { describeValue } from "./internal/describeValue.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@rocketmq-effect/transport/TransportError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The names of the connection states, as used in error context.
 *
 * @since 0.1.0
 * @category models
 */
export type StateName = "Disconnected" | "Connecting" | "Connected" | "Closed"

/**
 * The names of the state machine's events, as in the seed (`connect`, `connect_success`, `disconnect`,
 * `close`).
 *
 * @since 0.1.0
 * @category models
 */
export type EventName = "Connect" | "ConnectSuccess" | "Disconnect" | "Close"

const describeCause = (cause: unknown): string => {
  if (cause === undefined) return ""
  // @effect/platform's SocketGenericError says only "An error occurred during Read": what happened is the
  // error it wraps.
  if (
    Predicate.hasProperty(cause, "_tag") && cause._tag === "SocketError" && Predicate.hasProperty(cause, "cause") &&
    cause.cause !== undefined
  ) {
    return describeCause(cause.cause)
  }
  // OpenSSL's errors carry the whole error queue entry in their message (addresses, source file, line);
  // their `reason` is the part a reader wants ("sslv3 alert bad certificate"), and `code` names it.
  if (
    Predicate.hasProperty(cause, "library") && Predicate.hasProperty(cause, "reason") &&
    typeof cause.reason === "string" && cause.reason.length > 0
  ) {
    const code = Predicate.hasProperty(cause, "code") && typeof cause.code === "string" ? ` (${cause.code})` : ""
    return `: ${cause.reason}${code}`
  }
  if (Predicate.hasProperty(cause, "message") && typeof cause.message === "string" && cause.message.length > 0) {
    return `: ${cause.message}`
  }
  return `: ${String(cause)}`
}

/**
 * Why a connection could not be used.
 *
 * - `Connect`: an attempt to open the connection failed (refused, unreachable, DNS, …).
 * - `Tls`: the TCP connection opened but the TLS handshake failed; `tls` says why.
 * - `Read` / `Write`: the socket failed while reading or writing (a reset, for instance).
 * - `PeerClosed`: the peer closed the connection cleanly.
 * - `Idle`: no inbound bytes arrived within `idleTimeout`; the peer is presumed dead.
 * - `Protocol`: the peer sent bytes that are not a valid frame (see `cause`).
 * - `Dropped`: the transport's user ended the connection with `Transport.drop` (why, in `cause`).
 * - `NotConnected`: the operation needs a live connection and there is none right now.
 * - `Disconnected`: the connection dropped while the operation was pending; it was failed at once.
 * - `RetriesExhausted`: the reconnect schedule gave up.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectionErrorReason =
  | "Connect"
  | "Tls"
  | "Read"
  | "Write"
  | "PeerClosed"
  | "Idle"
  | "Protocol"
  | "Dropped"
  | "NotConnected"
  | "Disconnected"
  | "RetriesExhausted"

/**
 * Why a TLS handshake failed, as the client saw it.
 *
 * - `UntrustedCertificate`: the server's certificate does not chain to a trusted CA (an unknown CA, a
 *   self-signed certificate, an incomplete chain).
 * - `CertificateExpired` / `CertificateNotYetValid`: the server's certificate is outside its validity dates.
 * - `HostnameMismatch`: the certificate is valid but not for the name (or IP) connected to.
 * - `NotTls`: the peer answered with bytes that are not TLS: a plaintext port.
 * - `ClosedDuringHandshake`: the peer closed the connection before the handshake completed, as a plaintext
 *   server that rejects what it cannot parse does (or a TLS server that refused without an alert).
 * - `VersionMismatch`: no TLS version both sides accept (`minVersion`).
 * - `PeerRejected`: the server refused the handshake with an alert: it requires a client certificate, does
 *   not trust the one sent, or shares no cipher.
 * - `Other`: anything else; `cause` holds Node's error.
 *
 * None of these fixes itself by retrying, but the server's side can change (a renewed certificate), so the
 * transport retries a handshake failure on its reconnect schedule like any other failed connect.
 *
 * @since 0.2.0
 * @category models
 */
export type TlsFailure =
  | "UntrustedCertificate"
  | "CertificateExpired"
  | "CertificateNotYetValid"
  | "HostnameMismatch"
  | "NotTls"
  | "ClosedDuringHandshake"
  | "VersionMismatch"
  | "PeerRejected"
  | "Other"

const tlsExplanation: Record<TlsFailure, string> = {
  UntrustedCertificate: "the server's certificate is not signed by a trusted CA",
  CertificateExpired: "the server's certificate has expired",
  CertificateNotYetValid: "the server's certificate is not valid yet",
  HostnameMismatch: "the server's certificate is not for this host",
  NotTls: "the peer does not speak TLS (a plaintext port?)",
  ClosedDuringHandshake: "the peer closed the connection during the handshake (a plaintext port?)",
  VersionMismatch: "no TLS version both sides accept",
  PeerRejected: "the server refused the handshake",
  Other: "the handshake failed"
}

/**
 * The connection failed or is not usable (the seed's `ConnectionError`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionError extends Data.TaggedError("ConnectionError")<{
  readonly reason: ConnectionErrorReason
  readonly address: string
  /** The connection's generation, when the error belongs to one connection. */
  readonly generation?: number | undefined
  /** Consecutive failed attempts so far, where relevant. */
  readonly attempts?: number | undefined
  /**
   * Why the TLS handshake failed, for `reason: "Tls"`.
   *
   * @since 0.2.0
   */
  readonly tls?: TlsFailure | undefined
  readonly cause?: unknown
}> {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const where = `${this.address}${this.generation === undefined ? "" : ` (generation ${this.generation})`}`
    switch (this.reason) {
      case "Connect":
        return `could not connect to ${where}${describeCause(this.cause)}`
      case "Tls":
        return `TLS handshake with ${where} failed: ${tlsExplanation[this.tls ?? "Other"]}${describeCause(this.cause)}`
      case "Read":
        return `reading from ${where} failed${describeCause(this.cause)}`
      case "Write":
        return `writing to ${where} failed${describeCause(this.cause)}`
      case "PeerClosed":
        return `${where} closed the connection`
      case "Idle":
        return `no bytes from ${where} within the idle timeout; the peer is presumed dead`
      case "Protocol":
        return `${where} sent an invalid frame${describeCause(this.cause)}`
      case "Dropped":
        return `the connection to ${where} was dropped${describeCause(this.cause)}`
      case "NotConnected":
        return `not connected to ${this.address}`
      case "Disconnected":
        return `the connection to ${where} dropped while the operation was pending${describeCause(this.cause)}`
      case "RetriesExhausted":
        return `gave up reconnecting to ${this.address}${
          this.attempts === undefined ? "" : ` after ${this.attempts} attempts`
        }${describeCause(this.cause)}`
    }
  }
}

/**
 * What a timeout bounded.
 *
 * @since 0.1.0
 * @category models
 */
export type TimeoutOperation = "connect" | "send" | "receive" | "awaitConnected"

/**
 * An operation did not finish within its time bound (the seed's `TimeoutError`).
 *
 * @since 0.1.0
 * @category errors
 */
export class TimeoutError extends Data.TaggedError("TimeoutError")<{
  readonly operation: TimeoutOperation
  readonly timeout: Duration.Duration
  readonly address: string
}> {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.operation} to ${this.address} timed out after ${Duration.format(this.timeout)}`
  }
}

/**
 * One broken rule of a configuration: the field as the user named it, the rule, and the value given (absent
 * when the field was missing).
 *
 * @since 0.2.0
 * @category models
 */
export interface ConfigurationIssue {
  readonly field: string
  readonly rule: string
  readonly value?: unknown
}

/**
 * A configuration value broke a rule (the seed's `ConfigurationError`). `field` names the field as the
 * user wrote it (`maxMessageSize`, `max_retries` or `TRANSPORT_PORT`, depending on where it came from).
 *
 * `issues` lists every broken rule (the config's constructors and loaders check all fields before failing) and the
 * message names them all; `field`, `rule` and `value` are the first's. Values are quoted as the user gave them (`-1`, `"abc"`), not as what they decode to.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConfigurationError extends Data.TaggedError("ConfigurationError")<{
  readonly field: string
  readonly rule: string
  readonly value?: unknown
  readonly issues?: ReadonlyArray<ConfigurationIssue>
}> {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const issues: ReadonlyArray<ConfigurationIssue> = this.issues ?? [this]
    return `invalid configuration: ${issues.map(describeIssue).join("; ")}`
  }
}

const describeIssue = (issue: ConfigurationIssue): string =>
  `${issue.field} ${issue.rule}${"value" in issue ? `, got ${describeValue(issue.value)}` : ""}`

/**
 * An event was applied to a state that has no transition for it (the seed's
 * `InvalidStateTransitionError`).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidStateTransitionError extends Data.TaggedError("InvalidStateTransitionError")<{
  readonly state: StateName
  readonly event: EventName
}> {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `no transition for event ${this.event} in state ${this.state}`
  }
}

/**
 * The transport was closed (stopped, or its scope ended): it takes no new work (the seed's
 * `ConnectionClosedError`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionClosedError extends Data.TaggedError("ConnectionClosedError")<{
  readonly address: string
  readonly operation: string
}> {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.operation} refused: the transport to ${this.address} is closed`
  }
}

/**
 * Which way a frame was travelling.
 *
 * @since 0.1.0
 * @category models
 */
export type Direction = "inbound" | "outbound"

/**
 * A frame's length is over the limit. Inbound, the length prefix is rejected before anything is allocated
 * for it, and `header` keeps the four bytes that were seen so the message can say what they look like
 * (an HTTP/2 preface or a TLS record on the wrong port, for instance).
 *
 * @since 0.1.0
 * @category errors
 */
export class FrameTooLargeError extends Data.TaggedError("FrameTooLargeError")<{
  readonly direction: Direction
  /** The payload length that was asked for. */
  readonly size: number
  /** The largest payload allowed. */
  readonly maxSize: number
  /** The four length bytes as received (inbound only). */
  readonly header?: Uint8Array | undefined
}> {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    if (this.direction === "outbound") {
      return `outbound payload of ${this.size} bytes exceeds the maximum message size of ${this.maxSize} bytes`
    }
    const seen = this.header === undefined ? "" : ` (length bytes ${describeHeader(this.header)})`
    return `inbound frame length ${this.size} exceeds the maximum message size of ${this.maxSize} bytes${seen}`
  }
}

/**
 * Renders four length bytes as hex and, where they are printable, as text, naming the protocols that are
 * commonly found on the wrong port.
 *
 * @since 0.1.0
 * @category utils
 */
export const describeHeader = (header: Uint8Array): string => {
  const hex = Array.from(header, (b) => b.toString(16).padStart(2, "0")).join(" ")
  const ascii = Array.from(header, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("")
  const guess = guessProtocol(header)
  return `${hex} "${ascii}"${guess === undefined ? "" : `, looks like ${guess}`}`
}

const guessProtocol = (h: Uint8Array): string | undefined => {
  if (h.length < 4) return undefined
  const text = String.fromCharCode(h[0]!, h[1]!, h[2]!, h[3]!)
  if (text === "PRI ") return "an HTTP/2 connection preface"
  if (/^(GET |POST|PUT |HEAD|HTTP|DELE|OPTI|PATC)$/.test(text)) return "HTTP/1"
  if (h[0] === 0x16 && h[1] === 0x03 && h[2]! <= 0x04) return "a TLS handshake record"
  if (h[0] === 0x15 && h[1] === 0x03 && h[2]! <= 0x04) return "a TLS alert record: the peer speaks TLS"
  if (h[0] === 0x03 && h[1] === 0x00) return "an RDP/TPKT header"
  if (text === "SSH-") return "an SSH banner"
  return undefined
}

/**
 * The byte stream ended inside a frame: `expected` bytes of the named part were due, `received` arrived.
 *
 * @since 0.1.0
 * @category errors
 */
export class TruncatedFrameError extends Data.TaggedError("TruncatedFrameError")<{
  readonly part: "header" | "body" | "bytes"
  readonly expected: number
  readonly received: number
}> {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `stream ended inside a frame ${this.part}: expected ${this.expected} bytes, received ${this.received}`
  }
}

/**
 * The errors a framing codec can produce.
 *
 * @since 0.1.0
 * @category models
 */
export type FrameError = FrameTooLargeError | TruncatedFrameError

/**
 * Every error of the transport.
 *
 * @since 0.1.0
 * @category models
 */
export type TransportError =
  | ConnectionError
  | TimeoutError
  | ConfigurationError
  | InvalidStateTransitionError
  | ConnectionClosedError
  | FrameTooLargeError
  | TruncatedFrameError

/**
 * @since 0.1.0
 * @category refinements
 */
export const isTransportError = (u: unknown): u is TransportError => Predicate.hasProperty(u, TypeId)

/**
 * @since 0.1.0
 * @category refinements
 */
export const isFrameError = (u: unknown): u is FrameError =>
  isTransportError(u) && (u._tag === "FrameTooLargeError" || u._tag === "TruncatedFrameError")
