/**
 * TLS between the Node connector and Netty 4.1's `SslHandler` over the JDK engine (`SslProvider.JDK`, as
 * RocketMQ's server uses it without netty-tcnative), in front of the framing of RocketMQ's Java remoting
 * (`interop/netty/NettyEchoPeer.java` with `--tls-*`).
 *
 * - Round trips, byte-exact: sizes around the 16 KiB TLS record, 1 MiB and the largest frame Netty takes, and
 *   hundreds of small frames pipelined in one write, over TLS 1.2 (what Netty 4.1.48's JDK context settles
 *   on by default) and TLS 1.3; mutual TLS with the client's certificate seen by Netty; the Promise API.
 * - Netty's certificates refused by the client: an unknown CA, another host's certificate, an expired one,
 *   each a `ConnectionError` with `reason: "Tls"` and its `tls` kind; the transport retries it on its schedule.
 *   Node checks the certificate after OpenSSL's handshake is done, so Netty logs a completed handshake and then
 *   a close, with no alert.
 * - Netty refusing the client under `ClientAuth.REQUIRE`: no certificate, or one no trusted CA signed. Under
 *   TLS 1.2 the connect fails (`tls: "PeerRejected"`); under TLS 1.3 the client's handshake is done before the
 *   server reads its certificate, so the connection comes up and then fails with `reason: "Read"`.
 * - A TLS 1.3-only client against a TLS 1.2-only Netty: `tls: "VersionMismatch"`.
 * - The wrong protocol on either side: plaintext to Netty's TLS port (Netty answers nothing and closes), and
 *   TLS to Netty's plaintext port (Netty reads the ClientHello's record header as a frame length and closes).
 *
 * Every test prints what it saw (`[name] {...}`) for the record. Needs javac, java, Debian's libnetty-java
 * (with netty-handler) and openssl: skipped with the reason outside CI when absent, failed with `CI=true`.
 */
import { assert, describe } from "@effect/vitest"
import { KiB, MiB, pattern, sameBytes } from "@rocketmq-effect/test-kit/Bytes"
import * as Causes from "@rocketmq-effect/test-kit/Causes"
import * as Live from "@rocketmq-effect/test-kit/Live"
import * as Prerequisites from "@rocketmq-effect/test-kit/Prerequisites"
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import * as NodeTransport from "@rocketmq-effect/transport-node/NodeTransport"
import type * as TlsConfig from "@rocketmq-effect/transport-node/TlsConfig"
import type * as ConnectionState from "@rocketmq-effect/transport/ConnectionState"
import * as Transport from "@rocketmq-effect/transport/Transport"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import type { ConnectionError, TlsFailure } from "@rocketmq-effect/transport/TransportError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import * as Peers from "./InteropPeers.js"
import { type Certificates, makeCertificatesSync, opensslAvailable } from "./TlsCertificates.js"

const prerequisites: Prerequisites.Availability<string> = (() => {
  const netty = Prerequisites.netty()
  if (opensslAvailable()) return netty
  const openssl = "openssl (apt-get install openssl)"
  return { _tag: "Missing", reason: netty._tag === "Missing" ? `${netty.reason}; ${openssl}` : `not found: ${openssl}` }
})()
const skip = Prerequisites.skipReason(prerequisites)
if (skip !== undefined) console.warn(`TlsInterop: skipping (CI would fail these tests): ${skip}`)

// ---- fixtures -----------------------------------------------------------------------------------------------

/** The certificates, made once for the file on first use and removed after it. */
let made: Certificates | undefined
const certificates: Effect.Effect<Certificates, Error> = Effect.try({
  try: () => (made ??= makeCertificatesSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "rocketmq-effect-tls-interop-")))),
  catch: (cause) => cause instanceof Error ? cause : new Error(String(cause))
})

afterAll(() => {
  Peers.removeBuilds()
  if (made !== undefined) Fs.rmSync(made.dir, { recursive: true, force: true })
})

const classpath = Peers.requireAvailable(prerequisites)

/** Starts the Netty peer, TLS with `tls` (plaintext without), and returns it with the certificates. */
const startPeer = (tls?: (certs: Certificates) => Peers.NettyTls) =>
  Effect.gen(function*() {
    // The prerequisites first: with CI=true and one missing, that is the failure to report.
    const cp = yield* classpath
    const certs = yield* certificates
    const peer = yield* Peers.startNettyPeer(cp, tls === undefined ? {} : { tls: tls(certs) })
    return { certs, peer }
  })

/** Netty with the CA-signed server certificate for localhost / 127.0.0.1. */
const serverIdentity = (certs: Certificates): Peers.NettyTls => ({
  certFile: certs.server.certFile,
  keyFile: certs.server.keyFile
})

const transportConfig = (port: number) =>
  TransportConfig.make({
    host: "127.0.0.1",
    port,
    timeout: "30 seconds",
    connectTimeout: "5 seconds",
    retryInterval: "100 millis",
    maxMessageSize: Peers.NETTY_MAX_PAYLOAD
  })

/** A TLS transport to 127.0.0.1:`port` in the test's scope, not awaited. */
const tlsTransport = (port: number, tls: TlsConfig.TlsConfigInput, options?: Transport.Options) =>
  Effect.gen(function*() {
    const config = yield* transportConfig(port)
    const context = yield* Layer.build(NodeTransport.layer(config, { ...options, tls }))
    return Context.get(context, Transport.Transport)
  })

/** A TLS transport, connected. */
const connectTls = (port: number, tls: TlsConfig.TlsConfigInput, options?: Transport.Options) =>
  Effect.tap(
    tlsTransport(port, tls, options),
    (transport) => transport.awaitConnected.pipe(Effect.timeout("10 seconds"))
  )

/** One connect through the TLS connector, outside any transport: the handshake's outcome as it is. */
const handshake = (port: number, tls: TlsConfig.TlsConfigInput) =>
  Effect.gen(function*() {
    const connector = yield* NodeConnector.makeTls(tls)
    const config = yield* transportConfig(port)
    return yield* connector.connect(config).pipe(
      Effect.map((connection) => connection.remoteAddress),
      Effect.either,
      Effect.scoped,
      Effect.timeout("10 seconds")
    )
  })

/** The errors `cause` wraps, outermost first (a read failure is the platform's `SocketError` around Node's). */
const causeChain = (cause: unknown) => Causes.causeChain(cause, 5)

/** The first Node / OpenSSL error code in `cause`'s chain. */
const codeOf = (cause: unknown) => Causes.codeOf(cause, 5)

const messageOf = (cause: unknown): string | undefined =>
  causeChain(cause).map((c) =>
    Predicate.hasProperty(c, "message") && typeof c.message === "string" ? c.message.trim() : String(c)
  ).join(" <- ") || undefined

/** The handshake failed with `reason: "Tls"` and `tls`; returns the error. */
const assertTlsFailure = (
  result: Either.Either<string, ConnectionError>,
  tls: TlsFailure
): ConnectionError => {
  assert.isTrue(Either.isLeft(result), `expected the handshake to fail (${tls}), it connected`)
  const error = Either.getLeft(result).pipe(Option.getOrThrow)
  assert.strictEqual(error._tag, "ConnectionError")
  assert.strictEqual(error.reason, "Tls", error.message)
  assert.strictEqual(error.tls, tls, error.message)
  return error
}

const describeError = (error: ConnectionError) => ({
  reason: error.reason,
  tls: error.tls,
  code: codeOf(error.cause),
  cause: messageOf(error.cause),
  message: error.message
})

/** The first state that is `Disconnected` with a cause (the current one counts). */
const firstDrop = (transport: Transport.TransportService, accept: (attempts: number) => boolean = () => true) =>
  transport.changes.pipe(
    Stream.filter((state): state is ConnectionState.ConnectionState & { readonly _tag: "Disconnected" } =>
      state._tag === "Disconnected" && Option.isSome(state.cause) && accept(state.attempts)
    ),
    Stream.runHead,
    Effect.map(Option.getOrThrow),
    Effect.timeout("20 seconds")
  )

const connectionCause = (state: ConnectionState.ConnectionState & { readonly _tag: "Disconnected" }) => {
  const cause = Option.getOrThrow(state.cause)
  assert.strictEqual(cause._tag, "ConnectionError")
  return cause as ConnectionError
}

/** Around one TLS record (16 KiB of plaintext), then the large ones. */
const SIZES = [0, 1, 100, 16 * KiB - 5, 16 * KiB - 4, 16 * KiB - 3, 16 * KiB + 1, 64 * KiB + 7, MiB]
const PIPELINED = 500

/** Each size alone, then `PIPELINED` frames of 0–3 KiB in one write, read back in order. */
const echoSuite = (transport: Transport.TransportService) =>
  Effect.gen(function*() {
    const started = Date.now()
    for (const [i, size] of SIZES.entries()) yield* Peers.roundTrip(transport, pattern(size, i))
    const frames = Array.from({ length: PIPELINED }, (_, i) => pattern((i * 37) % (3 * KiB), 100 + i))
    yield* transport.sendAll(frames)
    for (const [i, frame] of frames.entries()) {
      const echoed = yield* transport.recvPkg()
      assert.isTrue(sameBytes(echoed, frame), `pipelined frame ${i} (${frame.length} bytes) differs`)
    }
    return Date.now() - started
  })

const tlsLine = (peer: Peers.Peer) =>
  peer.awaitLine((line) => line.startsWith("TLS_OK ") || line.startsWith("TLS_FAILED ")).pipe(
    Effect.timeout("10 seconds")
  )

const live = Live.make({ timeout: 60_000, skip, quiet: false, interruptBefore: 5_000 })

// ---- the tests ----------------------------------------------------------------------------------------------

describe(
  Prerequisites.suiteName("TlsInterop: Node connector and Netty 4.1 SslHandler (JDK engine)", prerequisites),
  () => {
    for (const protocols of [undefined, ["TLSv1.3"]] as const) {
      const expected = protocols === undefined ? "TLSv1.2" : "TLSv1.3"
      live(
        `round trips over ${expected}${protocols === undefined ? " (Netty 4.1.48's default)" : ""}: ` +
          `${SIZES.length} sizes to 1 MiB, ${PIPELINED} pipelined frames, then 16 MiB - 4, byte-exact`,
        () =>
          Effect.gen(function*() {
            const { certs, peer } = yield* startPeer((certs) => ({
              ...serverIdentity(certs),
              ...(protocols === undefined ? {} : { protocols })
            }))
            const connectStarted = Date.now()
            const transport = yield* connectTls(peer.port, { ca: certs.ca })
            const connectMs = Date.now() - connectStarted
            const line = yield* tlsLine(peer)
            assert.match(line, new RegExp(`^TLS_OK ${expected.replace(".", "\\.")} \\S+ - `), line)
            const echoMs = yield* echoSuite(transport)
            const bigStarted = Date.now()
            yield* Peers.roundTrip(transport, pattern(Peers.NETTY_MAX_PAYLOAD, 9))
            const bigMs = Date.now() - bigStarted
            yield* Peers.roundTrip(transport, pattern(3, 10))
            assert.strictEqual((yield* transport.awaitConnected).generation, 1)
            assert.isFalse(peer.lines().some((l) => /DECODE_ERROR|EXCEPTION/.test(l)), peer.lines().join("\n"))
            yield* Live.report(`round trips ${expected}`, { netty: line, connectMs, echoMs, largestFrameMs: bigMs })
          }),
        120_000
      )
    }

    live("mutual TLS: Netty requires a client certificate from the CA, and sees ours", () =>
      Effect.gen(function*() {
        const { certs, peer } = yield* startPeer((certs) => ({ ...serverIdentity(certs), clientCaFile: certs.caFile }))
        const transport = yield* connectTls(peer.port, { ca: certs.ca, cert: certs.client.cert, key: certs.client.key })
        const line = yield* tlsLine(peer)
        assert.match(line, /^TLS_OK \S+ \S+ CN=client\.test /, line)
        yield* Peers.roundTrip(transport, pattern(0, 1))
        yield* Peers.roundTrip(transport, pattern(256 * KiB, 2))
        yield* Live.report("mutual TLS", { netty: line })
      }))

    live("the Promise API (makeClient) over TLS, with serverName localhost", () =>
      Effect.gen(function*() {
        const { certs, peer } = yield* startPeer(serverIdentity)
        const client = yield* Effect.promise(() =>
          NodeTransport.makeClient(
            { host: "127.0.0.1", port: peer.port, connectTimeout: "5 seconds", retryInterval: "100 millis" },
            { tls: { ca: certs.ca, serverName: "localhost" } }
          )
        )
        const echoed = yield* Effect.promise(async () => {
          try {
            await client.awaitConnected()
            await client.send(pattern(5 * KiB, 3))
            return await client.recvPkg()
          } finally {
            await client.stop()
          }
        })
        assert.isTrue(sameBytes(echoed, pattern(5 * KiB, 3)))
        assert.match(yield* tlsLine(peer), /^TLS_OK /)
      }))

    describe("Netty's certificate refused by the client", () => {
      const cases: ReadonlyArray<{
        readonly name: string
        readonly identity: (certs: Certificates) => Peers.NettyTls
        readonly trust: (certs: Certificates) => TlsConfig.TlsConfigInput
        readonly tls: TlsFailure
      }> = [
        {
          name: "signed by a CA the client does not trust",
          identity: serverIdentity,
          trust: (certs) => ({ ca: certs.otherCa }),
          tls: "UntrustedCertificate"
        },
        {
          name: "issued for other.example (connecting to 127.0.0.1)",
          identity: (certs) => ({ certFile: certs.wrongHost.certFile, keyFile: certs.wrongHost.keyFile }),
          trust: (certs) => ({ ca: certs.ca }),
          tls: "HostnameMismatch"
        },
        {
          name: "issued for localhost, checked against serverName other.example",
          identity: serverIdentity,
          trust: (certs) => ({ ca: certs.ca, serverName: "other.example" }),
          tls: "HostnameMismatch"
        },
        {
          name: "expired in 2020",
          identity: (certs) => ({ certFile: certs.expired.certFile, keyFile: certs.expired.keyFile }),
          trust: (certs) => ({ ca: certs.ca }),
          tls: "CertificateExpired"
        }
      ]
      for (const c of cases) {
        // Node checks the server's certificate once OpenSSL's handshake is done, then destroys the socket: Netty
        // has finished its side (TLS 1.2, its default here) and sees a close, not an alert.
        live(
          `${c.name}: reason Tls, tls ${c.tls}; Netty's handshake completed, then the client closed`,
          () =>
            Effect.gen(function*() {
              const { certs, peer } = yield* startPeer(c.identity)
              const error = assertTlsFailure(yield* handshake(peer.port, c.trust(certs)), c.tls)
              const netty = yield* tlsLine(peer)
              assert.match(netty, /^TLS_OK TLSv1\.2 /, netty)
              yield* peer.awaitLine((l) => l.startsWith("CLOSED ")).pipe(Effect.timeout("10 seconds"))
              assert.isFalse(peer.lines().some((l) => /DECODE_ERROR|EXCEPTION/.test(l)), peer.lines().join("\n"))
              yield* Live.report(`refused: ${c.name}`, { ...describeError(error), netty: peer.lines().slice(1) })
            })
        )
      }

      live(
        "the transport retries a failed handshake on its reconnect schedule, never connecting",
        () =>
          Effect.gen(function*() {
            const { certs, peer } = yield* startPeer((certs) => ({
              certFile: certs.expired.certFile,
              keyFile: certs.expired.keyFile
            }))
            const transport = yield* tlsTransport(peer.port, { ca: certs.ca })
            const state = yield* firstDrop(transport, (attempts) => attempts >= 3)
            const error = connectionCause(state)
            assert.strictEqual(error.reason, "Tls", error.message)
            assert.strictEqual(error.tls, "CertificateExpired", error.message)
            assert.isTrue(Option.isSome(state.retryIn), "another attempt is scheduled")
            assert.strictEqual(state.generation, 0, "never connected")
            const opened = peer.lines().filter((l) => l.startsWith("OPEN ")).length
            assert.isAtLeast(opened, 3)
            yield* Live.report("retried", { attempts: state.attempts, opened, message: error.message })
          })
      )
    })

    describe("Netty refusing the client under ClientAuth.REQUIRE", () => {
      const clients: ReadonlyArray<{
        readonly name: string
        readonly identity: (certs: Certificates) => Pick<TlsConfig.TlsConfigInput, "cert" | "key">
        readonly alert: string
        readonly netty: RegExp
      }> = [
        {
          name: "no client certificate",
          identity: () => ({}),
          alert: "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
          netty: /^TLS_FAILED SSLHandshakeException: Empty client certificate chain/
        },
        {
          name: "a self-signed client certificate",
          identity: (certs) => ({ cert: certs.untrustedClient.cert, key: certs.untrustedClient.key }),
          alert: "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
          netty: /^TLS_FAILED SunCertPathBuilderException: unable to find valid certification path/
        }
      ]
      for (const client of clients) {
        live(`TLS 1.2, ${client.name}: the connect fails, reason Tls, tls PeerRejected`, () =>
          Effect.gen(function*() {
            const { certs, peer } = yield* startPeer((certs) => ({
              ...serverIdentity(certs),
              clientCaFile: certs.caFile,
              protocols: ["TLSv1.2"]
            }))
            const error = assertTlsFailure(
              yield* handshake(peer.port, { ca: certs.ca, ...client.identity(certs) }),
              "PeerRejected"
            )
            assert.strictEqual(codeOf(error.cause), client.alert, error.message)
            const netty = yield* tlsLine(peer)
            assert.match(netty, client.netty, netty)
            yield* Live.report(`REQUIRE, TLS 1.2, ${client.name}`, { ...describeError(error), netty })
          }))

        live(
          `TLS 1.3, ${client.name}: connected, then the first read fails (reason Read, the alert)`,
          () =>
            Effect.gen(function*() {
              const { certs, peer } = yield* startPeer((certs) => ({
                ...serverIdentity(certs),
                clientCaFile: certs.caFile,
                protocols: ["TLSv1.3"]
              }))
              const transport = yield* tlsTransport(peer.port, { ca: certs.ca, ...client.identity(certs) }, {
                stableAfter: "1 minute"
              })
              const state = yield* firstDrop(transport)
              const error = connectionCause(state)
              assert.strictEqual(error.reason, "Read", error.message)
              assert.strictEqual(codeOf(error.cause), client.alert, error.message)
              assert.strictEqual(state.generation, 1, "the connection came up first")
              const netty = yield* tlsLine(peer)
              assert.match(netty, client.netty, netty)
              yield* Live.report(`REQUIRE, TLS 1.3, ${client.name}`, { ...describeError(error), netty })
            })
        )
      }
    })

    live(
      "a TLS 1.3-only client and a TLS 1.2-only Netty: reason Tls, tls VersionMismatch",
      () =>
        Effect.gen(function*() {
          const { certs, peer } = yield* startPeer((certs) => ({ ...serverIdentity(certs), protocols: ["TLSv1.2"] }))
          const error = assertTlsFailure(
            yield* handshake(peer.port, { ca: certs.ca, minVersion: "TLSv1.3" }),
            "VersionMismatch"
          )
          assert.strictEqual(codeOf(error.cause), "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION", error.message)
          const netty = yield* tlsLine(peer)
          assert.match(netty, /^TLS_FAILED SSLHandshakeException: The client supported protocol versions \[TLSv1\.3\]/)
          yield* Live.report("version mismatch", { ...describeError(error), netty })
        })
    )

    live(
      "plaintext to Netty's TLS port: Netty answers nothing and closes; the transport sees PeerClosed",
      () =>
        Effect.gen(function*() {
          const { peer } = yield* startPeer(serverIdentity)
          // What comes back on the wire, byte for byte, for a frame written in plaintext.
          const raw = yield* rawExchange(peer.port, pattern(5, 1))
          assert.strictEqual(raw.received.length, 0, `Netty sent ${raw.received.toString("hex")}`)
          const netty = yield* tlsLine(peer)
          assert.match(netty, /^TLS_FAILED NotSslRecordException: not an SSL\/TLS record: 00000005/, netty)

          const config = yield* transportConfig(peer.port)
          const context = yield* Layer.build(NodeTransport.layer(config, { stableAfter: "1 minute" }))
          const transport = Context.get(context, Transport.Transport)
          yield* transport.awaitConnected.pipe(Effect.timeout("10 seconds"))
          yield* transport.send(pattern(100, 2))
          const state = yield* firstDrop(transport)
          const error = connectionCause(state)
          assert.strictEqual(error.reason, "PeerClosed", error.message)
          yield* Live.report("plaintext to TLS", {
            raw: { bytes: raw.received.length, hadError: raw.hadError, error: raw.error },
            transport: describeError(error),
            netty
          })
        })
    )

    live(
      "TLS to Netty's plaintext port: Netty reads the ClientHello as a frame length and closes",
      () =>
        Effect.gen(function*() {
          const { certs, peer } = yield* startPeer()
          const result = yield* handshake(peer.port, { ca: certs.ca })
          assert.isTrue(Either.isLeft(result), "expected the handshake to fail")
          const error = Option.getOrThrow(Either.getLeft(result))
          assert.strictEqual(error.reason, "Tls", error.message)
          assert.include(["ClosedDuringHandshake", "NotTls"], error.tls, error.message)
          const decode = yield* peer.awaitLine((l) => l.startsWith("DECODE_ERROR ")).pipe(Effect.timeout("10 seconds"))
          // "Adjusted frame length exceeds 16777216: <length + 4> - discarded": 16 03 01 <high byte of the record's
          // length> is a TLS handshake record (type 22, legacy version 3.1).
          const adjusted = Number(/exceeds \d+: (\d+)/.exec(decode)?.[1])
          assert.strictEqual((adjusted - 4) >>> 8, 0x160301, decode)
          yield* Live.report("TLS to plaintext", { ...describeError(error), netty: decode })
        })
    )
  }
)

/** Writes `payload` as one frame over plain TCP and collects every byte until the peer closes. */
const rawExchange = (port: number, payload: Uint8Array) =>
  Effect.async<{ readonly received: Buffer; readonly hadError: boolean; readonly error: string | undefined }>(
    (resume) => {
      const socket = Net.connect({ host: "127.0.0.1", port })
      const chunks: Array<Buffer> = []
      let error: string | undefined
      const frame = Buffer.alloc(4 + payload.length)
      frame.writeUInt32BE(payload.length, 0)
      frame.set(payload, 4)
      socket.on("connect", () => socket.write(frame))
      socket.on("data", (chunk: Buffer) => chunks.push(chunk))
      socket.on("error", (cause: Error) => {
        error = codeOf(cause) ?? cause.message
      })
      socket.on("close", (hadError) => resume(Effect.succeed({ received: Buffer.concat(chunks), hadError, error })))
      return Effect.sync(() => socket.destroy())
    }
  ).pipe(Effect.timeout("10 seconds"))
