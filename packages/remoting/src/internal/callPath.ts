import type { Deadline, Deadlines } from "@rocketmq-effect/transport/Deadlines"
import type { OperationError, TransportService } from "@rocketmq-effect/transport/Transport"
import { ConnectionClosedError, ConnectionError } from "@rocketmq-effect/transport/TransportError"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import type * as Tracer from "effect/Tracer"
import { ResponseCode } from "../RemotingCode.js"
import type { RemotingCommand, SerializeType } from "../RemotingCommand.js"
import type { RemotingCodecError } from "../RemotingError.js"
import { RemotingClientError } from "../RemotingError.js"
import type { ClientMeters, Outcome } from "./clientMeters.js"
import { PendingTable } from "./pendingTable.js"

/**
 * What a call can fail with (`RemotingClient.InvokeError`).
 *
 * @internal
 */
export type CallError =
  | RemotingClientError
  | ConnectionError
  | ConnectionClosedError
  | RemotingCodecError
  | OperationError

/** Where a call is. It moves forward only, but for a write that found no connection (back to `Connection`). */
const enum Stage {
  /** Waiting for one of the `maxInFlight` slots. */
  Slot,
  /** Holding a slot, waiting for a connection. */
  Connection,
  /** Its request is with the transport, not yet accepted by the connection. */
  Write,
  /** Written; waiting for the response (a oneway call is done once written). */
  Response,
  Done
}

const waitingFor = (stage: Stage): "connection" | "write" | "response" =>
  stage === Stage.Connection ? "connection" : stage === Stage.Write ? "write" : "response"

/**
 * One call: a plain record that the call path moves along and settles once. It is its own entry in the pending
 * table and its own deadline, so a call costs one object and one suspension of its fiber.
 */
class Call implements Deadline {
  stage = Stage.Slot
  opaque: number | undefined = undefined
  /** The connection its request goes on, once it has one. */
  generation: number | undefined = undefined
  /** Gives the write up while the transport still holds it. */
  cancelWrite: (() => void) | undefined = undefined
  /** The write of the current attempt was settled (it may be before `unsafeSend` returns). */
  writeSettled = false

  constructor(
    readonly path: CallPath,
    readonly request: RemotingCommand,
    readonly oneway: boolean,
    readonly serializeType: SerializeType,
    /** Wait for a connection when there is none, rather than fail at once. */
    readonly awaitConnection: boolean,
    readonly timeout: Duration.Duration,
    /** The deadline: `Infinity` when the call has no time bound. */
    readonly at: number,
    readonly started: number,
    /** None under Effect's default tracer. */
    readonly span: Tracer.Span | undefined,
    readonly resume: (exit: Exit.Exit<RemotingCommand | void, CallError>) => void
  ) {}

  expire(): void {
    this.path.expire(this)
  }

  readonly written = (error: OperationError | undefined): void => {
    this.path.written(this, error)
  }
}

/**
 * What the call path needs of its client.
 *
 * @internal
 */
export interface Options {
  readonly address: string
  readonly transport: TransportService
  readonly deadlines: Deadlines
  readonly meters: ClientMeters
  readonly clock: Clock.Clock
  readonly maxInFlight: number
  readonly defaultTimeout: Duration.Duration
  readonly defaultSerializeType: SerializeType
  readonly firstOpaque: number
  readonly closeOnTimeout: boolean
  /** Effect's default tracer: a call makes its span under any other. */
  readonly defaultTracer: Tracer.Tracer
  /** The frame of `request` with `opaque` and the request (or oneway) flag, in `serializeType`. */
  readonly encode: (
    request: RemotingCommand,
    opaque: number,
    oneway: boolean,
    serializeType: SerializeType
  ) => Either.Either<Uint8Array, RemotingCodecError>
  /** A request was accepted by the connection. */
  readonly requestWritten: () => void
  /**
   * `closeOnTimeout`: a call on connection `generation` timed out. Fails the calls still on it and drops it,
   * as any connection the client gives up.
   */
  readonly dropAfterTimeout: (generation: number, cause: RemotingClientError) => void
}

/** The outcome label of a call's end. */
const outcomeOf = (exit: Exit.Exit<RemotingCommand | void, CallError>): Outcome => {
  if (Exit.isSuccess(exit)) {
    const value = exit.value
    if (value === undefined) return "oneway"
    return value.code === ResponseCode.SUCCESS ? "success" : "remote_error"
  }
  const cause = exit.cause
  if (cause._tag === "Interrupt") return "interrupted"
  if (cause._tag !== "Fail") return "defect"
  const error = cause.error
  switch (error._tag) {
    case "RemotingClientError":
      return error.reason === "Timeout" ? "timeout" : "in_flight_limit"
    case "ConnectionError":
      return "disconnected"
    case "ConnectionClosedError":
      return "closed"
    default:
      return "invalid_request"
  }
}

const INTERRUPTED = Exit.interrupt(FiberId.none)

/**
 * The way of a call, from `invoke` to its outcome, and what bounds it: the in-flight cap, the connection it
 * waits for, its deadline.
 *
 * A call is one `Effect.async` whose record moves through the stages by callbacks: a slot freed by another
 * call, the connection coming up (`connected`), the write accepted (`unsafeSend`'s callback), the response
 * (`respond`, from the reader), the connection dropping (`disconnected`), its deadline (one sweeper for all
 * calls, `Deadlines`). No fiber is forked and nothing races per call: a call costs its record, its span, its
 * frame, and one suspension of the caller's fiber.
 *
 * Invariants:
 * - `active` counts the calls past `Slot` and not `Done`, and never exceeds `maxInFlight`; a call leaving frees
 *   its slot for the first waiting one, in order.
 * - A call is settled exactly once (`finish`): its deadline, table entry and write are released there, its
 *   metrics and span recorded, and its fiber resumed (but for an interrupted one, which is already leaving).
 * - A call waits for a connection only in `parked`, and for a slot only in `queued`; it leaves them when it
 *   moves on or is settled.
 * - `generation` is the connection the client last saw come up and not yet go. It may lag behind the
 *   transport: a request is written with `unsafeSend`'s generation guard, so it only ever goes on the
 *   connection its call was registered for; a write that finds another connection is parked until the
 *   client sees the next one.
 *
 * @internal
 */
export class CallPath {
  private readonly table: PendingTable<Call>
  private readonly queued: Array<Call> = []
  private parked: Array<Call> = []
  private active = 0
  private admitting = false
  private closed = false
  private generation: number | undefined = undefined
  /** Why the last connection or attempt ended: the `cause` of a timeout while waiting for a connection. */
  private lastDrop: unknown = undefined
  /** The reconnect schedule gave up: calls that need a connection fail with this at once. */
  private exhausted: ConnectionError | undefined = undefined
  private readonly defaultAt: number
  /** `unsafeSend`'s options for the connection last written to, made once per connection. */
  private sendOptions: { readonly generation: number | undefined } = { generation: undefined }

  constructor(private readonly options: Options) {
    this.table = new PendingTable(options.firstOpaque)
    this.defaultAt = Duration.isFinite(options.defaultTimeout)
      ? Duration.toMillis(options.defaultTimeout)
      : Number.POSITIVE_INFINITY
  }

  /** Calls waiting for their response. */
  get inFlight(): number {
    return this.table.size
  }

  /** The connection the client sees up, if any. */
  get connectedGeneration(): number | undefined {
    return this.generation
  }

  /**
   * A call of `request`: its response (a oneway call: once written), or why not, within `timeout` (default the
   * client's), in a span named `name`.
   */
  call(
    name: string,
    request: RemotingCommand,
    oneway: boolean,
    timeout: Duration.DurationInput | undefined,
    serializeType: SerializeType | undefined,
    awaitConnection: boolean
  ): Effect.Effect<RemotingCommand | void, CallError> {
    const options = this.options
    const run = (span: Tracer.Span | undefined) =>
      Effect.async<RemotingCommand | void, CallError>((resume) => {
        const started = options.clock.unsafeCurrentTimeMillis()
        let bound = options.defaultTimeout
        let at = started + this.defaultAt
        if (timeout !== undefined) {
          bound = Duration.decode(timeout)
          at = Duration.isFinite(bound) ? started + Duration.toMillis(bound) : Number.POSITIVE_INFINITY
        }
        const call = new Call(
          this,
          request,
          oneway,
          serializeType ?? options.defaultSerializeType,
          awaitConnection,
          bound,
          at,
          started,
          span,
          resume
        )
        this.start(call)
        return call.stage === Stage.Done ? undefined : Effect.sync(() => this.abandon(call))
      })
    return Effect.withFiberRuntime((fiber) =>
      // Effect's default tracer keeps its spans from everyone (no exporter, and nothing runs inside a call to
      // see it as parent): making one would cost more than the rest of the call and show nothing.
      fiber.currentTracer === options.defaultTracer || !fiber.getFiberRef(FiberRef.currentTracerEnabled)
        ? run(undefined)
        : Effect.flatMap(
          Effect.makeSpan(name, {
            kind: "client",
            attributes: { code: request.code, address: options.address },
            captureStackTrace: false
          }),
          run
        )
    )
  }

  // ---- the connection, as the client's watcher of the transport sees it ------------------------------------

  /** Connection `generation` is up: the calls waiting for a connection go on it. */
  connected(generation: number): void {
    this.generation = generation
    this.exhausted = undefined
    this.lastDrop = undefined
    const parked = this.parked
    this.parked = []
    for (const call of parked) this.proceed(call)
  }

  /**
   * Connection `generation` went (`cause`): every call written on it fails at once with `Disconnected`; when
   * the schedule gave up (`exhausted`), so does every call waiting for a connection.
   */
  disconnected(generation: number, cause: unknown, exhausted: ConnectionError | undefined): void {
    if (this.generation !== undefined && this.generation <= generation) this.generation = undefined
    this.lastDrop = cause
    this.exhausted = exhausted
    this.failConnection(
      generation,
      new ConnectionError({ reason: "Disconnected", address: this.options.address, generation, cause })
    )
    if (exhausted !== undefined) {
      const parked = this.parked
      this.parked = []
      for (const call of parked) this.finish(call, Exit.fail(exhausted))
    }
  }

  /** Fails the calls written on connections up to `generation` with `error`. */
  failConnection(generation: number, error: ConnectionError): void {
    for (const call of this.table.takeUpTo(generation)) this.finish(call, Exit.fail(error))
  }

  /** The client or its transport closed: every call fails, and every later one. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.generation = undefined
    const error = this.closedError()
    const waiting = [...this.queued, ...this.parked]
    this.queued.length = 0
    this.parked = []
    for (const call of waiting) this.finish(call, Exit.fail(error))
    for (const call of this.table.takeUpTo(Number.MAX_SAFE_INTEGER)) this.finish(call, Exit.fail(error))
  }

  /** A response: settles the call waiting for it; false when none is (it timed out or gave up). */
  respond(response: RemotingCommand): boolean {
    const call = this.table.take(response.opaque)
    if (call === undefined) return false
    this.finish(call, Exit.succeed(response))
    return true
  }

  // ---- the stages ---------------------------------------------------------------------------------------------

  private start(call: Call): void {
    if (this.closed) return this.finish(call, Exit.fail(this.closedError()))
    if (call.at !== Number.POSITIVE_INFINITY) this.options.deadlines.add(call)
    if (this.active >= this.options.maxInFlight) {
      this.queued.push(call)
      return
    }
    this.active++
    this.proceed(call)
  }

  /** A call holding a slot: written now if a connection is up, else parked until one is. */
  private proceed(call: Call): void {
    if (call.stage === Stage.Done) return
    if (this.closed) return this.finish(call, Exit.fail(this.closedError()))
    const generation = this.generation
    if (generation === undefined) {
      if (this.exhausted !== undefined) return this.finish(call, Exit.fail(this.exhausted))
      if (!call.awaitConnection) {
        return this.finish(
          call,
          Exit.fail(new ConnectionError({ reason: "NotConnected", address: this.options.address }))
        )
      }
      call.stage = Stage.Connection
      this.parked.push(call)
      return
    }
    call.stage = Stage.Write
    call.generation = generation
    call.writeSettled = false
    const opaque = call.oneway ? this.table.allocate() : this.table.register(call)
    call.opaque = opaque
    const frame = this.options.encode(call.request, opaque, call.oneway, call.serializeType)
    if (Either.isLeft(frame)) return this.finish(call, Exit.fail(frame.left))
    let sendOptions = this.sendOptions
    if (sendOptions.generation !== generation) this.sendOptions = sendOptions = { generation }
    const cancel = this.options.transport.unsafeSend(frame.right, call.written, sendOptions)
    if (!call.writeSettled) call.cancelWrite = cancel
  }

  /** The transport settled a call's write. */
  written(call: Call, error: OperationError | undefined): void {
    call.writeSettled = true
    call.cancelWrite = undefined
    if (call.stage !== Stage.Write) return
    if (error === undefined) {
      this.options.requestWritten()
      if (call.oneway) return this.finish(call, Exit.void)
      call.stage = Stage.Response
      return
    }
    if (error._tag === "ConnectionError" && error.reason === "NotConnected") {
      // Nothing was written: the connection the call was registered for is not the one up. Wait for the next.
      this.table.remove(call)
      if (this.generation === call.generation) this.generation = undefined
      call.opaque = undefined
      call.generation = undefined
      call.stage = Stage.Connection
      return this.proceed(call)
    }
    this.finish(call, Exit.fail(error))
  }

  /** A call's deadline passed. */
  expire(call: Call): void {
    const stage = call.stage
    if (stage === Stage.Done) return
    const { address, maxInFlight } = this.options
    const requestCode = call.request.code
    const error = stage === Stage.Slot
      ? new RemotingClientError({ reason: "InFlightLimit", address, requestCode, timeout: call.timeout, maxInFlight })
      : new RemotingClientError({
        reason: "Timeout",
        address,
        requestCode,
        timeout: call.timeout,
        waitingFor: waitingFor(stage),
        opaque: call.opaque,
        cause: stage === Stage.Connection ? this.lastDrop : undefined
      })
    const generation = call.generation
    this.finish(call, Exit.fail(error))
    if (
      this.options.closeOnTimeout && (stage === Stage.Write || stage === Stage.Response) &&
      generation !== undefined && generation === this.generation
    ) {
      // The calls beside it fail at once, with its timeout as the cause; then the connection goes.
      this.options.dropAfterTimeout(generation, error)
    }
  }

  /** The caller's fiber was interrupted. */
  private abandon(call: Call): void {
    this.finish(call, INTERRUPTED, false)
  }

  // ---- the end ------------------------------------------------------------------------------------------------

  private finish(call: Call, exit: Exit.Exit<RemotingCommand | void, CallError>, resume = true): void {
    const stage = call.stage
    if (stage === Stage.Done) return
    call.stage = Stage.Done
    if (call.at !== Number.POSITIVE_INFINITY) this.options.deadlines.remove(call)
    if (stage === Stage.Slot) {
      remove(this.queued, call)
    } else {
      if (stage === Stage.Connection) remove(this.parked, call)
      if (!call.oneway) this.table.remove(call)
      const cancel = call.cancelWrite
      if (cancel !== undefined) {
        call.cancelWrite = undefined
        cancel()
      }
      this.active--
      this.admit()
    }
    this.record(call, exit)
    if (resume) call.resume(exit)
  }

  /** Gives free slots to the calls waiting for one, in order. */
  private admit(): void {
    if (this.admitting) return
    this.admitting = true
    while (this.active < this.options.maxInFlight && this.queued.length > 0) {
      const next = this.queued.shift()!
      this.active++
      this.proceed(next)
    }
    this.admitting = false
  }

  private record(call: Call, exit: Exit.Exit<RemotingCommand | void, CallError>): void {
    const { clock, meters } = this.options
    const outcome = outcomeOf(exit)
    const response = Exit.isSuccess(exit) ? exit.value : undefined
    const responseCode = response !== undefined ? response.code : undefined
    meters.call(call.request.code, outcome, responseCode, clock.unsafeCurrentTimeMillis() - call.started)
    const span = call.span
    if (span === undefined) return
    if (call.opaque !== undefined) span.attribute("opaque", call.opaque)
    if (response !== undefined) span.attribute("responseCode", response.code)
    span.end(clock.unsafeCurrentTimeNanos(), exit)
  }

  private closedError(): ConnectionClosedError {
    return new ConnectionClosedError({ address: this.options.address, operation: "invoke" })
  }
}

const remove = <A>(array: Array<A>, item: A): void => {
  const index = array.indexOf(item)
  if (index >= 0) array.splice(index, 1)
}
