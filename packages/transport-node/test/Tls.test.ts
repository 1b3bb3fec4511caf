import { afterAll, assert, describe, it } from "@effect/vitest"
import { KiB, pattern, sameBytes } from "@rocketmq-effect/test-kit/Bytes"
import * as NodeTransport from "@rocketmq-effect/transport-node/NodeTransport"
import * as TlsConfig from "@rocketmq-effect/transport-node/TlsConfig"
import * as TransportServer from "@rocketmq-effect/transport-node/TransportServer"
import type * as Transport from "@rocketmq-effect/transport/Transport"
import type * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import type { ConnectionError, TlsFailure, TransportError } from "@rocketmq-effect/transport/TransportError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { EventEmitter } from "node:events"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Tls from "node:tls"
import { readChunks } from "../src/internal/netSocket.js"
import { listenPlain } from "./PlainPeers.js"
import { configFor, echoServer, isConnected, live, recordStates } from "./TcpFixtures.js"
import { type Certificates, makeCertificatesSync, opensslAvailable } from "./TlsCertificates.js"

const isCI = process.env.CI === "true"
const hasOpenssl = opensslAvailable()
if (!hasOpenssl) {
  if (isCI) throw new Error("openssl is required for the TLS tests (apt-get install openssl)")
  console.warn("skipping the TLS tests: openssl not found")
}

const tlsTransport = (
  config: TransportConfig.TransportConfig,
  tls: TlsConfig.TlsConfig,
  options?: Transport.Options
): Effect.Effect<Transport.TransportService, never, Scope.Scope> =>
  Effect.map(Layer.build(NodeTransport.layer(config, { ...options, tls })), Context.get(NodeTransport.NodeTransport))

/** Waits for the connection, then one frame of `size` bytes goes out and comes back intact. */
const echoes = (transport: Transport.TransportService, size: number) =>
  Effect.gen(function*() {
    yield* transport.awaitConnected
    yield* transport.send(pattern(size))
    assert.isTrue(sameBytes(yield* transport.recvPkg(), pattern(size)))
  })

/** A plain TCP relay to the port `upstream()` names when each connection arrives; `arrivals` their times. */
const relay = (upstream: () => number) =>
  Effect.gen(function*() {
    const arrivals: Array<number> = []
    const server = yield* listenPlain((socket) => {
      arrivals.push(Date.now())
      const to = Net.connect(upstream(), "127.0.0.1")
      socket.pipe(to).pipe(socket)
      to.on("error", () => socket.destroy())
      socket.on("error", () => to.destroy())
    })
    return { port: server.port, arrivals }
  })

const tlsOf = (input: TlsConfig.TlsConfigInput) => Effect.orDie(TlsConfig.make(input))

/** Connects once (no retries) and returns why the attempt failed. */
const failedConnect = (
  port: number,
  tls: TlsConfig.TlsConfig,
  changes: Partial<TransportConfig.TransportConfigInput> = {}
) =>
  Effect.gen(function*() {
    const transport = yield* tlsTransport(yield* configFor(port, { maxRetries: 0, ...changes }), tls)
    const error = yield* transport.awaitConnected.pipe(Effect.flip, Effect.timeout("10 seconds"))
    assert.strictEqual(error._tag, "ConnectionError")
    const exhausted = error as ConnectionError
    assert.strictEqual(exhausted.reason, "RetriesExhausted")
    return exhausted.cause as TransportError
  })

const assertTls = (error: TransportError, tls: TlsFailure, message: RegExp) => {
  assert.strictEqual(error._tag, "ConnectionError")
  const connection = error as ConnectionError
  assert.strictEqual(connection.reason, "Tls", connection.message)
  assert.strictEqual(connection.tls, tls, connection.message)
  assert.match(connection.message, message)
}

/** A TLS server on 127.0.0.1 presenting `identity`, echoing frames. */
const tlsEcho = (
  certs: Certificates,
  identity: keyof Pick<Certificates, "server" | "expired" | "wrongHost">,
  extra: Partial<TransportServer.ServerTlsOptions> = {}
) => echoServer({ tls: { cert: certs[identity].cert, key: certs[identity].key, ...extra } })

const suite = hasOpenssl ? describe : describe.skip

// One set of certificates for the whole file (making them takes about a second).
let shared: Certificates | undefined
const sharedDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "rocketmq-effect-tls-test-"))
afterAll(() => Fs.rmSync(sharedDir, { recursive: true, force: true }))
const certificates: Effect.Effect<Certificates> = Effect.sync(() => shared ??= makeCertificatesSync(sharedDir))

suite("TLS", () => {
  describe("round trips", () => {
    live(
      "frames of every size arrive byte-exact over TLS (record boundaries at 16 KiB included)",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const server = yield* tlsEcho(certs, "server")
          const tls = yield* tlsOf({ ca: certs.ca })
          assert.isTrue(tls.customCa)
          const transport = yield* tlsTransport(yield* configFor(server.address.port), tls)
          yield* transport.awaitConnected
          const sizes = [0, 1, 100, 16 * KiB - 1, 16 * KiB, 16 * KiB + 1, 200 * KiB, 1000 * KiB]
          const payloads = sizes.map((size, i) => pattern(size, i))
          yield* Effect.forEach(payloads, (payload) => transport.send(payload), { discard: true })
          for (const payload of payloads) {
            const received = yield* transport.recvPkg()
            assert.isTrue(sameBytes(received, payload), `a frame of ${payload.length} bytes`)
          }
        })
    )

    live("mutual TLS: the server requires a certificate signed by its CA, and gets one", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const server = yield* tlsEcho(certs, "server", { ca: certs.ca, requestCert: true })
        const tls = yield* tlsOf({ ca: certs.ca, cert: certs.client.cert, key: certs.client.key })
        assert.isTrue(tls.mutual)
        const transport = yield* tlsTransport(yield* configFor(server.address.port), tls)
        yield* echoes(transport, 5000)
      }))

    live("serverName: connecting to an IP checks the certificate for the name given", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const server = yield* tlsEcho(certs, "wrongHost")
        const transport = yield* tlsTransport(
          yield* configFor(server.address.port),
          yield* tlsOf({ ca: certs.ca, serverName: "other.example" })
        )
        yield* echoes(transport, 10)
      }))

    live("the Promise client connects over TLS too", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const server = yield* tlsEcho(certs, "server")
        const client = yield* Effect.promise(() =>
          NodeTransport.makeClient(
            { host: "localhost", port: server.address.port, retryInterval: "50 millis" },
            { tls: { ca: certs.ca } }
          )
        )
        yield* Effect.addFinalizer(() => Effect.promise(() => client.stop()))
        yield* Effect.promise(() => client.awaitConnected())
        yield* Effect.promise(() => client.send(pattern(300)))
        assert.isTrue(sameBytes(yield* Effect.promise(() => client.recvPkg()), pattern(300)))
      }))

    live(
      "a TLS server with no TLS client: a plaintext transport sees the connection closed",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const server = yield* tlsEcho(certs, "server")
          const transport = yield* Effect.map(
            Layer.build(NodeTransport.layer(yield* configFor(server.address.port, { maxRetries: 0 }))),
            Context.get(NodeTransport.NodeTransport)
          )
          yield* transport.awaitConnected
          yield* transport.send(pattern(100))
          // Node's TLS server reads the frame as a broken ClientHello and closes without an alert.
          const error = yield* transport.recvPkg().pipe(Effect.flip, Effect.timeout("5 seconds"))
          assert.strictEqual(error._tag, "ConnectionError")
          assert.include(["PeerClosed", "Disconnected", "Read"], (error as ConnectionError).reason)
        })
    )
  })

  describe("handshake failures are typed and say why", () => {
    live("a server certificate from an unknown CA", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const server = yield* tlsEcho(certs, "server")
        assertTls(
          yield* failedConnect(server.address.port, yield* tlsOf({ ca: certs.otherCa })),
          "UntrustedCertificate",
          /TLS handshake with 127\.0\.0\.1:\d+ failed: the server's certificate is not signed by a trusted CA/
        )
        // Node's bundled CAs do not know the test CA either.
        assertTls(yield* failedConnect(server.address.port, yield* tlsOf({})), "UntrustedCertificate", /trusted CA/)
      }))

    live("an expired server certificate", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const server = yield* tlsEcho(certs, "expired")
        assertTls(
          yield* failedConnect(server.address.port, yield* tlsOf({ ca: certs.ca })),
          "CertificateExpired",
          /has expired: certificate has expired/
        )
      }))

    live("a certificate for another host", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const server = yield* tlsEcho(certs, "wrongHost")
        assertTls(
          yield* failedConnect(server.address.port, yield* tlsOf({ ca: certs.ca })),
          "HostnameMismatch",
          /not for this host: .*127\.0\.0\.1 is not in the cert's list/
        )
      }))

    live(
      "rejectUnauthorized: false encrypts without authenticating (any of the bad certificates)",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const server = yield* tlsEcho(certs, "expired")
          const transport = yield* tlsTransport(
            yield* configFor(server.address.port),
            yield* tlsOf({ ca: certs.otherCa, rejectUnauthorized: false })
          )
          yield* echoes(transport, 7)
        })
    )

    live("TLS to a plaintext port: an echo answers the ClientHello with non-TLS bytes", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const server = yield* listenPlain((socket) => socket.pipe(socket))
        assertTls(
          yield* failedConnect(server.port, yield* tlsOf({ ca: certs.ca })),
          "NotTls",
          /does not speak TLS/
        )
      }))

    live(
      "TLS to a framed plaintext server: it rejects the ClientHello's length and closes",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const server = yield* echoServer()
          assertTls(
            yield* failedConnect(server.address.port, yield* tlsOf({ ca: certs.ca })),
            "ClosedDuringHandshake",
            /closed the connection during the handshake/
          )
        })
    )

    live("no TLS version both accept", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const server = yield* tlsEcho(certs, "server", { maxVersion: "TLSv1.2" })
        assertTls(
          yield* failedConnect(server.address.port, yield* tlsOf({ ca: certs.ca, minVersion: "TLSv1.3" })),
          "VersionMismatch",
          /no TLS version both sides accept/
        )
      }))

    live(
      "mutual TLS over TLS 1.2: a client without a certificate is refused in the handshake",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const server = yield* tlsEcho(certs, "server", { ca: certs.ca, requestCert: true, maxVersion: "TLSv1.2" })
          assertTls(
            yield* failedConnect(server.address.port, yield* tlsOf({ ca: certs.ca })),
            "PeerRejected",
            /the server refused the handshake/
          )
        })
    )

    live(
      "mutual TLS over TLS 1.3: an untrusted client certificate is refused after the handshake, as a read",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const server = yield* tlsEcho(certs, "server", { ca: certs.ca, requestCert: true })
          const transport = yield* tlsTransport(
            yield* configFor(server.address.port, { maxRetries: 0 }),
            yield* tlsOf({ ca: certs.ca, cert: certs.untrustedClient.cert, key: certs.untrustedClient.key })
          )
          const states = yield* recordStates(transport)
          const dropped = yield* states.next((s) => s._tag === "Disconnected" && Option.isSome(s.cause))
          const cause = Option.getOrThrow(dropped._tag === "Disconnected" ? dropped.cause : Option.none())
          assert.strictEqual(cause._tag, "ConnectionError")
          // Node reports the server's alert as an error when a read or write meets it, and as a plain end when
          // the close arrives first: either way the new connection drops at once, and is not a failed connect.
          const reason = (cause as ConnectionError).reason
          assert.include(["Read", "PeerClosed"], reason)
          if (reason === "Read") assert.match((cause as ConnectionError).message, /alert/i)
        })
    )

    live(
      "the handshake is inside connectTimeout: a server that accepts and never answers",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const silent = yield* listenPlain()
          const error = yield* failedConnect(silent.port, yield* tlsOf({ ca: certs.ca }), {
            connectTimeout: "300 millis"
          })
          assert.strictEqual(error._tag, "TimeoutError")
          assert.match(error.message, /connect to 127\.0\.0\.1:\d+ timed out after 300ms/)
        })
    )

    live(
      "a certificate error is retried on the schedule: every attempt fails the same, then it gives up",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const server = yield* tlsEcho(certs, "expired")
          const handshakes: Array<number> = []
          const inner = server.address.port
          // Counts the TCP connections that reach the TLS server, through a relay in front of it.
          const relay = yield* listenPlain((socket) => {
            handshakes.push(Date.now())
            const upstream = Net.connect(inner, "127.0.0.1")
            socket.pipe(upstream).pipe(socket)
            upstream.on("error", () => socket.destroy())
            socket.on("error", () => upstream.destroy())
          })
          const transport = yield* tlsTransport(
            yield* configFor(relay.port, { maxRetries: 3, retryInterval: "100 millis" }),
            yield* tlsOf({ ca: certs.ca })
          )
          const error = yield* transport.awaitConnected.pipe(Effect.flip, Effect.timeout("10 seconds"))
          const exhausted = error as ConnectionError
          assert.strictEqual(exhausted.reason, "RetriesExhausted")
          assert.strictEqual(exhausted.attempts, 4)
          assertTls(exhausted.cause as TransportError, "CertificateExpired", /has expired/)
          assert.strictEqual(handshakes.length, 4)
          for (let i = 1; i < handshakes.length; i++) assert.isAtLeast(handshakes[i]! - handshakes[i - 1]!, 90)
          // A later start begins a fresh round, which fails the same way: nothing heals by itself.
          yield* transport.start
          const again = yield* transport.awaitConnected.pipe(Effect.flip, Effect.timeout("10 seconds"))
          assert.strictEqual((again as ConnectionError).reason, "RetriesExhausted")
          assert.strictEqual(handshakes.length, 8)
        })
    )

    live("a server that fixes its certificate is reached by the next attempt", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const server = yield* tlsEcho(certs, "expired")
        let upstream = server.address.port
        const front = yield* relay(() => upstream)
        const transport = yield* tlsTransport(
          yield* configFor(front.port, { retryInterval: "100 millis" }),
          yield* tlsOf({ ca: certs.ca })
        )
        const states = yield* recordStates(transport)
        yield* states.next((s) => s._tag === "Disconnected" && s.attempts >= 2)
        const renewed = yield* tlsEcho(certs, "server")
        upstream = renewed.address.port
        yield* states.next(isConnected())
        yield* echoes(transport, 50)
      }))
  })

  describe("TlsConfig", () => {
    it.effect("names the field of every bad input at once", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(TlsConfig.make({
          cert: "x",
          minVersion: "TLSv1.0" as TlsConfig.TlsVersion,
          serverName: "",
          rejectUnauthorized: "yes" as unknown as boolean
        }))
        assert.deepStrictEqual(error.issues?.map((issue) => issue.field), [
          "key",
          "serverName",
          "rejectUnauthorized",
          "minVersion"
        ])
        assert.match(error.message, /key is required with cert/)
      }))

    it.scoped("PEM Node cannot use is reported with its field and Node's reason", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const badCa = yield* Effect.flip(TlsConfig.make({ ca: "not a certificate" }))
        assert.strictEqual(badCa.field, "ca")
        const badKey = yield* Effect.flip(TlsConfig.make({ cert: certs.client.cert, key: certs.server.key }))
        assert.strictEqual(badKey.field, "key")
        assert.match(badKey.message, /key is not usable: .*key values mismatch/)
        const badCert = yield* Effect.flip(
          TlsConfig.make({ cert: "-----BEGIN CERTIFICATE-----\nAAAA\n", key: certs.client.key })
        )
        assert.strictEqual(badCert.field, "cert")
      }))

    it.effect("the layer fails with the ConfigurationError before any connection", () =>
      Effect.gen(function*() {
        const error = yield* Layer.build(NodeTransport.layer({ port: 1 }, { tls: { key: "k" } })).pipe(
          Effect.scoped,
          Effect.flip
        )
        assert.strictEqual(error._tag, "ConfigurationError")
        assert.strictEqual((error as { field?: string }).field, "cert")
      }))

    it.scoped("from the environment: files are read, TLS_ENABLED guards the rest", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const load = (entries: ReadonlyArray<readonly [string, string]>) =>
          Effect.withConfigProvider(TlsConfig.config(), ConfigProvider.fromMap(new Map(entries))).pipe(Effect.either)
        const off = yield* load([])
        assert.isTrue(off._tag === "Right" && Option.isNone(off.right))
        const on = yield* load([
          ["TRANSPORT_TLS_ENABLED", "true"],
          ["TRANSPORT_TLS_CA_FILE", certs.caFile],
          ["TRANSPORT_TLS_CERT_FILE", certs.client.certFile],
          ["TRANSPORT_TLS_KEY_FILE", certs.client.keyFile],
          ["TRANSPORT_TLS_SERVER_NAME", "localhost"],
          ["TRANSPORT_TLS_MIN_VERSION", "TLSv1.3"]
        ])
        assert.strictEqual(on._tag, "Right")
        if (on._tag === "Right") {
          const tls = Option.getOrThrow(on.right)
          assert.deepStrictEqual([tls.mutual, tls.customCa, tls.serverName, tls.minVersion, tls.rejectUnauthorized], [
            true,
            true,
            "localhost",
            "TLSv1.3",
            true
          ])
        }
        const halfMade = yield* load([["TRANSPORT_TLS_CA_FILE", certs.caFile]])
        assert.strictEqual(halfMade._tag, "Left")
        if (halfMade._tag === "Left") {
          assert.match(String(halfMade.left), /TRANSPORT_TLS_ENABLED.*must be true when TRANSPORT_TLS_CA_FILE is set/)
        }
        const missing = yield* load([["TRANSPORT_TLS_ENABLED", "yes"], [
          "TRANSPORT_TLS_CA_FILE",
          "/nonexistent/ca.pem"
        ]])
        assert.strictEqual(missing._tag, "Left")
        if (missing._tag === "Left") {
          assert.match(String(missing.left), /TRANSPORT_TLS_CA_FILE.*cannot read \/nonexistent\/ca\.pem/)
        }
        const badVersion = yield* load([["TRANSPORT_TLS_ENABLED", "true"], ["TRANSPORT_TLS_MIN_VERSION", "SSLv3"]])
        assert.strictEqual(badVersion._tag, "Left")
      }))

    live("layerConfig connects over TLS when the environment says so", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const server = yield* tlsEcho(certs, "server")
        const env = ConfigProvider.fromMap(
          new Map([
            ["TRANSPORT_HOST", "localhost"],
            ["TRANSPORT_PORT", String(server.address.port)],
            ["TRANSPORT_RETRY_INTERVAL", "0.05"],
            ["TRANSPORT_TLS_ENABLED", "true"],
            ["TRANSPORT_TLS_CA_FILE", certs.caFile]
          ])
        )
        const context = yield* Layer.build(NodeTransport.layerConfig()).pipe(Effect.withConfigProvider(env))
        const transport = Context.get(context, NodeTransport.NodeTransport)
        yield* echoes(transport, 64)
      }))
  })

  describe("reading a TLS socket", () => {
    /**
     * A TLS server that writes each of `records` once the previous one was written (so each is a TLS record
     * of its own), then ends or just closes; `written` completes when it is done.
     */
    const burst = (certs: Certificates, records: ReadonlyArray<Buffer>, finish: "end" | "destroy") =>
      Effect.gen(function*() {
        const written = yield* Deferred.make<void>()
        const server = yield* Effect.acquireRelease(
          Effect.async<Tls.Server>((resume) => {
            const server = Tls.createServer({ cert: certs.server.cert, key: certs.server.key }, (socket) => {
              socket.on("error", () => {})
              const next = (i: number): void => {
                if (i < records.length) {
                  socket.write(records[i]!, () => next(i + 1))
                  return
                }
                if (finish === "end") socket.end()
                else socket.destroy()
                Deferred.unsafeDone(written, Exit.void)
              }
              next(0)
            })
            server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
          }),
          (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
        )
        return { port: (server.address() as Net.AddressInfo).port, written }
      })

    /**
     * Connects, holds the socket paused until the server has written everything (so that all of it is one
     * read), then reads it with `coalesce`, recording which chunks were handed over with no microtask run
     * between them.
     */
    const readAll = (port: number, ca: string, written: Deferred.Deferred<void>) =>
      Effect.gen(function*() {
        const socket = Tls.connect({ host: "127.0.0.1", port, ca })
        yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
        socket.on("error", () => {})
        yield* Effect.async<void>((resume) => {
          socket.once("secureConnect", () => {
            socket.pause()
            resume(Effect.void)
          })
        })
        yield* Deferred.await(written)
        yield* Effect.sleep("100 millis")
        return yield* Effect.async<{ turns: Array<Array<Uint8Array>>; end: unknown }>((resume) => {
          const turns: Array<Array<Uint8Array>> = []
          let current: Array<Uint8Array> | undefined
          readChunks(socket, { coalesce: true })((chunk) => {
            if (current === undefined) {
              current = []
              turns.push(current)
              // A new group whenever microtasks (where a resumed fiber runs) got to run since the last chunk.
              queueMicrotask(() => (current = undefined))
            }
            current.push(chunk)
          }, (end) => resume(Effect.succeed({ turns, end })))
          socket.resume()
        })
      })

    it("coalesce: chunks emitted with microtasks between them are handed over together", async () => {
      // A stand-in for a TLS socket whose records come in separate reads, each followed by the microtasks a
      // resumed fiber would run in: what a real link does under load, which a test cannot time on its own.
      const emitter = new EventEmitter() as unknown as Net.Socket
      Object.defineProperty(emitter, "destroyed", { value: false })
      const groups = (coalesce: boolean) =>
        new Promise<Array<number>>((resolve) => {
          const sizes: Array<number> = []
          let current = 0
          readChunks(emitter, { coalesce })(() => {
            if (current === 0) {
              sizes.push(0)
              queueMicrotask(() => (current = 0))
            }
            current++
            sizes[sizes.length - 1] = current
          }, () => resolve(sizes))
          const emit = (i: number): void => {
            if (i === 20) {
              setImmediate(() => emitter.emit("end"))
              return
            }
            emitter.emit("data", new Uint8Array([i]))
            queueMicrotask(() => emit(i + 1))
          }
          emit(0)
        })
      assert.deepStrictEqual(await groups(false), Array.from({ length: 20 }, () => 1))
      assert.deepStrictEqual(await groups(true), [20])
    })

    live("coalesce: records are handed over whole and in order, before the end", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const records = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000, i))
        const server = yield* burst(certs, records, "end")
        const { end, turns } = yield* readAll(server.port, certs.ca, server.written)
        assert.strictEqual(end, undefined)
        const all = turns.flat()
        assert.strictEqual(all.length, 50, "one chunk per record")
        assert.isTrue(all.every((chunk, i) => chunk.length === 1000 && chunk[0] === i))
        assert.isAtLeast(turns.length, 1)
      }))

    live("coalesce: what arrived before an abrupt close is handed over, then the close", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const records = Array.from({ length: 5 }, (_, i) => Buffer.alloc(100, i))
        const server = yield* burst(certs, records, "destroy")
        const { end, turns } = yield* readAll(server.port, certs.ca, server.written)
        assert.deepStrictEqual(turns.flat().map((chunk) => chunk[0]), [0, 1, 2, 3, 4])
        // No close_notify: Node reports the close as an error or as a plain end, after the data either way.
        void end
      }))
  })

  describe("TransportServer over TLS", () => {
    live(
      "a plain node:tls client talks to it; a failed handshake never reaches the handler",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          let served = 0
          const server = yield* TransportServer.make({ tls: { cert: certs.server.cert, key: certs.server.key } })
          yield* server.serve((connection) => {
            served++
            return TransportServer.echo(connection)
          })
          const untrusting = Tls.connect({ host: "127.0.0.1", port: server.address.port, ca: certs.otherCa })
          const failure = yield* Effect.async<Error>((resume) => {
            untrusting.once("error", (error) => resume(Effect.succeed(error)))
          })
          assert.strictEqual((failure as { code?: string }).code, "UNABLE_TO_VERIFY_LEAF_SIGNATURE")
          const client = Tls.connect({
            host: "127.0.0.1",
            port: server.address.port,
            ca: certs.ca,
            servername: "localhost"
          })
          yield* Effect.addFinalizer(() => Effect.sync(() => client.destroy()))
          const frame = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from("abc")])
          const echoed = yield* Effect.async<Buffer>((resume) => {
            client.once("secureConnect", () => client.write(frame))
            client.once("data", (data: Buffer) => resume(Effect.succeed(data)))
          })
          assert.deepStrictEqual(echoed, frame)
          assert.strictEqual(served, 1)
          assert.strictEqual(yield* server.connectionCount, 1)
        })
    )

    it.scoped("a certificate or key Node cannot use fails make, typed", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const error = yield* Effect.flip(
          TransportServer.make({ tls: { cert: certs.server.cert, key: certs.client.key } })
        )
        assert.strictEqual(error._tag, "TransportServerError")
        assert.match(error.message, /could not listen on 127\.0\.0\.1:0: .*key values mismatch/)
      }))

    live("closing the server closes connections still in their handshake", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const closed = yield* Effect.scoped(Effect.gen(function*() {
          const server = yield* TransportServer.make({ tls: { cert: certs.server.cert, key: certs.server.key } })
          const silent = Net.connect(server.address.port, "127.0.0.1")
          yield* Effect.async<void>((resume) => {
            silent.once("connect", () => resume(Effect.void))
          })
          return silent
        })).pipe(Effect.timeout("3 seconds"))
        yield* Effect.async<void>((resume) => {
          if (closed.destroyed || closed.readableEnded) return resume(Effect.void)
          closed.once("close", () => resume(Effect.void))
        })
      }))
  })
})
