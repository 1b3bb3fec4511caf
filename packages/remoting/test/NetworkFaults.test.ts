/**
 * The client over a real link that goes silent (`NetworkNamespaces`: the peer in its own network namespace,
 * its interface taken down, so no RST or FIN ever arrives). The peer is `frame-peer.mjs` in `remoting` mode, a
 * plain Node responder that answers every request SUCCESS with its body: no workspace code on the far side.
 *
 * The client's default `idleTimeout` is Java's 120 s; the tests shorten it to 5 s to see it act.
 */
import { assert, describe } from "@effect/vitest"
import { readText, text } from "@rocketmq-effect/test-kit/Bytes"
import * as Timeline from "@rocketmq-effect/test-kit/Timeline"
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import type * as ConnectionState from "@rocketmq-effect/transport/ConnectionState"
import { Connector } from "@rocketmq-effect/transport/Connector"
import type * as Transport from "@rocketmq-effect/transport/Transport"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as NetworkNamespaces from "../../transport-node/test/NetworkNamespaces.js"
import * as RemotingClient from "../src/RemotingClient.js"
import { RequestCode, ResponseCode } from "../src/RemotingCode.js"
import { request } from "../src/RemotingCommand.js"

type State = ConnectionState.ConnectionState

const now = () => performance.now()

/** Every state of `transport` from now on, with when it was entered. */
const timeline = (transport: Transport.TransportService) =>
  Timeline.make(transport.changes, { format: (state) => state._tag })

const isConnected = (generation: number) => (state: State) =>
  state._tag === "Connected" && state.generation === generation
const isDisconnected = (state: State) => state._tag === "Disconnected"

/** The peer, a client over a transport of the client's own (`makeTransport`), and a first round trip. */
const setup = (options: Omit<RemotingClient.Options, "transport">) =>
  Effect.gen(function*() {
    const ns = yield* NetworkNamespaces.make()
    const peer = yield* ns.startFramePeer("remoting")
    const transport = yield* RemotingClient.makeTransport({
      host: peer.host,
      port: peer.port,
      connectTimeout: "1 second",
      retryInterval: "250 millis"
    }).pipe(Effect.provideServiceEffect(Connector, NodeConnector.make), Effect.orDie)
    const states = yield* timeline(transport)
    const client = yield* RemotingClient.make({ ...options, transport }).pipe(Effect.orDie)
    const answer = yield* client.invoke(request(RequestCode.HEART_BEAT, { body: text("before") }))
    assert.strictEqual(readText(answer.body), "before")
    return { ns, client, transport, states }
  })

describe(NetworkNamespaces.suiteName("RemotingClient over a link that goes silent"), () => {
  NetworkNamespaces.live(
    "defaults (idleTimeout shortened to 5 s): a call fails RemotingClientError Timeout at 3 s; the connection stays up until the idle timeout, then reconnects once the link is back",
    () =>
      Effect.gen(function*() {
        const idleTimeout = 5000
        const { client, ns, states, transport } = yield* setup({ idleTimeout: Duration.millis(idleTimeout) })
        yield* ns.linkDown
        const sentAt = now()
        const error = yield* Effect.flip(client.invoke(request(RequestCode.PULL_MESSAGE)))
        const timedOutAfter = now() - sentAt
        assert.strictEqual(error._tag, "RemotingClientError", error.message)
        assert.strictEqual(error._tag === "RemotingClientError" && error.reason, "Timeout")
        assert.strictEqual(error._tag === "RemotingClientError" && error.waitingFor, "response")
        assert.isAtLeast(timedOutAfter, Duration.toMillis(RemotingClient.DEFAULT_TIMEOUT) - 50)
        assert.isBelow(timedOutAfter, Duration.toMillis(RemotingClient.DEFAULT_TIMEOUT) + 750)
        assert.isTrue(isConnected(1)(yield* transport.state), "the timeout drops nothing by default")

        const dropped = yield* states.next(isDisconnected, sentAt, "10 seconds")
        const droppedAfter = dropped.at - sentAt
        // Dropped `idleTimeout` after the unanswered request was written.
        assert.isAtLeast(droppedAfter, idleTimeout - 50)
        assert.isBelow(droppedAfter, idleTimeout + 1000)
        const cause = dropped.state._tag === "Disconnected" ? Option.getOrUndefined(dropped.state.cause) : undefined
        assert.strictEqual(cause?._tag, "ConnectionError")
        const idle = (cause as { cause?: { reason?: string } } | undefined)?.cause
        assert.strictEqual(idle?.reason, "Idle", cause?.message)

        // Taken before the link comes back: a SYN retransmitted while `ip` restores the link can connect before
        // the command returns, and that connection must count.
        const upAt = now()
        yield* ns.linkUp
        const reconnected = yield* states.next(isConnected(2), upAt, "10 seconds")
        const answer = yield* client.invoke(request(RequestCode.HEART_BEAT, { body: text("after") }))
        assert.strictEqual(readText(answer.body), "after")
        console.info(
          `RemotingClient silent link, defaults: call timed out after ${timedOutAfter.toFixed(0)} ms; connection ` +
            `dropped ${droppedAfter.toFixed(0)} ms after the request (idleTimeout ${idleTimeout} ms); reconnected ` +
            `${(reconnected.at - upAt).toFixed(0)} ms after the link came back`
        )
      }),
    30_000
  )

  NetworkNamespaces.live(
    "closeOnTimeout: the connection is dropped at the call's timeout, the call pending beside it fails then, and it reconnects once the link is back",
    () =>
      Effect.gen(function*() {
        const { client, ns, states } = yield* setup({ closeOnTimeout: true, idleTimeout: "5 seconds" })
        yield* ns.linkDown
        const sentAt = now()
        const neighbour = yield* Effect.fork(
          Effect.either(client.invoke(request(RequestCode.QUERY_CONSUMER_OFFSET), { timeout: "30 seconds" }))
        )
        const error = yield* Effect.flip(client.invoke(request(RequestCode.PULL_MESSAGE), { timeout: "2 seconds" }))
        const timedOutAfter = now() - sentAt
        assert.strictEqual(error._tag === "RemotingClientError" && error.reason, "Timeout", error.message)
        assert.isAtLeast(timedOutAfter, 1950)
        assert.isBelow(timedOutAfter, 2750)
        const beside = yield* Fiber.join(neighbour)
        const failedAfter = now() - sentAt
        assert.isTrue(Either.isLeft(beside))
        if (Either.isLeft(beside)) {
          assert.strictEqual(beside.left._tag === "ConnectionError" && beside.left.reason, "Disconnected")
        }
        assert.isBelow(failedAfter, 2750, "with the timed-out call, not at its own 30 s")
        const dropped = yield* states.next(isDisconnected, sentAt, "5 seconds")
        const droppedAfter = dropped.at - sentAt
        assert.isBelow(droppedAfter, 2750, "at the timeout, before the 5 s idle timeout")

        // Taken before the link comes back: a SYN retransmitted while `ip` restores the link can connect before
        // the command returns, and that connection must count.
        const upAt = now()
        yield* ns.linkUp
        const reconnected = yield* states.next(isConnected(2), upAt, "10 seconds")
        const answer = yield* client.invoke(request(RequestCode.HEART_BEAT, { body: text("after") }))
        assert.strictEqual(answer.code, ResponseCode.SUCCESS)
        assert.strictEqual(readText(answer.body), "after")
        console.info(
          `RemotingClient silent link, closeOnTimeout: call timed out after ${timedOutAfter.toFixed(0)} ms; ` +
            `connection dropped ${droppedAfter.toFixed(0)} ms after the request, its neighbour failed after ` +
            `${failedAfter.toFixed(0)} ms; reconnected ${
              (reconnected.at - upAt).toFixed(0)
            } ms after the link came back`
        )
      }),
    30_000
  )
})
