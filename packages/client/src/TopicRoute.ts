/**
 * A topic's route as the producer and the consumer use it, built exactly as Java's `MQClientInstance` builds
 * it from the NameServer's `TopicRouteData`:
 * - the publish list: queue data sorted by broker name, each broker with the write permission and a master,
 *   queue ids `0..writeQueueNums-1` (or `orderTopicConf`'s list for an ordered topic);
 * - the subscribe set: every broker with the read permission, queue ids `0..readQueueNums-1`;
 * - the master address of each broker name.
 *
 * And the queue choice for a send: round-robin over the publish list that avoids the broker of the failed
 * attempt, optionally with Java's latency fault avoidance (`LatencyFaults`).
 *
 * @since 0.3.0
 */
import { RouteData } from "@rocketmq-effect/remoting"
import * as MessageQueue from "./MessageQueue.js"

/**
 * What a producer needs of a topic's route.
 *
 * @since 0.3.0
 * @category models
 */
export interface PublishInfo {
  readonly topic: string
  /** The queues a send may go to, in Java's order. */
  readonly queues: ReadonlyArray<MessageQueue.MessageQueue>
  /** Master address by broker name. */
  readonly brokerAddresses: ReadonlyMap<string, string>
  /** Whether the route came with `orderTopicConf`. */
  readonly ordered: boolean
}

const masterAddresses = (route: RouteData.TopicRouteData): Map<string, string> => {
  const out = new Map<string, string>()
  for (const broker of route.brokerDatas) {
    const master = RouteData.masterAddress(broker)
    if (master !== undefined) out.set(broker.brokerName, master)
  }
  return out
}

const byBrokerName = (a: RouteData.QueueData, b: RouteData.QueueData) =>
  a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0

/**
 * The publish list of `topic` from its route (`topicRouteData2TopicPublishInfo`).
 *
 * @since 0.3.0
 * @category constructors
 */
export const publishInfo = (topic: string, route: RouteData.TopicRouteData): PublishInfo => {
  const brokerAddresses = masterAddresses(route)
  const queues: Array<MessageQueue.MessageQueue> = []
  const orderConf = route.orderTopicConf
  if (orderConf !== undefined && orderConf.length > 0) {
    for (const entry of orderConf.split(";")) {
      const [brokerName, count] = entry.split(":")
      const n = Number(count)
      if (brokerName === undefined || brokerName === "" || !Number.isInteger(n)) continue
      for (let queueId = 0; queueId < n; queueId++) queues.push(MessageQueue.make(topic, brokerName, queueId))
    }
    return { topic, queues, brokerAddresses, ordered: true }
  }
  for (const queueData of [...route.queueDatas].sort(byBrokerName)) {
    if ((queueData.perm & RouteData.Permission.WRITE) === 0) continue
    const broker = route.brokerDatas.find((data) => data.brokerName === queueData.brokerName)
    if (broker === undefined || RouteData.masterAddress(broker) === undefined) continue
    for (let queueId = 0; queueId < queueData.writeQueueNums; queueId++) {
      queues.push(MessageQueue.make(topic, queueData.brokerName, queueId))
    }
  }
  return { topic, queues, brokerAddresses, ordered: false }
}

/**
 * The route of an unknown topic from the route of the default topic (`TBW102`), as Java makes it for a broker
 * that creates topics on first send: each writable broker's queues capped at `defaultTopicQueueNums`.
 *
 * @since 0.3.0
 * @category constructors
 */
export const publishInfoFromDefault = (
  topic: string,
  defaultRoute: RouteData.TopicRouteData,
  defaultTopicQueueNums: number
): PublishInfo =>
  publishInfo(topic, {
    ...defaultRoute,
    orderTopicConf: undefined,
    queueDatas: defaultRoute.queueDatas.map((queueData) => {
      const n = Math.min(defaultTopicQueueNums, queueData.readQueueNums)
      return { ...queueData, readQueueNums: n, writeQueueNums: n }
    })
  })

/**
 * The queues a consumer of `topic` may pull from (`topicRouteData2TopicSubscribeInfo`), sorted in Java's order.
 *
 * @since 0.3.0
 * @category constructors
 */
export const subscribeQueues = (topic: string, route: RouteData.TopicRouteData): Array<MessageQueue.MessageQueue> => {
  const queues: Array<MessageQueue.MessageQueue> = []
  for (const queueData of route.queueDatas) {
    if ((queueData.perm & RouteData.Permission.READ) === 0) continue
    for (let queueId = 0; queueId < queueData.readQueueNums; queueId++) {
      queues.push(MessageQueue.make(topic, queueData.brokerName, queueId))
    }
  }
  return queues.sort(MessageQueue.Order)
}

/**
 * Master addresses by broker name.
 *
 * @since 0.3.0
 * @category getters
 */
export const brokerAddresses: (route: RouteData.TopicRouteData) => ReadonlyMap<string, string> = masterAddresses

// ---- queue selection ------------------------------------------------------------------------------------

/**
 * Java's `MQFaultStrategy` tables: a send that took at least `LATENCY_MAX[i]` ms puts its broker out of the
 * choice for `NOT_AVAILABLE_DURATION[i]` ms; a failed send counts as 10,000 ms.
 *
 * @since 0.3.0
 * @category constants
 */
export const LATENCY_MAX: ReadonlyArray<number> = [50, 100, 550, 1800, 3000, 5000, 15000]

/**
 * @since 0.3.0
 * @category constants
 */
export const NOT_AVAILABLE_DURATION: ReadonlyArray<number> = [0, 0, 2000, 5000, 6000, 10000, 30000]

/**
 * Java's latency fault tolerance (`sendLatencyFaultEnable`): brokers that answered slowly or failed are
 * avoided for a while.
 *
 * @since 0.3.0
 * @category models
 */
export class LatencyFaults {
  private readonly until = new Map<string, number>()

  /**
   * Records an attempt on `brokerName` that took `latencyMillis` (failed: `isolation`), at `now`.
   *
   * @since 0.3.0
   */
  update(brokerName: string, latencyMillis: number, isolation: boolean, now: number): void {
    const latency = isolation ? 10_000 : latencyMillis
    let duration = 0
    for (let i = LATENCY_MAX.length - 1; i >= 0; i--) {
      if (latency >= LATENCY_MAX[i]!) {
        duration = NOT_AVAILABLE_DURATION[i]!
        break
      }
    }
    if (duration > 0) this.until.set(brokerName, now + duration)
    else this.until.delete(brokerName)
  }

  /**
   * Whether `brokerName` may be chosen at `now`.
   *
   * @since 0.3.0
   */
  isAvailable(brokerName: string, now: number): boolean {
    const until = this.until.get(brokerName)
    return until === undefined || now >= until
  }
}

/**
 * Round-robin over a publish list, as Java's `TopicPublishInfo.selectOneMessageQueue`: each choice takes the next
 * index; after a failure the broker of that attempt is skipped when another broker has a queue. With
 * `faults`, brokers out of the choice are skipped first.
 *
 * @since 0.3.0
 * @category models
 */
export class QueueSelector {
  private index: number

  constructor(start: number = Math.floor(Math.random() * 0x7fffffff)) {
    this.index = start
  }

  /**
   * The next queue: not on `lastBroker` when another broker has one (and, with `faults`, on a broker in the
   * choice when there is one).
   *
   * @since 0.3.0
   */
  select(
    queues: ReadonlyArray<MessageQueue.MessageQueue>,
    lastBroker: string | undefined,
    faults?: { readonly faults: LatencyFaults; readonly now: number }
  ): MessageQueue.MessageQueue | undefined {
    if (queues.length === 0) return undefined
    const pick = (accept: (queue: MessageQueue.MessageQueue) => boolean) => {
      for (let i = 0; i < queues.length; i++) {
        const queue = queues[this.next() % queues.length]!
        if (accept(queue)) return queue
      }
      return undefined
    }
    const notLast = (queue: MessageQueue.MessageQueue) => queue.brokerName !== lastBroker
    if (faults !== undefined) {
      const available = pick((queue) => notLast(queue) && faults.faults.isAvailable(queue.brokerName, faults.now))
      if (available !== undefined) return available
    }
    if (lastBroker !== undefined) {
      const other = pick(notLast)
      if (other !== undefined) return other
    }
    return queues[this.next() % queues.length]
  }

  /**
   * The next index of the round-robin, wrapping at 2^31 − 1 (Java's `ThreadLocalIndex`).
   *
   * @since 0.3.0
   */
  next(): number {
    this.index = (this.index + 1) & 0x7fffffff
    return this.index
  }
}
