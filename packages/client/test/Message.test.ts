import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Message from "../src/Message.js"

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const body = new TextEncoder().encode("hello")
const ok: Message.Message = { topic: "Orders_v1-%|x", body }

const failure = (message: Message.Message, options?: { readonly maxMessageSize?: number }) => {
  const result = Message.validate(message, options)
  if (Either.isRight(result)) assert.fail(`expected a MessageError for ${JSON.stringify(message)}`)
  return result.left
}

describe("Message", () => {
  describe("validate", () => {
    it("accepts a valid message and returns it", () => {
      const message: Message.Message = {
        ...ok,
        tags: "TagA",
        keys: ["k1", "k2"],
        properties: { userKey: "v", "中文": "值" },
        delayLevel: 3,
        flag: -5
      }
      assert.deepStrictEqual(Message.validate(message), Either.right(message))
    })

    it("topic: Java's checkTopic and the topics a client may not send to", () => {
      const cases: ReadonlyArray<readonly [string, RegExp]> = [
        ["", /empty/],
        ["x".repeat(128), /at most 127/],
        ["a b", /characters/],
        ["topic.v1", /characters/],
        ["tópico", /characters/],
        ["SCHEDULE_TOPIC_XXXX", /system topic/],
        ["RMQ_SYS_TRANS_HALF_TOPIC", /system topic/]
      ]
      for (const [topic, rule] of cases) {
        const error = failure({ ...ok, topic })
        assert.strictEqual(error.field, "topic", topic)
        assert.match(error.rule, rule, topic)
        assert.strictEqual(error.value, topic)
        assert.include(error.message, "topic")
      }
      // 127 characters is fine; TBW102 is not refused by Java's isNotAllowedSendTopic either
      assert.isTrue(Either.isRight(Message.validate({ ...ok, topic: "x".repeat(127) })))
      assert.isTrue(Either.isRight(Message.validate({ ...ok, topic: "TBW102" })))
    })

    it("body: 1..maxMessageSize bytes, reported by length", () => {
      const empty = failure({ ...ok, body: new Uint8Array(0) })
      assert.strictEqual(empty.field, "body")
      assert.strictEqual(empty.value, 0)
      const large = failure({ ...ok, body: new Uint8Array(101) }, { maxMessageSize: 100 })
      assert.strictEqual(large.field, "body")
      assert.strictEqual(large.value, 101)
      assert.match(large.message, /body: must be at most 100 bytes \(got 101\)/)
      assert.isTrue(Either.isRight(Message.validate({ ...ok, body: new Uint8Array(100) }, { maxMessageSize: 100 })))
      assert.strictEqual(failure({ ...ok, body: new Uint8Array(Message.DEFAULT_MAX_MESSAGE_SIZE + 1) }).field, "body")
    })

    it("tags, keys, flag, delayLevel, deliverAt, delay", () => {
      const cases: ReadonlyArray<readonly [Partial<Message.Message>, string]> = [
        [{ tags: "a\u0001b" }, "tags"],
        [{ tags: "a||b" }, "tags"],
        [{ keys: ["ok", "two words"] }, "keys"],
        [{ keys: [" "] }, "keys"],
        [{ keys: ["a\u0002"] }, "keys"],
        [{ flag: 2 ** 31 }, "flag"],
        [{ delayLevel: -1 }, "delayLevel"],
        [{ delayLevel: 1.5 }, "delayLevel"],
        [{ deliverAt: -1 }, "deliverAt"],
        [{ deliverAt: 1.5 }, "deliverAt"],
        [{ delay: "forever" as never }, "delay"],
        [{ delay: "1 second", deliverAt: 1_700_000_000_000 }, "deliverAt"],
        [{ delay: "1 second", delayLevel: 2 }, "delay"]
      ]
      for (const [fields, field] of cases) {
        assert.strictEqual(failure({ ...ok, ...fields }).field, field, JSON.stringify(fields))
      }
      // delayLevel 0 means "no delay", so it can go with a timer
      assert.isTrue(Either.isRight(Message.validate({ ...ok, delayLevel: 0, delay: "5 seconds" })))
    })

    it("properties: reserved names, blank names and values, separators, total size", () => {
      const reserved = failure({ ...ok, properties: { UNIQ_KEY: "x" } })
      assert.strictEqual(reserved.field, "properties.UNIQ_KEY")
      assert.match(reserved.message, /properties\.UNIQ_KEY: is a name reserved/)
      for (const name of ["KEYS", "TAGS", "DELAY", "WAIT", "__SHARDINGKEY_X", "TIMER_DELIVER_MS", "__CRC32#"]) {
        const result = Message.validate({ ...ok, properties: { [name]: "v" } })
        assert.strictEqual(
          Either.isLeft(result),
          Message.reservedPropertyNames.has(name),
          name
        )
      }
      // __SHARDINGKEY is not in Java's STRING_HASH_SET: users set it through putUserProperty
      assert.isTrue(Either.isRight(Message.validate({ ...ok, properties: { __SHARDINGKEY: "k" } })))
      assert.strictEqual(failure({ ...ok, properties: { " ": "v" } }).field, "properties. ")
      assert.strictEqual(failure({ ...ok, properties: { a: " " } }).field, "properties.a")
      assert.strictEqual(failure({ ...ok, properties: { a: "x\u0002y" } }).field, "properties.a")
      assert.strictEqual(failure({ ...ok, properties: { "a\u0001": "x" } }).field, "properties.a\u0001")
      const big = failure({ ...ok, properties: { big: "x".repeat(33_000) } })
      assert.strictEqual(big.field, "properties")
      assert.isAbove(big.value as number, 33_000)
      // multi-byte characters count as their UTF-8 bytes: 11 000 × 3 bytes is over the limit
      assert.strictEqual(failure({ ...ok, properties: { big: "中".repeat(11_000) } }).field, "properties")
    })
  })

  it("properties: what Java would send, before UNIQ_KEY", () => {
    const props = Message.properties({
      ...ok,
      tags: "TagA",
      keys: ["k1", "k2"],
      delayLevel: 2,
      properties: { a: "1" }
    })
    assert.deepStrictEqual([...props], [["TAGS", "TagA"], ["KEYS", "k1 k2"], ["WAIT", "true"], ["DELAY", "2"], [
      "a",
      "1"
    ]])
    assert.deepStrictEqual(
      [...Message.properties({ ...ok, waitStoreMsgOK: false, deliverAt: 1_700_000_000_123, tags: "", keys: [] })],
      [["WAIT", "false"], ["TIMER_DELIVER_MS", "1700000000123"]]
    )
    assert.deepStrictEqual(
      [...Message.properties({ ...ok, delay: "90 seconds", delayLevel: 0 })],
      [["WAIT", "true"], ["TIMER_DELAY_MS", "90000"]]
    )
  })

  it("encodeProperties / decodeProperties: Java's string form, both ways", () => {
    const props = new Map([["TAGS", "a"], ["KEYS", "k1 k2"], ["中文", "值 😀"]])
    const encoded = Message.encodeProperties(props)
    assert.strictEqual(encoded, "TAGS\u0001a\u0002KEYS\u0001k1 k2\u0002中文\u0001值 😀\u0002")
    assert.deepStrictEqual(Message.decodeProperties(encoded), props)
    assert.strictEqual(Message.encodeProperties(new Map()), "")
    assert.deepStrictEqual(Message.decodeProperties(""), new Map())
    // Java's reading: no trailing separator is fine; empty names or values and pairs without \u0001 are skipped;
    // the last duplicate wins.
    assert.deepStrictEqual(
      Message.decodeProperties("a\u00011\u0002\u0001x\u0002b\u0001\u0002nosep\u0002k\u0001v\u0002k\u0001w"),
      new Map([["a", "1"], ["k", "w"]])
    )
  })

  it("encodeBatch: Java's encodeMessages layout", () => {
    const encoded = Message.encodeBatch([
      { body: new Uint8Array([0xaa, 0xbb]), flag: 7, properties: new Map([["K", "v"]]) },
      { body: new Uint8Array([]), flag: -1, properties: new Map() }
    ])
    // entry 1: 4+4+4+4 + 4+2 + 2+4 ("K\u0001v\u0002") = 28 bytes
    assert.strictEqual(
      hex(encoded),
      "0000001c" + "00000000" + "00000000" + "00000007" + "00000002" + "aabb" + "0004" + "4b017602" +
        // entry 2: 22 bytes, flag -1, empty body, no properties
        "00000016" + "00000000" + "00000000" + "ffffffff" + "00000000" + "0000"
    )
    assert.strictEqual(Message.encodeBatch([]).length, 0)
  })
})
