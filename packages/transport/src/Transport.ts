/**
 * The transport: one logical connection to `config.address`, kept up by a supervisor fiber that reconnects on
 * a `Schedule`, carrying length-prefixed frames both ways.
 *
 * Provide it as a `Layer` (`layer(config)` here, over any `Connector`; `NodeTransport.layer(config)` in
 * `@rocketmq-effect/transport-node` for TCP). Closing the layer's scope closes the transport.
 *
 * It is quiet while healthy: state transitions are logged at `Debug` (turn them on with
 * `Logger.withMinimumLogLevel(LogLevel.Debug)`), annotated with `address` and `generation`; only giving up
 * on reconnecting and a peer's invalid frame are logged at `Warning`.
 *
 * What it guarantees:
 * - Frames are delivered whole and in order per connection; concurrent sends never interleave.
 * - Every operation completes or fails with a typed error; on a disconnect everything pending on that
 *   connection fails at once with `ConnectionError` reason `"Disconnected"` (retrying is the caller's call).
 * - A receive that times out consumes nothing: a half-received frame is delivered whole to the next receive.
 * - Inbound and outbound buffering are bounded; when the inbound budget is full the transport stops reading,
 *   and TCP pushes back on the peer.
 * - Each connection has its own reader, writer and generation number: nothing of an old connection can touch
 *   a newer one.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberHandle from "effect/FiberHandle"
import { identity } from "effect/Function"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as ConnectionState from "./ConnectionState.js"
import type { Connection } from "./Connector.js"
import { Connector } from "./Connector.js"
import * as Framing from "./Framing.js"
import { concat } from "./internal/bytes.js"
import type { Deadline } from "./internal/deadlines.js"
import { Deadlines } from "./internal/deadlines.js"
import { Outbox } from "./internal/outbox.js"
import type { TransportConfig, TransportConfigInput } from "./TransportConfig.js"
import { isTransportConfig, make as makeConfig } from "./TransportConfig.js"
import type { ConfigurationError, TransportError } from "./TransportError.js"
import {
  ConnectionClosedError,
  ConnectionError,
  FrameTooLargeError,
  TimeoutError,
  type TimeoutOperation
} from "./TransportError.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@rocketmq-effect/transport/Transport")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * What a send (`send`, `output`) can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type SendError = ConnectionError | ConnectionClosedError | FrameTooLargeError | TimeoutError

/**
 * What a receive (`recvPkg`, `recv`) can fail with. A bad inbound frame is a `ConnectionError` with reason
 * `"Protocol"` whose `cause` says what was seen.
 *
 * @since 0.1.0
 * @category models
 */
export type ReceiveError = ConnectionError | ConnectionClosedError | FrameTooLargeError | TimeoutError

/**
 * Per-call options of the operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface OperationOptions {
  /**
   * Bounds the operation with a `TimeoutError`. Defaults to the config's `timeout` (the seed's operation
   * timeout); `Duration.infinity` waits for ever.
   */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * The transport service.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportService {
  readonly [TypeId]: TypeId
  readonly config: TransportConfig
  /**
   * Starts connecting (the layer does this when it is built unless `autoStart` is false). Does nothing while
   * connecting or connected; after retries were exhausted it starts a fresh round. Fails once stopped.
   */
  readonly start: Effect.Effect<void, ConnectionClosedError>
  /**
   * Closes the transport for good: state `Closed`, connection released, pending work failed with
   * `ConnectionClosedError`. Idempotent; never waits on the network.
   */
  readonly stop: Effect.Effect<void>
  readonly state: Effect.Effect<ConnectionState.ConnectionState>
  readonly isConnected: Effect.Effect<boolean>
  /** The current state, then every transition. */
  readonly changes: Stream.Stream<ConnectionState.ConnectionState>
  /**
   * Waits until connected. Fails with `ConnectionClosedError` when the transport closes and with
   * `ConnectionError` reason `"RetriesExhausted"` when the schedule gives up.
   */
  readonly awaitConnected: Effect.Effect<
    ConnectionState.ConnectionState & { readonly _tag: "Connected" },
    ConnectionError | ConnectionClosedError
  >
  /** Writes bytes that are already framed (the seed's `output`). */
  readonly output: (bytes: Uint8Array, options?: OperationOptions) => Effect.Effect<void, SendError>
  /** Frames `payload` and writes it. */
  readonly send: (payload: Uint8Array, options?: OperationOptions) => Effect.Effect<void, SendError>
  /**
   * Frames several payloads and writes them in order as one write: nothing else is interleaved between
   * them, and they complete or fail together. If one is over `maxMessageSize`, none is sent. The way to
   * pipeline many frames from one fiber.
   */
  readonly sendAll: (payloads: Iterable<Uint8Array>, options?: OperationOptions) => Effect.Effect<void, SendError>
  /** The next inbound payload (the seed's `recv_pkg`). An empty frame is an empty array. */
  readonly recvPkg: (options?: OperationOptions) => Effect.Effect<Uint8Array, ReceiveError>
  /** Exactly `size` inbound bytes, ignoring framing (the seed's `recv`). */
  readonly recv: (size: number, options?: OperationOptions) => Effect.Effect<Uint8Array, ReceiveError>
  /**
   * Every inbound payload, across reconnects, until the transport closes. Fails only when retries are
   * exhausted. Reads the same sequence as `recvPkg`: use one or the other.
   */
  readonly frames: Stream.Stream<Uint8Array, ConnectionError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Transport extends Context.Tag("@rocketmq-effect/transport/Transport")<Transport, TransportService>() {}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isTransport = (u: unknown): u is TransportService => Predicate.hasProperty(u, TypeId)

/**
 * Options of the transport beyond the seed's config.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Replaces the reconnect schedule built from `retryInterval` and `maxRetries`. */
  readonly reconnectSchedule?: Schedule.Schedule<unknown, TransportError> | undefined
  /**
   * A connection that stayed up at least this long counts as healthy when it drops: the schedule starts over
   * and the first reconnect is immediate. One that drops sooner counts as a failed attempt, so a peer that
   * accepts and hangs up at once cannot cause a reconnect storm. Default: `retryInterval`, at least 1 second.
   */
  readonly stableAfter?: Duration.DurationInput | undefined
  /**
   * Unread inbound bytes the transport holds before it stops reading the socket. Default: 4 MiB or four
   * of the largest frames, whichever is more. A receive
   * that waits for a frame larger than this still gets it: reading goes on while someone waits.
   */
  readonly inboundBufferBytes?: number | undefined
  /**
   * Outbound bytes accepted but not yet written. Default: 4 MiB or four of the largest frames, whichever is
   * more. A larger single send is let in alone.
   */
  readonly outboundBufferBytes?: number | undefined
  /**
   * Check each frame's length prefix as soon as its four bytes arrive, so a bogus one (another protocol on
   * the port) drops the connection even while nobody receives. Default `true`. Set it to `false` when the
   * peer sends raw bytes that `recv(n)` reads before the frames start: a bad length is then reported when a
   * receive reaches it.
   */
  readonly checkLengthsOnArrival?: boolean | undefined
  /** Start connecting when the transport is made. Default `true`. */
  readonly autoStart?: boolean | undefined
}

/**
 * The reconnect schedule the seed's config describes: attempts spaced by `retryInterval`, at most
 * `maxRetries` retries after the first attempt (-1: for ever, 0: none).
 *
 * @since 0.1.0
 * @category schedules
 */
export const reconnectSchedule = (
  config: Pick<TransportConfig, "retryInterval" | "maxRetries">
): Schedule.Schedule<unknown, unknown> => {
  const spaced = Schedule.spaced(config.retryInterval)
  return config.maxRetries < 0 ? spaced : Schedule.intersect(spaced, Schedule.recurs(config.maxRetries))
}

/**
 * A ready reconnect schedule for fleets: exponential backoff from `base` (default 100 ms) by `factor`
 * (default 2), each delay capped at `max` (default 30 s) and jittered (±20 %), at most `maxRetries`
 * retries (default: for ever).
 *
 * @since 0.1.0
 * @category schedules
 */
export const exponentialBackoff = (options?: {
  readonly base?: Duration.DurationInput | undefined
  readonly factor?: number | undefined
  readonly max?: Duration.DurationInput | undefined
  readonly maxRetries?: number | undefined
  readonly jitter?: boolean | undefined
}): Schedule.Schedule<unknown, unknown> => {
  const max = Duration.decode(options?.max ?? Duration.seconds(30))
  const exponential = Schedule.exponential(options?.base ?? Duration.millis(100), options?.factor ?? 2).pipe(
    Schedule.modifyDelay((delay) => Duration.min(delay, max))
  )
  const jittered = options?.jitter === false ? exponential : Schedule.jittered(exponential)
  const maxRetries = options?.maxRetries ?? -1
  return maxRetries < 0 ? jittered : Schedule.intersect(jittered, Schedule.recurs(maxRetries))
}

const DEFAULT_BUFFER_BYTES = 4 * 1024 * 1024
const WRITE_BATCH_BYTES = 64 * 1024
// From this size on, a payload is written from the caller's buffer instead of being copied behind its header.
const ZERO_COPY_BYTES = 32 * 1024
const FRAMES_PER_BATCH = 1024

const metrics = {
  framesIn: Metric.counter("rocketmq_transport_frames_in", { description: "Inbound frames delivered" }),
  framesOut: Metric.counter("rocketmq_transport_frames_out", { description: "Outbound frames written" }),
  bytesIn: Metric.counter("rocketmq_transport_bytes_in", { description: "Inbound bytes read" }),
  bytesOut: Metric.counter("rocketmq_transport_bytes_out", { description: "Outbound bytes written" }),
  connectAttempts: Metric.counter("rocketmq_transport_connect_attempts", { description: "Connection attempts" }),
  reconnects: Metric.counter("rocketmq_transport_reconnects", {
    description: "Connections established after the first"
  }),
  state: Metric.gauge("rocketmq_transport_state", {
    description: "Current state: 0 disconnected, 1 connecting, 2 connected, 3 closed"
  })
}

/**
 * The transport's metrics, tagged with `address`: frames and bytes in and out, connection attempts,
 * reconnects and the current state.
 *
 * @since 0.1.0
 * @category metrics
 */
export const TransportMetrics = metrics

const stateNumber = (state: ConnectionState.ConnectionState): number =>
  state._tag === "Disconnected" ? 0 : state._tag === "Connecting" ? 1 : state._tag === "Connected" ? 2 : 3

/**
 * Transitions are routine and logged at `Debug`; a user must hear about two of them without asking: the
 * schedule giving up, and a peer that sends something that is not a frame.
 */
const logLevelOf = (state: ConnectionState.ConnectionState): LogLevel.LogLevel =>
  state._tag === "Disconnected" && (state.exhausted || Option.exists(state.cause, isProtocolError))
    ? LogLevel.Warning
    : LogLevel.Debug

const isProtocolError = (error: TransportError): boolean =>
  error._tag === "ConnectionError" && error.reason === "Protocol"

type Connected = ConnectionState.ConnectionState & { readonly _tag: "Connected" }
type AwaitError = ConnectionError | ConnectionClosedError

/** One connection's unread inbound bytes and its read flow control. */
class Inbound {
  /** A receiver is waiting for bytes that are not there yet. */
  demand = false
  ended: TransportError | undefined = undefined
  paused = false
  lastActivity: number
  constructor(
    readonly generation: number,
    readonly decoder: Framing.Decoder,
    readonly connection: Connection,
    now: number
  ) {
    this.lastActivity = now
  }
  pause(): void {
    if (!this.paused && this.ended === undefined) {
      this.paused = true
      this.connection.pause()
    }
  }
  resume(now: number): void {
    if (this.paused) {
      this.paused = false
      this.lastActivity = now
      this.connection.resume()
    }
  }
}

/** The connection that is up right now. */
interface Live {
  readonly generation: number
  readonly inbound: Inbound
  readonly outbox: Outbox<ConnectionError | ConnectionClosedError>
  readonly dropped: Deferred.Deferred<TransportError>
}

/**
 * Makes a transport in the current scope, over the `Connector` in context. Closing the scope stops it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  config: TransportConfig,
  options?: Options
): Effect.Effect<TransportService, never, Connector | Scope.Scope> =>
  Effect.gen(function*() {
    const connector = yield* Connector
    const clock = yield* Effect.clock
    const address = config.address
    const tags = (metric: Metric.Metric.Counter<number>) => Metric.tagged(metric, "address", address)
    const framesIn = tags(metrics.framesIn)
    const framesOut = tags(metrics.framesOut)
    const bytesIn = tags(metrics.bytesIn)
    const bytesOut = tags(metrics.bytesOut)
    const stateGauge = Metric.tagged(metrics.state, "address", address)
    const schedule: Schedule.Schedule<unknown, TransportError> = options?.reconnectSchedule ??
      reconnectSchedule(config)
    const stableAfterMillis = Duration.toMillis(
      options?.stableAfter ?? Duration.max(config.retryInterval, Duration.seconds(1))
    )
    // By default room for a few of the largest frames, so that big frames in flight do not stall on the budget.
    const defaultBudget = Math.max(DEFAULT_BUFFER_BYTES, 4 * (Framing.HEADER_SIZE + config.maxMessageSize))
    const inboundBudget = Math.max(1, options?.inboundBufferBytes ?? defaultBudget)
    const outboundBudget = Math.max(1, options?.outboundBufferBytes ?? defaultBudget)
    const maxFrameBytes = Framing.HEADER_SIZE + config.maxMessageSize
    const framing: Framing.FramingOptions = { maxMessageSize: config.maxMessageSize }
    const checkLengthsOnArrival = options?.checkLengthsOnArrival !== false

    const stateRef = yield* SubscriptionRef.make(ConnectionState.initial)
    let closed = false
    let live: Live | undefined = undefined
    // Unread inbound bytes per connection, oldest first; only the last can belong to the live connection.
    let inbounds: Array<Inbound> = []

    const now = () => clock.unsafeCurrentTimeMillis()

    const publish = (event: ConnectionState.Event) =>
      SubscriptionRef.modify(
        stateRef,
        (state): readonly [Either.Either<Option.Option<ConnectionState.ConnectionState>, Error>, any] => {
          // After stop, whatever the supervisor was about to report no longer applies.
          if (state._tag === "Closed") return [Either.right(Option.none()), state]
          const next = ConnectionState.transition(state, event)
          return Either.isLeft(next)
            ? [Either.left(next.left), state]
            : [Either.right(Option.some(next.right)), next.right]
        }
      ).pipe(
        // The supervisor only fires events its own state allows: anything else is a bug.
        Effect.flatMap(Either.match({ onLeft: Effect.die, onRight: Effect.succeed })),
        Effect.tap(Option.match({
          onNone: () => Effect.void,
          onSome: (state) =>
            Metric.set(stateGauge, stateNumber(state)).pipe(
              Effect.zipRight(Effect.logWithLevel(logLevelOf(state), ConnectionState.format(state))),
              Effect.annotateLogs({
                address,
                generation: "generation" in state ? state.generation : 0
              })
            )
        }))
      )

    const closedError = (operation: string) => new ConnectionClosedError({ address, operation })
    const notConnected = () => new ConnectionError({ reason: "NotConnected", address })
    const exhaustedError = (state: ConnectionState.ConnectionState & { readonly _tag: "Disconnected" }) =>
      new ConnectionError({
        reason: "RetriesExhausted",
        address,
        attempts: state.attempts,
        cause: Option.getOrUndefined(state.cause)
      })

    const deadlines = new Deadlines(() => clock.unsafeCurrentTimeMillis())
    yield* Effect.forkScoped(deadlines.sweep)

    // The time bound of one call, or none: enforced by the deadline sweeper, not by a fiber per call.
    const limitFor = (
      operation: TimeoutOperation,
      options: OperationOptions | undefined
    ): { readonly at: number; readonly error: () => TimeoutError } | undefined => {
      const timeout = options?.timeout === undefined ? config.timeout : Duration.decode(options.timeout)
      if (!Duration.isFinite(timeout)) return undefined
      return {
        at: clock.unsafeCurrentTimeMillis() + Duration.toMillis(timeout),
        error: () => new TimeoutError({ operation, timeout, address })
      }
    }

    // ---- inbound ----------------------------------------------------------------------------------------

    const unreadBytes = () => {
      let total = 0
      for (const inbound of inbounds) total += inbound.decoder.buffered
      return total
    }

    const afterConsume = () => {
      if (live !== undefined && live.inbound.paused && unreadBytes() < inboundBudget / 2) live.inbound.resume(now())
    }

    /**
     * A receive waiting its turn. Receivers are served strictly in arrival order from the one ordered inbound
     * sequence, by `pump`, which runs whenever something they may be waiting for happens (bytes arrive, a
     * connection drops, the transport stops). No lock and no fiber per receive: a receive is one `async`.
     */
    interface Receiver {
      readonly take: (decoder: Framing.Decoder) => unknown
      readonly resume: (effect: Effect.Effect<any, ConnectionError | ConnectionClosedError | TimeoutError>) => void
      waitedOn: Inbound | undefined
      deadline: Deadline | undefined
      done: boolean
    }
    let receivers: Array<Receiver> = []

    // What the head receiver gets now: a result to settle it with, or `undefined` to keep waiting.
    const attempt = (
      receiver: Receiver
    ): Effect.Effect<unknown, ConnectionError | ConnectionClosedError> | undefined => {
      while (true) {
        if (closed) return Effect.fail(closedError("receive"))
        const inbound = inbounds[0]
        if (inbound === undefined) return Effect.fail(notConnected())
        const result = receiver.take(inbound.decoder)
        if (result === undefined) {
          if (inbound.ended !== undefined) {
            // Whatever is left of a dropped connection is an incomplete frame: it can never be delivered.
            inbounds = inbounds.slice(1)
            if (receiver.waitedOn === inbound) {
              return Effect.fail(
                new ConnectionError({
                  reason: "Disconnected",
                  address,
                  generation: inbound.generation,
                  cause: inbound.ended
                })
              )
            }
            continue
          }
          receiver.waitedOn = inbound
          return undefined
        }
        if (result instanceof FrameTooLargeError) {
          // Nothing after a bad length can ever be delivered: the connection's bytes go, and the error is
          // reported once. A receiver that came after the connection was dropped for it skips it, as it
          // skips an incomplete frame; the state's cause says why that connection ended.
          inbounds = inbounds.slice(1)
          const error = new ConnectionError({
            reason: "Protocol",
            address,
            generation: inbound.generation,
            cause: result
          })
          if (inbound.ended === undefined) {
            if (live !== undefined && live.inbound === inbound) Deferred.unsafeDone(live.dropped, Exit.succeed(error))
          } else if (receiver.waitedOn !== inbound) {
            continue
          }
          return Effect.fail(error)
        }
        return Effect.succeed(result)
      }
    }

    const settle = (receiver: Receiver, result: Effect.Effect<unknown, any>) => {
      receiver.done = true
      if (receiver.deadline !== undefined) deadlines.remove(receiver.deadline)
      receiver.resume(result)
    }

    const pump = () => {
      let served = 0
      while (served < receivers.length) {
        const receiver = receivers[served]!
        if (receiver.done) {
          served++
          continue
        }
        const result = attempt(receiver)
        if (result === undefined) break
        served++
        settle(receiver, result)
      }
      if (served > 0) receivers = served === receivers.length ? [] : receivers.slice(served)
      const waiting = receivers.length > 0 ? receivers[0]!.waitedOn : undefined
      for (const inbound of inbounds) inbound.demand = inbound === waiting
      // Demand keeps the reader going past the budget until the head receiver has what it waits for.
      if (waiting !== undefined) waiting.resume(now())
      else afterConsume()
    }

    const receive = <A>(
      take: (decoder: Framing.Decoder) => A | FrameTooLargeError | undefined,
      limit: { readonly at: number; readonly error: () => TimeoutError } | undefined
    ): Effect.Effect<A, ConnectionError | ConnectionClosedError | TimeoutError> =>
      Effect.async((resume) => {
        const receiver: Receiver = { take, resume, waitedOn: undefined, deadline: undefined, done: false }
        receivers.push(receiver)
        pump()
        if (receiver.done) return
        if (limit !== undefined) {
          receiver.deadline = {
            at: limit.at,
            expire: () => {
              if (receiver.done) return
              receiver.deadline = undefined
              settle(receiver, Effect.fail(limit.error()))
              pump()
            }
          }
          deadlines.add(receiver.deadline)
        }
        return Effect.sync(() => {
          if (receiver.done) return
          receiver.done = true
          if (receiver.deadline !== undefined) deadlines.remove(receiver.deadline)
          pump()
        })
      })

    const takeFrame = (decoder: Framing.Decoder) => decoder.nextFrame()

    const recvPkg = (options?: OperationOptions) =>
      receive(takeFrame, limitFor("receive", options)).pipe(Effect.tap(() => framesIn(Effect.succeed(1))))

    const recv = (size: number, options?: OperationOptions) => {
      if (!Number.isInteger(size) || size < 0 || size > maxFrameBytes) {
        return Effect.fail(new FrameTooLargeError({ direction: "inbound", size, maxSize: maxFrameBytes }))
      }
      return receive((decoder) => decoder.takeExactly(size), limitFor("receive", options))
    }

    const takeFrames = (decoder: Framing.Decoder): Array<Uint8Array> | FrameTooLargeError | undefined => {
      const frame = decoder.nextFrame()
      if (frame === undefined || frame instanceof FrameTooLargeError) return frame
      const out = [frame]
      while (out.length < FRAMES_PER_BATCH) {
        const next = decoder.nextFrame()
        // A bad frame after good ones is reported by the next pull, once the good ones are delivered.
        if (next === undefined || next instanceof FrameTooLargeError) break
        out.push(next)
      }
      return out
    }

    // ---- state ------------------------------------------------------------------------------------------

    const changes = stateRef.changes.pipe(Stream.changes)

    // Waits for a `Connected` state that `ready` accepts; fails when the transport closes or gives up.
    const awaitConnectedWhere = (operation: string, ready: (state: Connected) => boolean) =>
      changes.pipe(
        Stream.mapEffect((state): Effect.Effect<Option.Option<Connected>, AwaitError> => {
          switch (state._tag) {
            case "Connected":
              return Effect.succeed(ready(state) ? Option.some(state) : Option.none())
            case "Closed":
              return Effect.fail(closedError(operation))
            case "Disconnected":
              return state.exhausted ? Effect.fail(exhaustedError(state)) : Effect.succeed(Option.none())
            case "Connecting":
              return Effect.succeed(Option.none())
          }
        }),
        Stream.filterMap(identity),
        Stream.runHead,
        // The state stream never ends on its own; only interruption gets past it without a value.
        Effect.flatMap(Option.match({ onNone: () => Effect.never, onSome: Effect.succeed }))
      )

    const awaitConnected = awaitConnectedWhere("awaitConnected", () => true)

    // After a receive found no connection, waits for a connection whose inbound bytes are already in place.
    const awaitNextConnection = awaitConnectedWhere(
      "receive",
      (state) => live !== undefined && live.generation === state.generation
    )

    const pullFrames: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<ConnectionError>> = receive(
      takeFrames,
      undefined
    )
      .pipe(
        Effect.tap((batch) => framesIn(Effect.succeed(batch.length))),
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

    const frames: Stream.Stream<Uint8Array, ConnectionError> = Stream.repeatEffectChunkOption(pullFrames)

    // ---- outbound ---------------------------------------------------------------------------------------

    const write = (parts: ReadonlyArray<Uint8Array>, options: OperationOptions | undefined, frames = 1) =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(closedError("send"))
        if (live === undefined) return Effect.fail(notConnected())
        const limit = limitFor("send", options)
        return live.outbox.offer(parts, limit === undefined ? undefined : { deadlines, ...limit }, frames)
      })

    const tooLarge = (size: number) =>
      Effect.fail(new FrameTooLargeError({ direction: "outbound", size, maxSize: config.maxMessageSize }))

    // A large payload is not copied: its header and the payload itself go out as two writes. The caller's
    // buffer is only read until the send completes.
    const send = (payload: Uint8Array, options?: OperationOptions) => {
      if (payload.length > config.maxMessageSize) return tooLarge(payload.length)
      if (payload.length >= ZERO_COPY_BYTES) return write([Framing.encodeHeader(payload.length), payload], options)
      return Either.match(Framing.encode(payload, framing), {
        onLeft: Effect.fail,
        onRight: (frame) => write([frame], options)
      })
    }

    const sendAll = (payloads: Iterable<Uint8Array>, options?: OperationOptions) => {
      const list = Array.isArray(payloads) ? payloads as ReadonlyArray<Uint8Array> : Array.from(payloads)
      if (list.length === 0) return Effect.void
      const parts: Array<Uint8Array> = []
      // Runs of small payloads are framed into one buffer each; large ones are written from where they are.
      // Nothing is written before every payload has been checked.
      let run: Array<Uint8Array> = []
      const flush = (): FrameTooLargeError | undefined => {
        if (run.length === 0) return undefined
        const framed = Framing.encodeAll(run, framing)
        run = []
        if (Either.isLeft(framed)) return framed.left
        parts.push(framed.right)
        return undefined
      }
      for (const payload of list) {
        if (payload.length < ZERO_COPY_BYTES) {
          run.push(payload)
          continue
        }
        if (payload.length > config.maxMessageSize) return tooLarge(payload.length)
        const failure = flush()
        if (failure !== undefined) return Effect.fail(failure)
        parts.push(Framing.encodeHeader(payload.length), payload)
      }
      const failure = flush()
      if (failure !== undefined) return Effect.fail(failure)
      return write(parts, options, list.length)
    }

    const output = (bytes: Uint8Array, options?: OperationOptions) =>
      bytes.length > maxFrameBytes
        ? Effect.fail(
          new FrameTooLargeError({
            direction: "outbound",
            size: bytes.length - Framing.HEADER_SIZE,
            maxSize: config.maxMessageSize
          })
        )
        : write([bytes], options)

    // ---- one connection ---------------------------------------------------------------------------------

    /**
     * Connects once and serves the connection until it drops. `onDown` decides (and publishes) what happens
     * next while everything of this connection still exists, so that nobody sees "connected" with no
     * connection behind it; it returns the delay before the next attempt, none when there is none.
     */
    const connectAndServe = (
      attempt: Effect.Effect<Connection, TransportError, Scope.Scope>,
      onDown: (cause: TransportError, upFor: Option.Option<number>) => Effect.Effect<Option.Option<number>>
    ) =>
      Effect.scoped(Effect.gen(function*() {
        yield* publish(ConnectionState.Event.Connect({ address }))
        yield* Metric.increment(Metric.tagged(metrics.connectAttempts, "address", address))
        const opened = yield* Effect.either(attempt)
        if (Either.isLeft(opened)) return yield* onDown(opened.left, Option.none())
        const connection = opened.right
        const before = yield* SubscriptionRef.get(stateRef)
        if (before._tag !== "Connecting") return Option.none<number>()
        const generation = before.generation + 1
        const writeBytes = yield* connection.socket.writer
        const dropped = yield* Deferred.make<TransportError>()
        const upAt = now()
        const inbound = new Inbound(generation, Framing.makeDecoder(framing), connection, upAt)
        const outbox = new Outbox<ConnectionError | ConnectionClosedError>(outboundBudget, WRITE_BATCH_BYTES)
        const current: Live = { generation, inbound, outbox, dropped }
        // In place before "connected" is published, so that whoever sees it can use the connection.
        live = current
        inbounds = [...inbounds, inbound]
        yield* publish(ConnectionState.Event.ConnectSuccess({ address: connection.remoteAddress }))
        if (generation > 1) yield* Metric.increment(Metric.tagged(metrics.reconnects, "address", address))

        const drop = (cause: TransportError) => Deferred.unsafeDone(dropped, Exit.succeed(cause))

        const onChunk = (chunk: Uint8Array) => {
          inbound.lastActivity = now()
          bytesIn.unsafeUpdate(chunk.length, [])
          const decoder = inbound.decoder
          decoder.push(chunk)
          const bad = checkLengthsOnArrival ? decoder.headError() : undefined
          if (bad !== undefined) {
            drop(new ConnectionError({ reason: "Protocol", address, generation, cause: bad }))
            return
          }
          if (receivers.length > 0) pump()
          if (!inbound.demand && decoder.buffered >= inboundBudget && unreadBytes() >= inboundBudget) {
            inbound.pause()
          }
        }

        yield* connection.socket.run(onChunk).pipe(
          Effect.matchCause({
            onSuccess: () => new ConnectionError({ reason: "PeerClosed", address, generation }),
            onFailure: (cause) => new ConnectionError({ reason: "Read", address, generation, cause })
          }),
          Effect.flatMap((error) => Deferred.succeed(dropped, error)),
          Effect.forkScoped
        )

        yield* Effect.gen(function*() {
          while (true) {
            const batch = yield* outbox.takeBatch
            const result = yield* Effect.either(Effect.forEach(writePlan(batch), writeBytes, { discard: true }))
            if (Either.isLeft(result)) {
              return drop(new ConnectionError({ reason: "Write", address, generation, cause: result.left }))
            }
            const done = outbox.completeBatch()
            framesOut.unsafeUpdate(done.frames, [])
            bytesOut.unsafeUpdate(done.bytes, [])
          }
        }).pipe(Effect.ignore, Effect.forkScoped)

        if (Option.isSome(config.idleTimeout)) {
          const idleMillis = Duration.toMillis(config.idleTimeout.value)
          yield* Effect.gen(function*() {
            while (true) {
              // While paused the peer is not idle: we are not reading.
              const quiet = inbound.paused ? 0 : now() - inbound.lastActivity
              if (quiet >= idleMillis) return drop(new ConnectionError({ reason: "Idle", address, generation }))
              yield* Effect.sleep(Duration.millis(idleMillis - quiet))
            }
          }).pipe(Effect.forkScoped)
        }

        const cause = yield* Deferred.await(dropped)
        // Fail everything pending on this connection at once, before the socket is even released.
        if (live === current) live = undefined
        inbound.ended = cause
        pump()
        outbox.fail(new ConnectionError({ reason: "Disconnected", address, generation, cause }))
        return yield* onDown(cause, Option.some(now() - upAt))
      }))

    // ---- the supervisor ---------------------------------------------------------------------------------

    const supervisor = Effect.gen(function*() {
      const attempt = connector.connect(config).pipe(
        Effect.timeoutFail({
          duration: config.connectTimeout,
          onTimeout: () => new TimeoutError({ operation: "connect", timeout: config.connectTimeout, address })
        }),
        Effect.withSpan("rocketmq.transport.connect", { attributes: { address } })
      )
      let scheduleState = schedule.initial
      const onDown = (cause: TransportError, upFor: Option.Option<number>) =>
        Effect.gen(function*() {
          let delay: Option.Option<number>
          if (Option.isSome(upFor) && upFor.value >= stableAfterMillis) {
            scheduleState = schedule.initial
            delay = Option.some(0)
          } else {
            const at = now()
            const [nextState, _, decision] = yield* schedule.step(at, cause, scheduleState)
            scheduleState = nextState
            delay = ScheduleDecision.isDone(decision)
              ? Option.none()
              : Option.some(Math.max(0, ScheduleIntervals.start(decision.intervals) - at))
          }
          yield* publish(ConnectionState.Event.Disconnect({
            cause,
            exhausted: Option.isNone(delay),
            retryIn: Option.map(delay, Duration.millis)
          }))
          return delay
        })
      while (!closed) {
        const delay = yield* connectAndServe(attempt, onDown)
        if (closed || Option.isNone(delay)) return
        if (delay.value > 0) yield* Effect.sleep(Duration.millis(delay.value))
      }
    })

    const supervisorHandle = yield* FiberHandle.make<void, never>()
    const runSupervisor = yield* FiberHandle.runtime(supervisorHandle)<never>()

    const start = Effect.suspend(() => {
      if (closed) return Effect.fail(closedError("start"))
      return SubscriptionRef.update(stateRef, (state) =>
        state._tag === "Disconnected" && state.exhausted
          ? ConnectionState.Disconnected({ ...state, attempts: 0, exhausted: false, retryIn: Option.none() })
          : state).pipe(
          Effect.zipRight(Effect.sync(() => runSupervisor(supervisor, { onlyIfMissing: true }))),
          Effect.asVoid
        )
    })

    const stop = Effect.suspend(() => {
      if (closed) return Effect.void
      closed = true
      const error = closedError("send")
      const current = live
      live = undefined
      if (current !== undefined) current.outbox.fail(error)
      pump()
      return publish(ConnectionState.Event.Close()).pipe(
        Effect.zipRight(FiberHandle.clear(supervisorHandle)),
        Effect.ensuring(Effect.sync(() => {
          inbounds = []
        }))
      )
    }).pipe(Effect.uninterruptible)

    yield* Effect.addFinalizer(() => stop)

    const service: TransportService = {
      [TypeId]: TypeId,
      config,
      start,
      stop,
      state: SubscriptionRef.get(stateRef),
      isConnected: Effect.map(SubscriptionRef.get(stateRef), ConnectionState.isConnected),
      changes,
      awaitConnected,
      output,
      send,
      sendAll,
      recvPkg,
      recv,
      frames
    }
    // Nothing has closed the transport yet, so starting cannot fail here.
    if (options?.autoStart !== false) yield* Effect.orDie(start)
    return service
  })

// Small buffers are joined into one write; a large one is written on its own, from where it is.
const writePlan = (parts: ReadonlyArray<Uint8Array>): ReadonlyArray<Uint8Array> => {
  if (parts.length === 1) return parts
  const plan: Array<Uint8Array> = []
  let run: Array<Uint8Array> = []
  let runBytes = 0
  const flush = () => {
    if (run.length > 0) plan.push(run.length === 1 ? run[0]! : concat(run))
    run = []
    runBytes = 0
  }
  for (const part of parts) {
    if (part.length >= ZERO_COPY_BYTES) {
      flush()
      plan.push(part)
    } else {
      run.push(part)
      runBytes += part.length
      if (runBytes >= WRITE_BATCH_BYTES) flush()
    }
  }
  flush()
  return plan
}

/**
 * The transport as a layer over the `Connector` in context. Takes a `TransportConfig`, or the fields
 * `TransportConfig.make` accepts, validated when the layer is built: bad input fails the layer with a
 * `ConfigurationError` naming every offending field.
 *
 * @example
 * ```ts
 * import { TestConnector, Transport } from "@rocketmq-effect/transport"
 * import { Layer } from "effect"
 *
 * const TransportLayer = Transport.layer({ host: "broker", port: 9876, retryInterval: "1 second" }).pipe(
 *   Layer.provide(TestConnector.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export function layer(config: TransportConfig, options?: Options): Layer.Layer<Transport, never, Connector>
export function layer(
  config: TransportConfig | Partial<TransportConfigInput>,
  options?: Options
): Layer.Layer<Transport, ConfigurationError, Connector>
export function layer(
  config: TransportConfig | Partial<TransportConfigInput>,
  options?: Options
): Layer.Layer<Transport, ConfigurationError, Connector> {
  return Layer.scoped(
    Transport,
    Effect.flatMap(
      isTransportConfig(config) ? Effect.succeed(config) : makeConfig(config),
      (config) => make(config, options)
    )
  )
}

/**
 * The transport as a layer whose config is loaded through Effect `Config` (see `TransportConfig.config`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<TransportConfig>,
  options?: Options
): Layer.Layer<Transport, ConfigError.ConfigError, Connector> =>
  Layer.scoped(Transport, Effect.flatMap(config, (config) => make(config, options)))
