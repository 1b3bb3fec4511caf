/**
 * How a consumer group splits a topic's queues among its members. Every member computes its own share from the
 * same two lists, so the computation must be Java's to the bit when Java and TypeScript consumers share a group.
 *
 * @since 0.3.0
 */
import type { MessageQueue } from "./MessageQueue.js"
import * as MessageQueue_ from "./MessageQueue.js"

/**
 * Java's `AllocateMessageQueueAveragely`, with the sorting `RebalanceImpl` does before it: the queues (without
 * duplicates, Java holds them in a `Set`) sorted by `MessageQueue.Order`, the member ids sorted as strings
 * (UTF-16 code unit order, Java's `Collections.sort`). With `q` queues and `m` members, the first `q % m`
 * members take `⌈q/m⌉` consecutive queues and the others `⌊q/m⌋`; with fewer queues than members, member `i`
 * takes queue `i` and the rest take none. The queues of `self`; `[]` when `self` is not a member.
 *
 * @example
 * ```ts
 * import * as MessageQueue from "@rocketmq-effect/client/MessageQueue"
 * import { allocateAveragely } from "@rocketmq-effect/client/Rebalance"
 *
 * const queues = [0, 1, 2, 3, 4, 5, 6, 7].map((id) => MessageQueue.make("T", "broker-a", id))
 * allocateAveragely(queues, ["c1", "c2", "c3"], "c3").map((q) => q.queueId) // [6, 7]
 * ```
 *
 * @since 0.3.0
 * @category allocation
 */
export const allocateAveragely = (
  queues: ReadonlyArray<MessageQueue>,
  members: ReadonlyArray<string>,
  self: string
): Array<MessageQueue> => {
  const sortedMembers = [...members].sort()
  const index = sortedMembers.indexOf(self)
  if (index < 0 || queues.length === 0) return []
  const unique = new Map<string, MessageQueue>()
  for (const queue of queues) {
    const key = MessageQueue_.key(queue)
    if (!unique.has(key)) unique.set(key, queue)
  }
  const all = [...unique.values()].sort(MessageQueue_.Order)
  const queueCount = all.length
  const memberCount = sortedMembers.length
  const mod = queueCount % memberCount
  const floor = Math.floor(queueCount / memberCount)
  const averageSize = queueCount <= memberCount ? 1 : mod > 0 && index < mod ? floor + 1 : floor
  const startIndex = mod > 0 && index < mod ? index * averageSize : index * averageSize + mod
  const range = Math.min(averageSize, queueCount - startIndex)
  const result: Array<MessageQueue> = []
  for (let i = 0; i < range; i++) result.push(all[startIndex + i]!)
  return result
}
