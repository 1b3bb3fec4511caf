/**
 * The remoting client over TLS against a real Apache RocketMQ 5.3.3 broker (`RocketMQServers` with
 * `brokerTls`): `tls.server.mode=enforcing`, the test CA's certificate for localhost / 127.0.0.1, Netty's JDK
 * engine (no netty-tcnative on the servers' classpath), the NameServer and the broker's registration plaintext.
 *
 * - Over `NodeConnector.layerTls({ ca })`: UPDATE_AND_CREATE_TOPIC, SEND_MESSAGE_V2 of 1 B to 1 MiB, PULL_MESSAGE
 *   of them all back byte-exact, and a consumer HEART_BEAT.
 * - Plaintext to the enforcing broker: it reads the first bytes, sees no TLS handshake record (0x16), closes
 *   without a byte back and logs it; the call fails at once with the transport's `Disconnected`.
 * - The broker's certificate refused by the client (another CA, another name): `reason: "Tls"` in the cause
 *   of the call's timeout, and in the transport's state.
 * - The NameServer as RocketMQ leaves it by default (`permissive` with a self-signed test certificate) takes
 *   TLS too; our client refuses its certificate unless told not to check.
 * - A second broker requiring client certificates from the CA (`tls.server.need.client.auth=require`,
 *   `tls.server.authClient=true`): mutual TLS works; without a certificate, or with a self-signed one, the
 *   TLS 1.3 handshake completes on the client's side and the broker's alert arrives as a read failure.
 *
 * Each test prints what it saw (`[name] {...}`). Needs java, javac, mvn, Maven Central (or a warm ~/.m2) and
 * openssl: skipped with the reason outside CI when absent, failed with `CI=true`.
 */
import { assert, describe } from "@effect/vitest"
import { sameBytes } from "@rocketmq-effect/test-kit/Bytes"
import { causeChain, codeOf } from "@rocketmq-effect/test-kit/Causes"
import * as Live from "@rocketmq-effect/test-kit/Live"
import * as Prerequisites from "@rocketmq-effect/test-kit/Prerequisites"
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import * as TlsConfig from "@rocketmq-effect/transport-node/TlsConfig"
import type * as ConnectionState from "@rocketmq-effect/transport/ConnectionState"
import type { Connector } from "@rocketmq-effect/transport/Connector"
import * as Transport from "@rocketmq-effect/transport/Transport"
import type { ConfigurationError, ConnectionError } from "@rocketmq-effect/transport/TransportError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { makeCertificatesSync, opensslAvailable } from "../../transport-node/test/TlsCertificates.js"
import * as RemotingClient from "../src/RemotingClient.js"
import { RequestCode, ResponseCode } from "../src/RemotingCode.js"
import { request } from "../src/RemotingCommand.js"
import * as RouteData from "../src/RouteData.js"
import { createTopic, heartbeat, pullMessage, sendMessageV2 } from "./BrokerRequests.js"
import * as RocketMQServers from "./RocketMQServers.js"
import { bodyCrc, decodeMessages, type StoredMessage, writeProperties } from "./StoredMessages.js"

const prerequisites: Prerequisites.Availability<string> = await Effect.runPromise(RocketMQServers.availability).then(
  (servers) => {
    if (opensslAvailable()) return servers
    const openssl = "openssl (apt-get install openssl)"
    return Prerequisites.missing(servers._tag === "Missing" ? `${servers.reason}; ${openssl}` : `not found: ${openssl}`)
  }
)
const skip = Prerequisites.skipReason(prerequisites)
if (skip !== undefined) console.warn(`RocketMQTls: skipping (CI would fail these tests): ${skip}`)

/** The test CA and its certificates, made when the file loads (the brokers' options name the files). */
const certs = skip === undefined && opensslAvailable()
  ? makeCertificatesSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "rocketmq-effect-tls-broker-")))
  : undefined
afterAll(() => {
  if (certs !== undefined) Fs.rmSync(certs.dir, { recursive: true, force: true })
})
const certificates = () => {
  if (certs === undefined) throw new Error("RocketMQTls: no certificates (openssl missing)")
  return certs
}

const live = Live.make({ timeout: 90_000, skip, interruptBefore: 5_000 })

const notStarted = () => {
  throw new Error("not started")
}

// ---- clients ------------------------------------------------------------------------------------------------

/** A client with a transport of its own to 127.0.0.1:`port` over `connector`, in the test's scope. */
const makeClient = (
  port: number,
  connector: Layer.Layer<Connector, ConfigurationError>,
  defaultTimeout: Duration.DurationInput = "10 seconds"
) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      RemotingClient.layerTransport(
        { host: "127.0.0.1", port, retryInterval: "200 millis" },
        { defaultTimeout }
      ).pipe(Layer.provide(connector))
    )
    return {
      client: Context.get(context, RemotingClient.RemotingClient),
      transport: Context.get(context, Transport.Transport)
    }
  })

const tls = (input: TlsConfig.TlsConfig | TlsConfig.TlsConfigInput) => NodeConnector.layerTls(input)

// ---- what went wrong -----------------------------------------------------------------------------------------

/** Each error of the chain as `_tag:reason[:tls]` or Node's code, outermost first. */
const describeChain = (error: unknown): ReadonlyArray<string> =>
  causeChain(error).map((c) => {
    const e = c as { _tag?: unknown; reason?: unknown; tls?: unknown; waitingFor?: unknown; code?: unknown }
    const parts = [e._tag, e.reason, e.waitingFor, e.tls, e.code].filter((p) => p !== undefined).map(String)
    return parts.length > 0 ? parts.join(":") : String(c)
  })

/** The first `ConnectionError` in the chain (the error itself included). */
const connectionErrorIn = (error: unknown): ConnectionError | undefined =>
  causeChain(error).find((c): c is ConnectionError => Predicate.isTagged(c, "ConnectionError"))

/** The first `Disconnected` state with a cause (the current one counts). */
const firstDrop = (transport: Transport.TransportService) =>
  transport.changes.pipe(
    Stream.filter((state): state is ConnectionState.ConnectionState & { readonly _tag: "Disconnected" } =>
      state._tag === "Disconnected" && Option.isSome(state.cause)
    ),
    Stream.runHead,
    Effect.map((state) => Option.getOrThrow(Option.flatMap(state, (s) => s.cause))),
    Effect.timeout("20 seconds")
  )

// ---- the remoting suite --------------------------------------------------------------------------------------

/** Deterministic bytes, different for each `seed`. */
const body = (size: number, seed: number): Uint8Array => {
  const bytes = new Uint8Array(size)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    bytes[i] = x & 0xff
  }
  return bytes
}

/** Across one TLS record (16 KiB) and up to 1 MiB; no empty body (the broker cannot store one). */
const SIZES = [1, 100, 16 * 1024 - 1, 16 * 1024 + 1, 200 * 1024, 1024 * 1024]

/** Pulls queue 0 of `topic` from offset 0 until `count` messages came back. */
const pullAll = (client: RemotingClient.RemotingClientService, topic: string, count: number) =>
  Effect.gen(function*() {
    const records: Array<StoredMessage> = []
    let offset = 0
    let pulls = 0
    while (records.length < count) {
      pulls++
      const answer = yield* client.invoke(pullMessage("tls-consumer", topic, { queueOffset: offset, maxMsgNums: 32 }))
      if (answer.code === ResponseCode.SUCCESS) {
        records.push(...decodeMessages(answer.body))
        offset = Number(answer.extFields?.get("nextBeginOffset"))
      } else if (answer.code === ResponseCode.PULL_NOT_FOUND || answer.code === ResponseCode.PULL_RETRY_IMMEDIATELY) {
        yield* Effect.sleep("100 millis")
      } else {
        return yield* Effect.fail(new Error(`pull at ${offset}: code ${answer.code} ${answer.remark}`))
      }
      if (pulls > 300) return yield* Effect.fail(new Error(`${records.length} of ${count} messages after 300 pulls`))
    }
    return { records, pulls }
  })

/** Topic, sends of every size, pull them back byte-exact, heartbeat: on `client`, to `brokerName`. */
const remotingSuite = (
  client: RemotingClient.RemotingClientService,
  brokerName: string,
  name: string,
  sizes: ReadonlyArray<number> = SIZES
) =>
  Effect.gen(function*() {
    const topic = `tls-${name}-${Date.now()}`
    const started = Date.now()
    yield* client.invokeSuccess(createTopic(topic))
    const bodies = sizes.map((size, i) => body(size, i + 1))
    for (const [i, payload] of bodies.entries()) {
      const sent = yield* client.invokeSuccess(sendMessageV2({
        producerGroup: "tls-producer",
        topic,
        brokerName,
        queueId: 0,
        properties: writeProperties({ TAGS: "tls", KEYS: `tls-${i}`, WAIT: "true" }),
        body: payload
      }))
      assert.strictEqual(sent.extFields?.get("queueOffset"), String(i))
    }
    const sendMs = Date.now() - started
    const { pulls, records } = yield* pullAll(client, topic, bodies.length)
    assert.strictEqual(records.length, bodies.length)
    for (const [i, record] of records.entries()) {
      assert.strictEqual(record.topic, topic)
      assert.strictEqual(record.queueOffset, BigInt(i))
      assert.isTrue(sameBytes(record.body, bodies[i]!), `message ${i} (${bodies[i]!.length} bytes) differs`)
      assert.strictEqual(record.bodyCRC, bodyCrc(bodies[i]!))
      assert.strictEqual(record.properties.get("KEYS"), `tls-${i}`)
    }
    const beat = yield* client.invoke(heartbeat(`127.0.0.1@tls-${name}`, `tls-group-${name}`, topic))
    assert.strictEqual(beat.code, ResponseCode.SUCCESS, beat.remark)
    return { sendMs, pulls, totalMs: Date.now() - started, bytes: sizes.reduce((a, b) => a + b, 0) }
  })

/** One framed JSON request over plain TCP, and every byte that comes back until the peer closes. */
const rawPlaintext = (port: number) =>
  Effect.async<{ readonly received: number; readonly hadError: boolean; readonly error: string | undefined }>(
    (resume) => {
      const socket = Net.connect({ host: "127.0.0.1", port })
      let received = 0
      let error: string | undefined
      const header = Buffer.from(JSON.stringify({ code: 34, flag: 0, language: "JAVA", opaque: 1, version: 479 }))
      const frame = Buffer.alloc(8 + header.length)
      frame.writeUInt32BE(4 + header.length, 0)
      frame.writeUInt32BE(header.length, 4)
      header.copy(frame, 8)
      socket.on("connect", () => socket.write(frame))
      socket.on("data", (chunk: Buffer) => (received += chunk.length))
      socket.on("error", (cause: NodeJS.ErrnoException) => (error = cause.code ?? cause.message))
      socket.on("close", (hadError) => resume(Effect.succeed({ received, hadError, error })))
      return Effect.sync(() => socket.destroy())
    }
  ).pipe(Effect.timeout("10 seconds"))

const remotingLog = (servers: RocketMQServers.RocketMQServers) => {
  try {
    return Fs.readFileSync(Path.join(servers.home, "logs", "rocketmqlogs", "remoting.log"), "utf8")
  } catch {
    return ""
  }
}

// ---- enforcing, server authentication only ----------------------------------------------------------------------

describe(Prerequisites.suiteName("RocketMQ 5.3.3 broker with tls.server.mode=enforcing", prerequisites), () => {
  const running = skip === undefined
    ? RocketMQServers.useServers({
      brokerName: "broker-tls",
      clusterName: "TlsCluster",
      brokerTls: { certFile: certificates().server.certFile, keyFile: certificates().server.keyFile }
    })
    : notStarted

  live(
    "over NodeConnector.layerTls({ ca }): topic, 1 B to 1 MiB sent and pulled back byte-exact, heartbeat",
    () =>
      Effect.gen(function*() {
        const servers = running()
        const connectStarted = Date.now()
        const { client, transport } = yield* makeClient(servers.brokerPort, tls({ ca: certificates().ca }))
        const up = yield* transport.awaitConnected.pipe(Effect.timeout("10 seconds"))
        const connectMs = Date.now() - connectStarted
        const facts = yield* remotingSuite(client, servers.brokerName, "enforcing")
        assert.strictEqual((yield* transport.state)._tag, "Connected")
        assert.strictEqual(up.generation, 1)
        assert.include(remotingLog(servers), "Handlers prepended to channel pipeline to establish SSL connection")
        yield* Live.report("TLS remoting suite", {
          bootMs: servers.brokerBootMs,
          registrationMs: servers.registrationMs,
          connectMs,
          ...facts
        })
      })
  )

  live(
    "plaintext to the enforcing broker: closed without a byte back; the call fails at once, Disconnected",
    () =>
      Effect.gen(function*() {
        const servers = running()
        const raw = yield* rawPlaintext(servers.brokerPort)
        assert.strictEqual(raw.received, 0)

        const { client, transport } = yield* makeClient(servers.brokerPort, NodeConnector.layer)
        yield* transport.awaitConnected.pipe(Effect.timeout("10 seconds"))
        const started = Date.now()
        const result = yield* Effect.either(client.invoke(heartbeat("127.0.0.1@tls-plain", "tls-plain", "TBW102")))
        const failedMs = Date.now() - started
        assert.isTrue(Either.isLeft(result), "the broker answered a plaintext request")
        const error = Option.getOrThrow(Either.getLeft(result))
        assert.strictEqual(error._tag, "ConnectionError", describeChain(error).join(" <- "))
        assert.strictEqual((error as ConnectionError).reason, "Disconnected")
        const dropped = connectionErrorIn((error as ConnectionError).cause)
        assert.strictEqual(dropped?.reason, "PeerClosed", describeChain(error).join(" <- "))
        assert.isBelow(failedMs, 5_000, "failed at once, not at its timeout")
        assert.include(
          remotingLog(servers),
          "Clients intend to establish an insecure connection while this server is running in SSL enforcing mode"
        )
        yield* Live.report("plaintext to enforcing", {
          raw,
          invoke: describeChain(error),
          message: error.message,
          failedMs
        })
      })
  )

  for (
    const refused of [
      {
        name: "signed by a CA the client does not trust",
        input: () => ({ ca: certificates().otherCa }),
        tls: "UntrustedCertificate"
      },
      {
        name: "checked against serverName other.example",
        input: () => ({ ca: certificates().ca, serverName: "other.example" }),
        tls: "HostnameMismatch"
      }
    ] as const
  ) {
    live(`the broker's certificate ${refused.name}: reason Tls, tls ${refused.tls}`, () =>
      Effect.gen(function*() {
        const servers = running()
        const { client, transport } = yield* makeClient(servers.brokerPort, tls(refused.input()), "3 seconds")
        const dropped = yield* firstDrop(transport)
        assert.strictEqual(dropped._tag, "ConnectionError")
        const error = dropped as ConnectionError
        assert.strictEqual(error.reason, "Tls", error.message)
        assert.strictEqual(error.tls, refused.tls, error.message)
        // A call meanwhile waits for a connection that never comes, and says why.
        const call = yield* Effect.flip(client.invoke(heartbeat("127.0.0.1@tls-refused", "tls-refused", "TBW102")))
        assert.strictEqual(call._tag, "RemotingClientError", describeChain(call).join(" <- "))
        const why = connectionErrorIn(call.cause)
        assert.strictEqual(why?.reason, "Tls")
        assert.strictEqual(why?.tls, refused.tls)
        yield* Live.report(`refused: ${refused.name}`, {
          transport: describeChain(error),
          message: error.message,
          invoke: describeChain(call)
        })
      }))
  }

  live(
    "the NameServer, permissive with RocketMQ's self-signed test certificate: refused by default, " +
      "answers over TLS with rejectUnauthorized false",
    () =>
      Effect.gen(function*() {
        const servers = running()
        const checked = yield* makeClient(servers.nameServerPort, tls({ ca: certificates().ca }), "3 seconds")
        const refused = (yield* firstDrop(checked.transport)) as ConnectionError
        assert.strictEqual(refused.reason, "Tls", refused.message)
        assert.strictEqual(refused.tls, "UntrustedCertificate", refused.message)

        const unchecked = yield* makeClient(servers.nameServerPort, tls({ rejectUnauthorized: false }))
        const answer = yield* unchecked.client.invokeSuccess(request(RequestCode.GET_BROKER_CLUSTER_INFO)).pipe(
          Effect.flatMap((answer) => RouteData.decodeClusterInfo(answer.body)),
          Effect.filterOrFail((info) => info.brokerAddrTable.has(servers.brokerName)),
          Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 50 })
        )
        assert.strictEqual(RouteData.masterAddress(answer.brokerAddrTable.get(servers.brokerName)!), servers.broker)
        yield* Live.report("NameServer permissive", { refused: describeChain(refused), message: refused.message })
      })
  )
})

// ---- enforcing, client certificates required -----------------------------------------------------------------

describe(Prerequisites.suiteName("RocketMQ 5.3.3 broker requiring client certificates", prerequisites), () => {
  const running = skip === undefined
    ? RocketMQServers.useServers({
      brokerName: "broker-mtls",
      clusterName: "MutualTlsCluster",
      brokerTls: {
        certFile: certificates().server.certFile,
        keyFile: certificates().server.keyFile,
        needClientAuth: "require",
        trustCertFile: certificates().caFile
      }
    })
    : notStarted

  live(
    "mutual TLS with the CA's client certificate: topic, sends, pulls byte-exact, heartbeat",
    () =>
      Effect.gen(function*() {
        const servers = running()
        // Validated (and its secure context built) once by TlsConfig.make, then handed to layerTls as it is.
        const config = yield* TlsConfig.make({
          ca: certificates().ca,
          cert: certificates().client.cert,
          key: certificates().client.key
        })
        assert.isTrue(config.mutual)
        const { client, transport } = yield* makeClient(servers.brokerPort, tls(config))
        const facts = yield* remotingSuite(client, servers.brokerName, "mutual", [1, 16 * 1024 + 1, 1024 * 1024])
        assert.strictEqual((yield* transport.awaitConnected).generation, 1)
        yield* Live.report("mutual TLS remoting suite", { bootMs: servers.brokerBootMs, ...facts })
      })
  )

  for (
    const refused of [
      { name: "no client certificate", identity: () => ({}), alert: "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE" },
      {
        name: "a self-signed client certificate",
        identity: () => ({ cert: certificates().untrustedClient.cert, key: certificates().untrustedClient.key }),
        alert: "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN"
      }
    ] as const
  ) {
    live(
      `${refused.name}: the TLS 1.3 connection comes up, then fails reading the broker's alert`,
      () =>
        Effect.gen(function*() {
          const servers = running()
          const { client, transport } = yield* makeClient(
            servers.brokerPort,
            tls({ ca: certificates().ca, ...refused.identity() }),
            "5 seconds"
          )
          const call = yield* Effect.flip(client.invoke(heartbeat("127.0.0.1@tls-nocert", "tls-nocert", "TBW102")))
          const dropped = (yield* firstDrop(transport)) as ConnectionError
          assert.strictEqual(dropped.reason, "Read", dropped.message)
          assert.strictEqual(codeOf(dropped.cause), refused.alert, dropped.message)
          // Whichever came first, the alert or the request: the call fails with the drop in its cause.
          const why = connectionErrorIn(Predicate.hasProperty(call, "cause") ? call.cause : undefined)
          assert.strictEqual(why?.reason, "Read", describeChain(call).join(" <- "))
          assert.strictEqual(codeOf(why?.cause), refused.alert)
          yield* Live.report(`REQUIRE: ${refused.name}`, {
            transport: describeChain(dropped),
            message: dropped.message,
            invoke: describeChain(call)
          })
        })
    )
  }
})
