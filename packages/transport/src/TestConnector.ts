/**
 * An in-memory `Connector` whose peer a test scripts: refuse, accept or hang the next attempts, push frames or
 * raw bytes, close or reset the connection, read what the transport wrote. Nothing touches the network and no
 * real time passes, so with `TestClock` a test pins reconnect timing exactly.
 *
 * @example
 * ```ts
 * import { Effect, Layer, TestClock, TestContext } from "effect"
 * import { TestConnector, Transport } from "@rocketmq-effect/transport"
 *
 * const program = Effect.gen(function*() {
 *   const peer = yield* TestConnector.TestPeer
 *   yield* peer.setDefault("refuse")
 *   const transport = yield* Transport.Transport
 *   yield* transport.start
 *   yield* TestClock.adjust("15 seconds")
 *   return (yield* peer.attempts).map((attempt) => attempt.at)
 * })
 *
 * // Not started when built, so that the peer's script is in place before the first attempt.
 * const TestLayer = Transport.layer({ retryInterval: "5 seconds" }, { autoStart: false }).pipe(
 *   Layer.provideMerge(TestConnector.layer)
 * )
 *
 * const attempts = await Effect.runPromise(
 *   program.pipe(Effect.provide(TestLayer), Effect.provide(TestContext.TestContext))
 * )
 * assert.deepStrictEqual(attempts, [0, 5000, 10000, 15000])
 * ```
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import type { Connection, ConnectorService } from "./Connector.js"
import { Connector } from "./Connector.js"
import * as Framing from "./Framing.js"
import { concat } from "./internal/bytes.js"
import type { TransportConfig } from "./TransportConfig.js"
import { ConnectionError } from "./TransportError.js"

/**
 * What a connection attempt does: succeed, fail as refused, or never answer (so that `connectTimeout` fires).
 *
 * @since 0.1.0
 * @category models
 */
export type Behaviour = "accept" | "refuse" | "hang"

/**
 * One connection attempt as the peer saw it: when (by the `Clock`, so `TestClock` time in tests), to which
 * address, and what it did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Attempt {
  readonly at: number
  readonly address: string
  readonly behaviour: Behaviour
}

/**
 * The peer's end of one accepted connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface PeerConnection {
  /** 1 for the first accepted connection, 2 for the next, … */
  readonly id: number
  /** Sends raw bytes to the transport (delivered as one chunk). */
  readonly push: (bytes: Uint8Array) => Effect.Effect<void>
  /** Frames `payload` and sends it. */
  readonly pushFrame: (payload: Uint8Array) => Effect.Effect<void>
  /** Closes cleanly, like a peer's FIN. */
  readonly close: Effect.Effect<void>
  /** Fails the connection, like a reset. */
  readonly reset: Effect.Effect<void>
  /** The next frame the transport wrote on this connection; waits for it. */
  readonly takeFrame: Effect.Effect<Uint8Array>
  /** Every byte the transport wrote on this connection so far. */
  readonly written: Effect.Effect<Uint8Array>
  /** Whether the transport paused reading (its inbound buffer is full). */
  readonly paused: Effect.Effect<boolean>
  /** Whether the connection is closed, by either side. */
  readonly isClosed: Effect.Effect<boolean>
  /** Completes when the connection closes, by either side. */
  readonly awaitClosed: Effect.Effect<void>
}

/**
 * The script of the in-memory peer.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestPeerService {
  /** What every attempt does once the queued behaviours are used up. Initially `"accept"`. */
  readonly setDefault: (behaviour: Behaviour) => Effect.Effect<void>
  /** Queues behaviours for the next attempts, in order. */
  readonly next: (...behaviours: ReadonlyArray<Behaviour>) => Effect.Effect<void>
  /** Every attempt so far. */
  readonly attempts: Effect.Effect<ReadonlyArray<Attempt>>
  /** Waits for the next connection that is accepted (one accepted earlier and not yet taken comes first). */
  readonly accepted: Effect.Effect<PeerConnection>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class TestPeer extends Context.Tag("@rocketmq-effect/transport/TestConnector/TestPeer")<
  TestPeer,
  TestPeerService
>() {}

const refused = (address: string) =>
  new ConnectionError({ reason: "Connect", address, cause: new Error("connection refused by the test peer") })

/**
 * Makes the connector and its peer script.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<readonly [ConnectorService, TestPeerService]> = Effect.gen(function*() {
  const queued: Array<Behaviour> = []
  let fallback: Behaviour = "accept"
  const attempts: Array<Attempt> = []
  const acceptedQueue = yield* Queue.unbounded<PeerConnection>()
  let ids = 0

  const connect = (config: TransportConfig) =>
    Effect.gen(function*() {
      const behaviour = queued.shift() ?? fallback
      const at = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      attempts.push({ at, address: config.address, behaviour })
      if (behaviour === "refuse") return yield* Effect.fail(refused(config.address))
      if (behaviour === "hang") return yield* Effect.never
      const [connection, peer] = yield* makePair(++ids, config)
      yield* Queue.offer(acceptedQueue, peer)
      return connection
    })

  const peer: TestPeerService = {
    setDefault: (behaviour) =>
      Effect.sync(() => {
        fallback = behaviour
      }),
    next: (...behaviours) =>
      Effect.sync(() => {
        queued.push(...behaviours)
      }),
    attempts: Effect.sync(() => attempts.slice()),
    accepted: Queue.take(acceptedQueue)
  }
  return [{ connect }, peer] as const
})

/**
 * The in-memory connector and its peer script, as one layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Connector | TestPeer> = Layer.effectContext(
  Effect.map(make, ([connector, peer]) => Context.make(Connector, connector).pipe(Context.add(TestPeer, peer)))
)

const makePair = (id: number, config: TransportConfig) =>
  Effect.gen(function*() {
    const framing = { maxMessageSize: config.maxMessageSize }
    const fromClient = Framing.makeDecoder({ maxMessageSize: Framing.MAX_FRAME_LENGTH })
    const writtenChunks: Array<Uint8Array> = []
    const frameWaiters: Array<() => void> = []
    // Bytes pushed while nobody reads, or while the transport paused reading.
    let pending: Array<Uint8Array> = []
    let handler: ((chunk: Uint8Array) => void) | undefined = undefined
    let paused = false
    let isClosed = false
    const ended = yield* Deferred.make<void, Socket.SocketError>()

    const deliver = () => {
      while (handler !== undefined && !paused && pending.length > 0) {
        const chunk = pending[0]!
        pending = pending.slice(1)
        handler(chunk)
      }
    }

    const finish = (exit: Exit.Exit<void, Socket.SocketError>) => {
      if (isClosed) return
      isClosed = true
      Deferred.unsafeDone(ended, exit)
      for (const wake of frameWaiters.splice(0)) wake()
    }

    const run = <_, E = never, R = never>(
      onData: (chunk: Uint8Array) => Effect.Effect<_, E, R> | void
    ): Effect.Effect<void, Socket.SocketError | E, R> =>
      Effect.suspend(() => {
        handler = (chunk) => {
          onData(chunk)
        }
        deliver()
        return Deferred.await(ended)
      }).pipe(
        Effect.ensuring(Effect.sync(() => {
          handler = undefined
        }))
      )

    const write = (chunk: Uint8Array | string | Socket.CloseEvent) =>
      Effect.suspend(() => {
        if (isClosed) {
          return Effect.fail(
            new Socket.SocketGenericError({ reason: "Write", cause: new Error("the test connection is closed") })
          )
        }
        if (Socket.isCloseEvent(chunk)) {
          finish(Exit.void)
          return Effect.void
        }
        const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk.slice()
        writtenChunks.push(bytes)
        fromClient.push(bytes)
        for (const wake of frameWaiters.splice(0)) wake()
        return Effect.void
      })

    const socket: Socket.Socket = Socket.Socket.of({
      [Socket.TypeId]: Socket.TypeId,
      run,
      runRaw: run,
      writer: Effect.acquireRelease(Effect.succeed(write), () => Effect.sync(() => finish(Exit.void)))
    })

    yield* Effect.addFinalizer(() => Effect.sync(() => finish(Exit.void)))

    const connection: Connection = {
      remoteAddress: config.address,
      socket,
      pause: () => {
        paused = true
      },
      resume: () => {
        paused = false
        deliver()
      }
    }

    const takeFrame: Effect.Effect<Uint8Array> = Effect.suspend(() => {
      const frame = fromClient.nextFrame()
      if (frame instanceof Uint8Array) return Effect.succeed(frame)
      if (isClosed) return Effect.never
      return Effect.async<void>((resume) => {
        frameWaiters.push(() => resume(Effect.void))
      }).pipe(Effect.zipRight(takeFrame))
    })

    const push = (bytes: Uint8Array) =>
      Effect.sync(() => {
        if (isClosed) return
        pending.push(bytes)
        deliver()
      })

    const peer: PeerConnection = {
      id,
      push,
      pushFrame: (payload) =>
        Either.match(Framing.encode(payload, framing), {
          // A test that wants to send an oversized frame pushes its bytes with `push`.
          onLeft: (error) => Effect.die(error),
          onRight: push
        }),
      close: Effect.sync(() => finish(Exit.void)),
      reset: Effect.sync(() =>
        finish(Exit.fail(new Socket.SocketGenericError({ reason: "Read", cause: new Error("connection reset") })))
      ),
      takeFrame,
      written: Effect.sync(() => concat(writtenChunks)),
      paused: Effect.sync(() => paused),
      isClosed: Effect.sync(() => isClosed),
      awaitClosed: Deferred.await(ended).pipe(Effect.ignore)
    }
    return [connection, peer] as const
  })
