/**
 * The README's examples, kept here so that they compile and run: if one of these changes, change README.md.
 */
import { assert, describe, it } from "@effect/vitest"
import { Connector, TestConnector, Transport, TransportConfig } from "@rocketmq-effect/transport"
import { NodeTransport, TransportServer } from "@rocketmq-effect/transport-node"
import { Effect, Layer, TestClock } from "effect"

describe("README", () => {
  it.live("an Effect program", () =>
    Effect.gen(function*() {
      const server = yield* TransportServer.make({ port: 0 })
      yield* server.serve(TransportServer.echo)
      const replies: Array<string> = []

      // --- from README: "An Effect program" (host and port point at the echo server here)
      const program = Effect.gen(function*() {
        const transport = yield* Transport.Transport
        yield* transport.awaitConnected
        yield* transport.send(new TextEncoder().encode("hello"))
        const reply = yield* transport.recvPkg({ timeout: "3 seconds" })
        replies.push(new TextDecoder().decode(reply))
      }).pipe(
        Effect.catchTags({
          TimeoutError: (e) => Effect.logWarning(e.message),
          ConnectionError: (e) => Effect.logError(`${e.reason}: ${e.message}`)
        })
      )

      const TransportLayer = Layer.unwrapEffect(
        Effect.map(
          TransportConfig.make({
            host: "127.0.0.1",
            port: server.address.port,
            retryInterval: "1 second",
            maxRetries: 5
          }),
          (config) => NodeTransport.layer(config)
        )
      ).pipe(Layer.orDie)
      // --- end

      yield* program.pipe(Effect.provide(TransportLayer))
      assert.deepStrictEqual(replies, ["hello"])
    }).pipe(Effect.scoped))

  // --- from README: "Testing your program with TestClock"
  it.scoped("retries every 5 s, 3 times, then gives up", () =>
    Effect.gen(function*() {
      const [connector, peer] = yield* TestConnector.make
      yield* peer.setDefault("refuse")
      const config = yield* TransportConfig.make({ retryInterval: "5 seconds", maxRetries: 3 })
      const transport = yield* Transport.make(config).pipe(Effect.provideService(Connector.Connector, connector))
      for (let i = 0; i < 4; i++) {
        yield* Effect.yieldNow()
        yield* TestClock.adjust("5 seconds")
      }
      assert.deepStrictEqual((yield* peer.attempts).map((a) => a.at), [0, 5000, 10000, 15000])
      const state = yield* transport.state
      assert.isTrue(state._tag === "Disconnected" && state.exhausted)
    }))
  // --- end
})
