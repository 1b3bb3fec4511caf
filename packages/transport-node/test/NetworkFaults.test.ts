/**
 * Faults over a real link (`NetworkNamespaces`): a peer in its own network namespace behind a veth pair, a
 * link that goes silent (no RST, no FIN: the peer's interface goes down), a connect into a blackhole or to a
 * host that stopped answering ARP, and a link slowed by a token bucket. The transport is the real one
 * (`NodeTransport.layer` over `node:net`); the peer is `peers/frame-peer.mjs`.
 *
 * The timings asserted are the ones measured on Linux 6.x, with slack for a shared machine.
 */
import { assert, describe } from "@effect/vitest"
import { KiB, MiB, numbered, sameBytes, seqOf } from "@rocketmq-effect/test-kit/Bytes"
import { failureOf } from "@rocketmq-effect/test-kit/Causes"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as Timeline from "@rocketmq-effect/test-kit/Timeline"
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import * as ConnectionState from "@rocketmq-effect/transport/ConnectionState"
import { Connector } from "@rocketmq-effect/transport/Connector"
import * as Transport from "@rocketmq-effect/transport/Transport"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import type { TransportError } from "@rocketmq-effect/transport/TransportError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as NetworkNamespaces from "./NetworkNamespaces.js"
import { causeReason, makeTransport } from "./TcpFixtures.js"

type State = ConnectionState.ConnectionState

const now = () => performance.now()

const isExact = (payload: Uint8Array) =>
  payload.length >= 4 && sameBytes(payload, numbered(seqOf(payload), payload.length))

/** Every state of `transport` from now on, with when it was entered (`performance.now()`). */
const timeline = (transport: Transport.TransportService) =>
  Timeline.make(transport.changes, { format: ConnectionState.format, awaitFirst: true })

const isConnected = (generation: number) => (state: State) =>
  state._tag === "Connected" && state.generation === generation
const isDisconnected = (state: State) => state._tag === "Disconnected"
const causeOf = (state: State): TransportError | undefined =>
  state._tag === "Disconnected" ? Option.getOrUndefined(state.cause) : undefined
/** `causeReason` of a state's cause, if it has one. */
const reasonOf = (state: State): string | undefined => {
  const cause = causeOf(state)
  return cause === undefined ? undefined : causeReason(cause)
}

/** A transport to the frame peer, with `changes` over the given config (the test's own by default). */
const connectTo = (
  peer: NetworkNamespaces.FramePeer,
  changes: Partial<TransportConfig.TransportConfigInput>,
  options?: Transport.Options,
  base?: TransportConfig.TransportConfig
) =>
  Effect.gen(function*() {
    const config = yield* (base === undefined
      ? TransportConfig.make({
        timeout: "10 seconds",
        connectTimeout: "1 second",
        retryInterval: "250 millis",
        ...changes,
        host: peer.host,
        port: peer.port
      })
      : TransportConfig.copyWith(base, { ...changes, host: peer.host, port: peer.port })).pipe(Effect.orDie)
    return yield* makeTransport(config, options)
  })

const roundTrip = (transport: Transport.TransportService, seq: number, size = 1024) =>
  Effect.gen(function*() {
    yield* transport.send(numbered(seq, size))
    const echoed = yield* transport.recvPkg({ timeout: "5 seconds" })
    assert.isTrue(sameBytes(echoed, numbered(seq, size)), `echo of frame ${seq}`)
  })

/**
 * The TCP connector with its raw writes observed: how many bytes have been handed to `net.Socket.write` and not
 * yet called back (what Node itself buffers for the socket), at most, over the test.
 */
const observedConnector = Effect.gen(function*() {
  const inner = yield* NodeConnector.make
  const observed = { outstanding: 0, maxOutstanding: 0, rawWrites: 0 }
  const connector = Connector.of({
    connect: (config) =>
      Effect.map(inner.connect(config), (connection) => {
        const write = connection.write
        if (write === undefined) return connection
        return {
          ...connection,
          write: (chunks: ReadonlyArray<Uint8Array>, done: (error: unknown) => void) => {
            let size = 0
            for (const chunk of chunks) size += chunk.length
            observed.rawWrites++
            observed.outstanding += size
            observed.maxOutstanding = Math.max(observed.maxOutstanding, observed.outstanding)
            write(chunks, (error) => {
              observed.outstanding -= size
              done(error)
            })
          }
        }
      })
  })
  return { connector, observed }
})

/** A transport over `observedConnector`: the real TCP transport, its writes counted. */
const observedTransportTo = (
  peer: NetworkNamespaces.FramePeer,
  changes: Partial<TransportConfig.TransportConfigInput>,
  options: Transport.Options
): Effect.Effect<
  { readonly transport: Transport.TransportService; readonly observed: { readonly maxOutstanding: number } },
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const { connector, observed } = yield* observedConnector
    const config = yield* TransportConfig.make({
      timeout: "10 seconds",
      connectTimeout: "1 second",
      retryInterval: "250 millis",
      ...changes,
      host: peer.host,
      port: peer.port
    }).pipe(Effect.orDie)
    const transport = yield* Transport.make(config, options).pipe(Effect.provideService(Connector, connector))
    return { transport, observed }
  })

describe(NetworkNamespaces.suiteName("NetworkFaults (a peer in a network namespace, over veth)"), () => {
  NetworkNamespaces.live(
    "the link goes silent with a request in flight: idleTimeout drops the connection in time, typed; it reconnects once the link is back",
    () =>
      Effect.gen(function*() {
        const ns = yield* NetworkNamespaces.make()
        const peer = yield* ns.startFramePeer("echo")
        const idleTimeout = 2000
        const transport = yield* connectTo(peer, { idleTimeout: Duration.millis(idleTimeout) })
        const states = yield* timeline(transport)
        yield* states.next(isConnected(1))
        yield* roundTrip(transport, 1)
        // The echo just read is the last byte that will arrive on this connection.
        const quietFrom = now()
        yield* ns.linkDown
        // The kernel takes the request; it never reaches the peer.
        yield* transport.send(numbered(2, 1024))
        const error = yield* Effect.flip(transport.recvPkg({ timeout: "10 seconds" }))
        const failedAfter = now() - quietFrom
        assert.strictEqual(error._tag, "ConnectionError", error.message)
        assert.strictEqual(causeReason(error), "Disconnected")
        assert.strictEqual(error._tag === "ConnectionError" ? causeReason(error.cause) : undefined, "Idle")
        assert.isAtLeast(failedAfter, idleTimeout - 50, "not before the idle timeout")
        assert.isBelow(failedAfter, idleTimeout + 750, "within the idle timeout and a little")
        const dropped = yield* states.next(isDisconnected, quietFrom)
        assert.strictEqual(reasonOf(dropped.state), "Idle")

        // Down link, pinned neighbour: each attempt's SYN vanishes and the attempt times out.
        const attempt = yield* states.next((s) => reasonOf(s) === "connect", dropped.at)
        const attemptFailure = causeOf(attempt.state)
        assert.strictEqual(attemptFailure?._tag, "TimeoutError")
        yield* ns.linkUp
        const upAt = now()
        const reconnected = yield* states.next(isConnected(2), upAt, "5 seconds")
        yield* roundTrip(transport, 3)
        console.info(
          `NetworkFaults idle: receive failed ${failedAfter.toFixed(0)} ms after the last inbound byte ` +
            `(idleTimeout ${idleTimeout} ms); reconnected ${
              (reconnected.at - upAt).toFixed(0)
            } ms after the link came back`
        )
      }),
    20_000
  )

  NetworkNamespaces.live(
    "the seed's DEFAULT config (no idle timeout, keep-alive after 30 s): a silent link keeps it Connected; a bounded receive fails TimeoutError; the echo arrives once the link is back",
    () =>
      Effect.gen(function*() {
        const ns = yield* NetworkNamespaces.make()
        const peer = yield* ns.startFramePeer("echo")
        assert.isTrue(Option.isNone(TransportConfig.DEFAULT.idleTimeout))
        const transport = yield* connectTo(peer, {}, undefined, TransportConfig.DEFAULT)
        const states = yield* timeline(transport)
        yield* states.next(isConnected(1))
        yield* roundTrip(transport, 1)
        yield* ns.linkDown
        const sentAt = now()
        yield* transport.send(numbered(2, 1024))
        const error = yield* Effect.flip(transport.recvPkg({ timeout: "2 seconds" }))
        const timedOutAfter = now() - sentAt
        assert.strictEqual(error._tag, "TimeoutError", error.message)
        assert.strictEqual(causeReason(error), "receive")
        assert.isAtLeast(timedOutAfter, 1950)
        assert.isBelow(timedOutAfter, 2750)
        // Silent for 4 s in all: unacknowledged bytes keep TCP retransmitting (for `tcp_retries2`, ~15 min)
        // and keep keep-alive from probing; nothing tells the transport anything.
        yield* Effect.sleep(Duration.millis(Math.max(0, 4000 - (now() - sentAt))))
        assert.isTrue(isConnected(1)(yield* transport.state), ConnectionState.format(yield* transport.state))
        assert.deepStrictEqual(states.seen.filter((entry) => entry.at >= sentAt), [], "no state change while silent")
        yield* ns.linkUp
        const upAt = now()
        // The request goes out on TCP's next retransmission (backing off from 200 ms: 0.2, 0.6, 1.4, 3, 6.2, 12.6 s
        // after the send); the receive that timed out consumed nothing.
        const echoed = yield* transport.recvPkg({ timeout: "15 seconds" })
        const recoveredAfter = now() - upAt
        assert.isTrue(sameBytes(echoed, numbered(2, 1024)))
        assert.isTrue(isConnected(1)(yield* transport.state), "still the first connection")
        console.info(
          `NetworkFaults DEFAULT: receive timed out after ${timedOutAfter.toFixed(0)} ms; Connected throughout ` +
            `4 s of silence; the echo arrived ${recoveredAfter.toFixed(0)} ms after the link came back ` +
            `(${(now() - sentAt).toFixed(0)} ms after the send)`
        )
      }),
    30_000
  )

  NetworkNamespaces.live(
    "keep-alive alone (keepAliveInterval 1 s, no idle timeout): an idle connection is declared dead after ~11 s, one with a request in flight is not",
    () =>
      Effect.gen(function*() {
        const ns = yield* NetworkNamespaces.make()
        const peer = yield* ns.startFramePeer("echo")
        const changes = { keepAliveInterval: "1 second", idleTimeout: null, timeout: "30 seconds" } as const
        const idle = yield* connectTo(peer, changes)
        const busy = yield* connectTo(peer, changes)
        const idleStates = yield* timeline(idle)
        const busyStates = yield* timeline(busy)
        yield* idleStates.next(isConnected(1))
        yield* busyStates.next(isConnected(1))
        yield* roundTrip(idle, 1)
        yield* roundTrip(busy, 1)
        const quietFrom = now()
        yield* ns.linkDown
        yield* busy.send(numbered(2, 1024))
        // Node sets TCP_KEEPIDLE (1 s); libuv fixes TCP_KEEPINTVL at 1 s and TCP_KEEPCNT at 10: the kernel gives
        // up 1 + 10 × 1 s after the last segment received, and the socket fails with ETIMEDOUT.
        const dead = yield* idleStates.next(isDisconnected, quietFrom, "20 seconds")
        const detectedAfter = dead.at - quietFrom
        const cause = causeOf(dead.state)
        assert.strictEqual(reasonOf(dead.state), "Read", cause?.message)
        assert.include(String((cause as { cause?: { cause?: { code?: string } } }).cause?.cause?.code), "ETIMEDOUT")
        assert.isAtLeast(detectedAfter, 10_000)
        assert.isBelow(detectedAfter, 13_500)
        // The connection with unacknowledged bytes sends no probes: retransmissions are all it does.
        assert.isTrue(isConnected(1)(yield* busy.state), ConnectionState.format(yield* busy.state))
        assert.deepStrictEqual(busyStates.seen.filter((entry) => entry.at >= quietFrom), [])
        yield* ns.linkUp
        const echoed = yield* busy.recvPkg({ timeout: "15 seconds" })
        assert.isTrue(sameBytes(echoed, numbered(2, 1024)))
        yield* idleStates.next(isConnected(2), dead.at)
        yield* roundTrip(idle, 3)
        console.info(
          `NetworkFaults keep-alive: idle connection dead ${detectedAfter.toFixed(0)} ms after the last inbound ` +
            `segment (${reasonOf(dead.state)}, ETIMEDOUT); the busy one stayed Connected and got its echo ` +
            `${(now() - quietFrom).toFixed(0)} ms after the link went down`
        )
      }),
    40_000
  )

  NetworkNamespaces.live(
    "connecting into a blackhole: each attempt fails TimeoutError at connectTimeout, retryInterval apart, then RetriesExhausted",
    () =>
      Effect.gen(function*() {
        const ns = yield* NetworkNamespaces.make()
        const peer = yield* ns.startFramePeer("echo")
        yield* ns.linkDown
        const transport = yield* connectTo(peer, {
          connectTimeout: "800 millis",
          retryInterval: "400 millis",
          maxRetries: 2
        }, { autoStart: false })
        const states = yield* timeline(transport)
        const start = now()
        yield* transport.start
        const exhausted = yield* Effect.flip(transport.awaitConnected).pipe(Effect.timeout("10 seconds"))
        const exhaustedAfter = now() - start
        assert.strictEqual(exhausted._tag, "ConnectionError")
        assert.strictEqual(causeReason(exhausted), "RetriesExhausted")
        const attempts = states.seen.filter((entry) => entry.state._tag === "Connecting")
        const failures = states.seen.filter((entry) =>
          isDisconnected(entry.state) && causeOf(entry.state) !== undefined
        )
        assert.strictEqual(attempts.length, 3, "the first attempt and maxRetries 2")
        assert.strictEqual(failures.length, 3)
        for (const failure of failures) {
          assert.strictEqual(causeOf(failure.state)?._tag, "TimeoutError")
          assert.strictEqual(reasonOf(failure.state), "connect")
        }
        const last = failures[2]!.state
        assert.isTrue(last._tag === "Disconnected" && last.exhausted)
        for (let i = 0; i < 3; i++) {
          const took = failures[i]!.at - attempts[i]!.at
          assert.isAtLeast(took, 780, `attempt ${i + 1} took its connect timeout`)
          assert.isBelow(took, 1300, `attempt ${i + 1} took its connect timeout`)
          if (i > 0) {
            const gap = attempts[i]!.at - failures[i - 1]!.at
            assert.isAtLeast(gap, 380, `retryInterval before attempt ${i + 1}`)
            assert.isBelow(gap, 900, `retryInterval before attempt ${i + 1}`)
          }
        }
        // 3 × 800 ms + 2 × 400 ms.
        assert.isAtLeast(exhaustedAfter, 3100)
        assert.isBelow(exhaustedAfter, 5000)
        console.info(
          `NetworkFaults blackhole: attempts at ${attempts.map((a) => (a.at - start).toFixed(0)).join(", ")} ms, ` +
            `failed at ${failures.map((f) => (f.at - start).toFixed(0)).join(", ")} ms; exhausted after ` +
            `${exhaustedAfter.toFixed(0)} ms`
        )
        // A fresh round once the link is back connects at once.
        yield* ns.linkUp
        yield* transport.start
        yield* transport.awaitConnected.pipe(Effect.timeout("5 seconds"))
        yield* roundTrip(transport, 1)
      }),
    20_000
  )

  NetworkNamespaces.live(
    "connecting to a host that stopped answering ARP: EHOSTUNREACH at ~3 s within a longer connectTimeout; a connect pending when the link comes back succeeds",
    () =>
      Effect.gen(function*() {
        const ns = yield* NetworkNamespaces.make({ neighbour: "resolved" })
        const peer = yield* ns.startFramePeer("echo")
        yield* ns.linkDown
        const transport = yield* connectTo(peer, { connectTimeout: "5 seconds", retryInterval: "0 millis" }, {
          autoStart: false
        })
        const states = yield* timeline(transport)
        const start = now()
        yield* transport.start
        const failed = yield* states.next((s) => causeOf(s) !== undefined, 0, "10 seconds")
        const failedAfter = failed.at - start
        const cause = causeOf(failed.state)
        assert.strictEqual(cause?._tag, "ConnectionError", cause?.message)
        assert.strictEqual(reasonOf(failed.state), "Connect")
        assert.include(String((cause as { cause?: { code?: string } }).cause?.code), "EHOSTUNREACH")
        // 3 ARP probes 1 s apart, then the SYN waiting on the neighbour entry is failed.
        assert.isAtLeast(failedAfter, 2500)
        assert.isBelow(failedAfter, 4500)
        // The next attempt starts at once and resolves the neighbour again; the link comes back meanwhile.
        yield* Effect.sleep("1 second")
        yield* ns.linkUp
        const upAt = now()
        const connected = yield* states.next(isConnected(1), 0, "10 seconds")
        console.info(
          `NetworkFaults ARP: connect failed EHOSTUNREACH after ${failedAfter.toFixed(0)} ms; connected ` +
            `${(connected.at - upAt).toFixed(0)} ms after the link came back`
        )
        yield* roundTrip(transport, 1)
      }),
    20_000
  )

  NetworkNamespaces.live(
    "a slow link (tbf, 5 Mbit/s) under a pipelined load: every frame echoed exact, Node's write buffer within the outbound budget, the peer's buffers bounded",
    () =>
      Effect.gen(function*() {
        const ns = yield* NetworkNamespaces.make()
        const peer = yield* ns.startFramePeer("echo")
        yield* ns.slowLink("5mbit")
        const outboundBufferBytes = 128 * KiB
        const { observed, transport } = yield* observedTransportTo(
          peer,
          { timeout: "30 seconds" },
          { outboundBufferBytes, inboundBufferBytes: 256 * KiB }
        )
        yield* transport.awaitConnected
        const senders = 16
        const perSender = 12
        const sizeOf = (seq: number) => 8 * KiB + (seq * 7919) % (16 * KiB)
        let offered = 0
        for (let seq = 0; seq < senders * perSender; seq++) offered += sizeOf(seq)

        const received = new Map<number, number>()
        const corrupt: Array<string> = []
        const receiver = yield* transport.frames.pipe(
          Stream.runForEach((payload) =>
            Effect.sync(() => {
              const seq = seqOf(payload)
              if (!isExact(payload) || payload.length !== sizeOf(seq)) corrupt.push(`frame ${seq}`)
              received.set(seq, (received.get(seq) ?? 0) + 1)
            })
          ),
          Effect.forkScoped
        )
        const started = now()
        // Each sender pipelines its frames: the next send as soon as the last one was written.
        yield* Effect.forEach(
          Array.from({ length: senders }, (_, sender) => sender),
          (sender) =>
            Effect.forEach(
              Array.from({ length: perSender }, (_, i) => sender * perSender + i),
              (seq) => transport.send(numbered(seq, sizeOf(seq))),
              { discard: true }
            ),
          { concurrency: "unbounded", discard: true }
        )
        const sentAfter = now() - started
        yield* eventually(Effect.sync(() => received.size === senders * perSender || corrupt.length > 0)).pipe(
          Effect.timeout("30 seconds")
        )
        const elapsed = now() - started
        yield* Fiber.interrupt(receiver)
        const stats = yield* peer.stats

        assert.deepStrictEqual(corrupt, [])
        for (let seq = 0; seq < senders * perSender; seq++) assert.strictEqual(received.get(seq), 1, `frame ${seq}`)
        assert.strictEqual(stats.framesIn, senders * perSender)
        assert.strictEqual(stats.bytesIn, offered + 4 * senders * perSender)
        // The link paced it: 5 Mbit/s is 625 kB/s each way.
        const rate = (offered / elapsed) * 1000
        assert.isBelow(rate, 700_000, `${rate.toFixed(0)} B/s over a 5 Mbit/s link`)
        // What Node buffers for the socket is one write batch at a time, out of the outbound budget: never more.
        assert.isAtMost(observed.maxOutstanding, outboundBufferBytes)
        // The peer holds at most its high-water mark (64 KiB) plus the frames of one read.
        assert.isAtMost(stats.maxWritable, 256 * KiB)
        assert.isAtMost(stats.maxUnparsed, 256 * KiB)
        assert.isBelow(stats.arrayBuffers, 16 * MiB)
        assert.isTrue(isConnected(1)(yield* transport.state))
        console.info(
          `NetworkFaults slow link: ${(offered / KiB).toFixed(0)} KiB in ${senders * perSender} frames each way in ` +
            `${elapsed.toFixed(0)} ms (${(rate / 1000).toFixed(0)} kB/s; sends done after ${
              sentAfter.toFixed(0)
            } ms); ` +
            `Node's write buffer at most ${observed.maxOutstanding} B (budget ${outboundBufferBytes}); peer: ` +
            `max writable ${stats.maxWritable} B, max unparsed ${stats.maxUnparsed} B, arrayBuffers ` +
            `${stats.arrayBuffers} B, rss ${(stats.rss / MiB).toFixed(1)} MiB`
        )
      }),
    45_000
  )

  NetworkNamespaces.live(
    "a slow link whose outbound budget stays full: sends fail TimeoutError send, the connection stays up, what arrives is whole",
    () =>
      Effect.gen(function*() {
        const ns = yield* NetworkNamespaces.make()
        const peer = yield* ns.startFramePeer("echo")
        yield* ns.slowLink("2mbit")
        const outboundBufferBytes = 64 * KiB
        const { observed, transport } = yield* observedTransportTo(
          peer,
          { timeout: "300 millis" },
          { outboundBufferBytes }
        )
        yield* transport.awaitConnected
        const received: Array<number> = []
        const corrupt: Array<string> = []
        yield* transport.frames.pipe(
          Stream.runForEach((payload) =>
            Effect.sync(() => {
              if (!isExact(payload)) corrupt.push(`frame ${seqOf(payload)} of ${payload.length} bytes`)
              received.push(seqOf(payload))
            })
          ),
          Effect.forkScoped
        )
        // 32 senders, 32 KiB a frame, for 2 s: far more than 2 Mbit/s (250 kB/s) can carry.
        const size = 32 * KiB
        const succeeded: Array<number> = []
        const timedOut: Array<number> = []
        const others: Array<string> = []
        const until = now() + 2000
        let next = 0
        yield* Effect.forEach(
          Array.from({ length: 32 }, (_, i) => i),
          () =>
            Effect.gen(function*() {
              while (now() < until) {
                const seq = next++
                const exit = yield* Effect.exit(transport.send(numbered(seq, size)))
                if (Exit.isSuccess(exit)) {
                  succeeded.push(seq)
                  continue
                }
                const error = failureOf(exit)
                if (error._tag === "TimeoutError" && error.operation === "send") timedOut.push(seq)
                else others.push(error.message)
              }
            }),
          { concurrency: "unbounded", discard: true }
        )
        assert.deepStrictEqual(others, [])
        assert.isAbove(timedOut.length, 0, "some sends waited past their 300 ms")
        assert.isAbove(succeeded.length, 0, "the link still carries frames")
        assert.isTrue(isConnected(1)(yield* transport.state), "a slow link is not a dead one")
        assert.isAtMost(observed.maxOutstanding, outboundBufferBytes)

        // Everything accepted arrives, whole; a send that timed out arrives whole or not at all.
        const marker = 1_000_000
        yield* transport.send(numbered(marker, 16), { timeout: "20 seconds" })
        yield* eventually(Effect.sync(() => received.includes(marker))).pipe(Effect.timeout("20 seconds"))
        assert.deepStrictEqual(corrupt, [])
        const delivered = new Set(received)
        assert.strictEqual(delivered.size, received.length, "no frame twice")
        for (const seq of succeeded) assert.isTrue(delivered.has(seq), `accepted frame ${seq} delivered`)
        const lateDelivered = timedOut.filter((seq) => delivered.has(seq))
        const stats = yield* peer.stats
        assert.isAtMost(stats.maxWritable, 256 * KiB)
        console.info(
          `NetworkFaults full budget: ${succeeded.length} sends succeeded, ${timedOut.length} failed TimeoutError ` +
            `send (${lateDelivered.length} of those had been handed to the socket and arrived whole); Node's ` +
            `write buffer at most ${observed.maxOutstanding} B (budget ${outboundBufferBytes})`
        )
      }),
    45_000
  )
})
