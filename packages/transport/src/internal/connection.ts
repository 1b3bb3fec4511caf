import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
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
 * A connection that is up.
 *
 * @internal
 */
export interface Opened {
  readonly live: Live
  /** When it came up. */
  readonly upAt: number
}

/**
 * Connects once, in `scope`, and sets the connection up: its `Source` and `Outbox` in the link, reading,
 * writing and the idle timer started, `Connected` published. Returns once it is up; nothing waits on it
 * afterwards. Fails with why connecting failed; `undefined` when the transport left `Connecting` meanwhile.
 *
 * `dropped` is called, possibly several times and from any callback, with why the connection ended: the
 * first call is the one that counts. It can come before `open` returns.
 *
 * How it reads and writes: through the connection's raw `read` and `write` where it has them, so that an
 * idle connection parks no fiber (bytes and write completions arrive as callbacks); otherwise a reader fiber
 * runs `socket.run` and a writer fiber drains the outbox through `socket.writer`, both in `scope`.
 *
 * @internal
 */
export const open = (
  host: Host,
  scope: Scope.Scope,
  dropped: (cause: TransportError) => void
): Effect.Effect<Opened | undefined, TransportError> =>
  Effect.gen(function*() {
    const { config, inbound, link, metrics, now, state } = host
    const address = config.address
    yield* state.publish(ConnectionState.Event.Connect({ address }))
    yield* Metric.increment(metrics.connectAttempts)
    const connection = yield* Scope.extend(host.connector.connect(config), scope).pipe(
      Effect.timeoutFail({
        duration: config.connectTimeout,
        onTimeout: () => new TimeoutError({ operation: "connect", timeout: config.connectTimeout, address })
      }),
      // No stack trace: capturing one costs more than the rest of the span.
      Effect.withSpan("rocketmq.transport.connect", { attributes: { address }, captureStackTrace: false })
    )
    const before = yield* state.get
    if (before._tag !== "Connecting") return undefined
    const generation = before.generation + 1
    const upAt = now()
    const source = new Source(generation, Framing.makeDecoder(host.framing), connection, dropped, upAt)
    const outbox = new Outbox<ConnectionError | ConnectionClosedError>(host.outboundBudget, WRITE_BATCH_BYTES)
    const live: Live = { generation, source, outbox }
    link.up(live)

    const { countBytesIn, countBytesOut, countFramesOut } = metrics
    const checkLengthsOnArrival = host.checkLengthsOnArrival
    const onChunk = (chunk: Uint8Array) => {
      source.lastActivity = now()
      countBytesIn(chunk.length)
      const decoder = source.decoder
      decoder.push(chunk)
      const bad = checkLengthsOnArrival ? decoder.headError() : undefined
      if (bad !== undefined) {
        dropped(new ConnectionError({ reason: "Protocol", address, generation, cause: bad }))
        return
      }
      inbound.arrived(source)
    }
    const peerClosed = () => dropped(new ConnectionError({ reason: "PeerClosed", address, generation }))
    const readFailed = (cause: unknown) => dropped(new ConnectionError({ reason: "Read", address, generation, cause }))

    if (connection.read !== undefined) {
      connection.read(onChunk, (error) => error === undefined ? peerClosed() : readFailed(error))
    } else {
      yield* connection.socket.run(onChunk).pipe(
        Effect.matchCause({ onSuccess: peerClosed, onFailure: readFailed }),
        Effect.forkIn(scope)
      )
    }

    const written = (frames: number, bytes: number) => {
      countFramesOut(frames)
      countBytesOut(bytes)
    }
    const failed = (cause: unknown) => dropped(new ConnectionError({ reason: "Write", address, generation, cause }))
    const write = connection.write
    if (write !== undefined) {
      outbox.attach({ write, written, failed }, writePlan)
    } else {
      const writeBytes = yield* Scope.extend(connection.socket.writer, scope)
      // Without a raw write, one writer fiber drains the outbox through the socket's writer.
      yield* Effect.gen(function*() {
        while (true) {
          const batch = yield* outbox.takeBatch
          const result = yield* Effect.either(Effect.forEach(writePlan(batch), writeBytes, { discard: true }))
          if (result._tag === "Left") return failed(result.left)
          const done = outbox.completeBatch()
          written(done.frames, done.bytes)
        }
      }).pipe(Effect.ignore, Effect.forkIn(scope))
    }

    if (Option.isSome(config.idleTimeout)) {
      const idleMillis = Duration.toMillis(config.idleTimeout.value)
      yield* Effect.gen(function*() {
        while (true) {
          // While paused the peer is not idle: we are not reading.
          const quiet = source.paused ? 0 : now() - source.lastActivity
          if (quiet >= idleMillis) return dropped(new ConnectionError({ reason: "Idle", address, generation }))
          yield* Effect.sleep(Duration.millis(idleMillis - quiet))
        }
      }).pipe(Effect.forkIn(scope))
    }

    yield* state.publish(ConnectionState.Event.ConnectSuccess({ address: connection.remoteAddress }))
    if (generation > 1) yield* Metric.increment(metrics.reconnects)
    return { live, upAt }
  })
