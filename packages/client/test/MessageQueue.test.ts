import { assert, describe, it } from "@effect/vitest"
import * as Arr from "effect/Array"
import * as MessageQueue from "../src/MessageQueue.js"

describe("MessageQueue", () => {
  it("javaHashCode is Java's String.hashCode", () => {
    // Values of String.hashCode as a JVM computes them (JavaCodec.test.ts checks them against java itself).
    const vectors: ReadonlyArray<readonly [string, number]> = [
      ["", 0],
      ["hello", 99162322],
      ["Aa", 2112],
      ["BB", 2112],
      ["hello world", 1794106052],
      ["polygenelubricants", -2147483648],
      ["key-10", -1134722995],
      ["中文", 646394],
      // a surrogate pair: two UTF-16 code units, not one code point
      ["😀", 1772899]
    ]
    for (const [text, hash] of vectors) assert.strictEqual(MessageQueue.javaHashCode(text), hash, text)
  })

  it("selectByHash takes abs of the signed remainder, as Java's SelectMessageQueueByHash", () => {
    const queues = [0, 1, 2, 3, 4, 5, 6].map((id) => MessageQueue.make("T", "b", id))
    // "key-10" hashes to -1134722995: -1134722995 % 3 = -1 → 1 (an unsigned remainder would give 0).
    assert.strictEqual(MessageQueue.selectByHash(queues.slice(0, 3), "key-10")?.queueId, 1)
    // -1134722993 % 7 = -5 → 5 (unsigned: 6).
    assert.strictEqual(MessageQueue.selectByHash(queues, "key-12")?.queueId, 5)
    // Integer.MIN_VALUE % 3 = -2 → 2
    assert.strictEqual(MessageQueue.selectByHash(queues.slice(0, 3), "polygenelubricants")?.queueId, 2)
    assert.strictEqual(MessageQueue.selectByHash(queues.slice(0, 4), "hello")?.queueId, 99162322 % 4)
    assert.strictEqual(MessageQueue.selectByHash([], "hello"), undefined)
  })

  it("Order is topic, then broker name, then queue id, in UTF-16 code unit order", () => {
    const queues = [
      MessageQueue.make("b", "a", 0),
      MessageQueue.make("a", "broker-b", 1),
      MessageQueue.make("a", "broker-b", 0),
      MessageQueue.make("a", "broker-a", 10),
      MessageQueue.make("a", "broker-a", 2),
      MessageQueue.make("A", "z", 0),
      MessageQueue.make("a", "Broker", 5)
    ]
    const sorted = Arr.sort(queues, MessageQueue.Order).map(MessageQueue.key)
    assert.deepStrictEqual(sorted, [
      "A@z@0",
      "a@Broker@5",
      "a@broker-a@2",
      "a@broker-a@10",
      "a@broker-b@0",
      "a@broker-b@1",
      "b@a@0"
    ])
    // Code units, not code points: U+FF5E sorts after U+D83D (the high surrogate of an emoji) in Java.
    assert.strictEqual(MessageQueue.Order(MessageQueue.make("\uff5e", "b", 0), MessageQueue.make("😀", "b", 0)), 1)
  })

  it("equals and key", () => {
    assert.isTrue(MessageQueue.equals(MessageQueue.make("t", "b", 1), MessageQueue.make("t", "b", 1)))
    assert.isFalse(MessageQueue.equals(MessageQueue.make("t", "b", 1), MessageQueue.make("t", "b", 2)))
    assert.strictEqual(MessageQueue.key(MessageQueue.make("t", "b", 3)), "t@b@3")
  })
})
