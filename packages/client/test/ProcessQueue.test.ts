/**
 * The low watermark of one owned queue (Java's `ProcessQueue` rule): the committed offset is the smallest
 * offset whose processing has not finished, or where the next pull starts when nothing is unfinished, and it
 * never moves back except through `reset`.
 */
import { assert, describe, it } from "@effect/vitest"
import { ProcessQueue } from "../src/internal/processQueue.js"
import * as MessageQueue from "../src/MessageQueue.js"

const queue = MessageQueue.make("TopicTest", "broker-a", 0)
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => BigInt(from + i))

describe("ProcessQueue", () => {
  it("starts at its start offset, with nothing unfinished", () => {
    const pq = new ProcessQueue(queue, 7n)
    assert.strictEqual(pq.next, 7n)
    assert.strictEqual(pq.committed, 7n)
    assert.strictEqual(pq.watermark, 7n)
    assert.strictEqual(pq.unfinished, 0)
    assert.isUndefined(pq.persisted)
    assert.isFalse(pq.dropped)
  })

  it("out-of-order finishes: the watermark is the smallest unfinished offset, then the next pull's", () => {
    const pq = new ProcessQueue(queue, 0n)
    pq.add(range(0, 10), 10n)
    assert.strictEqual(pq.unfinished, 10)
    assert.strictEqual(pq.watermark, 0n)
    for (const offset of [9n, 5n, 1n, 2n, 4n, 6n, 7n, 8n]) assert.isTrue(pq.finish(offset))
    assert.strictEqual(pq.watermark, 0n, "0 still runs")
    assert.strictEqual(pq.committed, 0n)
    assert.isTrue(pq.finish(0n))
    assert.strictEqual(pq.watermark, 3n, "3 still runs")
    assert.strictEqual(pq.committed, 3n)
    assert.strictEqual(pq.unfinished, 1)
    assert.isTrue(pq.holds(3n))
    assert.isFalse(pq.holds(4n))
    assert.isTrue(pq.finish(3n))
    assert.strictEqual(pq.watermark, 10n, "nothing unfinished: the next pull's offset")
    assert.strictEqual(pq.committed, 10n)
    assert.strictEqual(pq.unfinished, 0)
  })

  it("the watermark never passes an unfinished message, whatever finishes after it", () => {
    const pq = new ProcessQueue(queue, 100n)
    pq.add([100n, 101n, 102n], 103n)
    pq.add([103n, 104n], 105n)
    pq.finish(104n)
    pq.finish(102n)
    pq.finish(100n)
    assert.strictEqual(pq.committed, 101n)
    pq.skipTo(200n)
    assert.strictEqual(pq.committed, 101n, "a later next pull does not pass 101")
    pq.finish(101n)
    assert.strictEqual(pq.committed, 103n)
    pq.finish(103n)
    assert.strictEqual(pq.committed, 200n)
  })

  it("a message finished twice (or never pulled) changes nothing", () => {
    const pq = new ProcessQueue(queue, 0n)
    pq.add([0n, 1n, 2n], 3n)
    assert.isTrue(pq.finish(1n))
    assert.isFalse(pq.finish(1n), "twice")
    assert.isFalse(pq.finish(42n), "never pulled")
    assert.strictEqual(pq.unfinished, 2)
    assert.strictEqual(pq.committed, 0n)
    assert.isTrue(pq.finish(0n))
    assert.isFalse(pq.finish(0n))
    assert.strictEqual(pq.committed, 2n)
  })

  it("filtered offsets (gaps in a pull) and skipTo move the watermark only past finished work", () => {
    const pq = new ProcessQueue(queue, 0n)
    // A pull of 0..9 where only 2 and 7 matched the subscription's tags.
    pq.add([2n, 7n], 10n)
    assert.strictEqual(pq.watermark, 2n, "0 and 1 were filtered out; 2 is the smallest unfinished")
    assert.strictEqual(pq.committed, 2n)
    pq.finish(2n)
    assert.strictEqual(pq.committed, 7n)
    pq.finish(7n)
    assert.strictEqual(pq.committed, 10n)
    // PULL_NOT_FOUND / PULL_RETRY_IMMEDIATELY with a later next offset.
    pq.skipTo(15n)
    assert.strictEqual(pq.next, 15n)
    assert.strictEqual(pq.committed, 15n)
    pq.skipTo(12n)
    assert.strictEqual(pq.next, 15n, "skipTo never moves back")
    assert.strictEqual(pq.committed, 15n)
  })

  it("add never moves next back, and an empty add with a later next advances an idle queue", () => {
    const pq = new ProcessQueue(queue, 5n)
    pq.add([], 9n)
    assert.strictEqual(pq.next, 9n)
    assert.strictEqual(pq.committed, 9n)
    pq.add([], 6n)
    assert.strictEqual(pq.next, 9n)
    assert.strictEqual(pq.committed, 9n)
  })

  it("committed never moves back except through reset", () => {
    const pq = new ProcessQueue(queue, 0n)
    pq.add([0n, 1n], 2n)
    pq.finish(0n)
    pq.finish(1n)
    assert.strictEqual(pq.committed, 2n)
    // The watermark can only fall behind committed if offsets entered out of order; committed stays put.
    pq.add([2n], 3n)
    assert.strictEqual(pq.watermark, 2n)
    assert.strictEqual(pq.committed, 2n)
  })

  it("drop: finishing changes nothing afterwards, and nothing is held", () => {
    const pq = new ProcessQueue(queue, 0n)
    pq.add(range(0, 4), 4n)
    pq.finish(1n)
    pq.drop()
    assert.isTrue(pq.dropped)
    assert.isFalse(pq.holds(0n))
    assert.isFalse(pq.finish(0n))
    assert.strictEqual(pq.committed, 0n, "a dropped queue's commit stays where it was")
    assert.strictEqual(pq.unfinished, 3, "still counted: the consumer releases their permits itself")
  })

  it("reset forgets every message and starts (and commits) at the broker's offset, even backwards", () => {
    const pq = new ProcessQueue(queue, 50n)
    pq.add(range(50, 60), 60n)
    pq.finish(50n)
    assert.strictEqual(pq.committed, 51n)
    pq.reset(20n)
    assert.strictEqual(pq.unfinished, 0)
    assert.strictEqual(pq.next, 20n)
    assert.strictEqual(pq.committed, 20n)
    assert.strictEqual(pq.watermark, 20n)
    assert.isFalse(pq.holds(55n))
    assert.isFalse(pq.finish(55n), "messages from before the reset do not count")
    pq.add([20n, 21n], 22n)
    pq.finish(21n)
    assert.strictEqual(pq.committed, 20n)
    pq.finish(20n)
    assert.strictEqual(pq.committed, 22n)
  })

  it("compaction after more than 1024 finished entries keeps the watermark and the index right", () => {
    const pq = new ProcessQueue(queue, 0n)
    const total = 5000
    pq.add(range(0, total), BigInt(total))
    // Finish everything but 3000, in order, crossing the compaction threshold several times.
    for (let i = 0; i < 3000; i++) assert.isTrue(pq.finish(BigInt(i)))
    assert.strictEqual(pq.watermark, 3000n)
    assert.strictEqual(pq.committed, 3000n)
    for (let i = total - 1; i > 3000; i--) assert.isTrue(pq.finish(BigInt(i)))
    assert.strictEqual(pq.committed, 3000n, "still held by 3000")
    assert.strictEqual(pq.unfinished, 1)
    assert.isTrue(pq.holds(3000n))
    assert.isFalse(pq.finish(2999n), "finished before compaction: still finished")
    // More pulls after compaction.
    pq.add(range(total, total + 2000), BigInt(total + 2000))
    assert.strictEqual(pq.committed, 3000n)
    assert.isTrue(pq.finish(3000n))
    assert.strictEqual(pq.committed, BigInt(total))
    for (let i = total + 1999; i >= total; i--) pq.finish(BigInt(i))
    assert.strictEqual(pq.committed, BigInt(total + 2000))
    assert.strictEqual(pq.unfinished, 0)
  })

  it("compaction with a long-running first message: the head does not move, nothing is lost", () => {
    const pq = new ProcessQueue(queue, 0n)
    pq.add(range(0, 3000), 3000n)
    for (let i = 1; i < 3000; i++) pq.finish(BigInt(i))
    assert.strictEqual(pq.committed, 0n)
    assert.strictEqual(pq.unfinished, 1)
    pq.finish(0n)
    assert.strictEqual(pq.committed, 3000n)
    // Interleaved: half finished behind a slow one, repeatedly, past the threshold.
    pq.add(range(3000, 6000), 6000n)
    for (let i = 3000; i < 6000; i += 2) pq.finish(BigInt(i))
    assert.strictEqual(pq.committed, 3001n)
    for (let i = 3001; i < 5999; i += 2) pq.finish(BigInt(i))
    assert.strictEqual(pq.committed, 5999n)
    assert.isTrue(pq.holds(5999n))
    pq.finish(5999n)
    assert.strictEqual(pq.committed, 6000n)
  })
})
