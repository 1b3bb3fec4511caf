/**
 * The consumer: a member of a consumer group in clustering mode, sharing the group's queues with the other
 * members (Java's push consumers included) exactly as Java's `DefaultMQPushConsumer` does, and delivering their
 * messages with backpressure.
 *
 * - Membership: `HEART_BEAT` to every broker of its topics (its subscriptions with Java's tag hash codes, and
 *   the group's `%RETRY%` topic) at start and every 30 s; the group's members from `GET_CONSUMER_LIST_BY_GROUP`;
 *   the queues divided with Java's averaging allocation over Java's sort order; rebalanced every 20 s and at
 *   once when a broker sends `NOTIFY_CONSUMER_IDS_CHANGED`. `UNREGISTER_CLIENT` when it closes, so the others
 *   take its queues over at once. `assignment` shows the queues it owns.
 * - Pulling: a long poll per owned queue (the broker holds it up to 15 s; the call's bound is 30 s), 32
 *   messages at most per pull, issued only while there is room: at most `maxBufferedMessagesPerQueue` (1000)
 *   messages of a queue and `maxBufferedMessages` (10,000) in all are held between the pull and the end of
 *   their processing, whatever the backlog.
 * - What it delivers: `StoredMessage.ReceivedMessage`s, inflated, with tags re-checked, and messages of the
 *   group's retry topic given back their original topic.
 * - Offsets: a new queue starts at the group's committed offset, or where `consumeFrom` says (`"last"`,
 *   `"first"`, a timestamp) when there is none, by Java's rules. The committed offset is the low watermark:
 *   the smallest offset whose processing has not completed. It is written every 5 s, when a queue is taken
 *   away, and at close; it never moves past a message whose processing has not completed.
 * - Failures: a rejected message goes back to the broker that stored it (`CONSUMER_SEND_MSG_BACK`), to come
 *   again later on the retry topic with `reconsumeTimes` one higher, or to `%DLQ%<group>` after
 *   `maxReconsumeTimes` (16); if the broker cannot take it back, it is sent to `%RETRY%<group>` as a new
 *   message, as Java does, and failing that, delivered again here after 5 s.
 * - Two faces over one engine: `stream` (each delivery with its `ack` and `reject`) and `run` (a handler's
 *   success acknowledges, its failure rejects).
 * - Closing its scope stops pulling, lets processing under way finish within `gracePeriod` (10 s), commits
 *   and unregisters.
 *
 * @example
 * ```ts
 * import { Consumer, NodeClient } from "@rocketmq-effect/client"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const consumer = yield* Consumer.Consumer
 *   yield* consumer.run((message) => Effect.log(`${message.topic} ${new TextDecoder().decode(message.body)}`), {
 *     concurrency: 16
 *   })
 * })
 *
 * // Run with Effect.runFork(main); interrupting it closes the consumer.
 * export const main = program.pipe(
 *   Effect.provide(
 *     Consumer.layer({ nameServer: "127.0.0.1:9876", group: "billing", subscriptions: { orders: "paid || refunded" } })
 *   ),
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
import type * as Stream from "effect/Stream"
import type * as SubscriptionRef from "effect/SubscriptionRef"
import type { ConsumerError } from "./ClientError.js"
import type { ClientHost } from "./ClientHost.js"
import type { Compression } from "./Compression.js"
import * as internal from "./internal/consumer.js"
import type * as MessageQueue from "./MessageQueue.js"
import type * as StoredMessage from "./StoredMessage.js"

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
 * Where a queue the group has no committed offset for starts (Java's `ConsumeFromWhere`):
 * - `"last"`: at the end, only messages stored from now on (`CONSUME_FROM_LAST_OFFSET`, the default);
 * - `"first"`: at the beginning (`CONSUME_FROM_FIRST_OFFSET`);
 * - `{ timestamp }`: at the first message stored at or after it, epoch milliseconds (`CONSUME_FROM_TIMESTAMP`).
 *
 * As in Java, a brand-new group on a topic whose first message is still in the broker's memory starts at 0
 * whatever this says (the broker answers 0 for it), and a retry topic always starts at 0.
 *
 * @since 0.3.0
 * @category models
 */
export type ConsumeFrom = "last" | "first" | { readonly timestamp: number }

/**
 * A message handed out by `stream`, to be settled once: `ack` when its processing succeeded, `reject` when it
 * failed (it goes back to the broker to come again later). Until it is settled its offset is not committed.
 * Settling twice does nothing.
 *
 * @since 0.3.0
 * @category models
 */
export interface Delivery {
  readonly message: StoredMessage.ReceivedMessage
  readonly ack: Effect.Effect<void>
  /** Completes once the message is back on the broker (or scheduled for local redelivery). */
  readonly reject: Effect.Effect<void>
}

/**
 * @since 0.3.0
 * @category models
 */
export interface RunOptions {
  /** Messages processed at once. Default 1. */
  readonly concurrency?: number | undefined
}

/**
 * @since 0.3.0
 * @category models
 */
export interface ConsumerService {
  readonly [TypeId]: TypeId
  /** `ip@instance`, as the brokers and the other members see it. */
  readonly clientId: string
  readonly group: string
  /** The queues this member owns now, in Java's order; changes with each rebalance. */
  readonly assignment: SubscriptionRef.SubscriptionRef<ReadonlyArray<MessageQueue.MessageQueue>>
  /**
   * The messages, with backpressure: pulls are made only while the consumer's buffers have room. One `stream`
   * or `run` at a time per consumer (another fails with `ConsumerError` reason `"AlreadyConsuming"`).
   */
  readonly stream: Stream.Stream<Delivery, ConsumerError>
  /**
   * Runs `handler` on every message, `concurrency` at a time, until interrupted: its success acknowledges the
   * message, its failure (or defect) rejects it. Interrupted, it takes no new message; handlers under way
   * finish (within `gracePeriod` once the consumer closes).
   */
  readonly run: <E, R>(
    handler: (message: StoredMessage.ReceivedMessage) => Effect.Effect<unknown, E, R>,
    options?: RunOptions
  ) => Effect.Effect<never, ConsumerError, R>
  /** The offset committed (in memory, written at the next persist) for a queue this member owns. */
  readonly committedOffset: (queue: MessageQueue.MessageQueue) => Effect.Effect<bigint | undefined>
  /** Writes every owned queue's committed offset to its broker now. */
  readonly persistOffsets: Effect.Effect<void>
  /** Rebalances now (as `NOTIFY_CONSUMER_IDS_CHANGED` does). */
  readonly rebalance: Effect.Effect<void>
}

/**
 * @since 0.3.0
 * @category tags
 */
export class Consumer extends Context.Tag("@rocketmq-effect/client/Consumer")<Consumer, ConsumerService>() {}

/**
 * The consumer's options. `nameServer`, `group` and `subscriptions` are required.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options {
  /** The NameServers, as Java's `namesrvAddr`: `"host:port"` or `"host:port;host:port"`. */
  readonly nameServer: string
  /** The consumer group. */
  readonly group: string
  /**
   * Topic → tag expression: `"*"` for every message, or tags joined by `||` (`"paid || refunded"`), as Java's
   * `subscribe(topic, subExpression)`.
   */
  readonly subscriptions: Readonly<Record<string, string>>
  /** Where a queue without a committed offset starts. Default `"last"`. */
  readonly consumeFrom?: ConsumeFrom | undefined
  /** Messages asked for per pull (Java's `pullBatchSize`). Default 32. */
  readonly pullBatchSize?: number | undefined
  /** Messages of one queue held between pull and the end of processing. Default 1000 (Java's `pullThresholdForQueue`). */
  readonly maxBufferedMessagesPerQueue?: number | undefined
  /** Messages held in all. Default 10,000. */
  readonly maxBufferedMessages?: number | undefined
  /** Deliveries before a message goes to the dead-letter queue (Java's `maxReconsumeTimes`). Default 16. */
  readonly maxReconsumeTimes?: number | undefined
  /** How long the broker holds a pull that finds nothing. Default 15 s. */
  readonly pullSuspend?: Duration.DurationInput | undefined
  /** A pull's bound, the suspension included. Default 30 s. */
  readonly pullTimeout?: Duration.DurationInput | undefined
  /** The pause after a failed pull. Default 1 s (Java's `pullTimeDelayMillsWhenException`). */
  readonly pullBackoff?: Duration.DurationInput | undefined
  /** When heartbeats are sent. Default every 30 s. */
  readonly heartbeat?: Schedule.Schedule<unknown> | undefined
  /** When the group's queues are divided again. Default every 20 s. */
  readonly rebalanceEvery?: Schedule.Schedule<unknown> | undefined
  /** When committed offsets are written. Default every 5 s. */
  readonly persistOffsetsEvery?: Schedule.Schedule<unknown> | undefined
  /** At close, how long processing under way may take to finish. Default 10 s. */
  readonly gracePeriod?: Duration.DurationInput | undefined
  /** The client id's instance part. Default `pid#n`, unique in this program. */
  readonly instanceName?: string | undefined
  /** Options of the consumer's connections. */
  readonly pool?: RemotingPool.Options | undefined
}

/**
 * Makes a consumer in the current scope, with its own connections (made by the `Connector` in context): it
 * joins its group and starts pulling at once. Bad options fail with one `ConfigurationError` naming each.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make: (
  options: Options
) => Effect.Effect<ConsumerService, ConfigurationError, Connector | Compression | ClientHost | Scope.Scope> =
  internal.make

/**
 * The consumer as a layer. `NodeClient.layer` provides what it needs on Node.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<Consumer, ConfigurationError, Connector | Compression | ClientHost> =>
  Layer.scoped(Consumer, make(options))
