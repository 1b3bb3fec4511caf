import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as ConnectionState from "../ConnectionState.js"
import type { ConnectorService } from "../Connector.js"
import * as Framing from "../Framing.js"
import type { TransportConfig } from "../TransportConfig.js"
import type { ConnectionClosedError, TransportError } from "../TransportError.js"
import { ConnectionError, TimeoutError } from "../TransportError.js"
import type { Inbound } from "./inbound.js"
import { Source } from "./inbound.js"
import type { Link, Live } from "./link.js"
import type { Meters } from "./meters.js"
import { Outbox } from "./outbox.js"
import type { TransportState } from "./transportState.js"
import { WRITE_BATCH_BYTES, writePlan } from "./writePlan.js"

/**
 * Decides, and publishes, what follows the end of a connection (`upFor`: how long it was up, none when
 * connecting failed): the delay before the next attempt, none when there is none.
 *
 * @internal
 */
export type OnDown = (cause: TransportError, upFor: Option.Option<number>) => Effect.Effect<Option.Option<number>>

/**
 * What a connection needs of its transport.
 *
 * @internal
 */
export interface Host {
  readonly config: TransportConfig
  readonly connector: ConnectorService
  readonly state: TransportState
  readonly link: Link
  readonly inbound: Inbound
  readonly metrics: Meters
  readonly now: () => number
  readonly outboundBudget: number
  readonly checkLengthsOnArrival: boolean
  readonly framing: Framing.FramingOptions
}

/**
 * Connects once and serves the connection until it drops, then returns what `onDown` decided.
 *
 * The connection has a scope, a generation and fibers of its own: a reader feeding its `Source`, a writer
 * draining its `Outbox`, and an idle timer; the first of them to see the connection end completes `dropped`
 * with why. Everything pending on it fails before `onDown` runs, and `onDown` runs while the connection
 * still exists, so nobody sees "connected" with no connection behind it.
 *
 * @internal
 */
export const serve = (host: Host, onDown: OnDown): Effect.Effect<Option.Option<number>> =>
  Effect.scoped(Effect.gen(function*() {
    const { config, inbound, link, metrics, now, state } = host
    const address = config.address
    yield* state.publish(ConnectionState.Event.Connect({ address }))
    yield* Metric.increment(metrics.connectAttempts)
    const opened = yield* Effect.either(
      host.connector.connect(config).pipe(
        Effect.timeoutFail({
          duration: config.connectTimeout,
          onTimeout: () => new TimeoutError({ operation: "connect", timeout: config.connectTimeout, address })
        }),
        Effect.withSpan("rocketmq.transport.connect", { attributes: { address } })
      )
    )
    if (Either.isLeft(opened)) return yield* onDown(opened.left, Option.none())
    const connection = opened.right
    const before = yield* state.get
    if (before._tag !== "Connecting") return Option.none<number>()
    const generation = before.generation + 1
    const writeBytes = yield* connection.socket.writer
    const dropped = yield* Deferred.make<TransportError>()
    const drop = (cause: TransportError) => Deferred.unsafeDone(dropped, Exit.succeed(cause))
    const upAt = now()
    const source = new Source(generation, Framing.makeDecoder(host.framing), connection, drop, upAt)
    const outbox = new Outbox<ConnectionError | ConnectionClosedError>(host.outboundBudget, WRITE_BATCH_BYTES)
    const live: Live = { generation, source, outbox }
    link.up(live)
    yield* state.publish(ConnectionState.Event.ConnectSuccess({ address: connection.remoteAddress }))
    if (generation > 1) yield* Metric.increment(metrics.reconnects)

    const { countBytesIn, countBytesOut, countFramesOut } = metrics
    const checkLengthsOnArrival = host.checkLengthsOnArrival
    const onChunk = (chunk: Uint8Array) => {
      source.lastActivity = now()
      countBytesIn(chunk.length)
      const decoder = source.decoder
      decoder.push(chunk)
      const bad = checkLengthsOnArrival ? decoder.headError() : undefined
      if (bad !== undefined) {
        drop(new ConnectionError({ reason: "Protocol", address, generation, cause: bad }))
        return
      }
      inbound.arrived(source)
    }

    yield* connection.socket.run(onChunk).pipe(
      Effect.matchCause({
        onSuccess: () => new ConnectionError({ reason: "PeerClosed", address, generation }),
        onFailure: (cause) => new ConnectionError({ reason: "Read", address, generation, cause })
      }),
      Effect.flatMap((error) => Deferred.succeed(dropped, error)),
      Effect.forkScoped
    )

    const written = (frames: number, bytes: number) => {
      countFramesOut(frames)
      countBytesOut(bytes)
    }
    const failed = (cause: unknown) => drop(new ConnectionError({ reason: "Write", address, generation, cause }))
    const write = connection.write
    if (write !== undefined) {
      outbox.attach({ write, written, failed }, writePlan)
    } else {
      // Without a raw write, one writer fiber drains the outbox through the socket's writer.
      yield* Effect.gen(function*() {
        while (true) {
          const batch = yield* outbox.takeBatch
          const result = yield* Effect.either(Effect.forEach(writePlan(batch), writeBytes, { discard: true }))
          if (Either.isLeft(result)) return failed(result.left)
          const done = outbox.completeBatch()
          written(done.frames, done.bytes)
        }
      }).pipe(Effect.ignore, Effect.forkScoped)
    }

    if (Option.isSome(config.idleTimeout)) {
      const idleMillis = Duration.toMillis(config.idleTimeout.value)
      yield* Effect.gen(function*() {
        while (true) {
          // While paused the peer is not idle: we are not reading.
          const quiet = source.paused ? 0 : now() - source.lastActivity
          if (quiet >= idleMillis) return drop(new ConnectionError({ reason: "Idle", address, generation }))
          yield* Effect.sleep(Duration.millis(idleMillis - quiet))
        }
      }).pipe(Effect.forkScoped)
    }

    const cause = yield* Deferred.await(dropped)
    link.down(live, cause)
    return yield* onDown(cause, Option.some(now() - upAt))
  }))
