/**
 * The consumer's engine: membership (heartbeats, rebalancing), one puller per owned queue, offsets, send-back,
 * and the close. The faces (`stream`, `run`) read the deliveries it produces.
 *
 * Fibers, all in the consumer's scope:
 * - the heartbeat loop (a schedule, or a trigger after a broker forgot the subscription);
 * - the rebalancer: one fiber, woken by its schedule, by `NOTIFY_CONSUMER_IDS_CHANGED` and by a moved offset,
 *   so rebalances never overlap;
 * - the offset persister (a schedule);
 * - one puller per owned queue, in `pullers` by queue key, interrupted when the queue is taken away;
 * - the handlers of `run`, in `handlers`, which outlive a `run` that is interrupted and get `gracePeriod` at
 *   close.
 *
 * Memory is bounded by two semaphores: a pull first takes `pullBatchSize` permits of its queue's and of the
 * consumer's; what the pull did not fill is given back at once, and each message gives its permit back when it
 * is settled (or its queue dropped).
 */
import { RemotingCode, RemotingCommand, RemotingJson, RemotingPool } from "@rocketmq-effect/remoting"
import type { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberMap from "effect/FiberMap"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { ConsumerError } from "../ClientError.js"
import { ClientHost } from "../ClientHost.js"
import { Compression } from "../Compression.js"
import type * as Consumer from "../Consumer.js"
import * as Message from "../Message.js"
import * as MessageQueue from "../MessageQueue.js"
import * as Rebalance from "../Rebalance.js"
import * as StoredMessage from "../StoredMessage.js"
import * as TopicRoute from "../TopicRoute.js"
import { OptionReader } from "./options.js"
import { ProcessQueue } from "./processQueue.js"
import { makeEngine, unregisterClient } from "./producer.js"
import { NameServers } from "./routes.js"
import { every } from "./schedules.js"

export const TypeId: Consumer.TypeId = Symbol.for("@rocketmq-effect/client/Consumer") as Consumer.TypeId

const Code = RemotingCode.RequestCode
const Response = RemotingCode.ResponseCode

const ADMIN_TIMEOUT = Duration.seconds(3)
const SEND_BACK_TIMEOUT = Duration.seconds(5)
const LOCAL_RETRY_DELAY = Duration.seconds(5)
const FLOW_CONTROL_DELAY = Duration.millis(20)

const PullSysFlag = { SUSPEND: 2 } as const

const consumeFromWhere = (from: Consumer.ConsumeFrom) =>
  from === "last"
    ? "CONSUME_FROM_LAST_OFFSET"
    : from === "first"
    ? "CONSUME_FROM_FIRST_OFFSET"
    : "CONSUME_FROM_TIMESTAMP"

/** Java's `FilterAPI.build` for a tag expression: `*` subscribes to all; otherwise tags split on `||`. */
export interface Subscription {
  readonly topic: string
  readonly expression: string
  readonly tags: ReadonlySet<string>
  readonly codes: ReadonlyArray<number>
  readonly all: boolean
}

export const subscription = (topic: string, expression: string): Subscription => {
  const trimmed = expression.trim()
  const all = trimmed.length === 0 || trimmed === "*"
  const tags = all ? [] : trimmed.split("||").map((tag) => tag.trim()).filter((tag) => tag.length > 0)
  return {
    topic,
    expression: all ? "*" : trimmed,
    tags: new Set(tags),
    codes: tags.map(MessageQueue.javaHashCode),
    all
  }
}

interface Settings {
  readonly group: string
  readonly clientId: string
  readonly nameServers: ReadonlyArray<string>
  readonly subscriptions: ReadonlyArray<Subscription>
  readonly consumeFrom: Consumer.ConsumeFrom
  readonly pullBatchSize: number
  readonly maxPerQueue: number
  readonly maxBuffered: number
  readonly maxReconsumeTimes: number
  readonly pullSuspend: Duration.Duration
  readonly pullTimeout: Duration.Duration
  readonly pullBackoff: Duration.Duration
  readonly gracePeriod: Duration.Duration
}

const readOptions = (
  options: Consumer.Options
): Effect.Effect<Omit<Settings, "clientId"> & { readonly instanceName: string | undefined }, ConfigurationError> => {
  const read = new OptionReader()
  const nameServers = read.nameServers("nameServer", options.nameServer)
  const group = read.name("group", options.group)
  const subscriptions: Array<Subscription> = []
  if (
    options.subscriptions === null || typeof options.subscriptions !== "object" ||
    Object.keys(options.subscriptions).length === 0
  ) {
    read.problem("subscriptions", "must name at least one topic: { [topic]: tagExpression }", options.subscriptions)
  } else {
    for (const [topic, expression] of Object.entries(options.subscriptions)) {
      const rule = Message.checkTopic(topic)
      if (rule !== undefined) read.problem(`subscriptions.${topic}`, `topic ${rule}`, topic)
      else if (typeof expression !== "string") {
        read.problem(`subscriptions.${topic}`, "must be a tag expression such as \"*\" or \"a || b\"", expression)
      } else subscriptions.push(subscription(topic, expression))
    }
  }
  let consumeFrom: Consumer.ConsumeFrom = "last"
  if (options.consumeFrom !== undefined) {
    const from = options.consumeFrom
    if (from === "last" || from === "first") consumeFrom = from
    else if (typeof from === "object" && from !== null && Number.isFinite(from.timestamp)) {
      consumeFrom = { timestamp: from.timestamp }
    } else read.problem("consumeFrom", "must be \"last\", \"first\" or { timestamp: epochMillis }", from)
  }
  const pullBatchSize = read.integer("pullBatchSize", options.pullBatchSize, 32, 1, 1024)
  const maxPerQueue = read.integer("maxBufferedMessagesPerQueue", options.maxBufferedMessagesPerQueue, 1000, 1)
  const maxBuffered = read.integer("maxBufferedMessages", options.maxBufferedMessages, 10_000, 1)
  const maxReconsumeTimes = read.integer("maxReconsumeTimes", options.maxReconsumeTimes, 16, 0, 10_000)
  const pullSuspend = read.duration("pullSuspend", options.pullSuspend, Duration.seconds(15))
  const pullTimeout = read.duration("pullTimeout", options.pullTimeout, Duration.seconds(30))
  if (Duration.lessThanOrEqualTo(pullTimeout, pullSuspend)) {
    read.problem("pullTimeout", "must be longer than pullSuspend", options.pullTimeout)
  }
  const pullBackoff = read.duration("pullBackoff", options.pullBackoff, Duration.seconds(1), { allowZero: true })
  const gracePeriod = read.duration("gracePeriod", options.gracePeriod, Duration.seconds(10), { allowZero: true })
  const instanceName = read.string("instanceName", options.instanceName)
  return read.result({
    group,
    nameServers,
    subscriptions,
    consumeFrom,
    pullBatchSize: Math.min(pullBatchSize, maxPerQueue, maxBuffered),
    maxPerQueue,
    maxBuffered,
    maxReconsumeTimes,
    pullSuspend,
    pullTimeout,
    pullBackoff,
    gracePeriod,
    instanceName
  })
}

/** A pulled message waiting to be handed out, with the queue it belongs to. */
interface Pending {
  readonly entry: Owned
  readonly message: StoredMessage.ReceivedMessage
}

interface Owned {
  readonly pq: ProcessQueue
  readonly subscription: Subscription
  readonly permits: Effect.Semaphore
  readonly offsetLock: Effect.Semaphore
}

export const make = (options: Consumer.Options) =>
  Effect.gen(function*() {
    const read = yield* readOptions(options)
    const host = yield* ClientHost
    const compression = yield* Compression
    const clientId = `${host.ip}@${read.instanceName ?? host.nextInstanceName()}`
    const settings: Settings = { ...read, clientId }
    const { group } = settings
    const retryTopic = `%RETRY%${group}`
    const subscriptions = [...settings.subscriptions, subscription(retryTopic, "*")]
    const subVersion = yield* Clock.currentTimeMillis

    const rebalanceTrigger = yield* Queue.sliding<void>(1)
    const heartbeatTrigger = yield* Queue.sliding<void>(1)
    const poolScope = yield* Scope.make()
    yield* Effect.addFinalizer((exit) => Scope.close(poolScope, exit))
    const pool = yield* RemotingPool.make({
      ...options.pool,
      client: (address) => ({
        ...(typeof options.pool?.client === "function" ? options.pool.client(address) : options.pool?.client),
        handlers: {
          [Code.NOTIFY_CONSUMER_IDS_CHANGED]: (request) =>
            Queue.offer(rebalanceTrigger, undefined).pipe(
              Effect.as(RemotingCommand.response(request, Response.SUCCESS))
            )
        }
      })
    }).pipe(Scope.extend(poolScope))
    const nameServers = new NameServers(pool, settings.nameServers, ADMIN_TIMEOUT)
    // Java's fallback for a failed send-back goes through the instance's own producer, `CLIENT_INNER_PRODUCER`.
    const innerProducer = yield* makeEngine(pool, settings.nameServers, {
      group: "CLIENT_INNER_PRODUCER",
      clientId,
      sendTimeout: Duration.seconds(3),
      retrySchedule: Schedule.recurs(2),
      compressOver: Infinity,
      compressionLevel: 5,
      maxMessageSize: Message.DEFAULT_MAX_MESSAGE_SIZE,
      latencyFaultAvoidance: false,
      defaultTopicQueueNums: 4
    })

    const brokerAddresses = new Map<string, string>()
    const topicQueues = new Map<string, ReadonlyArray<MessageQueue.MessageQueue>>()
    const owned = new Map<string, Owned>()
    const assignment = yield* SubscriptionRef.make<ReadonlyArray<MessageQueue.MessageQueue>>([])
    const buffered = yield* Effect.makeSemaphore(settings.maxBuffered)
    const deliveries = yield* Queue.unbounded<Pending>()
    const pullers = yield* FiberMap.make<string>()
    const handlers = yield* FiberSet.make()
    let processing = 0
    let closed = false
    let consuming = false
    const warnedNoRoute = new Set<string>()
    const undecodable = new Map<string, bigint>()

    const failure = (
      reason: ConsumerError["reason"],
      fields: Partial<ConstructorParameters<typeof ConsumerError>[0]> = {}
    ) => new ConsumerError({ reason, group, ...fields })

    // ---- routes and brokers -------------------------------------------------------------------------------

    const refreshRoute = (topic: string) =>
      nameServers.route(topic).pipe(
        Effect.tap(Option.match({
          onNone: () => Effect.sync(() => topicQueues.set(topic, [])),
          onSome: (route) =>
            Effect.sync(() => {
              for (const [name, address] of TopicRoute.brokerAddresses(route)) brokerAddresses.set(name, address)
              topicQueues.set(topic, TopicRoute.subscribeQueues(topic, route))
              warnedNoRoute.delete(topic)
            })
        })),
        Effect.flatMap(Option.match({
          onSome: () => Effect.void,
          onNone: () =>
            topic === retryTopic || warnedNoRoute.has(topic)
              ? Effect.void
              : Effect.zipRight(
                Effect.sync(() => warnedNoRoute.add(topic)),
                Effect.logWarning(
                  `consumer group ${group}: the NameServer has no route for topic ${topic}; nothing to consume until it exists`
                )
              )
        })),
        Effect.catchAll(() => Effect.void)
      )

    const allBrokers = () => [...new Set(brokerAddresses.values())]

    // ---- heartbeat ----------------------------------------------------------------------------------------

    // The same every time (the subscriptions and their version do not change): encoded once.
    const heartbeatBody = new TextEncoder().encode(JSON.stringify({
      clientID: clientId,
      producerDataSet: [],
      consumerDataSet: [{
        groupName: group,
        consumeType: "CONSUME_PASSIVELY",
        messageModel: "CLUSTERING",
        consumeFromWhere: consumeFromWhere(settings.consumeFrom),
        unitMode: false,
        subscriptionDataSet: subscriptions.map((sub) => ({
          topic: sub.topic,
          subString: sub.expression,
          tagsSet: [...sub.tags],
          codeSet: sub.codes,
          subVersion,
          expressionType: "TAG",
          classFilterMode: false
        }))
      }],
      heartbeatFingerprint: 0,
      isWithoutSub: false
    }))

    const heartbeatOnce = Effect.suspend(() =>
      Effect.forEach(allBrokers(), (address) =>
        pool.invoke(address, RemotingCommand.request(Code.HEART_BEAT, { body: heartbeatBody }), {
          timeout: ADMIN_TIMEOUT
        }).pipe(
          Effect.flatMap((response) =>
            response.code === Response.SUCCESS
              ? Effect.void
              : Effect.logDebug(`heartbeat to ${address} answered ${response.code} ${response.remark ?? ""}`)
          ),
          Effect.catchAll((error) =>
            Effect.logDebug(`heartbeat to ${address} failed: ${error.message}`)
          )
        ), { concurrency: "unbounded", discard: true })
    )

    // ---- offsets ------------------------------------------------------------------------------------------

    const addressOf = (brokerName: string) =>
      brokerAddresses.get(brokerName)

    /**
     * Writes a queue's committed offset, acknowledged by the broker, one write per queue at a time. Java writes
     * them oneway and piggy-backs them on pulls; a broker handles those on several threads, so an older offset
     * written just before a newer one can land after it and win. Answered writes, one at a time, cannot.
     */
    const writeOffset = (entry: Owned) =>
      entry.offsetLock.withPermits(1)(Effect.suspend(() => {
        const { pq } = entry
        const address = addressOf(pq.queue.brokerName)
        const offset = pq.committed
        if (address === undefined || pq.persisted === offset) return Effect.void
        const request = RemotingCommand.request(Code.UPDATE_CONSUMER_OFFSET, {
          extFields: {
            consumerGroup: group,
            topic: pq.queue.topic,
            queueId: pq.queue.queueId,
            commitOffset: offset,
            bname: pq.queue.brokerName
          }
        })
        return pool.invokeSuccess(address, request, { timeout: ADMIN_TIMEOUT }).pipe(
          Effect.tap(() => Effect.sync(() => (pq.persisted = offset))),
          Effect.catchAll((error) =>
            Effect.logDebug(`writing the offset of ${MessageQueue.key(pq.queue)} failed: ${error.message}`)
          )
        )
      }))

    const persistAll = Effect.suspend(() =>
      Effect.forEach([...owned.values()], writeOffset, { concurrency: 8, discard: true })
    )

    const brokerCall = (queue: MessageQueue.MessageQueue, request: RemotingCommand.RemotingCommand) =>
      Effect.suspend(() => {
        const address = addressOf(queue.brokerName)
        if (address === undefined) {
          return Effect.fail(
            failure("Unreachable", { topic: queue.topic, remark: `no address for broker ${queue.brokerName}` })
          )
        }
        return pool.invoke(address, request, { timeout: ADMIN_TIMEOUT }).pipe(
          Effect.mapError((cause) => failure("Unreachable", { topic: queue.topic, address, cause }))
        )
      })

    const offsetHeader = (response: RemotingCommand.RemotingCommand) => BigInt(response.extFields?.get("offset") ?? "0")

    /** Java's `RebalancePushImpl.computePullFromWhere`. */
    const startOffset = (queue: MessageQueue.MessageQueue): Effect.Effect<bigint, ConsumerError> =>
      Effect.gen(function*() {
        const queueFields = {
          consumerGroup: group,
          topic: queue.topic,
          queueId: queue.queueId,
          bname: queue.brokerName
        }
        const stored = yield* brokerCall(
          queue,
          RemotingCommand.request(Code.QUERY_CONSUMER_OFFSET, { extFields: queueFields })
        )
        if (stored.code === Response.SUCCESS) return offsetHeader(stored)
        if (stored.code !== Response.QUERY_NOT_FOUND) {
          return yield* Effect.fail(
            failure("BrokerError", { topic: queue.topic, code: stored.code, remark: stored.remark })
          )
        }
        if (queue.topic.startsWith("%RETRY%")) return 0n
        const from = settings.consumeFrom
        if (from === "first") return 0n
        const ask = from === "last"
          ? RemotingCommand.request(Code.GET_MAX_OFFSET, {
            extFields: { topic: queue.topic, queueId: queue.queueId, bname: queue.brokerName }
          })
          : RemotingCommand.request(Code.SEARCH_OFFSET_BY_TIMESTAMP, {
            extFields: {
              topic: queue.topic,
              queueId: queue.queueId,
              timestamp: from.timestamp,
              bname: queue.brokerName
            }
          })
        const answer = yield* brokerCall(queue, ask)
        if (answer.code !== Response.SUCCESS) {
          return yield* Effect.fail(
            failure("BrokerError", { topic: queue.topic, code: answer.code, remark: answer.remark })
          )
        }
        return offsetHeader(answer)
      })

    // ---- deliveries ---------------------------------------------------------------------------------------

    const release = (entry: Owned, count: number) =>
      count <= 0 ? Effect.void : Effect.zipRight(entry.permits.release(count), buffered.release(count))

    const settle = (entry: Owned, offset: bigint) =>
      Effect.suspend(() => (entry.pq.finish(offset) ? release(entry, 1) : Effect.void))

    /** Java's fallback when the broker cannot take a message back: a new message on the retry topic. */
    const resendToRetryTopic = (message: StoredMessage.ReceivedMessage) =>
      Effect.suspend(() => {
        const properties = new Map(message.properties)
        if (!properties.has(Message.Property.RETRY_TOPIC)) properties.set(Message.Property.RETRY_TOPIC, message.topic)
        if (!properties.has(Message.Property.ORIGIN_MESSAGE_ID)) {
          properties.set(Message.Property.ORIGIN_MESSAGE_ID, message.msgId)
        }
        properties.set(Message.Property.RECONSUME_TIME, String(message.reconsumeTimes + 1))
        properties.set(Message.Property.MAX_RECONSUME_TIMES, String(settings.maxReconsumeTimes))
        properties.delete(Message.Property.TRAN_MSG)
        properties.set(Message.Property.DELAY, String(3 + message.reconsumeTimes))
        if (!properties.has(Message.Property.UNIQ_KEY)) {
          properties.set(Message.Property.UNIQ_KEY, message.msgId)
        }
        return innerProducer.send({
          topic: retryTopic,
          body: message.body,
          sysFlag: 0,
          flag: message.flag,
          properties: Message.encodeProperties(properties),
          msgId: message.msgId,
          batch: false,
          reconsumeTimes: message.reconsumeTimes + 1,
          maxReconsumeTimes: settings.maxReconsumeTimes
        }, { budget: Duration.seconds(3), retry: true })
      })

    const sendBack = (message: StoredMessage.ReceivedMessage): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        const address = addressOf(message.brokerName)
        const back: Effect.Effect<unknown, { readonly message: string }> = address === undefined
          ? Effect.fail({ message: `no address for broker ${message.brokerName}` })
          : pool.invokeSuccess(
            address,
            RemotingCommand.request(Code.CONSUMER_SEND_MSG_BACK, {
              extFields: {
                offset: message.commitLogOffset,
                group,
                delayLevel: 0,
                originMsgId: message.msgId,
                originTopic: message.topic,
                unitMode: false,
                maxReconsumeTimes: settings.maxReconsumeTimes,
                bname: message.brokerName
              }
            }),
            { timeout: SEND_BACK_TIMEOUT }
          )
        return back.pipe(
          // A group's retry topic is made by the broker on its first heartbeat and may not have been routed when
          // this member last looked: look again now rather than at the next rebalance.
          Effect.tap(() =>
            (topicQueues.get(retryTopic) ?? []).length > 0 ? Effect.void : Queue.offer(rebalanceTrigger, undefined)
          ),
          Effect.as(true),
          Effect.catchAll((error) =>
            Effect.logDebug(`send-back of ${message.msgId} failed (${error.message}); resending to ${retryTopic}`).pipe(
              Effect.zipRight(resendToRetryTopic(message)),
              Effect.as(true),
              Effect.catchAll((resendError) =>
                Effect.logWarning(
                  `consumer group ${group}: message ${message.msgId} failed and could not go back to the broker (${resendError.message}); delivering it again in 5 s`
                ).pipe(Effect.as(false))
              )
            )
          )
        )
      })

    /** Acknowledges a message handed out: its offset may be committed. */
    const ack = ({ entry, message }: Pending) => settle(entry, message.queueOffset)

    /**
     * Rejects a message handed out: back to the broker, then settled; if it cannot go back, kept unfinished (its
     * offset is not committed) and handed out again after a pause.
     */
    const reject = (pending: Pending): Effect.Effect<void> =>
      Effect.suspend(() => {
        const { entry, message } = pending
        if (!entry.pq.holds(message.queueOffset)) return Effect.void
        return Effect.flatMap(sendBack(message), (back) =>
          back
            ? ack(pending)
            : FiberSet.run(
              handlers,
              Effect.sleep(LOCAL_RETRY_DELAY).pipe(
                Effect.zipRight(Effect.suspend(() =>
                  entry.pq.holds(message.queueOffset) ? Queue.offer(deliveries, pending) : Effect.void
                ))
              )
            ).pipe(Effect.asVoid))
      })

    /** `stream`'s face of a message: settled once; counted as processing from `takePending` until then. */
    const makeDelivery = (pending: Pending): Consumer.Delivery => {
      let settled = false
      const once = (settleWith: (pending: Pending) => Effect.Effect<void>) =>
        Effect.suspend(() => {
          if (settled) {
            return Effect.void
          }
          settled = true
          processing--
          return settleWith(pending)
        })
      return { message: pending.message, ack: once(ack), reject: once(reject) }
    }

    /**
     * The next message of a queue still owned, counted as processing from here until settled; `onTaken` runs with
     * it in the same uninterruptible step, so a message taken is never lost to an interruption. Once the consumer
     * closes, nothing more is handed out.
     */
    const takePending = (onTaken?: () => void): Effect.Effect<Pending, ConsumerError> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(function loop(): Effect.Effect<Pending, ConsumerError> {
          if (closed) {
            return Effect.fail(failure("Closed"))
          }
          return Effect.flatMap(restore(Queue.take(deliveries)), (pending) => {
            if (closed) {
              return Effect.fail(failure("Closed"))
            }
            if (!pending.entry.pq.holds(pending.message.queueOffset)) {
              return loop()
            }
            processing++
            onTaken?.()
            return Effect.succeed(pending)
          })
        })
      )

    // ---- pulling ------------------------------------------------------------------------------------------

    const adapt = (
      sub: Subscription,
      message: StoredMessage.ReceivedMessage
    ): StoredMessage.ReceivedMessage | undefined => {
      if (!sub.all && (message.tags === undefined || !sub.tags.has(message.tags))) {
        return undefined
      }
      if (message.topic === retryTopic) {
        const original = message.properties.get(Message.Property.RETRY_TOPIC)
        if (original !== undefined) {
          return { ...message, topic: original }
        }
      }
      return message
    }

    const pullRequest = (entry: Owned, maxMessages: number) => {
      const { pq, subscription: sub } = entry
      return RemotingCommand.request(Code.PULL_MESSAGE, {
        extFields: {
          consumerGroup: group,
          topic: pq.queue.topic,
          queueId: pq.queue.queueId,
          queueOffset: pq.next,
          maxMsgNums: maxMessages,
          // Offsets are not piggy-backed on pulls (Java's COMMIT flag): see `writeOffset`.
          sysFlag: PullSysFlag.SUSPEND,
          commitOffset: 0n,
          suspendTimeoutMillis: Duration.toMillis(settings.pullSuspend),
          subscription: sub.expression,
          subVersion,
          expressionType: "TAG",
          bname: pq.queue.brokerName
        }
      })
    }

    // The permits are taken and given back in one uninterruptible frame (waits and the pull interruptible), so a
    // puller interrupted at any point (a revocation, the close) never keeps any: a lost permit would shrink the
    // consumer's buffer for good.
    const pullOnce = (entry: Owned): Effect.Effect<Duration.Duration | undefined> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const { pq } = entry
          const want = settings.pullBatchSize
          yield* restore(entry.permits.take(want))
          yield* restore(buffered.take(want)).pipe(Effect.onInterrupt(() =>
            entry.permits.release(want)
          ))
          let kept = 0
          return yield* restore(Effect.gen(function*() {
            const address = addressOf(pq.queue.brokerName)
            if (address === undefined) return settings.pullBackoff
            const exit = yield* Effect.exit(
              pool.invoke(address, pullRequest(entry, want), { timeout: settings.pullTimeout })
            )
            if (Exit.isFailure(exit)) {
              if (!Exit.isInterrupted(exit)) {
                yield* Effect.logDebug(`pull of ${MessageQueue.key(pq.queue)} failed: ${Cause.pretty(exit.cause)}`)
              }
              return settings.pullBackoff
            }
            const response = exit.value
            if (pq.dropped) return undefined
            const fields = response.extFields
            const nextBegin = fields?.get("nextBeginOffset")
            const next = nextBegin === undefined ? undefined : BigInt(nextBegin)
            switch (response.code) {
              case Response.SUCCESS: {
                const decoded = yield* Effect.either(
                  StoredMessage.decode(response.body, pq.queue.brokerName).pipe(
                    Effect.provideService(Compression, compression)
                  )
                )
                if (decoded._tag === "Left") {
                  // Said once per queue and offset; the pull is retried after the back-off, so nothing is skipped.
                  const key = MessageQueue.key(pq.queue)
                  if (undecodable.get(key) === pq.next) return settings.pullBackoff
                  undecodable.set(key, pq.next)
                  yield* Effect.logWarning(
                    `consumer group ${group}: a message of ${
                      MessageQueue.key(pq.queue)
                    } at offset ${pq.next} cannot be decoded (${decoded.left.message}); retrying`
                  )
                  return settings.pullBackoff
                }
                const offsets: Array<bigint> = []
                const out: Array<Pending> = []
                for (const message of decoded.right) {
                  if (message.queueOffset < pq.next) continue
                  const adapted = adapt(entry.subscription, message)
                  if (adapted === undefined) continue
                  offsets.push(message.queueOffset)
                  out.push({ entry, message: adapted })
                }
                kept = out.length
                pq.add(offsets, next ?? pq.next)
                yield* Queue.offerAll(deliveries, out)
                return undefined
              }
              case Response.PULL_NOT_FOUND:
              case Response.PULL_RETRY_IMMEDIATELY:
                if (next !== undefined) pq.skipTo(next)
                return undefined
              case Response.PULL_OFFSET_MOVED: {
                if (next === undefined) return settings.pullBackoff
                yield* Effect.logWarning(
                  `consumer group ${group}: the broker moved the offset of ${
                    MessageQueue.key(pq.queue)
                  } from ${pq.next} to ${next}`
                )
                const unfinished = pq.unfinished
                pq.reset(next)
                yield* release(entry, unfinished)
                yield* writeOffset(entry)
                return undefined
              }
              case Response.SUBSCRIPTION_NOT_EXIST:
              case 25: // SUBSCRIPTION_NOT_LATEST
                yield* Queue.offer(heartbeatTrigger, undefined)
                return settings.pullBackoff
              case 215: // FLOW_CONTROL
                return FLOW_CONTROL_DELAY
              default:
                yield* Effect.logDebug(
                  `pull of ${MessageQueue.key(pq.queue)} answered ${response.code} ${response.remark ?? ""}`
                )
                return settings.pullBackoff
            }
          })).pipe(Effect.ensuring(Effect.suspend(() => release(entry, want - kept))))
        })
      )

    const puller = (entry: Owned) =>
      Effect.gen(function*() {
        while (!entry.pq.dropped && !closed) {
          const delay = yield* pullOnce(entry)
          if (delay !== undefined && Duration.toMillis(delay) > 0) yield* Effect.sleep(delay)
        }
      })

    // ---- rebalance ----------------------------------------------------------------------------------------

    const members = (topic: string): Effect.Effect<ReadonlyArray<string> | undefined> =>
      Effect.suspend(() => {
        const queues = topicQueues.get(topic) ?? []
        const brokerName = queues[0]?.brokerName
        const address = brokerName === undefined ? undefined : addressOf(brokerName)
        if (address === undefined) return Effect.succeed(undefined)
        return pool.invoke(
          address,
          RemotingCommand.request(Code.GET_CONSUMER_LIST_BY_GROUP, { extFields: { consumerGroup: group } }),
          {
            timeout: ADMIN_TIMEOUT
          }
        ).pipe(
          Effect.map((response) => {
            if (response.code !== Response.SUCCESS) return undefined
            const body = RemotingJson.parseBytes(response.body)
            if (body._tag === "Left") return undefined
            const list = (body.right as { consumerIdList?: unknown }).consumerIdList
            return Array.isArray(list) ? list.filter((id): id is string => typeof id === "string") : undefined
          }),
          Effect.catchAll(() => Effect.succeed(undefined))
        )
      })

    const revoke = (key: string) =>
      Effect.suspend(() => {
        const entry = owned.get(key)
        if (entry === undefined) return Effect.void
        owned.delete(key)
        entry.pq.drop()
        return FiberMap.remove(pullers, key).pipe(
          Effect.zipRight(writeOffset(entry)),
          Effect.zipRight(Effect.suspend(() => release(entry, entry.pq.unfinished)))
        )
      })

    const assign = (queue: MessageQueue.MessageQueue, sub: Subscription) =>
      startOffset(queue).pipe(
        Effect.flatMap((offset) =>
          Effect.gen(function*() {
            const key = MessageQueue.key(queue)
            if (closed || owned.has(key)) return
            const entry: Owned = {
              pq: new ProcessQueue(queue, offset),
              subscription: sub,
              permits: yield* Effect.makeSemaphore(settings.maxPerQueue),
              offsetLock: yield* Effect.makeSemaphore(1)
            }
            owned.set(key, entry)
            yield* FiberMap.run(pullers, key, puller(entry))
          })
        ),
        Effect.catchAll((error) =>
          Effect.logDebug(`queue ${MessageQueue.key(queue)} not started this round: ${error.message}`)
        )
      )

    const rebalanceLock = yield* Effect.makeSemaphore(1)
    const rebalanceOnce = rebalanceLock.withPermits(1)(Effect.gen(function*() {
      if (closed) return
      yield* Effect.forEach(subscriptions, (sub) => refreshRoute(sub.topic), {
        concurrency: "unbounded",
        discard: true
      })
      for (const sub of subscriptions) {
        const queues = topicQueues.get(sub.topic) ?? []
        const ids = queues.length === 0 ? [] : yield* members(sub.topic)
        if (ids === undefined) continue // could not ask: keep what is owned
        const mine = Rebalance.allocateAveragely(queues, ids, clientId)
        const wanted = new Map(mine.map((queue) => [MessageQueue.key(queue), queue]))
        for (const [key, entry] of [...owned]) {
          if (entry.pq.queue.topic === sub.topic && !wanted.has(key)) yield* revoke(key)
        }
        yield* Effect.forEach(
          [...wanted].filter(([key]) => !owned.has(key)),
          ([, queue]) => assign(queue, sub),
          { concurrency: 8, discard: true }
        )
      }
      if (closed) return
      const now = [...owned.values()].map((entry) => entry.pq.queue).sort(MessageQueue.Order)
      const before = yield* SubscriptionRef.get(assignment)
      if (now.length !== before.length || now.some((queue, i) => !MessageQueue.equals(queue, before[i]!))) {
        yield* SubscriptionRef.set(assignment, now)
      }
    }))

    // ---- start --------------------------------------------------------------------------------------------

    // Routes, a heartbeat and a first rebalance before `make` returns, as Java's `start` does. The rebalance
    // asks for the routes again: the heartbeat is what makes a new group's retry topic on the broker.
    yield* Effect.forEach(subscriptions, (sub) => refreshRoute(sub.topic), { concurrency: "unbounded", discard: true })
    yield* heartbeatOnce
    yield* rebalanceOnce

    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Queue.take(rebalanceTrigger), rebalanceOnce)))
    yield* Effect.forkScoped(
      every(Queue.offer(rebalanceTrigger, undefined), options.rebalanceEvery ?? Schedule.spaced(Duration.seconds(20)))
    )
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Queue.take(heartbeatTrigger), heartbeatOnce)))
    yield* Effect.forkScoped(
      every(Queue.offer(heartbeatTrigger, undefined), options.heartbeat ?? Schedule.spaced(Duration.seconds(30)))
    )
    yield* Effect.forkScoped(
      every(persistAll, options.persistOffsetsEvery ?? Schedule.spaced(Duration.seconds(5)))
    )

    // Runs first at close (finalizers run in reverse order): stop pulling, give processing its grace period,
    // commit, unregister; then the loops above, the handlers and the connections close.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closed = true
        yield* FiberMap.clear(pullers)
        yield* Effect.suspend(() => processing === 0 ? Effect.void : Effect.sleep(Duration.millis(10))).pipe(
          Effect.repeat({ until: () => processing === 0 }),
          Effect.interruptible,
          Effect.timeout(settings.gracePeriod),
          Effect.ignore
        )
        yield* FiberSet.clear(handlers)
        // A stream still reading is ended (its take is interrupted); nothing more is handed out.
        yield* Queue.shutdown(deliveries)
        for (const entry of owned.values()) entry.pq.drop()
        yield* persistAll
        yield* unregisterClient(pool, clientId, allBrokers(), { consumerGroup: group })
        yield* SubscriptionRef.set(assignment, [])
      })
    )

    // ---- faces --------------------------------------------------------------------------------------------

    const claim = Effect.suspend(() => {
      if (closed) return Effect.fail(failure("Closed"))
      if (consuming) return Effect.fail(failure("AlreadyConsuming"))
      consuming = true
      return Effect.void
    })
    const unclaim = Effect.sync(() => {
      consuming = false
    })

    const stream: Stream.Stream<Consumer.Delivery, ConsumerError> = Stream.unwrapScoped(
      Effect.acquireRelease(claim, () => unclaim).pipe(
        Effect.as(Stream.repeatEffect(Effect.map(takePending(), makeDelivery)))
      )
    )

    /**
     * `concurrency` worker fibers in the consumer's handler set, each taking a message, running the handler and
     * settling it: no fiber per message. Interrupting `run` stops idle workers at once and busy ones after their
     * message; the consumer's close gives busy ones `gracePeriod`.
     */
    const run = <E, R>(
      handler: (message: StoredMessage.ReceivedMessage) => Effect.Effect<unknown, E, R>,
      runOptions?: Consumer.RunOptions
    ): Effect.Effect<never, ConsumerError, R> =>
      Effect.gen(function*() {
        const concurrency = Math.max(1, runOptions?.concurrency ?? 1)
        const context = yield* Effect.context<R>()
        yield* Effect.acquireRelease(claim, () => unclaim)
        let stopping = false
        const failed = yield* Deferred.make<never, ConsumerError>()
        const workers = Array.from(
          { length: concurrency },
          () => ({ idle: true, fiber: undefined as Fiber.RuntimeFiber<void, never> | undefined })
        )
        const work = (worker: (typeof workers)[number]): Effect.Effect<void, never, R> =>
          Effect.suspend(() => {
            if (stopping) return Effect.void
            worker.idle = true
            return takePending(() => (worker.idle = false)).pipe(
              Effect.matchEffect({
                onFailure: (error) => Effect.asVoid(Deferred.fail(failed, error)),
                onSuccess: (pending) =>
                  Effect.exit(Effect.suspend(() => handler(pending.message))).pipe(
                    Effect.flatMap((exit) => {
                      processing--
                      // A handler that failed, died or interrupted itself rejects its message; the worker's own
                      // interruption (the close, past its grace period) never gets here.
                      return Exit.isSuccess(exit) ? ack(pending) : reject(pending)
                    }),
                    Effect.zipRight(work(worker))
                  )
              })
            )
          })
        // The handler's context is given to each worker once, not to each message (that costs a FiberRefs copy).
        for (const worker of workers) {
          worker.fiber = yield* FiberSet.run(handlers, Effect.provide(work(worker), context))
        }
        return yield* Deferred.await(failed).pipe(
          Effect.onInterrupt(() =>
            Effect.suspend(() => {
              stopping = true
              return Effect.forEach(
                workers.filter((worker) => worker.idle && worker.fiber !== undefined),
                (worker) => Fiber.interrupt(worker.fiber!),
                { discard: true }
              )
            })
          )
        )
      }).pipe(Effect.scoped)

    const service: Consumer.ConsumerService = {
      [TypeId]: TypeId,
      clientId,
      group,
      assignment,
      stream,
      run,
      committedOffset: (queue) => Effect.sync(() => owned.get(MessageQueue.key(queue))?.pq.committed),
      persistOffsets: persistAll,
      rebalance: rebalanceOnce
    }
    return service
  })
