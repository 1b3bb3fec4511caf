/**
 * The producer: sends messages to the brokers that hold a topic, finding them through the NameServers, with
 * Java's `DefaultMQProducer` semantics by default.
 *
 * - Routes are fetched on a topic's first send and refreshed on `routeRefresh` (every 30 s), and at once
 *   after a broker says `TOPIC_NOT_EXIST` or a route names a broker with no master address. A topic the
 *   NameServers do not know is sent along the default topic's (`TBW102`) route, as Java does, so a broker
 *   that creates topics on first send creates it.
 * - `send` makes up to 3 attempts (`retryTimes` 2) within one time budget (`sendTimeout`, 3 s), each on the
 *   next queue in round-robin that is not on the broker of the failed attempt. It retries transport failures
 *   and the codes Java retries (`SYSTEM_ERROR`, `SYSTEM_BUSY`, `SERVICE_NOT_AVAILABLE`, `NO_PERMISSION`,
 *   `TOPIC_NOT_EXIST`, `NO_BUYER_ID`, `NOT_IN_CURRENT_UNIT`, `GO_AWAY`); `retrySchedule` replaces that count
 *   with any `Schedule` (a backoff, say), still within the budget.
 * - A stored message's non-OK statuses (`FLUSH_DISK_TIMEOUT`, `FLUSH_SLAVE_TIMEOUT`, `SLAVE_NOT_AVAILABLE`)
 *   are values of `SendResult.status`, not errors; everything else fails with a `ProducerError` carrying the
 *   broker's address, code and remark.
 * - Bodies of `compressOver` (4 KiB) or more are compressed with zlib and flagged as Java flags them; each
 *   message gets a `UNIQ_KEY` in Java's format (`SendResult.msgId`, the id a Java consumer sees).
 * - At most `maxInFlight` sends run at once; more wait for room within their own budget.
 * - When its scope closes the producer refuses new sends (`ProducerError` reason `"Closed"`), lets the running
 *   ones finish or fail within their budgets, and unregisters from every broker it used (`UNREGISTER_CLIENT`).
 *
 * @example
 * ```ts
 * import { NodeClient, Producer } from "@rocketmq-effect/client"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const producer = yield* Producer.Producer
 *   const body = new TextEncoder().encode("order 42 paid")
 *   const result = yield* producer.send({ topic: "orders", body, tags: "paid", keys: ["42"] })
 *   yield* Effect.log(`stored as ${result.msgId} in queue ${result.queue.queueId}`)
 * })
 *
 * // Run with Effect.runPromise(main).
 * export const main = program.pipe(
 *   Effect.provide(Producer.layer({ nameServer: "127.0.0.1:9876", group: "orders-service" })),
 *   Effect.provide(NodeClient.layer)
 * )
 * ```
 *
 * @since 0.3.0
 */
import type { RemotingPool } from "@rocketmq-effect/remoting"
import type { Connector } from "@rocketmq-effect/transport/Connector"
import type { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { ProducerError } from "./ClientError.js"
import type { ClientHost } from "./ClientHost.js"
import type { Compression } from "./Compression.js"
import * as internal from "./internal/producer.js"
import type * as Message from "./Message.js"
import type * as MessageQueue from "./MessageQueue.js"

/**
 * @since 0.3.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * @since 0.3.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Java's `SendStatus`: how far the broker got in storing the message.
 *
 * @since 0.3.0
 * @category models
 */
export type SendStatus = "SEND_OK" | "FLUSH_DISK_TIMEOUT" | "FLUSH_SLAVE_TIMEOUT" | "SLAVE_NOT_AVAILABLE"

/**
 * What a broker answered to a stored message.
 *
 * @since 0.3.0
 * @category models
 */
export interface SendResult {
  readonly status: SendStatus
  /** The message id (`UNIQ_KEY`): what consumers, Java's included, see as `msgId`. Comma-joined for a batch. */
  readonly msgId: string
  /** The broker's id of the stored record (store host and commit log offset). Comma-joined for a batch. */
  readonly offsetMsgId: string
  readonly queue: MessageQueue.MessageQueue
  /** The message's offset in its queue (the first one's, for a batch). */
  readonly queueOffset: bigint
  readonly transactionId?: string | undefined
  readonly regionId?: string | undefined
}

/**
 * The options of one send.
 *
 * @since 0.3.0
 * @category models
 */
export interface SendOptions {
  /** This send's whole time budget, all attempts included. Default: the producer's `sendTimeout`. */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * @since 0.3.0
 * @category models
 */
export interface ProducerService {
  readonly [TypeId]: TypeId
  /** `ip@instance`, as brokers list it. */
  readonly clientId: string
  readonly group: string
  /** Sends one message, retrying as the producer's policy says, within its time budget. */
  readonly send: (
    message: Message.Message,
    options?: SendOptions
  ) => Effect.Effect<SendResult, ProducerError | Message.MessageError>
  /**
   * Writes one message and does not wait for the broker: one attempt, no answer, so no result. Done once the
   * request is written.
   */
  readonly sendOneway: (
    message: Message.Message,
    options?: SendOptions
  ) => Effect.Effect<void, ProducerError | Message.MessageError>
  /**
   * Sends messages of one topic as one `SEND_BATCH_MESSAGE` (Java's batch encoding; the broker stores each as
   * its own message). No delays, no retry topics, never compressed; the encoded batch must fit
   * `maxMessageSize`.
   */
  readonly sendBatch: (
    messages: ReadonlyArray<Message.Message>,
    options?: SendOptions
  ) => Effect.Effect<SendResult, ProducerError | Message.MessageError>
  /**
   * Sends to the queue `shardingKey` picks, as Java's `SelectMessageQueueByHash` picks it
   * (`abs(key.hashCode() % queues)` over the publish list): one key, one queue, the one a Java producer
   * picks too. One attempt (a retry elsewhere would break the order).
   */
  readonly sendOrdered: (
    message: Message.Message,
    shardingKey: string,
    options?: SendOptions
  ) => Effect.Effect<SendResult, ProducerError | Message.MessageError>
  /** The topic's publish list, fetching its route if needed. */
  readonly publishQueues: (topic: string) => Effect.Effect<ReadonlyArray<MessageQueue.MessageQueue>, ProducerError>
  /** Sends running now. */
  readonly inFlight: Effect.Effect<number>
}

/**
 * @since 0.3.0
 * @category tags
 */
export class Producer extends Context.Tag("@rocketmq-effect/client/Producer")<Producer, ProducerService>() {}

/**
 * @since 0.3.0
 * @category defaults
 */
export const DEFAULT_GROUP = "DEFAULT_PRODUCER"

/**
 * @since 0.3.0
 * @category defaults
 */
export const DEFAULT_SEND_TIMEOUT: Duration.Duration = internal.DEFAULT_SEND_TIMEOUT

/**
 * Java's `retryTimesWhenSendFailed`.
 *
 * @since 0.3.0
 * @category defaults
 */
export const DEFAULT_RETRY_TIMES = 2

/**
 * Java's `compressMsgBodyOverHowmuch`.
 *
 * @since 0.3.0
 * @category defaults
 */
export const DEFAULT_COMPRESS_OVER = 4096

/**
 * @since 0.3.0
 * @category defaults
 */
export const DEFAULT_MAX_IN_FLIGHT = 1024

/**
 * Java's `pollNameServerInterval`.
 *
 * @since 0.3.0
 * @category defaults
 */
export const DEFAULT_ROUTE_REFRESH: Duration.Duration = internal.DEFAULT_ROUTE_REFRESH

/**
 * The producer's options. Only `nameServer` is required.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options {
  /** The NameServers, as Java's `namesrvAddr`: `"host:port"` or `"host:port;host:port"`. */
  readonly nameServer: string
  /** The producer group. Default `DEFAULT_PRODUCER`. */
  readonly group?: string | undefined
  /** A send's whole time budget, all attempts included. Default 3 s. */
  readonly sendTimeout?: Duration.DurationInput | undefined
  /** Retries after a failed attempt (Java's `retryTimesWhenSendFailed`). Default 2: 3 attempts. */
  readonly retryTimes?: number | undefined
  /**
   * Replaces `retryTimes`: fed each failed attempt's error, it says whether and when to try again (still within
   * the send's budget). For example `Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(4)))`.
   */
  readonly retrySchedule?: Schedule.Schedule<unknown, ProducerError> | undefined
  /** Bodies of this many bytes or more are compressed (zlib). Default 4096; `Infinity` never. */
  readonly compressOver?: number | undefined
  /** zlib level. Default 5 (Java's). */
  readonly compressionLevel?: number | undefined
  /** The largest body (or encoded batch) accepted. Default 4 MiB (the broker's default). */
  readonly maxMessageSize?: number | undefined
  /** Sends at once; more wait for room within their budget. Default 1024. */
  readonly maxInFlight?: number | undefined
  /** When routes are fetched again. Default every 30 s. */
  readonly routeRefresh?: Schedule.Schedule<unknown> | undefined
  /** Java's latency fault avoidance (`sendLatencyFaultEnable`). Default `false`, as in Java. */
  readonly latencyFaultAvoidance?: boolean | undefined
  /** Queues per broker of a topic created on first send. Default 4. */
  readonly defaultTopicQueueNums?: number | undefined
  /** The client id's instance part. Default `pid#n`, unique in this program. */
  readonly instanceName?: string | undefined
  /** Options of the producer's connections (timeouts, TLS through `transport`, idle close). */
  readonly pool?: RemotingPool.Options | undefined
}

/**
 * Makes a producer in the current scope, with its own connections (made by the `Connector` in context).
 * Bad options fail with one `ConfigurationError` naming each bad field.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make: (
  options: Options
) => Effect.Effect<ProducerService, ConfigurationError, Connector | Compression | ClientHost | Scope.Scope> =
  internal.make

/**
 * The producer as a layer. `NodeClient.layer` provides what it needs on Node.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<Producer, ConfigurationError, Connector | Compression | ClientHost> =>
  Layer.scoped(Producer, make(options))
