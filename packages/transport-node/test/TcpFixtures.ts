/**
 * Real-TCP fixtures for the transport's suites: the core suite's TCP harness, transports built through
 * `NodeTransport.layer`, echo servers, a listener that never accepts (for connects that hang), state waits and
 * open-handle counts.
 */
import { MiB } from "@rocketmq-effect/test-kit/Bytes"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as Live from "@rocketmq-effect/test-kit/Live"
import * as Timeline from "@rocketmq-effect/test-kit/Timeline"
import * as NodeTransport from "@rocketmq-effect/transport-node/NodeTransport"
import * as TransportServer from "@rocketmq-effect/transport-node/TransportServer"
import * as ConnectionState from "@rocketmq-effect/transport/ConnectionState"
import type * as Transport from "@rocketmq-effect/transport/Transport"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import { Worker } from "node:worker_threads"
import type * as TransportSuite from "../../transport/test/TransportSuite.js"

/**
 * A test over real sockets in real time, in a scope. The transport's warnings (retries running out, a peer's
 * bad frame), which these tests provoke on purpose, are silenced.
 */
export const live = Live.make({ timeout: 15_000 })

/** A config for 127.0.0.1:`port` with short timings, so that every test is bounded. */
export const configFor = (port: number, changes: Partial<TransportConfig.TransportConfigInput> = {}) =>
  TransportConfig.make({
    host: "127.0.0.1",
    port,
    timeout: "5 seconds",
    connectTimeout: "2 seconds",
    retryInterval: "50 millis",
    ...changes
  }).pipe(Effect.orDie)

/** A transport over TCP, built through the public layer, living in the current scope. */
export const makeTransport = (
  config: TransportConfig.TransportConfig,
  options?: Transport.Options
): Effect.Effect<Transport.TransportService, never, Scope.Scope> =>
  Effect.map(Layer.build(NodeTransport.layer(config, options)), Context.get(NodeTransport.NodeTransport))

/** A framed echo server on 127.0.0.1, port 0 unless given. */
export const echoServer = (options: TransportServer.ServerOptions = {}) =>
  Effect.gen(function*() {
    const server = yield* TransportServer.make(options)
    yield* server.serve(TransportServer.echo)
    return server
  }).pipe(Effect.orDie)

/**
 * The core's transport suite over real TCP: transports built through `NodeTransport.layer`, connecting to a
 * `TransportServer` whose handler is the peer. The handler reads every frame as it arrives into a queue that
 * `takeFrame` takes from; `push` and `pushFrame` are the connection's `output` and `send`.
 */
export const tcpHarness: TransportSuite.Harness = {
  name: "TCP (NodeConnector to a TransportServer)",
  virtualTime: false,
  makePeer: Effect.gen(function*() {
    // Room for whatever a test sends, the oversized frames a test writes raw aside.
    const server = yield* TransportServer.make({ maxMessageSize: 64 * MiB }).pipe(Effect.orDie)
    const accepted = yield* Queue.unbounded<TransportSuite.PeerConnection>()
    let ids = 0
    yield* server.serve((connection) =>
      Effect.gen(function*() {
        const frames = yield* Queue.unbounded<Uint8Array>()
        const closed = yield* Deferred.make<void>()
        // Writing to a connection that is gone does nothing, as for the in-memory peer.
        const ignoreClosed = <E extends { readonly _tag: string }>(effect: Effect.Effect<void, E>) =>
          effect.pipe(Effect.catchIf((error) => error._tag === "ConnectionError", () => Effect.void), Effect.orDie)
        yield* Queue.offer(accepted, {
          id: ++ids,
          push: (bytes) => ignoreClosed(connection.output(bytes)),
          pushFrame: (payload) => ignoreClosed(connection.send(payload)),
          takeFrame: Queue.take(frames),
          close: connection.close,
          reset: connection.reset,
          awaitClosed: Deferred.await(closed)
        })
        // The frames end when the connection closes, by either side, or fails.
        yield* connection.frames.pipe(Stream.runForEach((frame) => Queue.offer(frames, frame)), Effect.ignore)
        yield* Deferred.succeed(closed, undefined)
      })
    )
    return {
      accepted: Queue.take(accepted),
      makeTransport: (input, options) =>
        TransportConfig.make({
          host: "127.0.0.1",
          port: server.address.port,
          timeout: "5 seconds",
          connectTimeout: "2 seconds",
          ...input
        }).pipe(Effect.orDie, Effect.flatMap((config) => makeTransport(config, options)))
    }
  })
}

type State = ConnectionState.ConnectionState

/** The first state (the current one included) that `predicate` accepts; dies after `timeout`. */
export const awaitState = (
  transport: Transport.TransportService,
  predicate: (state: State) => boolean,
  timeout: Duration.DurationInput = "5 seconds"
): Effect.Effect<State> => Timeline.first(transport.changes, predicate, timeout)

/**
 * Records every state of `transport` from now on, in order (`seen`); `next` waits up to 5 seconds for the first
 * one not yet waited past that matches, so short-lived states (a disconnect followed by an immediate reconnect)
 * are not missed.
 */
export const recordStates = (transport: Transport.TransportService) =>
  Timeline.record(transport.changes, { timeout: "5 seconds", format: ConnectionState.format })

export const isConnected = (generation?: number) => (state: State) =>
  state._tag === "Connected" && (generation === undefined || state.generation === generation)

export const isDisconnectedWith = (reason: string) => (state: State) =>
  state._tag === "Disconnected" && Option.isSome(state.cause) && causeReason(state.cause.value) === reason

/** `reason` for a `ConnectionError`, `operation` for a `TimeoutError`, the tag otherwise. */
export const causeReason = (error: unknown): string => {
  const e = error as { _tag?: string; reason?: string; operation?: string }
  return e.reason ?? e.operation ?? e._tag ?? String(error)
}

/** How many live handles of each kind the process holds (`TCPSocketWrap`, `TCPServerWrap`, …). */
export const activeHandles = (): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1
  return counts
}

export const tcpHandles = () => {
  const counts = activeHandles()
  return { sockets: counts["TCPSocketWrap"] ?? 0, servers: counts["TCPServerWrap"] ?? 0 }
}

/** Waits until the process holds at most the given TCP handles; dies with the counts after 5 s. */
export const awaitTcpHandles = (expected: { readonly sockets: number; readonly servers: number }) =>
  eventually(Effect.sync(() => {
    const now = tcpHandles()
    return now.sockets <= expected.sockets && now.servers <= expected.servers
  })).pipe(
    Effect.timeout("5 seconds"),
    Effect.catchAll(() =>
      Effect.dieMessage(`open TCP handles ${JSON.stringify(tcpHandles())}, expected ${JSON.stringify(expected)}`)
    )
  )

// The listener lives in a worker thread whose event loop is blocked right after `listen`: the kernel completes
// handshakes into the accept queue, nobody accepts, and once the queue is full Linux drops further SYNs, so a
// connect hangs until its timeout. Nothing leaves the loopback interface.
const stalledListenerCode = `
const { parentPort, workerData } = require("node:worker_threads")
const net = require("node:net")
const server = net.createServer()
server.listen({ host: "127.0.0.1", port: 0, backlog: 1 }, () => {
  parentPort.postMessage(server.address().port)
  Atomics.wait(new Int32Array(workerData.signal), 0, 0)
  server.close()
})
`

const connectWithin = (port: number, millis: number) =>
  Effect.async<readonly [Net.Socket, boolean]>((resume) => {
    const socket = Net.createConnection({ host: "127.0.0.1", port })
    socket.on("error", () => {})
    const timer = setTimeout(() => resume(Effect.succeed([socket, false] as const)), millis)
    socket.once("connect", () => {
      clearTimeout(timer)
      resume(Effect.succeed([socket, true] as const))
    })
  })

/**
 * A port on 127.0.0.1 where a connect hangs: a listener that never accepts, whose accept queue is already full.
 * Everything is released with the scope.
 */
export const hangingPort: Effect.Effect<number, never, Scope.Scope> = Effect.gen(function*() {
  const signal = new SharedArrayBuffer(4)
  const worker = yield* Effect.acquireRelease(
    Effect.sync(() => new Worker(stalledListenerCode, { eval: true, workerData: { signal } })),
    (worker) =>
      Effect.promise(() => {
        const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()))
        Atomics.store(new Int32Array(signal), 0, 1)
        Atomics.notify(new Int32Array(signal), 0)
        return exited
      })
  )
  const port = yield* Effect.async<number>((resume) => {
    worker.once("message", (port: number) => resume(Effect.succeed(port)))
  })
  const fillers: Array<Net.Socket> = []
  yield* Effect.addFinalizer(() => Effect.sync(() => fillers.forEach((socket) => socket.destroy())))
  // Fill the accept queue until a connect stays pending: from then on every SYN is dropped.
  for (let i = 0; i < 8; i++) {
    const [socket, connected] = yield* connectWithin(port, 300)
    fillers.push(socket)
    if (!connected) return port
  }
  return yield* Effect.dieMessage("could not fill the accept queue: connects to a full listener do not hang here")
})
