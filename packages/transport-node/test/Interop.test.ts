import { assert, describe, it } from "@effect/vitest"
import { KiB, MiB, pattern, sameBytes } from "@rocketmq-effect/test-kit/Bytes"
import * as Prerequisites from "@rocketmq-effect/test-kit/Prerequisites"
import * as NodeTransport from "@rocketmq-effect/transport-node/NodeTransport"
import * as TransportServer from "@rocketmq-effect/transport-node/TransportServer"
import * as ConnectionState from "@rocketmq-effect/transport/ConnectionState"
import * as Transport from "@rocketmq-effect/transport/Transport"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { afterAll } from "vitest"
import * as Peers from "./InteropPeers.js"

const netty = Prerequisites.netty()
const python = Peers.pythonPrerequisites()
const skipNetty = Prerequisites.skipReason(netty)
const skipPython = Prerequisites.skipReason(python)
for (const [peer, reason] of [["Netty", skipNetty], ["Python", skipPython]] as const) {
  if (reason !== undefined) console.warn(`Interop: skipping the ${peer} tests (CI would fail them): ${reason}`)
}

afterAll(Peers.removeBuilds)

/** A `NodeTransport` to 127.0.0.1:`port`, connected, in the test's scope. */
const connect = (port: number, changes: Partial<TransportConfig.TransportConfigInput>, options?: Transport.Options) =>
  Effect.gen(function*() {
    const config = yield* TransportConfig.make({
      host: "127.0.0.1",
      port,
      timeout: "30 seconds",
      connectTimeout: "5 seconds",
      retryInterval: "100 millis",
      ...changes
    })
    const context = yield* Layer.build(NodeTransport.layer(config, options))
    const transport = Context.get(context, Transport.Transport)
    yield* transport.awaitConnected.pipe(Effect.timeout("10 seconds"))
    return transport
  })

describe("Interop", () => {
  describe(Prerequisites.suiteName("Netty 4.1 peer framed like RocketMQ's Java remoting", netty), () => {
    const startPeer = Effect.flatMap(Peers.requireAvailable(netty), Peers.startNettyPeer)

    it.scopedLive.skipIf(skipNetty)("echoes 0 B, 1 B, 1 KiB, 64 KiB and 1 MiB payloads", () =>
      Effect.gen(function*() {
        const peer = yield* startPeer
        const transport = yield* connect(peer.port, { maxMessageSize: Peers.NETTY_MAX_PAYLOAD })
        for (const [i, size] of [0, 1, KiB, 64 * KiB, MiB].entries()) {
          yield* Peers.roundTrip(transport, pattern(size, i))
        }
      }).pipe(Effect.timeout("90 seconds")), 120_000)

    it.scopedLive.skipIf(skipNetty)(
      "echoes the largest payload Netty accepts: 16 MiB minus the 4 length bytes",
      () =>
        Effect.gen(function*() {
          const peer = yield* startPeer
          // The transport's limit counts the payload only; Netty's counts the length field too.
          const transport = yield* connect(peer.port, { maxMessageSize: Peers.NETTY_MAX_PAYLOAD })
          yield* Peers.roundTrip(transport, pattern(Peers.NETTY_MAX_PAYLOAD, 7))
          yield* Peers.roundTrip(transport, pattern(3, 8))
          assert.isFalse(peer.lines().some((line) => line.startsWith("DECODE_ERROR")), peer.lines().join("\n"))
        }).pipe(Effect.timeout("90 seconds")),
      120_000
    )

    it.scopedLive.skipIf(skipNetty)(
      "a frame over Netty's limit: Netty closes, a typed disconnect, then generation 2 echoes",
      () =>
        Effect.gen(function*() {
          const peer = yield* startPeer
          // The transport would send up to 16 MiB; Netty takes 4 bytes less. `stableAfter`: the drop counts
          // as a failed attempt, so the next one waits `retryInterval` and cannot hide the Disconnected state.
          const transport = yield* connect(
            peer.port,
            { maxMessageSize: Peers.NETTY_MAX_FRAME_LENGTH },
            { stableAfter: "1 minute" }
          )
          assert.strictEqual((yield* transport.awaitConnected).generation, 1)
          yield* Peers.roundTrip(transport, pattern(100, 1))

          const subscribed = yield* Deferred.make<void>()
          const disconnected = yield* transport.changes.pipe(
            Stream.tap(() => Deferred.succeed(subscribed, undefined)),
            Stream.filter((state) => state._tag === "Disconnected"),
            Stream.runHead,
            Effect.fork
          )
          yield* Deferred.await(subscribed)

          // Netty rejects it on the length alone and closes; the send may have been written in full before,
          // or fail because the connection dropped under it.
          const sent = yield* Effect.either(transport.send(pattern(Peers.NETTY_MAX_PAYLOAD + 1, 2)))
          if (sent._tag === "Left") {
            assert.strictEqual(sent.left._tag, "ConnectionError")
            assert.strictEqual((sent.left as { reason?: string }).reason, "Disconnected")
          }

          const state = yield* Fiber.join(disconnected).pipe(Effect.timeout("20 seconds"))
          assert.isTrue(Option.isSome(state))
          const down = Option.getOrThrow(state)
          assert.strictEqual(down._tag, "Disconnected")
          if (down._tag !== "Disconnected") return
          assert.strictEqual(down.generation, 1)
          const cause = Option.getOrThrow(down.cause)
          assert.strictEqual(cause._tag, "ConnectionError", ConnectionState.format(down))
          if (cause._tag !== "ConnectionError") return
          assert.include(["PeerClosed", "Read", "Write"], cause.reason, cause.message)
          assert.strictEqual(cause.generation, 1)

          yield* peer.awaitLine((line) => line.startsWith("DECODE_ERROR TooLongFrameException")).pipe(
            Effect.timeout("5 seconds")
          )

          const up = yield* transport.awaitConnected.pipe(Effect.timeout("10 seconds"))
          assert.strictEqual(up.generation, 2)
          yield* Peers.roundTrip(transport, pattern(0, 3))
          yield* Peers.roundTrip(transport, pattern(64 * KiB, 4))
        }).pipe(Effect.timeout("90 seconds")),
      120_000
    )
  })

  describe(Prerequisites.suiteName("Python peer with the seed's asyncio framing", python), () => {
    const sizes = [0, 1, 100, 64 * KiB, MiB]

    it.scopedLive.skipIf(skipPython)("echoes every size class, one at a time, in order", () =>
      Effect.gen(function*() {
        const peer = yield* Effect.flatMap(Peers.requireAvailable(python), Peers.startSeedServer)
        const transport = yield* connect(peer.port, { maxMessageSize: MiB })
        for (const [i, size] of sizes.entries()) yield* Peers.roundTrip(transport, pattern(size, i))
      }).pipe(Effect.timeout("60 seconds")), 90_000)

    it.scopedLive.skipIf(skipPython)(
      "echoes pipelined frames of every size class in order",
      () =>
        Effect.gen(function*() {
          const peer = yield* Effect.flatMap(Peers.requireAvailable(python), Peers.startSeedServer)
          const transport = yield* connect(peer.port, { maxMessageSize: MiB })
          const payloads = [...sizes, ...[...sizes].reverse(), ...sizes].map((size, i) => pattern(size, i))
          // All sent before the first is read back.
          const received = yield* Effect.fork(Effect.forEach(payloads, () => transport.recvPkg()))
          for (const payload of payloads) yield* transport.send(payload)
          const echoed = yield* Fiber.join(received)
          assert.strictEqual(echoed.length, payloads.length)
          for (const [i, payload] of payloads.entries()) {
            assert.isTrue(sameBytes(echoed[i]!, payload), `frame ${i} (${payload.length} bytes) differs`)
          }
        }).pipe(Effect.timeout("60 seconds")),
      90_000
    )

    it.scopedLive.skipIf(skipPython)(
      "the seed's client framing talks to TransportServer.echo",
      () =>
        Effect.gen(function*() {
          const command = yield* Peers.requireAvailable(python)
          const server = yield* TransportServer.make({ maxMessageSize: MiB })
          yield* server.serve(TransportServer.echo)
          const frames = [...sizes, 0, 1, 100, 0]
          const output = yield* Peers.runSeedClient(command, server.address.port, frames)
          assert.deepStrictEqual(output, [`OK ${frames.length}`])
        }).pipe(Effect.timeout("60 seconds")),
      90_000
    )
  })
})
