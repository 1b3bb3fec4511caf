import { assert, describe, it } from "@effect/vitest"
import * as MessageQueue from "../src/MessageQueue.js"
import { allocateAveragely } from "../src/Rebalance.js"

const queues = (count: number, brokers: ReadonlyArray<string> = ["broker-a"]) =>
  brokers.flatMap((broker) => Array.from({ length: count }, (_, id) => MessageQueue.make("T", broker, id)))

const shares = (all: ReadonlyArray<MessageQueue.MessageQueue>, members: ReadonlyArray<string>) =>
  members.map((member) => allocateAveragely(all, members, member).map(MessageQueue.key))

describe("Rebalance", () => {
  it("8 queues over 3 members: 3, 3, 2 consecutive queues", () => {
    const result = shares(queues(8), ["c1", "c2", "c3"])
    assert.deepStrictEqual(result.map((s) => s.length), [3, 3, 2])
    assert.deepStrictEqual(result[2], ["T@broker-a@6", "T@broker-a@7"])
    assert.deepStrictEqual(result.flat(), queues(8).map(MessageQueue.key))
  })

  it("2 queues over 3 members: 1, 1, 0", () => {
    assert.deepStrictEqual(shares(queues(2), ["c1", "c2", "c3"]), [["T@broker-a@0"], ["T@broker-a@1"], []])
  })

  it("ports Java's AllocateMessageQueueAveragelyTest cases: every queue once, sizes differ by at most 1", () => {
    for (let queueCount = 1; queueCount <= 20; queueCount++) {
      for (let memberCount = 1; memberCount <= 10; memberCount++) {
        const all = queues(queueCount)
        const members = Array.from({ length: memberCount }, (_, i) => `127.0.0.1@${i}`)
        const result = shares(all, members)
        assert.deepStrictEqual(result.flat(), all.map(MessageQueue.key), `${queueCount}/${memberCount}`)
        const sizes = result.map((s) => s.length)
        const expected = members.map((_, i) =>
          queueCount <= memberCount
            ? i < queueCount ? 1 : 0
            : Math.floor(queueCount / memberCount) + (i < queueCount % memberCount ? 1 : 0)
        )
        assert.deepStrictEqual(sizes, expected, `${queueCount}/${memberCount}`)
      }
    }
  })

  it("sorts both lists first: unsorted input gives the sorted result", () => {
    const all = queues(4, ["broker-a", "broker-b"])
    const members = ["10.0.0.2@x", "10.0.0.10@x", "10.0.0.1@x"]
    const shuffledQueues = [all[5]!, all[0]!, all[7]!, all[2]!, all[1]!, all[6]!, all[4]!, all[3]!]
    const shuffledMembers = [members[2]!, members[0]!, members[1]!]
    for (const member of members) {
      assert.deepStrictEqual(
        allocateAveragely(shuffledQueues, shuffledMembers, member),
        allocateAveragely(all, [...members].sort(), member)
      )
    }
    // String order, not numeric: "10.0.0.10@x" < "10.0.0.1@x" < "10.0.0.2@x" ("0" < "@"); 8 queues → 3, 3, 2.
    assert.deepStrictEqual(allocateAveragely(shuffledQueues, shuffledMembers, "10.0.0.1@x").map(MessageQueue.key), [
      "T@broker-a@3",
      "T@broker-b@0",
      "T@broker-b@1"
    ])
  })

  it("ignores duplicate queues, and gives nothing to a non-member or when there are no queues", () => {
    const all = queues(3)
    assert.deepStrictEqual(shares([...all, ...all], ["a", "b", "c"]), shares(all, ["a", "b", "c"]))
    assert.deepStrictEqual(allocateAveragely(all, ["a", "b"], "z"), [])
    assert.deepStrictEqual(allocateAveragely([], ["a"], "a"), [])
  })
})
