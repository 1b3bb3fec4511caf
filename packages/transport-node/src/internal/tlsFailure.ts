import type { TlsFailure } from "@rocketmq-effect/transport/TransportError"
import * as Predicate from "effect/Predicate"

const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_REVOKED",
  "CERT_CHAIN_TOO_LONG",
  "INVALID_CA",
  "INVALID_PURPOSE",
  "PATH_LENGTH_EXCEEDED"
])

// What OpenSSL says when the bytes that came back are not a TLS record.
const NOT_TLS = new Set([
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_SSL_UNEXPECTED_MESSAGE",
  "ERR_SSL_PACKET_LENGTH_TOO_LONG",
  "ERR_SSL_UNKNOWN_PROTOCOL",
  "ERR_SSL_HTTP_REQUEST",
  "ERR_SSL_RECORD_LENGTH_MISMATCH",
  "ERR_SSL_UNEXPECTED_RECORD"
])

const VERSION = new Set([
  "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
  "ERR_SSL_UNSUPPORTED_PROTOCOL",
  "ERR_SSL_NO_PROTOCOLS_AVAILABLE",
  "ERR_SSL_TLSV1_ALERT_INAPPROPRIATE_FALLBACK",
  "ERR_TLS_INVALID_PROTOCOL_VERSION"
])

const CLOSED = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"])

/**
 * Classifies an error raised during a TLS handshake, by Node's or OpenSSL's code.
 *
 * @internal
 */
export const tlsFailure = (cause: unknown): TlsFailure => {
  const code = Predicate.hasProperty(cause, "code") && typeof cause.code === "string" ? cause.code : undefined
  if (code === undefined) return "Other"
  if (UNTRUSTED.has(code)) return "UntrustedCertificate"
  if (code === "CERT_HAS_EXPIRED") return "CertificateExpired"
  if (code === "CERT_NOT_YET_VALID") return "CertificateNotYetValid"
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH") return "HostnameMismatch"
  if (NOT_TLS.has(code)) return "NotTls"
  if (VERSION.has(code)) return "VersionMismatch"
  if (CLOSED.has(code)) return "ClosedDuringHandshake"
  if (code.startsWith("ERR_SSL_") && code.includes("_ALERT_")) return "PeerRejected"
  return "Other"
}
