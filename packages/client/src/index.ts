/**
 * @since 0.3.0
 */

/**
 * The producer: sends to the brokers that hold a topic, with Java's routing, retries and message ids.
 *
 * @since 0.3.0
 */
export * as Producer from "./Producer.js"

/**
 * The consumer: a member of a consumer group in clustering mode, with backpressure and committed offsets.
 *
 * @since 0.3.0
 */
export * as Consumer from "./Consumer.js"

/**
 * The message a producer sends: its model, Java's validation, property names and encodings.
 *
 * @since 0.3.0
 */
export * as Message from "./Message.js"

/**
 * The broker's store layout decoded: the messages a consumer receives, with what Java's `MessageExt` exposes.
 *
 * @since 0.3.0
 */
export * as StoredMessage from "./StoredMessage.js"

/**
 * Message ids: `UNIQ_KEY` in Java's format, and the broker's offset message id.
 *
 * @since 0.3.0
 */
export * as MessageId from "./MessageId.js"

/**
 * A queue of a topic on a broker, in Java's order, and Java's hash selector.
 *
 * @since 0.3.0
 */
export * as MessageQueue from "./MessageQueue.js"

/**
 * A topic's route as producers and consumers use it: publish lists, subscribe sets, queue choice.
 *
 * @since 0.3.0
 */
export * as TopicRoute from "./TopicRoute.js"

/**
 * Dividing a group's queues among its members, as Java divides them.
 *
 * @since 0.3.0
 */
export * as Rebalance from "./Rebalance.js"

/**
 * The producer's and the consumer's typed errors.
 *
 * @since 0.3.0
 */
export * as ClientError from "./ClientError.js"

/**
 * The host a client runs on: address, process id and the message-id generator.
 *
 * @since 0.3.0
 */
export * as ClientHost from "./ClientHost.js"

/**
 * Compressing and inflating message bodies: the service and RocketMQ's compression flags.
 *
 * @since 0.3.0
 */
export * as Compression from "./Compression.js"

/**
 * `Compression` over `node:zlib`.
 *
 * @since 0.3.0
 */
export * as NodeCompression from "./NodeCompression.js"

/**
 * The client on Node: the layer producers and consumers need, and the Promise API.
 *
 * @since 0.3.0
 */
export * as NodeClient from "./NodeClient.js"
