/**
 * How the CLI fails: every error a command can end with becomes one line for the terminal and an exit code.
 *
 * The transport's tagged errors nest (a `RetriesExhausted` carries the last attempt's error, which carries
 * Node's `ECONNREFUSED`), so `describe` digs down to the cause a user can act on and says it in a few words.
 * A failed TLS handshake says why in the words of the flags that fix it (`--ca`, `--server-name`, `--cert`).
 *
 * | code | meaning |
 * | --- | --- |
 * | 0 | success |
 * | 1 | any other failure |
 * | 2 | bad command line: unknown flag, missing or bad value, missing argument, unreadable `@file` |
 * | 3 | could not connect: refused, host not found, unreachable, TLS handshake failed |
 * | 4 | timeout (connect, send or receive) |
 * | 5 | frame too large (either direction) |
 * | 6 | connection lost, or the peer broke the framing |
 * | 7 | an echo did not match what was sent |
 * | 8 | cannot listen: the address is in use |
 * | 130 | interrupted (Ctrl-C) |
 *
 * @since 0.1.0
 */
import type { TlsFailure } from "@rocketmq-effect/transport/TransportError"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"

/**
 * @since 0.1.0
 * @category models
 */
export const ExitCode = {
  Success: 0,
  Failure: 1,
  Usage: 2,
  Connect: 3,
  Timeout: 4,
  FrameTooLarge: 5,
  ConnectionLost: 6,
  Mismatch: 7,
  AddressInUse: 8,
  Interrupted: 130
} as const

/**
 * @since 0.1.0
 * @category models
 */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode]

/**
 * A failure of the CLI itself (a bad argument, an echo that did not match), already in the words the user
 * should read.
 *
 * @since 0.1.0
 * @category errors
 */
export class CliError extends Data.TaggedError("CliError")<{
  readonly reason: string
  readonly exitCode: ExitCode
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return this.reason
  }
}

/**
 * What to print and which code to exit with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Description {
  readonly line: string
  readonly exitCode: ExitCode
}

const tagOf = (u: unknown): string | undefined =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" ? u._tag : undefined

const field = (u: unknown, key: string): unknown => (Predicate.hasProperty(u, key) ? u[key] : undefined)

const text = (u: unknown, key: string): string | undefined => {
  const value = field(u, key)
  return typeof value === "string" ? value : undefined
}

/** The first line only: some causes carry a stack in their message. */
const messageOf = (u: unknown): string => (text(u, "message") ?? String(u)).split("\n")[0]!.trim()

const maxSizeHint = " (raise --max-message-size)"

/** The next link of a `cause` chain; an Effect `Cause` (a socket's failure) stands for the error in it. */
const causeOf = (u: unknown): unknown => {
  const cause = field(u, "cause")
  return Cause.isCause(cause) ? Cause.squash(cause) : cause
}

/** Node's error code (`ECONNREFUSED`, …) anywhere down the `cause` chain. */
const systemCode = (u: unknown): string | undefined => {
  for (let current = u, depth = 0; current !== undefined && depth < 8; current = causeOf(current), depth++) {
    const code = text(current, "code")
    if (code !== undefined && code.startsWith("E")) return code
  }
  return undefined
}

const describeConnect = (address: string, cause: unknown): Description => {
  const exitCode = ExitCode.Connect
  switch (systemCode(cause)) {
    case "ECONNREFUSED":
      return { line: `connection refused: nothing is listening on ${address}`, exitCode }
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return { line: `host not found: ${address}`, exitCode }
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return { line: `host unreachable: ${address}`, exitCode }
    case "ECONNRESET":
      return { line: `connection reset while connecting to ${address}`, exitCode }
  }
  if (tagOf(cause) === "TimeoutError") return describe(cause)
  return { line: `could not connect to ${address}: ${messageOf(cause)}`, exitCode }
}

/**
 * Why a file could not be read (an @effect/platform `FileSystem` error), in a few words: `no such file`,
 * `permission denied`, `it is a directory`, or the error's own first line.
 *
 * @since 0.2.0
 * @category utils
 */
export const unreadableReason = (error: unknown): string => {
  const reason = text(error, "reason")
  return reason === "NotFound"
    ? "no such file"
    : reason === "PermissionDenied"
    ? "permission denied"
    : systemCode(error) === "EISDIR"
    ? "it is a directory"
    : messageOf(error)
}

/** Why a handshake failed, by `ConnectionError.tls`, with the flag that may fix it. */
const tlsReasons: Partial<Record<TlsFailure, string>> = {
  UntrustedCertificate: "the server's certificate is not signed by a trusted CA (give its CA with --ca)",
  CertificateExpired: "the server's certificate has expired",
  CertificateNotYetValid: "the server's certificate is not valid yet",
  HostnameMismatch: "the server's certificate is not for this host (--server-name sets the name to check)",
  NotTls: "the peer does not speak TLS (a plaintext port?)",
  ClosedDuringHandshake: "the peer closed the connection during the handshake (a plaintext port?)",
  VersionMismatch: "no TLS version both sides accept",
  PeerRejected: "the server refused the handshake (does it require a client certificate? --cert and --key)"
}

const tlsHandshake = (address: string, why: string): Description => ({
  line: `TLS handshake with ${address} failed: ${why}`,
  exitCode: ExitCode.Connect
})

/**
 * A TLS alert that arrived after the client's side of the handshake: under TLS 1.3 a server checks the
 * client's certificate only then, so its refusal reaches the first read instead of the connect.
 */
const tlsAlert = (address: string, code: string | undefined): Description | undefined => {
  if (code === undefined || !code.startsWith("ERR_SSL_") || !code.includes("_ALERT_")) return undefined
  const alert = code.slice(code.indexOf("_ALERT_") + "_ALERT_".length)
  switch (alert) {
    case "CERTIFICATE_REQUIRED":
      return tlsHandshake(address, "the server requires a client certificate (give --cert and --key)")
    case "UNKNOWN_CA":
    case "BAD_CERTIFICATE":
    case "CERTIFICATE_UNKNOWN":
    case "UNSUPPORTED_CERTIFICATE":
    case "CERTIFICATE_EXPIRED":
    case "CERTIFICATE_REVOKED":
    case "ACCESS_DENIED":
      return tlsHandshake(
        address,
        `the server refused the client certificate (${alert.toLowerCase().replaceAll("_", " ")})`
      )
  }
  return tlsHandshake(address, `the server sent the alert ${alert.toLowerCase().replaceAll("_", " ")}`)
}

/**
 * The one line and exit code for anything a command failed with.
 *
 * @since 0.1.0
 * @category constructors
 */
export const describe = (error: unknown): Description => {
  switch (tagOf(error)) {
    case "CliError":
      return { line: (error as CliError).reason, exitCode: (error as CliError).exitCode }
    case "ConnectionError": {
      const address = text(error, "address") ?? "the peer"
      const cause = causeOf(error)
      switch (text(error, "reason")) {
        case "RetriesExhausted":
          // The last attempt says why; the give-up itself is no news on a one-shot command.
          return cause === undefined
            ? { line: `could not connect to ${address}`, exitCode: ExitCode.Connect }
            : describe(cause)
        case "Connect":
          return describeConnect(address, cause)
        case "Tls": {
          const tls = text(error, "tls")
          const why = tls === undefined ? undefined : tlsReasons[tls as TlsFailure]
          return tlsHandshake(address, why ?? (cause === undefined ? "the handshake failed" : messageOf(cause)))
        }
        case "Protocol":
          return tagOf(cause) === "FrameTooLargeError"
            ? { line: `frame too large: ${messageOf(cause)}${maxSizeHint}`, exitCode: ExitCode.FrameTooLarge }
            : { line: `protocol error: ${messageOf(error)}`, exitCode: ExitCode.ConnectionLost }
        case "Disconnected":
          return cause === undefined
            ? { line: `connection lost: ${messageOf(error)}`, exitCode: ExitCode.ConnectionLost }
            : describe(cause)
        case "PeerClosed":
          return { line: `connection lost: ${address} closed the connection`, exitCode: ExitCode.ConnectionLost }
        case "Read":
        case "Write": {
          const code = systemCode(cause)
          const alert = tlsAlert(address, code)
          if (alert !== undefined) return alert
          return {
            line: code === "ECONNRESET" || code === "EPIPE"
              ? `connection lost: ${address} reset the connection`
              : `connection lost: ${messageOf(error)}`,
            exitCode: ExitCode.ConnectionLost
          }
        }
        default:
          return { line: `connection lost: ${messageOf(error)}`, exitCode: ExitCode.ConnectionLost }
      }
    }
    case "TimeoutError": {
      const timeout = field(error, "timeout")
      const after = Duration.isDuration(timeout) ? ` after ${Duration.format(timeout)}` : ""
      return {
        line: `timeout: ${text(error, "operation") ?? "operation"} to ${text(error, "address") ?? "the peer"} ` +
          `did not complete${after}`,
        exitCode: ExitCode.Timeout
      }
    }
    case "FrameTooLargeError":
      return { line: `frame too large: ${messageOf(error)}${maxSizeHint}`, exitCode: ExitCode.FrameTooLarge }
    case "ConnectionClosedError":
      return { line: `transport closed: ${messageOf(error)}`, exitCode: ExitCode.Failure }
    case "ConfigurationError":
      return { line: `invalid option: ${messageOf(error)}`, exitCode: ExitCode.Usage }
    case "TransportServerError": {
      const address = text(error, "address") ?? "the address"
      switch (systemCode(error)) {
        case "EADDRINUSE":
          return { line: `cannot listen on ${address}: the address is in use`, exitCode: ExitCode.AddressInUse }
        case "EACCES":
          return { line: `cannot listen on ${address}: permission denied`, exitCode: ExitCode.Failure }
        case "EADDRNOTAVAIL":
          return { line: `cannot listen on ${address}: no such address on this machine`, exitCode: ExitCode.Failure }
        case "ENOTFOUND":
        case "EAI_AGAIN":
          return { line: `cannot listen on ${address}: host not found`, exitCode: ExitCode.Failure }
      }
      return { line: messageOf(error), exitCode: ExitCode.Failure }
    }
    case "SystemError": {
      // @effect/platform's FileSystem errors (reading `@file`).
      const path = field(error, "pathOrDescriptor")
      return {
        line: `cannot read ${String(path ?? "the file")}: ${unreadableReason(error)}`,
        exitCode: ExitCode.Failure
      }
    }
    case "BadArgument":
      return { line: messageOf(error), exitCode: ExitCode.Failure }
  }
  return { line: messageOf(error), exitCode: ExitCode.Failure }
}

/**
 * How a client command was connecting: what the hints of `describeFirstExchange` depend on.
 *
 * @since 0.3.0
 * @category models
 */
export interface ConnectionContext {
  /** The command connected over TLS. */
  readonly tls: boolean
  /** It presented a client certificate (`--cert`, `--key`). */
  readonly clientCertificate: boolean
}

/** The first error of `tag` down the `cause` chain. */
const findTagged = (u: unknown, tag: string): unknown => {
  for (let current = u, depth = 0; current !== undefined && depth < 8; current = causeOf(current), depth++) {
    if (tagOf(current) === tag) return current
  }
  return undefined
}

/** An inbound length whose first bytes are a TLS record's (an alert, 0x15, or a handshake, 0x16; version 3.x). */
const tlsRecordHeader = (error: unknown): boolean => {
  const tooLarge = findTagged(error, "FrameTooLargeError")
  const header = field(tooLarge, "header")
  return header instanceof Uint8Array && header.length >= 2 && (header[0] === 0x15 || header[0] === 0x16) &&
    header[1] === 0x03
}

/**
 * `describe`, for a failure met before the first reply arrived, with a hint where the usual cause is a TLS
 * mismatch that the peer does not explain. A plaintext client at a TLS port sees the server close (or its
 * TLS alert read as a frame length); a TLS 1.3 server checks the client's certificate after the client's
 * side of the handshake, so a refusal without a readable alert shows as the connection dropping right
 * after it came up.
 *
 * @since 0.3.0
 * @category constructors
 */
export const describeFirstExchange = (error: unknown, context: ConnectionContext): Description => {
  const described = describe(error)
  if (!context.tls && tlsRecordHeader(error)) {
    return {
      line: `${address(error)} answered with TLS: it is a TLS port, connect with --tls`,
      exitCode: ExitCode.ConnectionLost
    }
  }
  if (described.exitCode !== ExitCode.ConnectionLost || !described.line.startsWith("connection lost:")) {
    return described
  }
  const hint = !context.tls
    ? "if it is a TLS port, try --tls"
    : context.clientCertificate
    ? "the server may refuse the client certificate of --cert and --key (not signed by a CA it trusts?)"
    : "the server may require a client certificate: give --cert and --key"
  return { line: `${described.line}; ${hint}`, exitCode: described.exitCode }
}

const address = (error: unknown): string => {
  for (let current = error, depth = 0; current !== undefined && depth < 8; current = causeOf(current), depth++) {
    const found = text(current, "address")
    if (found !== undefined) return found
  }
  return "the peer"
}

/**
 * `effect`, with a failure that `describeFirstExchange` has a hint for turned into a `CliError` that says it.
 * For what happens before the first reply: a hint is a guess, and a later loss has other causes.
 *
 * @since 0.3.0
 * @category combinators
 */
export const hintFirstExchange =
  (context: ConnectionContext) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CliError, R> =>
    Effect.mapError(effect, (error): E | CliError => {
      const hinted = describeFirstExchange(error, context)
      return hinted.line === describe(error).line
        ? error
        : new CliError({ reason: hinted.line, exitCode: hinted.exitCode })
    })
