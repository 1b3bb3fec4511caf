import type { OperationError, TransportService } from "@rocketmq-effect/transport/Transport"
import { TimeoutError } from "@rocketmq-effect/transport/TransportError"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as LogLevel from "effect/LogLevel"
import * as Predicate from "effect/Predicate"
import type { Handler } from "../RemotingClient.js"
import { ResponseCode } from "../RemotingCode.js"
import * as RemotingCodec from "../RemotingCodec.js"
import type { RemotingCommand, SerializeType } from "../RemotingCommand.js"
import { isOneway, ONEWAY_FLAG, response, RESPONSE_FLAG } from "../RemotingCommand.js"
import type { ClientMeters } from "./clientMeters.js"

/** @internal */
export const notSupportedRemark = (code: number): string => ` request type ${code} not supported`

/** Java's remark when its request executor rejects a request. */
const BUSY_REMARK = "[OVERLOAD]system busy, start flow control for a while"

/**
 * Writes a log line of the client's, annotated with its module and address.
 *
 * @internal
 */
export type Log = (
  level: LogLevel.LogLevel,
  message: string,
  annotations?: Record<string, unknown>
) => Effect.Effect<void>

/** A server request waiting for, or in, a handler. */
interface Job {
  readonly request: RemotingCommand
  /** The type the request came in: the answer goes back in it. */
  readonly serializeType: SerializeType
  /** The connection it came on; none when it came as that connection was going. */
  readonly generation: number | undefined
}

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
 * What the dispatcher needs of its client.
 *
 * @internal
 */
export interface Options {
  readonly address: string
  readonly transport: TransportService
  readonly handlers: ReadonlyMap<number, Handler>
  readonly concurrency: number
  readonly queueSize: number
  readonly defaultSerializeType: SerializeType
  /** Bounds writing an answer. */
  readonly answerTimeout: Duration.Duration
  readonly meters: ClientMeters
  /** The client's language and version on a command it writes. */
  readonly stamp: (command: RemotingCommand) => RemotingCommand
  readonly log: Log
  /** Runs a handler fiber in the client's scope. */
  readonly fork: (effect: Effect.Effect<void>) => void
}

/**
 * Requests from the server: each goes to the handler of its code, and its answer back on the connection it came
 * on.
 *
 * At most `concurrency` handler fibers run; up to `queueSize` requests wait for one; past that a request is
 * answered `SYSTEM_BUSY` (a oneway one is dropped). A fiber takes the next waiting request when it is done, so a
 * client with no server request has no handler fiber.
 *
 * Invariants: `running` is the number of handler fibers, at most `concurrency`; `waiting` holds at most
 * `queueSize` jobs, and is empty while `running < concurrency`.
 *
 * @internal
 */
export class ServerRequests {
  private readonly handlers: Map<number, Handler>
  private readonly waiting: Array<Job> = []
  private running = 0

  constructor(private readonly options: Options) {
    this.handlers = new Map(options.handlers)
  }

  register(code: number, handler: Handler): void {
    this.handlers.set(code, handler)
  }

  /**
   * A request that came on connection `generation`: handed to a handler, or refused. An Effect for what cannot
   * be done in place (the refusal's log and answer); undefined when there is none.
   */
  dispatch(
    request: RemotingCommand,
    payload: Uint8Array,
    generation: number | undefined
  ): Effect.Effect<void> | undefined {
    const { concurrency, defaultSerializeType, log, meters, queueSize } = this.options
    const job: Job = {
      request,
      serializeType: Either.getOrElse(RemotingCodec.serializeTypeOf(payload), () => defaultSerializeType),
      generation
    }
    if (this.submit(job)) return undefined
    meters.serverRequest(request.code, "busy")
    const busy = log(
      LogLevel.Warning,
      `server request code ${request.code} refused: ${concurrency} handlers busy and ${queueSize} requests waiting`
    )
    return isOneway(request)
      ? busy
      : Effect.zipRight(busy, this.answer(job, response(request, ResponseCode.SYSTEM_BUSY, { remark: BUSY_REMARK })))
  }

  /** Hands a job to a handler fiber; false when the queue is full. */
  private submit(job: Job): boolean {
    if (this.running < this.options.concurrency) {
      this.running++
      this.options.fork(this.loop(job))
      return true
    }
    if (this.waiting.length >= this.options.queueSize) return false
    this.waiting.push(job)
    return true
  }

  private loop(first: Job): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      let job: Job | undefined = first
      while (job !== undefined) {
        yield* this.handle(job)
        // Taking the next job and leaving happen in one step, so a job offered meanwhile is never stranded.
        job = this.waiting.shift()
        if (job === undefined) this.running--
      }
    }).pipe(Effect.onInterrupt(() => Effect.sync(() => this.running--)))
  }

  private handle(job: Job): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      const { address, log, meters } = this.options
      const request = job.request
      const oneway = isOneway(request)
      const handler = this.handlers.get(request.code)
      if (handler === undefined) {
        meters.serverRequest(request.code, "not_supported")
        if (oneway) return yield* log(LogLevel.Debug, `no handler for oneway server request code ${request.code}`)
        return yield* this.answer(
          job,
          response(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, { remark: notSupportedRemark(request.code) })
        )
      }
      const exit = yield* Effect.exit(Effect.suspend(() => handler(request, { address })))
      if (Exit.isSuccess(exit)) {
        meters.serverRequest(request.code, "handled")
        if (!oneway) yield* this.answer(job, exit.value)
        return
      }
      meters.serverRequest(request.code, "failed")
      yield* log(LogLevel.Debug, `the handler of server request code ${request.code} failed`, {
        cause: Cause.pretty(exit.cause)
      })
      if (!oneway) {
        yield* this.answer(job, response(request, ResponseCode.SYSTEM_ERROR, { remark: describeCause(exit.cause) }))
      }
    })
  }

  /** Writes `given` as the answer to `job`, on the connection the request came on only. */
  private answer(job: Job, given: RemotingCommand): Effect.Effect<void> {
    return Effect.suspend(() => {
      const { answerTimeout, log, stamp, transport } = this.options
      const reply = stamp({ ...given, opaque: job.request.opaque, flag: (given.flag | RESPONSE_FLAG) & ~ONEWAY_FLAG })
      let payload = RemotingCodec.encode(reply, job.serializeType)
      let encodeFailed: Effect.Effect<void> = Effect.void
      if (Either.isLeft(payload)) {
        const error = payload.left
        encodeFailed = log(LogLevel.Debug, `the answer to request code ${job.request.code} cannot be encoded`, {
          error: error.message
        })
        payload = RemotingCodec.encode(
          stamp(response(job.request, ResponseCode.SYSTEM_ERROR, { remark: error.message })),
          job.serializeType
        )
        if (Either.isLeft(payload)) return encodeFailed
      }
      const frame = payload.right
      const generation = job.generation
      const gone = log(LogLevel.Debug, "the connection a server request came on is gone; its answer is dropped", {
        code: job.request.code,
        opaque: job.request.opaque
      })
      if (generation === undefined) return Effect.zipRight(encodeFailed, gone)
      const write = Effect.async<void, OperationError>((resume) => {
        const cancel = transport.unsafeSend(
          frame,
          (error) => resume(error === undefined ? Effect.void : Effect.fail(error)),
          { generation }
        )
        return Effect.sync(cancel)
      })
      const bounded = Duration.isFinite(answerTimeout)
        ? Effect.timeoutFail(write, {
          duration: answerTimeout,
          onTimeout: () =>
            new TimeoutError({ operation: "send", timeout: answerTimeout, address: this.options.address })
        })
        : write
      return Effect.zipRight(
        encodeFailed,
        Effect.catchAll(
          bounded,
          (error) =>
            error._tag === "ConnectionError" && error.reason === "NotConnected"
              ? gone
              : log(LogLevel.Debug, "writing the answer to a server request failed", { error: error.message })
        )
      )
    })
  }
}
