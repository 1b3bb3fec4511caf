/**
 * The producer's engine: routes by topic, queue choice, the attempt loop within one time budget, and the
 * producer's lifecycle. The consumer reuses `ProducerEngine` (over its own connections) for Java's fallback of
 * a failed send-back: a new message on the group's retry topic.
 */
import { RemotingCode, RemotingCommand, RemotingPool } from "@rocketmq-effect/remoting"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { ProducerError } from "../ClientError.js"
import { ClientHost } from "../ClientHost.js"
import { Compression } from "../Compression.js"
import type { CompressionService } from "../Compression.js"
import * as Compressions from "../Compression.js"
import * as Message from "../Message.js"
import * as MessageQueue from "../MessageQueue.js"
import type * as Producer from "../Producer.js"
import * as TopicRoute from "../TopicRoute.js"
import { OptionReader } from "./options.js"
import { NameServers } from "./routes.js"
import type { RouteFailure } from "./routes.js"
import { every } from "./schedules.js"

export const TypeId: Producer.TypeId = Symbol.for("@rocketmq-effect/client/Producer") as Producer.TypeId

export const DEFAULT_SEND_TIMEOUT = Duration.seconds(3)
export const DEFAULT_ROUTE_REFRESH = Duration.seconds(30)
const ROUTE_TIMEOUT = Duration.seconds(3)
const UNREGISTER_TIMEOUT = Duration.seconds(3)
const DEFAULT_TOPIC = "TBW102"
const SAFETY_MARGIN_MILLIS = 100

/** The codes Java's `DefaultMQProducer` retries (`retryResponseCodes`). */
export const RETRIED_CODES: ReadonlySet<number> = new Set([1, 2, 14, 16, 17, 204, 205, 1500])

const STATUS: ReadonlyMap<number, Producer.SendStatus> = new Map([
  [0, "SEND_OK"],
  [10, "FLUSH_DISK_TIMEOUT"],
  [12, "FLUSH_SLAVE_TIMEOUT"],
  [11, "SLAVE_NOT_AVAILABLE"]
])

/** A message ready for the wire: everything but the queue and the born timestamp. */
export interface Prepared {
  readonly topic: string
  readonly body: Uint8Array
  readonly sysFlag: number
  readonly flag: number
  readonly properties: string
  /** `UNIQ_KEY`, or the comma-joined inner ones of a batch. */
  readonly msgId: string
  readonly batch: boolean
  /** Header fields `j` / `l` of a send to a retry topic. */
  readonly reconsumeTimes?: number | undefined
  readonly maxReconsumeTimes?: number | undefined
}

export interface EngineConfig {
  readonly group: string
  readonly clientId: string
  readonly sendTimeout: Duration.Duration
  readonly retrySchedule: Schedule.Schedule<unknown, ProducerError>
  readonly compressOver: number
  readonly compressionLevel: number
  readonly maxMessageSize: number
  readonly latencyFaultAvoidance: boolean
  readonly defaultTopicQueueNums: number
}

/** Which queue an attempt goes to: round-robin (avoiding the last failed broker), or one fixed queue. */
type Selection =
  | { readonly _tag: "RoundRobin" }
  | { readonly _tag: "ByKey"; readonly key: string }

const brokerField = (queue: MessageQueue.MessageQueue | undefined, address: string | undefined) => ({
  ...(queue === undefined ? {} : { brokerName: queue.brokerName }),
  ...(address === undefined ? {} : { address })
})

export class ProducerEngine {
  private readonly routes = new Map<string, TopicRoute.PublishInfo>()
  /** Broker addresses sends went to, for `UNREGISTER_CLIENT` at close. */
  readonly usedBrokers = new Set<string>()
  private readonly selector = new TopicRoute.QueueSelector()
  private readonly faults = new TopicRoute.LatencyFaults()
  private readonly routeLock = Effect.unsafeMakeSemaphore(1)

  constructor(
    readonly pool: RemotingPool.RemotingPoolService,
    readonly nameServers: NameServers,
    readonly config: EngineConfig,
    readonly host: ClientHost["Type"],
    readonly compression: CompressionService
  ) {}

  // ---- routes --------------------------------------------------------------------------------------------

  private fetchRoute(topic: string, timeout?: Duration.Duration): Effect.Effect<TopicRoute.PublishInfo, ProducerError> {
    const noRoute = (cause: unknown, code?: number, remark?: string) =>
      new ProducerError({ reason: "NoRoute", topic, attempts: 0, cause, code, remark })
    const failure = (failure: RouteFailure) =>
      failure._tag === "Unreachable" ? noRoute(failure.cause) : noRoute(undefined, failure.code, failure.remark)
    return this.nameServers.route(topic, timeout).pipe(
      Effect.mapError(failure),
      Effect.flatMap(Option.match({
        onSome: (route) => Effect.succeed(TopicRoute.publishInfo(topic, route)),
        onNone: () =>
          this.nameServers.route(DEFAULT_TOPIC, timeout).pipe(
            Effect.mapError(failure),
            Effect.flatMap(Option.match({
              onNone: () => Effect.fail(noRoute(undefined, RemotingCode.ResponseCode.TOPIC_NOT_EXIST)),
              onSome: (route) =>
                Effect.succeed(TopicRoute.publishInfoFromDefault(topic, route, this.config.defaultTopicQueueNums))
            }))
          )
      })),
      Effect.tap((info) =>
        Effect.sync(() => {
          if (info.queues.length > 0) this.routes.set(topic, info)
        })
      )
    )
  }

  /** The topic's publish info, fetched when unknown (one fetch at a time, each NameServer asked within `timeout`). */
  routeOf(topic: string, timeout?: Duration.Duration): Effect.Effect<TopicRoute.PublishInfo, ProducerError> {
    return Effect.suspend(() => {
      const known = this.routes.get(topic)
      if (known !== undefined) return Effect.succeed(known)
      const bound = timeout ?? ROUTE_TIMEOUT
      return this.routeLock.withPermits(1)(Effect.suspend(() => {
        const again = this.routes.get(topic)
        return again !== undefined ? Effect.succeed(again) : this.fetchRoute(topic, timeout)
      })).pipe(
        // Waiting behind another topic's fetch counts too (that fetch has its own bound, maybe a longer one).
        Effect.timeoutFail({
          duration: Duration.sum(bound, Duration.millis(SAFETY_MARGIN_MILLIS)),
          onTimeout: () =>
            new ProducerError({ reason: "NoRoute", topic, attempts: 0, remark: "timed out waiting for the route" })
        })
      )
    })
  }

  invalidate(topic: string): void {
    this.routes.delete(topic)
  }

  /** Fetches every known topic's route again; a failure keeps the route there was. */
  readonly refreshRoutes: Effect.Effect<void> = Effect.suspend(() =>
    Effect.forEach(
      [...this.routes.keys()],
      (topic) => this.routeLock.withPermits(1)(Effect.ignore(this.fetchRoute(topic))),
      { discard: true }
    )
  )

  // ---- preparing messages -------------------------------------------------------------------------------

  prepare(message: Message.Message): Effect.Effect<Prepared, Message.MessageError | ProducerError> {
    // Plain combinators rather than a generator: this runs once per send.
    return Effect.clockWith((clock): Effect.Effect<Prepared, Message.MessageError | ProducerError> => {
      const valid = Message.validate(message, { maxMessageSize: this.config.maxMessageSize })
      if (Either.isLeft(valid)) return Effect.fail(valid.left)
      const checked = valid.right
      const properties = Message.properties(checked)
      const msgId = this.host.messageIds.next(clock.unsafeCurrentTimeMillis())
      properties.set(Message.Property.UNIQ_KEY, msgId)
      const prepared = (body: Uint8Array, sysFlag: number): Prepared => ({
        topic: checked.topic,
        body,
        sysFlag,
        flag: checked.flag ?? 0,
        properties: Message.encodeProperties(properties),
        msgId,
        batch: false
      })
      if (checked.body.length < this.config.compressOver) return Effect.succeed(prepared(checked.body, 0))
      return this.compression.compress(checked.body, "zlib", this.config.compressionLevel).pipe(
        Effect.mapBoth({
          onFailure: (cause) => new ProducerError({ reason: "Rejected", topic: checked.topic, attempts: 0, cause }),
          onSuccess: (body) => prepared(body, Compressions.sysFlagOf("zlib"))
        })
      )
    })
  }

  prepareBatch(messages: ReadonlyArray<Message.Message>): Effect.Effect<Prepared, Message.MessageError> {
    return Effect.gen(this, function*() {
      const first = messages[0]
      if (first === undefined) {
        return yield* Effect.fail(new Message.MessageError({ field: "messages", rule: "must not be empty", value: 0 }))
      }
      const now = yield* Clock.currentTimeMillis
      const entries: Array<{ body: Uint8Array; flag: number; properties: ReadonlyMap<string, string> }> = []
      const ids: Array<string> = []
      for (let i = 0; i < messages.length; i++) {
        const message = messages[i]!
        const at = (field: string) => `messages[${i}].${field}`
        const valid = yield* Message.validate(message, { maxMessageSize: this.config.maxMessageSize }).pipe(
          Effect.mapError((error) => new Message.MessageError({ ...error, field: at(error.field) }))
        )
        if (valid.topic !== first.topic) {
          return yield* Effect.fail(
            new Message.MessageError({
              field: at("topic"),
              rule: `must be the batch's topic ${first.topic}`,
              value: valid.topic
            })
          )
        }
        if (valid.topic.startsWith("%RETRY%")) {
          return yield* Effect.fail(
            new Message.MessageError({
              field: at("topic"),
              rule: "must not be a retry topic in a batch",
              value: valid.topic
            })
          )
        }
        if (valid.delayLevel !== undefined && valid.delayLevel > 0) {
          return yield* Effect.fail(
            new Message.MessageError({
              field: at("delayLevel"),
              rule: "must not be set in a batch",
              value: valid.delayLevel
            })
          )
        }
        if ((valid.waitStoreMsgOK ?? true) !== (first.waitStoreMsgOK ?? true)) {
          return yield* Effect.fail(
            new Message.MessageError({
              field: at("waitStoreMsgOK"),
              rule: "must be the same for the whole batch",
              value: valid.waitStoreMsgOK
            })
          )
        }
        const properties = Message.properties(valid)
        const id = this.host.messageIds.next(now)
        properties.set(Message.Property.UNIQ_KEY, id)
        ids.push(id)
        entries.push({ body: valid.body, flag: valid.flag ?? 0, properties })
      }
      const body = Message.encodeBatch(entries)
      if (body.length > this.config.maxMessageSize) {
        return yield* Effect.fail(
          new Message.MessageError({
            field: "messages",
            rule: `must encode to at most maxMessageSize (${this.config.maxMessageSize}) bytes`,
            value: body.length
          })
        )
      }
      // No UNIQ_KEY of the batch's own, unlike Java: the broker appends a batch's properties to each message's,
      // so a batch id would replace every message's id (what a Java 5.3.3 batch does: its consumers all see the
      // batch's id, which its `SendResult` does not list). Without it, each message keeps the id returned here.
      const batchProperties = new Map<string, string>([[Message.Property.WAIT, String(first.waitStoreMsgOK ?? true)]])
      return {
        topic: first.topic,
        body,
        sysFlag: 0,
        flag: 0,
        properties: Message.encodeProperties(batchProperties),
        msgId: ids.join(","),
        batch: true
      }
    })
  }

  // ---- attempts -----------------------------------------------------------------------------------------

  private request(prepared: Prepared, queue: MessageQueue.MessageQueue, now: number): RemotingCommand.RemotingCommand {
    return RemotingCommand.request(
      prepared.batch ? RemotingCode.RequestCode.SEND_BATCH_MESSAGE : RemotingCode.RequestCode.SEND_MESSAGE_V2,
      {
        extFields: {
          a: this.config.group,
          b: prepared.topic,
          c: DEFAULT_TOPIC,
          d: this.config.defaultTopicQueueNums,
          e: queue.queueId,
          f: prepared.sysFlag,
          g: now,
          h: prepared.flag,
          i: prepared.properties,
          j: prepared.reconsumeTimes ?? 0,
          k: false,
          l: prepared.maxReconsumeTimes,
          m: prepared.batch,
          n: queue.brokerName
        },
        body: prepared.body
      }
    )
  }

  private chooseQueue(
    info: TopicRoute.PublishInfo,
    selection: Selection,
    lastBroker: string | undefined,
    now: number
  ): MessageQueue.MessageQueue | undefined {
    if (selection._tag === "ByKey") return MessageQueue.selectByHash(info.queues, selection.key)
    return this.selector.select(
      info.queues,
      lastBroker,
      this.config.latencyFaultAvoidance ? { faults: this.faults, now } : undefined
    )
  }

  /**
   * Sends `prepared` as the selection says, retrying per the engine's schedule (`retry: false`: one attempt)
   * within `budget`; `oneway` writes without waiting for an answer.
   */
  send(
    prepared: Prepared,
    options: {
      readonly selection?: Selection | undefined
      readonly budget: Duration.Duration
      readonly retry: boolean
      readonly oneway?: boolean | undefined
    }
  ): Effect.Effect<Producer.SendResult | undefined, ProducerError> {
    const topic = prepared.topic
    const selection = options.selection ?? { _tag: "RoundRobin" }
    return Effect.clockWith((clock) => {
      const deadline = clock.unsafeCurrentTimeMillis() + Duration.toMillis(options.budget)
      let attempts = 0
      let lastBroker: string | undefined
      let last: ProducerError | undefined
      const failed = (error: ProducerError) => {
        if (error.reason !== "Timeout") last = error
        lastBroker = error.brokerName ?? lastBroker
        return Effect.fail(error)
      }
      const timedOut = () =>
        new ProducerError({
          reason: "Timeout",
          topic,
          attempts,
          ...(last === undefined ? {} : { address: last.address, brokerName: last.brokerName, cause: last })
        })
      const onRoute = (info: TopicRoute.PublishInfo, now: number, remaining: number) => {
        const queue = this.chooseQueue(info, selection, lastBroker, now)
        if (queue === undefined) return failed(new ProducerError({ reason: "NoRoute", topic, attempts }))
        const address = info.brokerAddresses.get(queue.brokerName)
        if (address === undefined) {
          this.invalidate(topic)
          return failed(
            new ProducerError({
              reason: "Unreachable",
              topic,
              attempts,
              brokerName: queue.brokerName,
              remark: "no master address"
            })
          )
        }
        this.usedBrokers.add(address)
        const request = this.request(prepared, queue, now)
        const timeout = Duration.millis(remaining)
        const unreachable = (cause: unknown) => {
          const at = clock.unsafeCurrentTimeMillis()
          this.faults.update(queue.brokerName, at - now, true, at)
          return failed(
            new ProducerError({ reason: "Unreachable", topic, attempts, ...brokerField(queue, address), cause })
          )
        }
        if (options.oneway === true) {
          return Effect.matchEffect(this.pool.invokeOneway(address, request, { timeout }), {
            onFailure: unreachable,
            onSuccess: () => Effect.succeed(undefined)
          })
        }
        return Effect.matchEffect(this.pool.invoke(address, request, { timeout }), {
          onFailure: unreachable,
          onSuccess: (response): Effect.Effect<Producer.SendResult, ProducerError> => {
            const finished = clock.unsafeCurrentTimeMillis()
            const status = STATUS.get(response.code)
            if (status === undefined) {
              const retried = RETRIED_CODES.has(response.code)
              if (response.code === RemotingCode.ResponseCode.TOPIC_NOT_EXIST) this.invalidate(topic)
              if (retried) this.faults.update(queue.brokerName, finished - now, true, finished)
              return failed(
                new ProducerError({
                  reason: retried ? "Unreachable" : "Rejected",
                  topic,
                  attempts,
                  ...brokerField(queue, address),
                  code: response.code,
                  remark: response.remark
                })
              )
            }
            this.faults.update(queue.brokerName, finished - now, false, finished)
            const fields = response.extFields
            const queueId = Number(fields?.get("queueId") ?? queue.queueId)
            return Effect.succeed({
              status,
              msgId: prepared.msgId,
              offsetMsgId: fields?.get("msgId") ?? "",
              queue: Number.isInteger(queueId) && queueId !== queue.queueId
                ? MessageQueue.make(topic, queue.brokerName, queueId)
                : queue,
              queueOffset: BigInt(fields?.get("queueOffset") ?? "0"),
              transactionId: fields?.get("transactionId"),
              regionId: fields?.get("MSG_REGION")
            })
          }
        })
      }
      const attempt: Effect.Effect<Producer.SendResult | undefined, ProducerError> = Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        const remaining = deadline - now
        if (remaining <= 0) return Effect.fail(timedOut())
        attempts++
        const known = this.routes.get(topic)
        if (known !== undefined) return onRoute(known, now, remaining)
        return this.routeOf(topic, Duration.millis(remaining)).pipe(
          Effect.matchEffect({
            onFailure: (error) => failed(new ProducerError({ ...error, attempts, cause: error.cause })),
            onSuccess: (info) =>
              onRoute(info, clock.unsafeCurrentTimeMillis(), deadline - clock.unsafeCurrentTimeMillis())
          })
        )
      })
      if (!(options.retry && selection._tag === "RoundRobin" && options.oneway !== true)) return attempt
      // Each step is bounded by what is left of the budget, so a send fails at its deadline with the reason (a
      // NameServer or broker that cannot be reached: the cause). Only a failed attempt pays for the schedule.
      const schedule = this.config.retrySchedule
      return attempt.pipe(
        Effect.catchAll((first) =>
          first.reason !== "Unreachable" ? Effect.fail(first) : Effect.flatMap(Schedule.driver(schedule), (driver) => {
            const again = (error: ProducerError): Effect.Effect<Producer.SendResult | undefined, ProducerError> =>
              Effect.flatMap(Clock.currentTimeMillis, (now) =>
                driver.next(error).pipe(
                  Effect.timeoutFail({ duration: Duration.millis(Math.max(0, deadline - now)), onTimeout: timedOut }),
                  Effect.matchEffect({
                    // The schedule is done: the last failure stands.
                    onFailure: (stop) => Effect.fail(stop instanceof ProducerError ? stop : error),
                    onSuccess: () =>
                      attempt.pipe(
                        Effect.catchAll((next) => next.reason === "Unreachable" ? again(next) : Effect.fail(next))
                      )
                  })
                ))
            return again(first)
          })
        )
      )
    })
  }

  /** `UNREGISTER_CLIENT` to every broker sends went to. */
  unregister(fields: { readonly producerGroup?: string; readonly consumerGroup?: string }): Effect.Effect<void> {
    return unregisterClient(this.pool, this.config.clientId, this.usedBrokers, fields)
  }
}

/**
 * `UNREGISTER_CLIENT` for `clientId` to each of `addresses`, on connections that are up (a broker that is down
 * has dropped the client with its connection); failures are ignored.
 */
export const unregisterClient = (
  pool: RemotingPool.RemotingPoolService,
  clientId: string,
  addresses: Iterable<string>,
  fields: { readonly producerGroup?: string; readonly consumerGroup?: string }
): Effect.Effect<void> =>
  Effect.forEach(
    [...addresses],
    (address) =>
      Effect.ignore(pool.invoke(
        address,
        RemotingCommand.request(RemotingCode.RequestCode.UNREGISTER_CLIENT, {
          extFields: { clientID: clientId, ...fields }
        }),
        { timeout: UNREGISTER_TIMEOUT, awaitConnection: false }
      )),
    { concurrency: "unbounded", discard: true }
  )

export const makeEngine = (
  pool: RemotingPool.RemotingPoolService,
  nameServers: ReadonlyArray<string>,
  config: EngineConfig
) =>
  Effect.gen(function*() {
    const host = yield* ClientHost
    const compression = yield* Compression
    return new ProducerEngine(pool, new NameServers(pool, nameServers, ROUTE_TIMEOUT), config, host, compression)
  })

export const make = (options: Producer.Options) =>
  Effect.gen(function*() {
    const read = new OptionReader()
    const nameServers = read.nameServers("nameServer", options.nameServer)
    const group = read.name("group", options.group, "DEFAULT_PRODUCER")
    const sendTimeout = read.duration("sendTimeout", options.sendTimeout, DEFAULT_SEND_TIMEOUT)
    const retryTimes = read.integer("retryTimes", options.retryTimes, 2, 0, 1000)
    const compressOver = read.threshold("compressOver", options.compressOver, 4096)
    const compressionLevel = read.integer("compressionLevel", options.compressionLevel, 5, 0, 9)
    const maxMessageSize = read.integer("maxMessageSize", options.maxMessageSize, Message.DEFAULT_MAX_MESSAGE_SIZE, 1)
    const maxInFlight = read.integer("maxInFlight", options.maxInFlight, 1024, 1)
    const latencyFaultAvoidance = read.boolean("latencyFaultAvoidance", options.latencyFaultAvoidance, false)
    const defaultTopicQueueNums = read.integer("defaultTopicQueueNums", options.defaultTopicQueueNums, 4, 1, 1024)
    const instanceName = read.string("instanceName", options.instanceName)
    yield* read.result(undefined)

    const host = yield* ClientHost
    const clientId = `${host.ip}@${instanceName ?? host.nextInstanceName()}`
    const poolScope = yield* Scope.make()
    yield* Effect.addFinalizer((exit) => Scope.close(poolScope, exit))
    const pool = yield* RemotingPool.make(options.pool ?? {}).pipe(Scope.extend(poolScope))
    const engine = yield* makeEngine(pool, nameServers, {
      group,
      clientId,
      sendTimeout,
      retrySchedule: options.retrySchedule ?? Schedule.recurs(retryTimes),
      compressOver,
      compressionLevel,
      maxMessageSize,
      latencyFaultAvoidance,
      defaultTopicQueueNums
    })
    const slots = yield* Effect.makeSemaphore(maxInFlight)
    let running = 0
    let closed = false

    yield* Effect.forkScoped(
      every(engine.refreshRoutes, options.routeRefresh ?? Schedule.spaced(DEFAULT_ROUTE_REFRESH))
    )
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closed = true
        // Every slot free means every send has finished: each is bounded by its own budget.
        yield* slots.withPermits(maxInFlight)(Effect.void)
        yield* engine.unregister({ producerGroup: group })
      })
    )

    const budgetOf = (sendOptions: Producer.SendOptions | undefined) =>
      sendOptions?.timeout === undefined ? sendTimeout : Duration.decode(sendOptions.timeout)

    const closedError = (topic: string) => new ProducerError({ reason: "Closed", topic, attempts: 0 })

    /**
     * Runs a send in a slot: at once when one is free (no timer, no fiber), else after waiting for one within its
     * budget, the wait counted in it.
     */
    const guarded = <A, E>(
      topic: string,
      budget: Duration.Duration,
      body: (remaining: Duration.Duration) => Effect.Effect<A, E>
    ): Effect.Effect<A, E | ProducerError> =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(closedError(topic))
        const counted = (remaining: Duration.Duration) =>
          Effect.suspend(() => {
            running++
            return Effect.ensuring(body(remaining), Effect.sync(() => running--))
          })
        return slots.withPermitsIfAvailable(1)(counted(budget)).pipe(
          Effect.flatMap((ran) => ran._tag === "Some" ? Effect.succeed(ran.value) : waitForSlot(topic, budget, counted))
        )
      })

    const waitForSlot = <A, E>(
      topic: string,
      budget: Duration.Duration,
      counted: (remaining: Duration.Duration) => Effect.Effect<A, E>
    ): Effect.Effect<A, E | ProducerError> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const start = yield* Clock.currentTimeMillis
          yield* restore(
            slots.take(1).pipe(
              Effect.timeoutFail({
                duration: budget,
                onTimeout: () =>
                  new ProducerError({
                    reason: "Timeout",
                    topic,
                    attempts: 0,
                    remark: `no room: ${maxInFlight} sends in flight`
                  })
              })
            )
          )
          const now = yield* Clock.currentTimeMillis
          return yield* restore(counted(Duration.millis(Math.max(0, Duration.toMillis(budget) - (now - start))))).pipe(
            Effect.ensuring(slots.release(1))
          )
        })
      )

    const send = (message: Message.Message, sendOptions?: Producer.SendOptions) =>
      guarded(message.topic, budgetOf(sendOptions), (budget) =>
        engine.prepare(message).pipe(
          Effect.flatMap((prepared) => engine.send(prepared, { budget, retry: true })),
          Effect.map((result) => result!)
        ))

    const service: Producer.ProducerService = {
      [TypeId]: TypeId,
      clientId,
      group,
      send,
      sendOneway: (message, sendOptions) =>
        guarded(message.topic, budgetOf(sendOptions), (budget) =>
          engine.prepare(message).pipe(
            Effect.flatMap((prepared) => engine.send(prepared, { budget, retry: false, oneway: true })),
            Effect.asVoid
          )),
      sendBatch: (messages, sendOptions) =>
        guarded(messages[0]?.topic ?? "", budgetOf(sendOptions), (budget) =>
          engine.prepareBatch(messages).pipe(
            Effect.flatMap((prepared) => engine.send(prepared, { budget, retry: true })),
            Effect.map((result) => result!)
          )),
      sendOrdered: (message, shardingKey, sendOptions) =>
        guarded(message.topic, budgetOf(sendOptions), (budget) =>
          engine.prepare(message).pipe(
            Effect.flatMap((prepared) =>
              engine.send(prepared, { budget, retry: false, selection: { _tag: "ByKey", key: shardingKey } })
            ),
            Effect.map((result) => result!)
          )),
      publishQueues: (topic) =>
        Effect.suspend(() => closed ? Effect.fail(closedError(topic)) : engine.routeOf(topic)).pipe(
          Effect.map((info) => info.queues)
        ),
      inFlight: Effect.sync(() => running)
    }
    return service
  })
