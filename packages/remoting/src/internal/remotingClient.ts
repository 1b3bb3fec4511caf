import * as Deadlines from "@rocketmq-effect/transport/Deadlines"
import type { TransportService } from "@rocketmq-effect/transport/Transport"
import { ConnectionError } from "@rocketmq-effect/transport/TransportError"
import type * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberHandle from "effect/FiberHandle"
import * as FiberSet from "effect/FiberSet"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as RemotingClient from "../RemotingClient.js"
import type { Handler, Heartbeat, InvokeError, InvokeOptions, RemotingClientService } from "../RemotingClient.js"
import { ResponseCode } from "../RemotingCode.js"
import * as RemotingCodec from "../RemotingCodec.js"
import type { RemotingCommand, SerializeType } from "../RemotingCommand.js"
import { isResponse, ONEWAY_FLAG, RESPONSE_FLAG } from "../RemotingCommand.js"
import type { RemotingClientError, RemotingCodecError } from "../RemotingError.js"
import { RemotingError } from "../RemotingError.js"
import { CallPath } from "./callPath.js"
import { ClientMeters } from "./clientMeters.js"
import { Liveness } from "./liveness.js"
import type { Log } from "./serverRequests.js"
import { ServerRequests } from "./serverRequests.js"

/** @internal */
export const TypeId: RemotingClient.TypeId = Symbol.for(
  "@rocketmq-effect/remoting/RemotingClient"
) as RemotingClient.TypeId

/**
 * The client's options with every default applied.
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
}

const hexHead = (bytes: Uint8Array, max = 32): string =>
  Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, "0")).join(" ") +
  (bytes.length > max ? " …" : "")

/**
 * One client over one transport, from its parts: the call path (`CallPath`: calls, their table and deadlines),
 * the dispatcher of server requests (`ServerRequests`), liveness and the heartbeat (`Liveness`), and the meters
 * (`ClientMeters`). Here they are wired to the transport: a reader of its frames, and a watcher of its state
 * that tells the call path when a connection comes and goes and runs liveness while one is up.
 *
 * Fibers, all in the client's scope: the reader, the watcher (and under it one fiber per live connection for
 * the heartbeat and the idle check, when there is one of them), the deadline sweeper while a call has a
 * deadline, and a fiber per running handler (none when there is no server request). A call runs on its
 * caller's fiber.
 *
 * @internal
 */
export const make = (
  transport: TransportService,
  settings: Settings
): Effect.Effect<RemotingClientService, never, Scope.Scope> =>
  Effect.gen(function*() {
    const address = settings.address
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const meters = new ClientMeters(address)
    const deadlines = yield* Deadlines.make
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    let late = 0

    const log: Log = (level, message, annotations) =>
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

    const encode = (request: RemotingCommand, opaque: number, oneway: boolean, serializeType: SerializeType) =>
      RemotingCodec.encode(
        stamp({
          ...request,
          opaque,
          flag: oneway ? (request.flag | ONEWAY_FLAG) & ~RESPONSE_FLAG : request.flag & ~(RESPONSE_FLAG | ONEWAY_FLAG)
        }),
        serializeType
      )

    /**
     * Gives up connection `generation`: the calls on it fail at once with `Disconnected` (caused by `cause`),
     * then the transport drops it and reconnects as its schedule says. Whether a connection was dropped.
     */
    const dropConnection = (
      generation: number | undefined,
      cause: ConnectionError | RemotingClientError
    ): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        if (generation === undefined) return transport.drop(cause)
        calls.failConnection(generation, new ConnectionError({ reason: "Disconnected", address, generation, cause }))
        return transport.drop(cause, { generation })
      })

    const liveness: Liveness = new Liveness({
      address,
      now,
      idleTimeout: settings.idleTimeout,
      heartbeat: settings.heartbeat === undefined ? undefined : {
        interval: settings.heartbeat.interval,
        effect: Effect.suspend(() => settings.heartbeat!.effect(service))
      },
      meters,
      log,
      dropIdle: (generation) =>
        Effect.asVoid(dropConnection(generation, new ConnectionError({ reason: "Idle", address, generation })))
    })

    const calls: CallPath = new CallPath({
      address,
      transport,
      deadlines,
      meters,
      clock,
      maxInFlight: settings.maxInFlight,
      defaultTimeout: settings.defaultTimeout,
      defaultSerializeType: settings.serializeType,
      firstOpaque: settings.firstOpaque,
      closeOnTimeout: settings.closeOnTimeout,
      defaultTracer: Effect.runSync(Effect.tracer),
      encode,
      requestWritten: liveness.requestWritten,
      dropAfterTimeout: (generation, cause) => {
        runFork(
          Effect.flatMap(dropConnection(generation, cause), (dropped) => {
            if (dropped) meters.timeoutDrop()
            return log(
              LogLevel.Debug,
              `${cause.message}; closeOnTimeout: ${
                dropped ? "dropping the connection" : "the connection is gone already"
              }`,
              { generation }
            )
          })
        )
      }
    })

    const handlerFibers = yield* FiberSet.make<void, never>()
    const runHandler = yield* FiberSet.runtime(handlerFibers)<never>()
    const serverRequests = new ServerRequests({
      address,
      transport,
      handlers: settings.handlers,
      concurrency: settings.handlerConcurrency,
      queueSize: settings.handlerQueueSize,
      defaultSerializeType: settings.serializeType,
      answerTimeout: settings.defaultTimeout,
      meters,
      stamp,
      log,
      fork: (effect) => {
        runHandler(effect)
      }
    })

    // ---- inbound frames -------------------------------------------------------------------------------

    const badFrame = (payload: Uint8Array, error: RemotingCodecError): Effect.Effect<void> =>
      Effect.gen(function*() {
        meters.badFrame()
        const generation = calls.connectedGeneration
        const cause = new ConnectionError({ reason: "Protocol", address, generation, cause: error })
        yield* dropConnection(generation, cause)
        yield* log(
          LogLevel.Warning,
          `a frame from ${address} is not a RemotingCommand (${error.message}); dropping the connection`,
          { generation, frameLength: payload.length, frameHead: hexHead(payload) }
        )
      })

    /** Handles one frame; an Effect for what cannot be done in place. */
    const onFrame = (payload: Uint8Array): Effect.Effect<void> | undefined => {
      liveness.frameArrived()
      const decoded = RemotingCodec.decode(payload)
      if (Either.isLeft(decoded)) return badFrame(payload, decoded.left)
      const command = decoded.right
      if (!isResponse(command)) return serverRequests.dispatch(command, payload, calls.connectedGeneration)
      if (calls.respond(command)) return undefined
      late++
      meters.lateResponse()
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

    // ---- the connection's comings and goings ------------------------------------------------------------

    const connectionFibers = yield* FiberHandle.make<void, never>()
    // A connection that was up and went is a broker lost: said at Warning, and so is getting it back.
    let lostAt: number | undefined = undefined
    let up = false
    const watcher = transport.changes.pipe(
      Stream.runForEach((state) => {
        switch (state._tag) {
          case "Connected": {
            calls.connected(state.generation)
            up = true
            const work = liveness.whileConnected(state.generation)
            const run = work === undefined ? Effect.void : FiberHandle.run(connectionFibers, work)
            if (lostAt === undefined) return run
            const after = now() - lostAt
            lostAt = undefined
            return Effect.zipRight(
              log(LogLevel.Warning, `connected to ${address} again after ${Duration.format(Duration.millis(after))}`, {
                generation: state.generation
              }),
              run
            )
          }
          case "Disconnected": {
            // Fail first: the calls must not wait while the connection's fibers are being interrupted.
            const cause = Option.getOrUndefined(state.cause)
            calls.disconnected(
              state.generation,
              cause,
              state.exhausted
                ? new ConnectionError({ reason: "RetriesExhausted", address, attempts: state.attempts, cause })
                : undefined
            )
            const cleared = FiberHandle.clear(connectionFibers)
            if (!up) return cleared
            up = false
            lostAt = now()
            // The first line: a cause's message may carry a stack below it.
            const why = cause === undefined ? "" : `: ${cause.message.split("\n", 1)[0]}`
            return Effect.zipRight(
              cleared,
              log(
                LogLevel.Warning,
                `lost the connection to ${address}${why}; calls wait for the next one within their timeouts`,
                { generation: state.generation }
              )
            )
          }
          case "Closed": {
            calls.close()
            return FiberHandle.clear(connectionFibers)
          }
          case "Connecting":
            return Effect.void
        }
      })
    )

    // ---- the service ----------------------------------------------------------------------------------

    const invoke = (request: RemotingCommand, options?: InvokeOptions) =>
      calls.call(
        "rocketmq.remoting.invoke",
        request,
        false,
        options?.timeout,
        options?.serializeType,
        options?.awaitConnection !== false
      ) as Effect.Effect<
        RemotingCommand,
        InvokeError
      >

    const service: RemotingClientService = {
      [TypeId]: TypeId,
      address,
      transport,
      invoke,
      invokeSuccess: (request, options) =>
        Effect.flatMap(invoke(request, options), (answered) =>
          answered.code === ResponseCode.SUCCESS ? Effect.succeed(answered) : Effect.fail(
            new RemotingError({
              code: answered.code,
              remark: answered.remark,
              opaque: answered.opaque,
              requestCode: request.code
            })
          )),
      invokeOneway: (request, options) =>
        calls.call(
          "rocketmq.remoting.invokeOneway",
          request,
          true,
          options?.timeout,
          options?.serializeType,
          options?.awaitConnection !== false
        ) as Effect.Effect<void, InvokeError>,
      register: (code, handler) =>
        Effect.sync(() =>
          serverRequests.register(code, handler)
        ),
      inFlight: Effect.sync(() => calls.inFlight),
      lateResponses: Effect.sync(() => late)
    }

    yield* Effect.forkScoped(reader)
    yield* Effect.forkScoped(watcher)
    // Runs first when the scope closes: no call may start after this, and those pending fail now.
    yield* Effect.addFinalizer(() => Effect.sync(() => calls.close()))
    return service
  })
