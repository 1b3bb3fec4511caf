/**
 * A queue of a topic on one broker, ordered and hashed the way Java's client does it, so that a TypeScript
 * client and Java clients agree on which queue is which: in a consumer group's allocation (`Order`, Java's
 * `MessageQueue.compareTo`) and in ordered sends (`selectByHash`, Java's `SelectMessageQueueByHash` over
 * `String.hashCode`).
 *
 * @since 0.3.0
 */
import * as Order_ from "effect/Order"

/**
 * @since 0.3.0
 * @category models
 */
export interface MessageQueue {
  readonly topic: string
  readonly brokerName: string
  readonly queueId: number
}

/**
 * @since 0.3.0
 * @category constructors
 */
export const make = (topic: string, brokerName: string, queueId: number): MessageQueue => ({
  topic,
  brokerName,
  queueId
})

/** Java's `String.compareTo`: UTF-16 code units, which is also how JavaScript compares strings. */
const compareStrings = (a: string, b: string): -1 | 0 | 1 => (a < b ? -1 : a > b ? 1 : 0)

/**
 * Java's `MessageQueue.compareTo`: topic, then broker name (both `String.compareTo`, UTF-16 code unit order),
 * then queue id.
 *
 * @since 0.3.0
 * @category instances
 */
export const Order: Order_.Order<MessageQueue> = Order_.make((a, b) => {
  const byTopic = compareStrings(a.topic, b.topic)
  if (byTopic !== 0) return byTopic
  const byBroker = compareStrings(a.brokerName, b.brokerName)
  if (byBroker !== 0) return byBroker
  return a.queueId < b.queueId ? -1 : a.queueId > b.queueId ? 1 : 0
})

/**
 * `topic@brokerName@queueId`: a key for a `Map` or `Set` of queues.
 *
 * @since 0.3.0
 * @category combinators
 */
export const key = (queue: MessageQueue): string => `${queue.topic}@${queue.brokerName}@${queue.queueId}`

/**
 * @since 0.3.0
 * @category combinators
 */
export const equals = (a: MessageQueue, b: MessageQueue): boolean =>
  a.queueId === b.queueId && a.topic === b.topic && a.brokerName === b.brokerName

/**
 * Java's `String.hashCode`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units, wrapping at 32 bits.
 * Java's consumers send it for each subscribed tag (`codeSet`) and its hash selector uses it.
 *
 * @example
 * ```ts
 * import { javaHashCode } from "@rocketmq-effect/client/MessageQueue"
 *
 * javaHashCode("hello") // 99162322
 * ```
 *
 * @since 0.3.0
 * @category combinators
 */
export const javaHashCode = (text: string): number => {
  let hash = 0
  for (let i = 0; i < text.length; i++) hash = (Math.imul(31, hash) + text.charCodeAt(i)) | 0
  return hash
}

/**
 * Java's `SelectMessageQueueByHash`: the queue at `Math.abs(shardingKey.hashCode() % queues.length)` (the
 * remainder keeps the hash's sign, as Java's `%` does), so a key lands on the same queue as with a Java producer
 * given the same queue list. `undefined` when there is no queue.
 *
 * @since 0.3.0
 * @category combinators
 */
export const selectByHash = <Q>(queues: ReadonlyArray<Q>, shardingKey: string): Q | undefined => {
  if (queues.length === 0) return undefined
  return queues[Math.abs(javaHashCode(shardingKey) % queues.length)]
}
