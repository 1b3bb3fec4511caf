import { assert, describe, it } from "@effect/vitest"
import { TransportServerError } from "@rocketmq-effect/transport-node/TransportServer"
import type { TlsFailure } from "@rocketmq-effect/transport/TransportError"
import { ConnectionError, FrameTooLargeError, TimeoutError } from "@rocketmq-effect/transport/TransportError"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import { CliError, describe as describeFailure, describeFirstExchange, ExitCode } from "../src/Failure.js"

const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" })
const address = "127.0.0.1:9"

describe("Failure", () => {
  it("a refused attempt behind RetriesExhausted is 'connection refused', code 3", () => {
    const error = new ConnectionError({
      reason: "RetriesExhausted",
      address,
      attempts: 1,
      cause: new ConnectionError({ reason: "Connect", address, cause: refused })
    })
    assert.deepStrictEqual(describeFailure(error), {
      line: "connection refused: nothing is listening on 127.0.0.1:9",
      exitCode: ExitCode.Connect
    })
  })

  it("a connect timeout behind RetriesExhausted is a timeout, code 4", () => {
    const error = new ConnectionError({
      reason: "RetriesExhausted",
      address,
      cause: new TimeoutError({ operation: "connect", timeout: Duration.seconds(3), address })
    })
    assert.deepStrictEqual(describeFailure(error), {
      line: "timeout: connect to 127.0.0.1:9 did not complete after 3s",
      exitCode: ExitCode.Timeout
    })
  })

  it("frames over the limit are code 5, either way", () => {
    const outbound = describeFailure(new FrameTooLargeError({ direction: "outbound", size: 10, maxSize: 4 }))
    assert.strictEqual(outbound.exitCode, ExitCode.FrameTooLarge)
    assert.match(outbound.line, /^frame too large: outbound payload of 10 bytes/)
    const inbound = describeFailure(
      new ConnectionError({
        reason: "Protocol",
        address,
        cause: new FrameTooLargeError({ direction: "inbound", size: 1e9, maxSize: 4 })
      })
    )
    assert.strictEqual(inbound.exitCode, ExitCode.FrameTooLarge)
    assert.match(inbound.line, /^frame too large: inbound frame length 1000000000/)
  })

  it("a reset under a socket failure's Cause is 'connection lost', on one line", () => {
    const reset = Object.assign(new Error("read ECONNRESET\n    at a stack frame"), { code: "ECONNRESET" })
    const error = new ConnectionError({
      reason: "Disconnected",
      address,
      cause: new ConnectionError({ reason: "Read", address, cause: Cause.fail({ _tag: "SocketError", cause: reset }) })
    })
    assert.deepStrictEqual(describeFailure(error), {
      line: "connection lost: 127.0.0.1:9 reset the connection",
      exitCode: ExitCode.ConnectionLost
    })
  })

  it("a listen on an address in use is code 8, naming the address", () => {
    const inUse = Object.assign(new Error("listen EADDRINUSE: address already in use 127.0.0.1:9"), {
      code: "EADDRINUSE"
    })
    assert.deepStrictEqual(describeFailure(new TransportServerError({ address, cause: inUse })), {
      line: "cannot listen on 127.0.0.1:9: the address is in use",
      exitCode: ExitCode.AddressInUse
    })
    assert.strictEqual(ExitCode.AddressInUse, 8)
  })

  it("a failed TLS handshake behind RetriesExhausted is its own line, code 3", () => {
    const expired = Object.assign(new Error("certificate has expired"), { code: "CERT_HAS_EXPIRED" })
    const error = new ConnectionError({
      reason: "RetriesExhausted",
      address,
      attempts: 1,
      cause: new ConnectionError({ reason: "Tls", address, tls: "CertificateExpired", cause: expired })
    })
    assert.deepStrictEqual(describeFailure(error), {
      line: "TLS handshake with 127.0.0.1:9 failed: the server's certificate has expired",
      exitCode: ExitCode.Connect
    })
  })

  it("every TLS failure says why on one line, naming the flag that fixes it where one does", () => {
    const why: Record<TlsFailure, string> = {
      UntrustedCertificate: "the server's certificate is not signed by a trusted CA (give its CA with --ca)",
      CertificateExpired: "the server's certificate has expired",
      CertificateNotYetValid: "the server's certificate is not valid yet",
      HostnameMismatch: "the server's certificate is not for this host (--server-name sets the name to check)",
      NotTls: "the peer does not speak TLS (a plaintext port?)",
      ClosedDuringHandshake: "the peer closed the connection during the handshake (a plaintext port?)",
      VersionMismatch: "no TLS version both sides accept",
      PeerRejected: "the server refused the handshake (does it require a client certificate? --cert and --key)",
      // Node's reason, first line only.
      Other: "something odd"
    }
    for (const [tls, reason] of Object.entries(why)) {
      const cause = new Error("something odd\n    at a stack frame")
      const error = new ConnectionError({ reason: "Tls", address, tls: tls as TlsFailure, cause })
      assert.deepStrictEqual(describeFailure(error), {
        line: `TLS handshake with 127.0.0.1:9 failed: ${reason}`,
        exitCode: ExitCode.Connect
      }, tls)
    }
  })

  it("a TLS 1.3 server's refusal of a missing client certificate, met on the first read, is a TLS line, code 3", () => {
    const alert = Object.assign(
      new Error("error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required\nSSL alert number 116"),
      { code: "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED" }
    )
    const error = new ConnectionError({
      reason: "Disconnected",
      address,
      cause: new ConnectionError({ reason: "Read", address, cause: Cause.fail({ _tag: "SocketError", cause: alert }) })
    })
    assert.deepStrictEqual(describeFailure(error), {
      line: "TLS handshake with 127.0.0.1:9 failed: the server requires a client certificate (give --cert and --key)",
      exitCode: ExitCode.Connect
    })
    const unknownCa = Object.assign(new Error("tlsv1 alert unknown ca"), { code: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA" })
    assert.deepStrictEqual(describeFailure(new ConnectionError({ reason: "Read", address, cause: unknownCa })), {
      line: "TLS handshake with 127.0.0.1:9 failed: the server refused the client certificate (unknown ca)",
      exitCode: ExitCode.Connect
    })
  })

  it("a connection lost before the first reply hints at the TLS mismatch it usually is", () => {
    const closed = new ConnectionError({
      reason: "Disconnected",
      address,
      cause: new ConnectionError({ reason: "PeerClosed", address })
    })
    const lost = "connection lost: 127.0.0.1:9 closed the connection"
    assert.deepStrictEqual(describeFirstExchange(closed, { tls: false, clientCertificate: false }), {
      line: `${lost}; if it is a TLS port, try --tls`,
      exitCode: ExitCode.ConnectionLost
    })
    assert.deepStrictEqual(describeFirstExchange(closed, { tls: true, clientCertificate: false }), {
      line: `${lost}; the server may require a client certificate: give --cert and --key`,
      exitCode: ExitCode.ConnectionLost
    })
    assert.deepStrictEqual(describeFirstExchange(closed, { tls: true, clientCertificate: true }), {
      line: `${lost}; the server may refuse the client certificate of --cert and --key (not signed by a CA it trusts?)`,
      exitCode: ExitCode.ConnectionLost
    })
    // A TLS alert record read as a frame length: the peer speaks TLS.
    const alertRecord = new ConnectionError({
      reason: "Protocol",
      address,
      cause: new FrameTooLargeError({
        direction: "inbound",
        size: 0x15030300,
        maxSize: 1024,
        header: Uint8Array.of(0x15, 0x03, 0x03, 0x00)
      })
    })
    assert.deepStrictEqual(describeFirstExchange(alertRecord, { tls: false, clientCertificate: false }), {
      line: "127.0.0.1:9 answered with TLS: it is a TLS port, connect with --tls",
      exitCode: ExitCode.ConnectionLost
    })
    // What the peer explains needs no guess.
    const refusedAttempt = new ConnectionError({ reason: "Connect", address, cause: refused })
    assert.deepStrictEqual(
      describeFirstExchange(refusedAttempt, { tls: false, clientCertificate: false }),
      describeFailure(refusedAttempt)
    )
  })

  it("the CLI's own errors keep their words and code", () => {
    assert.deepStrictEqual(describeFailure(new CliError({ reason: "echo mismatch", exitCode: ExitCode.Mismatch })), {
      line: "echo mismatch",
      exitCode: ExitCode.Mismatch
    })
  })
})
