import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ConnectionState from "../ConnectionState.js"
import { Connector } from "../Connector.js"
import * as Framing from "../Framing.js"
import type {
  DropOptions,
  OperationError,
  OperationOptions,
  SendOptions,
  TransportService,
  TypeId,
  UnsafeSendOptions
} from "../Transport.js"
import type { TransportConfig } from "../TransportConfig.js"
import type { TimeoutOperation, TransportError } from "../TransportError.js"
import { ConnectionClosedError, ConnectionError, FrameTooLargeError, TimeoutError } from "../TransportError.js"
import * as Connection from "./connection.js"
import type { TimeLimit } from "./deadlines.js"
import { Deadlines } from "./deadlines.js"
import type { Take } from "./inbound.js"
import { Inbound, takeFrame, takeFrames } from "./inbound.js"
import type { Live } from "./link.js"
import { Link } from "./link.js"
import type { Metrics } from "./meters.js"
import { tagged } from "./meters.js"
import { Supervisor } from "./supervisor.js"
import { TransportState } from "./transportState.js"
import { checkFramed, framePayload, framePayloads } from "./writePlan.js"

const noop = () => {}

/**
 * The transport's options with every default applied.
 *
 * @internal
 */
export interface Settings {
  readonly schedule: Schedule.Schedule<unknown, TransportError>
  readonly stableAfter: Duration.DurationInput
  readonly inboundBufferBytes: number
  readonly outboundBufferBytes: number
  readonly checkLengthsOnArrival: boolean
  readonly metrics: Metrics
}

/**
 * What `Transport.make` presents as the service.
 *
 * @internal
 */
export type Operations = Omit<TransportService, TypeId | "config">

/**
 * One transport: its state, deadlines, inbound side and link to the live connection, the supervisor that
 * keeps a connection up, and the operations over them. Closing the scope stops it.
 *
 * @internal
 */
export const make = (
  config: TransportConfig,
  settings: Settings
): Effect.Effect<Operations, never, Connector | Scope.Scope> =>
  Effect.gen(function*() {
    const connector = yield* Connector
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const address = config.address
    const metrics = tagged(settings.metrics, address)
    const framing: Framing.FramingOptions = { maxMessageSize: config.maxMessageSize }
    const maxFrameBytes = Framing.HEADER_SIZE + config.maxMessageSize

    const state = yield* TransportState.make(address, metrics.state, now)
    // The transport's own fibers (the supervisor, the deadline sweeper while it runs) are forked from one
    // runtime captured here, so they see this scope's services and clock; the finalizer interrupts them.
    const fork = Runtime.runFork(yield* Effect.runtime<never>())
    const fibers = new Set<Fiber.RuntimeFiber<void>>()
    const forkOwned = (effect: Effect.Effect<void>, options?: Runtime.RunForkOptions): Fiber.RuntimeFiber<void> => {
      const fiber = fork(effect, options)
      fibers.add(fiber)
      fiber.addObserver(() => fibers.delete(fiber))
      return fiber
    }
    const deadlines = new Deadlines(now, (sweeper) => {
      forkOwned(sweeper)
    })
    const inbound = new Inbound(address, settings.inboundBufferBytes, deadlines, now)
    const link = new Link(address, inbound)

    // The time bound of one call, or none: enforced by the deadline sweeper, not by a fiber per call.
    const limitFor = (
      operation: TimeoutOperation,
      options: OperationOptions | undefined
    ): TimeLimit<TimeoutError> | undefined => {
      const timeout = options?.timeout === undefined ? config.timeout : Duration.decode(options.timeout)
      if (!Duration.isFinite(timeout)) return undefined
      return {
        at: now() + Duration.toMillis(timeout),
        error: () => new TimeoutError({ operation, timeout, address })
      }
    }

    // ---- receiving --------------------------------------------------------------------------------------

    // Frames are counted as they are taken for a receiver: counted once, with no Effect per frame.
    const { countFramesIn } = metrics
    const takeCountedFrame: Take<Uint8Array> = (decoder) => {
      const frame = takeFrame(decoder)
      if (frame instanceof Uint8Array) countFramesIn(1)
      return frame
    }
    const takeCountedFrames: Take<Array<Uint8Array>> = (decoder) => {
      const batch = takeFrames(decoder)
      if (Array.isArray(batch)) countFramesIn(batch.length)
      return batch
    }

    const recvPkg = (options?: OperationOptions) => inbound.receive(takeCountedFrame, limitFor("receive", options))

    const recv = (size: number, options?: OperationOptions) => {
      if (!Number.isInteger(size) || size < 0) {
        return Effect.fail(
          new Cause.IllegalArgumentException(`recv: size must be a whole number of bytes from 0, got ${size}`)
        )
      }
      if (size > maxFrameBytes) {
        return Effect.fail(new FrameTooLargeError({ direction: "inbound", size, maxSize: maxFrameBytes }))
      }
      return inbound.receive((decoder) => decoder.takeExactly(size), limitFor("receive", options))
    }

    // After a receive found no connection, waits for a connection whose inbound bytes are already in place.
    const awaitNextConnection = state.awaitConnected("receive", (connected) => {
      const live = link.live
      return live !== undefined && live.generation === connected.generation
    })

    const pullFrames: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<ConnectionError>> = inbound.receive(
      takeCountedFrames,
      undefined
    ).pipe(
      Effect.map(Chunk.unsafeFromArray),
      Effect.catchAll((error) =>
        error._tag === "ConnectionClosedError"
          ? Effect.fail(error)
          : error._tag === "TimeoutError"
          ? Effect.succeed(Chunk.empty<Uint8Array>())
          : Effect.as(awaitNextConnection, Chunk.empty<Uint8Array>())
      ),
      Effect.mapError((error) => error._tag === "ConnectionClosedError" ? Option.none() : Option.some(error))
    )

    // ---- sending ----------------------------------------------------------------------------------------

    // A send that finds no connection fails `NotConnected`, unless it asked to wait for one within its time.
    const awaitLive = state.awaitConnected("send", (connected) => link.live?.generation === connected.generation)

    const write = (parts: ReadonlyArray<Uint8Array>, options: SendOptions | undefined, frames = 1) =>
      Effect.suspend(() => writeWithin(parts, limitFor("send", options), options?.awaitConnection === true, frames))

    /** The connection a send goes on (only `generation`, when given), or why there is none. */
    const liveFor = (generation?: number): Live | ConnectionClosedError | ConnectionError => {
      if (link.closed) return new ConnectionClosedError({ address, operation: "send" })
      const live = link.live
      if (live === undefined || (generation !== undefined && generation !== live.generation)) {
        return new ConnectionError({ reason: "NotConnected", address })
      }
      return live
    }

    const writeWithin = (
      parts: ReadonlyArray<Uint8Array>,
      limit: TimeLimit<TimeoutError> | undefined,
      awaitConnection: boolean,
      frames: number
    ): Effect.Effect<void, OperationError> => {
      const live = liveFor()
      if (live instanceof ConnectionClosedError) return Effect.fail(live)
      if (!(live instanceof ConnectionError)) {
        return live.outbox.offer(parts, limit === undefined ? undefined : { deadlines, ...limit }, frames)
      }
      // Not connected: fail, or wait for a connection within the send's time and try again.
      if (!awaitConnection) return Effect.fail(live)
      const waited = limit === undefined ? awaitLive : Effect.timeoutFail(awaitLive, {
        duration: Duration.millis(Math.max(0, limit.at - now())),
        onTimeout: limit.error
      })
      return Effect.zipRight(waited, Effect.suspend(() => writeWithin(parts, limit, awaitConnection, frames)))
    }

    const send = (payload: Uint8Array, options?: SendOptions) => {
      const parts = framePayload(payload, framing)
      return parts instanceof FrameTooLargeError ? Effect.fail(parts) : write(parts, options)
    }

    const unsafeSend = (
      payload: Uint8Array,
      settled: (error: OperationError | undefined) => void,
      options?: UnsafeSendOptions
    ): () => void => {
      const parts = framePayload(payload, framing)
      if (parts instanceof FrameTooLargeError) {
        settled(parts)
        return noop
      }
      const live = liveFor(options?.generation)
      if (live instanceof ConnectionClosedError || live instanceof ConnectionError) {
        settled(live)
        return noop
      }
      return live.outbox.offerCallback(parts, 1, settled)
    }

    const sendAll = (payloads: Iterable<Uint8Array>, options?: SendOptions) => {
      const list = Array.isArray(payloads) ? payloads as ReadonlyArray<Uint8Array> : Array.from(payloads)
      if (list.length === 0) return Effect.void
      const parts = framePayloads(list, framing)
      return parts instanceof FrameTooLargeError ? Effect.fail(parts) : write(parts, options, list.length)
    }

    const output = (bytes: Uint8Array, options?: SendOptions) => {
      const tooLarge = checkFramed(bytes, framing)
      return tooLarge !== undefined ? Effect.fail(tooLarge) : write([bytes], options)
    }

    // ---- dropping the connection -------------------------------------------------------------------------

    // The connection last dropped here: it stays `live` until the supervisor has handled the drop, and a second
    // drop meanwhile must not count.
    let droppedGeneration = 0
    const drop = (cause?: unknown, options?: DropOptions) =>
      Effect.sync(() => {
        const live = link.live
        if (live === undefined || live.source.ended !== undefined || live.generation === droppedGeneration) return false
        if (options?.generation !== undefined && options.generation !== live.generation) return false
        droppedGeneration = live.generation
        live.source.drop(new ConnectionError({ reason: "Dropped", address, generation: live.generation, cause }))
        return true
      })

    // ---- lifecycle --------------------------------------------------------------------------------------

    const host: Connection.Host = {
      config,
      connector,
      state,
      link,
      inbound,
      metrics,
      now,
      outboundBudget: settings.outboundBufferBytes,
      checkLengthsOnArrival: settings.checkLengthsOnArrival,
      framing
    }
    const supervisor = new Supervisor({
      schedule: settings.schedule,
      stableAfterMillis: Duration.toMillis(settings.stableAfter),
      now,
      state,
      link,
      open: (scope, dropped) => Connection.open(host, scope, dropped),
      fork: forkOwned
    })

    const start = Effect.suspend(() => {
      if (link.closed) return Effect.fail(new ConnectionClosedError({ address, operation: "start" }))
      return Effect.zipRight(state.rearm, Effect.sync(() => supervisor.start()))
    })

    const stop = Effect.suspend(() => {
      if (link.closed) return Effect.void
      link.close(new ConnectionClosedError({ address, operation: "send" }))
      return state.publish(ConnectionState.Event.Close()).pipe(
        Effect.zipRight(supervisor.stop),
        Effect.ensuring(Effect.sync(() => inbound.release()))
      )
    }).pipe(Effect.uninterruptible)

    yield* Effect.addFinalizer(() =>
      Effect.zipRight(stop, Effect.suspend(() => Fiber.interruptAll(Array.from(fibers))))
    )

    return {
      start,
      stop,
      state: state.get,
      isConnected: Effect.map(state.get, ConnectionState.isConnected),
      changes: Stream.suspend(() => state.changes),
      awaitConnected: state.awaitConnected("awaitConnected", () => true),
      drop,
      output,
      send,
      unsafeSend,
      sendAll,
      recvPkg,
      recv,
      frames: Stream.repeatEffectChunkOption(pullFrames)
    }
  })
