import * as Socket from "@effect/platform/Socket"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as TransportError from "../src/TransportError.js"

describe("TransportError", () => {
  it("every class is recognised by the guard and renders a message with its context", () => {
    const errors: Array<TransportError.TransportError> = [
      new TransportError.ConnectionError({
        reason: "Connect",
        address: "127.0.0.1:9876",
        cause: new Error("ECONNREFUSED")
      }),
      new TransportError.TimeoutError({ operation: "receive", timeout: Duration.seconds(3), address: "h:1" }),
      new TransportError.ConfigurationError({
        field: "port",
        rule: "must be an integer from 0 to 65535",
        value: 70000
      }),
      new TransportError.InvalidStateTransitionError({ state: "Closed", event: "Connect" }),
      new TransportError.ConnectionClosedError({ address: "h:1", operation: "send" }),
      new TransportError.FrameTooLargeError({ direction: "outbound", size: 10, maxSize: 5 }),
      new TransportError.TruncatedFrameError({ part: "body", expected: 10, received: 3 })
    ]
    for (const error of errors) {
      assert.isTrue(TransportError.isTransportError(error))
      assert.isTrue(error.message.length > 0)
    }
    assert.include(errors[0]!.message, "ECONNREFUSED")
    assert.include(errors[0]!.message, "127.0.0.1:9876")
    assert.include(errors[1]!.message, "3s")
    assert.include(errors[2]!.message, "port")
    assert.include(errors[2]!.message, "70000")
    assert.include(errors[3]!.message, "Closed")
    assert.include(errors[3]!.message, "Connect")
    assert.include(errors[5]!.message, "10")
    assert.include(errors[6]!.message, "expected 10 bytes, received 3")
    assert.isFalse(TransportError.isTransportError(new Error("x")))
    assert.isFalse(TransportError.isTransportError(null))
  })

  it("names the protocol behind a garbage length prefix", () => {
    const seen = (bytes: Array<number>) =>
      new TransportError.FrameTooLargeError({
        direction: "inbound",
        size: new DataView(new Uint8Array(bytes).buffer).getUint32(0),
        maxSize: 1024,
        header: new Uint8Array(bytes)
      }).message
    assert.include(seen([0x50, 0x52, 0x49, 0x20]), "HTTP/2")
    assert.include(seen([0x50, 0x52, 0x49, 0x20]), "1347569952")
    assert.include(seen([0x16, 0x03, 0x01, 0x02]), "TLS")
    assert.include(seen([0x47, 0x45, 0x54, 0x20]), "HTTP/1")
    assert.include(seen([0xff, 0xff, 0xff, 0xff]), "ff ff ff ff")
    assert.include(seen([0x15, 0x03, 0x03, 0x00]), "a TLS alert record: the peer speaks TLS")
  })

  it("says why a TLS handshake failed, and what OpenSSL or a wrapped socket error says, without the noise", () => {
    // As Node raises them: OpenSSL's message is a whole error-queue entry; `reason` is the readable part.
    const openssl = Object.assign(
      new Error(
        "80CC4555AF7F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:" +
          "../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n"
      ),
      { library: "SSL routines", reason: "sslv3 alert bad certificate", code: "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE" }
    )
    const handshake = new TransportError.ConnectionError({
      reason: "Tls",
      address: "broker:8081",
      tls: "PeerRejected",
      cause: openssl
    })
    assert.strictEqual(
      handshake.message,
      "TLS handshake with broker:8081 failed: the server refused the handshake: sslv3 alert bad certificate " +
        "(ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE)"
    )
    const expired = new TransportError.ConnectionError({
      reason: "Tls",
      address: "broker:8081",
      tls: "CertificateExpired",
      cause: Object.assign(new Error("certificate has expired"), { code: "CERT_HAS_EXPIRED" })
    })
    assert.strictEqual(
      expired.message,
      "TLS handshake with broker:8081 failed: the server's certificate has expired: certificate has expired"
    )
    // A read that failed on the alert after a TLS 1.3 handshake: the socket error wraps OpenSSL's.
    const read = new TransportError.ConnectionError({
      reason: "Read",
      address: "broker:8081",
      generation: 1,
      cause: new Socket.SocketGenericError({ reason: "Read", cause: openssl })
    })
    assert.strictEqual(
      read.message,
      "reading from broker:8081 (generation 1) failed: sslv3 alert bad certificate (ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE)"
    )
  })

  it.effect("errors are yieldable and matchable by tag", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(
        new TransportError.ConnectionClosedError({ address: "a:1", operation: "send" })
      )
      assert.isTrue(Either.isLeft(result))
      const recovered = yield* new TransportError.TimeoutError({
        operation: "send",
        timeout: Duration.millis(5),
        address: "a:1"
      }).pipe(Effect.catchTag("TimeoutError", (e) => Effect.succeed(e.operation)))
      assert.strictEqual(recovered, "send")
    }))
})
