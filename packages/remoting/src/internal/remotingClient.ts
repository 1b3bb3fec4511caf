import type * as ConnectionState from "@rocketmq-effect/transport/ConnectionState"
import type { TransportService } from "@rocketmq-effect/transport/Transport"
import { ConnectionClosedError, ConnectionError } from "@rocketmq-effect/transport/TransportError"
import * as Cause from "effect/Cause"
import type * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberHandle from "effect/FiberHandle"
import * as FiberSet from "effect/FiberSet"
import * as LogLevel from "effect/LogLevel"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type {
  Handler,
  Heartbeat,
  InvokeError,
  InvokeOptions,
  RemotingClientError,
  RemotingClientMetrics,
  RemotingClientService,
  TypeId
} from "../RemotingClient.js"
import { ResponseCode } from "../RemotingCode.js"
import * as RemotingCodec from "../RemotingCodec.js"
import type { RemotingCommand, SerializeType } from "../RemotingCommand.js"
import { isOneway, isResponse, ONEWAY_FLAG, response, RESPONSE_FLAG } from "../RemotingCommand.js"
import type { RemotingCodecError } from "../RemotingError.js"
import { RemotingError } from "../RemotingError.js"
import type { Drop } from "./droppableConnector.js"
import { PendingTable } from "./pendingTable.js"

/**
 * The client's options with every default applied, and what the public module hands down.
 *
 * @internal
 */
export interface Settings {
  readonly address: string
  readonly serializeType: SerializeType
  readonly language: number | undefined
  readonly version: number | undefined
  readonly maxInFlight: number
  readonly defaultTimeout: Duration.Duration
  readonly idleTimeout: Duration.Duration
  /** Drop the connection a call was written on when the call times out. */
  readonly closeOnTimeout: boolean
  readonly heartbeat:
    | { readonly interval: Duration.Duration; readonly effect: Heartbeat["effect"] }
    | undefined
  readonly handlers: ReadonlyMap<number, Handler>
  readonly handlerConcurrency: number
  readonly handlerQueueSize: number
  readonly firstOpaque: number
  readonly metrics: typeof RemotingClientMetrics
  readonly typeId: TypeId
  readonly makeError: (fields: ConstructorParameters<typeof RemotingClientError>[0]) => RemotingClientError
  /** Drops the transport's connection; absent when the transport was not made droppable. */
  readonly drop: Drop | undefined
}

/** @internal */
export const notSupportedRemark = (code: number): string => ` request type ${code} not supported`

/** Java's remark when its request executor rejects a request. */
const BUSY_REMARK = "[OVERLOAD]system busy, start flow control for a while"

const MAX_GENERATION = Number.MAX_SAFE_INTEGER

/** A server request waiting for, or in, a handler. */
interface Job {
  readonly request: RemotingCommand
  /** The type the request came in: the answer goes back in it. */
  readonly serializeType: SerializeType
  /** The generation of the connection it came on; none when it came as that connection was going. */
  readonly generation: number | undefined
}

/** What a call is waiting for, for the message of its timeout. */
type Stage = "slot" | "connection" | "write" | "response"

const hexHead = (bytes: Uint8Array, max = 32): string =>
  Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, "0")).join(" ") +
  (bytes.length > max ? " …" : "")

/** A handler's failure in words, for the remark of a `SYSTEM_ERROR` answer. */
const describeCause = (cause: Cause.Cause<unknown>): string => {
  if (Cause.isInterruptedOnly(cause)) return "the handler was interrupted"
  const error = Cause.squash(cause)
  if (Predicate.hasProperty(error, "message") && typeof error.message === "string" && error.message.length > 0) {
    return error.message
  }
  if (Predicate.hasProperty(error, "_tag") && typeof error._tag === "string") return error._tag
  return String(error)
}

/**
 * One client over one transport: the pending table, the reader of the transport's frames, the watcher of its
 * state (failing calls when a connection goes, running the heartbeat and the idle check while one is up), and
 * the handlers of server requests.
 *
 * Fibers, all in the client's scope: the reader, the watcher (and under it one fiber per live connection for
 * the heartbeat and the idle check), and a handler fiber per running handler (none when there is no request).
 *
 * @internal
 */
export const make = (
  transport: TransportService,
  settings: Settings
): Effect.Effect<RemotingClientService, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { address, metrics } = settings
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const table = new PendingTable(settings.firstOpaque)
    const slots = yield* Effect.makeSemaphore(settings.maxInFlight)
    const handlers = new Map(settings.handlers)
    const addressLabel = MetricLabel.make("address", address)
    const addressLabels = [addressLabel]
    let late = 0
    let closed = false
    /**
     * Liveness: when the first request written since the last inbound frame was written; `undefined` once a
     * frame has arrived since. `idleTimeout` after it, the connection is presumed dead.
     */
    let silentSince: number | undefined = undefined

    const log = (level: LogLevel.LogLevel, message: string, annotations?: Record<string, unknown>) =>
      Effect.logWithLevel(level, message).pipe(
        Effect.annotateLogs({ module: "RemotingClient", address, ...annotations })
      )

    // The client's language and version, when it has them, on every command it writes.
    const stamp = (command: RemotingCommand): RemotingCommand =>
      settings.language === undefined && settings.version === undefined ? command : {
        ...command,
        language: settings.language ?? command.language,
        version: settings.version ?? command.version
      }

    const countServerRequest = (code: number, outcome: string) =>
      metrics.serverRequests.unsafeUpdate(1, [
        addressLabel,
        MetricLabel.make("code", String(code)),
        MetricLabel.make("outcome", outcome)
      ])

    /** Fails the calls of connection `generation`, and ends that connection when the transport allows it. */
    const dropConnection = (generation: number | undefined, cause: ConnectionError | RemotingClientError): boolean => {
      if (generation !== undefined) {
        table.failUpTo(generation, new ConnectionError({ reason: "Disconnected", address, generation, cause }))
      }
      return settings.drop !== undefined && settings.drop(cause)
    }

    const connectedGeneration = Effect.map(
      transport.state,
      (state) => state._tag === "Connected" ? state.generation : undefined
    )

    // ---- server requests ------------------------------------------------------------------------------

    const answer = (job: Job, given: RemotingCommand): Effect.Effect<void> =>
      Effect.gen(function*() {
        const reply = stamp({
          ...given,
          opaque: job.request.opaque,
          flag: (given.flag | RESPONSE_FLAG) & ~ONEWAY_FLAG
        })
        let payload = RemotingCodec.encode(reply, job.serializeType)
        if (Either.isLeft(payload)) {
          const error = payload.left
          yield* log(LogLevel.Debug, `the answer to request code ${job.request.code} cannot be encoded`, {
            error: error.message
          })
          payload = RemotingCodec.encode(
            stamp(response(job.request, ResponseCode.SYSTEM_ERROR, { remark: error.message })),
            job.serializeType
          )
          if (Either.isLeft(payload)) return
        }
        const generation = yield* connectedGeneration
        if (job.generation === undefined || generation !== job.generation) {
          return yield* log(LogLevel.Debug, "the connection a server request came on is gone; its answer is dropped", {
            code: job.request.code,
            opaque: job.request.opaque
          })
        }
        yield* transport.send(
          payload.right,
          Duration.isFinite(settings.defaultTimeout) ? { timeout: settings.defaultTimeout } : undefined
        ).pipe(
          Effect.catchAll((error) =>
            log(LogLevel.Debug, "writing the answer to a server request failed", { error: error.message })
          )
        )
      })

    const handle = (job: Job): Effect.Effect<void> =>
      Effect.gen(function*() {
        const request = job.request
        const oneway = isOneway(request)
        const handler = handlers.get(request.code)
        if (handler === undefined) {
          countServerRequest(request.code, "not_supported")
          if (oneway) {
            return yield* log(LogLevel.Debug, `no handler for oneway server request code ${request.code}`)
          }
          return yield* answer(
            job,
            response(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, { remark: notSupportedRemark(request.code) })
          )
        }
        const exit = yield* Effect.exit(Effect.suspend(() => handler(request, { address })))
        if (Exit.isSuccess(exit)) {
          countServerRequest(request.code, "handled")
          if (!oneway) yield* answer(job, exit.value)
          return
        }
        countServerRequest(request.code, "failed")
        yield* log(LogLevel.Debug, `the handler of server request code ${request.code} failed`, {
          cause: Cause.pretty(exit.cause)
        })
        if (!oneway) {
          yield* answer(job, response(request, ResponseCode.SYSTEM_ERROR, { remark: describeCause(exit.cause) }))
        }
      })

    // At most `handlerConcurrency` handler fibers; up to `handlerQueueSize` jobs wait for one. A fiber takes the
    // next waiting job when it is done, so an idle client has no handler fiber.
    const handlerFibers = yield* FiberSet.make<void, never>()
    const runHandlerFiber = yield* FiberSet.runtime(handlerFibers)<never>()
    const waiting: Array<Job> = []
    let running = 0
    const handlerLoop = (first: Job): Effect.Effect<void> =>
      Effect.gen(function*() {
        let job: Job | undefined = first
        while (job !== undefined) {
          yield* handle(job)
          // Taking the next job and leaving happen in one step, so a job offered meanwhile is never stranded.
          job = waiting.shift()
          if (job === undefined) running--
        }
      }).pipe(Effect.onInterrupt(() => Effect.sync(() => running--)))

    /** Hands a server request to a handler fiber; false when the queue is full. */
    const submit = (job: Job): boolean => {
      if (running < settings.handlerConcurrency) {
        running++
        runHandlerFiber(handlerLoop(job))
        return true
      }
      if (waiting.length >= settings.handlerQueueSize) return false
      waiting.push(job)
      return true
    }

    const dispatch = (request: RemotingCommand, payload: Uint8Array): Effect.Effect<void> =>
      Effect.flatMap(connectedGeneration, (generation) => {
        const job: Job = {
          request,
          serializeType: Either.getOrElse(RemotingCodec.serializeTypeOf(payload), () => settings.serializeType),
          generation
        }
        if (submit(job)) return Effect.void
        countServerRequest(request.code, "busy")
        const busy = log(
          LogLevel.Warning,
          `server request code ${request.code} refused: ${settings.handlerConcurrency} handlers busy and ` +
            `${settings.handlerQueueSize} requests waiting`
        )
        return isOneway(request)
          ? busy
          : Effect.zipRight(busy, answer(job, response(request, ResponseCode.SYSTEM_BUSY, { remark: BUSY_REMARK })))
      })

    // ---- inbound frames -------------------------------------------------------------------------------

    const badFrame = (payload: Uint8Array, error: RemotingCodecError): Effect.Effect<void> =>
      Effect.gen(function*() {
        metrics.badFrames.unsafeUpdate(1, addressLabels)
        const generation = yield* connectedGeneration
        const cause = new ConnectionError({ reason: "Protocol", address, generation, cause: error })
        const dropped = dropConnection(generation, cause)
        yield* log(
          LogLevel.Warning,
          `a frame from ${address} is not a RemotingCommand (${error.message}); ${
            dropped
              ? "dropping the connection"
              : "the calls pending on it failed, the connection is kept (its transport was not made by " +
                "RemotingClient.makeTransport)"
          }`,
          { generation, frameLength: payload.length, frameHead: hexHead(payload) }
        )
      })

    /** Handles one frame; an Effect for what cannot be done in place. */
    const onFrame = (payload: Uint8Array): Effect.Effect<void> | undefined => {
      silentSince = undefined
      const decoded = RemotingCodec.decode(payload)
      if (Either.isLeft(decoded)) return badFrame(payload, decoded.left)
      const command = decoded.right
      if (!isResponse(command)) return dispatch(command, payload)
      if (table.resolve(command)) return undefined
      late++
      metrics.lateResponses.unsafeUpdate(1, addressLabels)
      return log(LogLevel.Debug, "a response matched no pending call (it timed out or gave up); dropped", {
        opaque: command.opaque,
        code: command.code
      })
    }

    const onFrames = (frames: Chunk.Chunk<Uint8Array>): Effect.Effect<void> => {
      let follow: Array<Effect.Effect<void>> | undefined = undefined
      for (const payload of frames) {
        const effect = onFrame(payload)
        if (effect !== undefined) (follow ??= []).push(effect)
      }
      return follow === undefined ? Effect.void : Effect.all(follow, { discard: true })
    }

    // The frames stream fails only when the reconnect schedule gives up; a later `start` brings the transport
    // back, and the reader with it.
    const reader: Effect.Effect<void> = Effect.gen(function*() {
      while (true) {
        const ended = yield* Effect.either(Stream.runForEachChunk(transport.frames, onFrames))
        if (Either.isRight(ended)) return
        const next = yield* transport.changes.pipe(
          Stream.filter((state) => state._tag === "Connected" || state._tag === "Closed"),
          Stream.runHead
        )
        if (Option.isNone(next) || next.value._tag === "Closed") return
      }
    })

    // ---- calls ----------------------------------------------------------------------------------------

    const outcomeOf = (
      exit: Exit.Exit<RemotingCommand | void, InvokeError>
    ): ReadonlyArray<MetricLabel.MetricLabel> => {
      if (Exit.isSuccess(exit)) {
        const value = exit.value
        if (value === undefined) return [MetricLabel.make("outcome", "oneway")]
        return [
          MetricLabel.make("outcome", value.code === ResponseCode.SUCCESS ? "success" : "remote_error"),
          MetricLabel.make("responseCode", String(value.code))
        ]
      }
      const failure = Cause.failureOption(exit.cause)
      if (Option.isNone(failure)) {
        return [MetricLabel.make("outcome", Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "defect")]
      }
      const error = failure.value
      switch (error._tag) {
        case "RemotingClientError":
          return [MetricLabel.make("outcome", error.reason === "Timeout" ? "timeout" : "in_flight_limit")]
        case "ConnectionError":
          return [MetricLabel.make("outcome", "disconnected")]
        case "ConnectionClosedError":
          return [MetricLabel.make("outcome", "closed")]
        default:
          return [MetricLabel.make("outcome", "invalid_request")]
      }
    }

    const record = (code: number, started: number) => (exit: Exit.Exit<RemotingCommand | void, InvokeError>) =>
      Effect.sync(() => {
        const codeLabel = MetricLabel.make("code", String(code))
        metrics.invocations.unsafeUpdate(1, [addressLabel, codeLabel, ...outcomeOf(exit)])
        metrics.latency.unsafeUpdate(now() - started, [addressLabel, codeLabel])
      })

    interface Call {
      stage: Stage
      opaque: number | undefined
      /** The connection the request goes on, once it has one. */
      generation: number | undefined
    }

    /**
     * `closeOnTimeout`: drops the connection `call` was written on (or was being written to) when it is still
     * the live one. Before the call's own failure is returned, so that its neighbours fail at once.
     */
    const closeAfterTimeout = (call: Call, error: RemotingClientError): Effect.Effect<void> => {
      const generation = call.generation
      if (
        !settings.closeOnTimeout || error.reason !== "Timeout" || generation === undefined ||
        (call.stage !== "write" && call.stage !== "response")
      ) return Effect.void
      return Effect.flatMap(connectedGeneration, (current) => {
        if (current !== generation) return Effect.void
        const dropped = dropConnection(generation, error)
        if (dropped) metrics.timeoutDrops.unsafeUpdate(1, addressLabels)
        return log(
          LogLevel.Debug,
          `${error.message}; closeOnTimeout: ${
            dropped
              ? "dropping the connection"
              : "the connection is kept (its transport was not made by RemotingClient.makeTransport)"
          }`,
          { generation }
        )
      })
    }

    const timeoutError = (code: number, timeout: Duration.Duration, call: Call) =>
      Effect.map(transport.state, (state: ConnectionState.ConnectionState) =>
        call.stage === "slot"
          ? settings.makeError({
            reason: "InFlightLimit",
            address,
            requestCode: code,
            timeout,
            maxInFlight: settings.maxInFlight
          })
          : settings.makeError({
            reason: "Timeout",
            address,
            requestCode: code,
            timeout,
            waitingFor: call.stage,
            opaque: call.opaque,
            cause: call.stage === "connection" && state._tag === "Disconnected"
              ? Option.getOrUndefined(state.cause)
              : undefined
          }))

    /** Runs a call's steps within its time bound, with its metrics and span. */
    const bounded = <A extends RemotingCommand | void>(
      name: string,
      request: RemotingCommand,
      options: InvokeOptions | undefined,
      steps: (call: Call) => Effect.Effect<A, InvokeError>
    ): Effect.Effect<A, InvokeError> =>
      Effect.suspend(() => {
        const timeout = options?.timeout === undefined ? settings.defaultTimeout : Duration.decode(options.timeout)
        const started = now()
        const call: Call = { stage: "slot", opaque: undefined, generation: undefined }
        const body = steps(call)
        const limited = Duration.isFinite(timeout)
          ? body.pipe(
            Effect.timeout(timeout),
            Effect.catchTag("TimeoutException", () =>
              Effect.flatMap(
                timeoutError(request.code, timeout, call),
                (error) => Effect.zipRight(closeAfterTimeout(call, error), Effect.fail(error))
              ))
          )
          : body
        return limited.pipe(
          Effect.onExit((exit: Exit.Exit<A, InvokeError>) => record(request.code, started)(exit)),
          Effect.withSpan(name, {
            kind: "client",
            attributes: { code: request.code, address },
            captureStackTrace: false
          })
        )
      })

    const closedError = () => new ConnectionClosedError({ address, operation: "invoke" })

    const awaitConnection = (call: Call) =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(closedError())
        call.stage = "connection"
        return transport.awaitConnected
      })

    const write = (payload: Uint8Array, code: number, call: Call) => {
      call.stage = "write"
      return transport.send(payload, { timeout: Duration.infinity }).pipe(
        Effect.catchTag("TimeoutError", (error) =>
          Effect.fail(
            settings.makeError({
              reason: "Timeout",
              address,
              requestCode: code,
              timeout: error.timeout,
              waitingFor: "write",
              opaque: call.opaque
            })
          ))
      )
    }

    const invoke = (request: RemotingCommand, options?: InvokeOptions): Effect.Effect<RemotingCommand, InvokeError> =>
      bounded("rocketmq.remoting.invoke", request, options, (call) =>
        slots.withPermits(1)(Effect.gen(function*() {
          const connected = yield* awaitConnection(call)
          const entry = table.register(request.code, connected.generation)
          call.opaque = entry.opaque
          call.generation = connected.generation
          return yield* Effect.gen(function*() {
            yield* Effect.annotateCurrentSpan("opaque", entry.opaque)
            const payload = RemotingCodec.encode(
              stamp({ ...request, opaque: entry.opaque, flag: request.flag & ~(RESPONSE_FLAG | ONEWAY_FLAG) }),
              options?.serializeType ?? settings.serializeType
            )
            if (Either.isLeft(payload)) return yield* Effect.fail(payload.left)
            yield* write(payload.right, request.code, call)
            if (silentSince === undefined) silentSince = now()
            call.stage = "response"
            const answered = yield* Deferred.await(entry.response)
            yield* Effect.annotateCurrentSpan("responseCode", answered.code)
            return answered
          }).pipe(Effect.ensuring(Effect.sync(() => table.remove(entry))))
        })))

    const invokeOneway = (request: RemotingCommand, options?: InvokeOptions): Effect.Effect<void, InvokeError> =>
      bounded("rocketmq.remoting.invokeOneway", request, options, (call) =>
        Effect.gen(function*() {
          const connected = yield* awaitConnection(call)
          const opaque = table.allocate()
          call.opaque = opaque
          call.generation = connected.generation
          const payload = RemotingCodec.encode(
            stamp({ ...request, opaque, flag: (request.flag | ONEWAY_FLAG) & ~RESPONSE_FLAG }),
            options?.serializeType ?? settings.serializeType
          )
          if (Either.isLeft(payload)) return yield* Effect.fail(payload.left)
          yield* write(payload.right, request.code, call)
        }))

    const invokeSuccess = (request: RemotingCommand, options?: InvokeOptions) =>
      Effect.flatMap(invoke(request, options), (answered) =>
        answered.code === ResponseCode.SUCCESS ? Effect.succeed(answered) : Effect.fail(
          new RemotingError({
            code: answered.code,
            remark: answered.remark,
            opaque: answered.opaque,
            requestCode: request.code
          })
        ))

    const service: RemotingClientService = {
      [settings.typeId]: settings.typeId,
      address,
      transport,
      invoke,
      invokeSuccess,
      invokeOneway,
      register: (code, handler) =>
        Effect.sync(() => {
          handlers.set(code, handler)
        }),
      inFlight: Effect.sync(() =>
        table.size
      ),
      lateResponses: Effect.sync(() => late)
    }

    // ---- while connected: heartbeat and idle check ----------------------------------------------------

    const heartbeat = settings.heartbeat
    const heartbeatLoop = heartbeat === undefined ? undefined : Effect.suspend(() => heartbeat.effect(service)).pipe(
      Effect.catchAllCause((cause) => log(LogLevel.Debug, "the heartbeat failed", { cause: Cause.pretty(cause) })),
      Effect.repeat(Schedule.fixed(heartbeat.interval)),
      Effect.asVoid
    )

    const idleMillis = Duration.toMillis(settings.idleTimeout)
    const idleCheck = (generation: number): Effect.Effect<void> =>
      Effect.gen(function*() {
        while (true) {
          const since = silentSince
          const quiet = since === undefined ? 0 : now() - since
          if (since !== undefined && quiet >= idleMillis) {
            metrics.idleDrops.unsafeUpdate(1, addressLabels)
            yield* log(
              LogLevel.Debug,
              `nothing from ${address} for ${Duration.format(settings.idleTimeout)} after a request; ` +
                "the peer is presumed dead, dropping the connection",
              { generation }
            )
            dropConnection(generation, new ConnectionError({ reason: "Idle", address, generation }))
            return
          }
          yield* Effect.sleep(Duration.millis(idleMillis - quiet))
        }
      })

    const whileConnected = (generation: number): Effect.Effect<void> | undefined => {
      const parts: Array<Effect.Effect<void>> = []
      if (heartbeatLoop !== undefined) parts.push(heartbeatLoop)
      // Over a transport it cannot drop, the client leaves liveness to the transport's own idleTimeout.
      if (Duration.isFinite(settings.idleTimeout) && settings.drop !== undefined) parts.push(idleCheck(generation))
      return parts.length === 0 ? undefined : Effect.all(parts, { concurrency: "unbounded", discard: true })
    }

    const connectionFibers = yield* FiberHandle.make<void, never>()
    const watcher = transport.changes.pipe(
      Stream.runForEach((state) =>
        Effect.gen(function*() {
          switch (state._tag) {
            case "Connected": {
              silentSince = undefined
              const work = whileConnected(state.generation)
              if (work !== undefined) yield* FiberHandle.run(connectionFibers, work)
              return
            }
            case "Disconnected": {
              // Fail first: the calls must not wait while the connection's fibers are being interrupted.
              table.failUpTo(
                state.generation,
                new ConnectionError({
                  reason: "Disconnected",
                  address,
                  generation: state.generation,
                  cause: Option.getOrUndefined(state.cause)
                })
              )
              return yield* FiberHandle.clear(connectionFibers)
            }
            case "Closed": {
              table.failUpTo(MAX_GENERATION, closedError())
              return yield* FiberHandle.clear(connectionFibers)
            }
            case "Connecting":
              return
          }
        })
      )
    )

    yield* Effect.forkScoped(reader)
    yield* Effect.forkScoped(watcher)
    // Runs first when the scope closes: no call may register after this, and those pending fail now.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        table.failUpTo(MAX_GENERATION, closedError())
      })
    )
    return service
  })
