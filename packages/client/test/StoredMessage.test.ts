import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Zlib from "node:zlib"
import * as Message from "../src/Message.js"
import * as NodeCompression from "../src/NodeCompression.js"
import * as StoredMessage from "../src/StoredMessage.js"

const utf8 = new TextEncoder()
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))
const concat = (...parts: ReadonlyArray<Uint8Array>) => new Uint8Array(Buffer.concat(parts))

const ipv4 = new Uint8Array([192, 168, 0, 7])
const ipv6 = new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2a])

/**
 * A record written field by field with a growing byte list, independently of `StoredMessage.encode`, following
 * REMOTING.md's layout.
 */
const handBuilt = (fields: {
  readonly magic: "V1" | "V2"
  readonly sysFlag: number
  readonly bornIp: Uint8Array
  readonly storeIp: Uint8Array
  readonly body: Uint8Array
  readonly topic: string
  readonly properties: string
  readonly queueOffset?: bigint
}): Uint8Array => {
  const parts: Array<Uint8Array> = []
  const i32 = (v: number) => {
    const b = Buffer.alloc(4)
    b.writeInt32BE(v)
    parts.push(b)
  }
  const i64 = (v: bigint) => {
    const b = Buffer.alloc(8)
    b.writeBigInt64BE(v)
    parts.push(b)
  }
  const topic = utf8.encode(fields.topic)
  const props = utf8.encode(fields.properties)
  i32(0) // TOTALSIZE, patched below
  i32(fields.magic === "V1" ? 0xdaa320a7 | 0 : 0xdaa320ab | 0)
  i32(0x1234567) // BODYCRC
  i32(3) // QUEUEID
  i32(0x55) // FLAG
  i64(fields.queueOffset ?? 1000n) // QUEUEOFFSET
  i64(0x7fff_0000_1234n) // PHYSICALOFFSET
  i32(fields.sysFlag)
  i64(1_700_000_000_001n) // BORNTIMESTAMP
  parts.push(fields.bornIp)
  i32(40001)
  i64(1_700_000_000_002n) // STORETIMESTAMP
  parts.push(fields.storeIp)
  i32(10911)
  i32(2) // RECONSUMETIMES
  i64(77n) // PREPARED TX OFFSET
  i32(fields.body.length)
  parts.push(fields.body)
  if (fields.magic === "V1") parts.push(new Uint8Array([topic.length]))
  else parts.push(new Uint8Array([topic.length >> 8, topic.length & 0xff]))
  parts.push(topic)
  parts.push(new Uint8Array([props.length >> 8, props.length & 0xff]))
  parts.push(props)
  const record = concat(...parts)
  new DataView(record.buffer).setInt32(0, record.length)
  return record
}

const decode = (body: Uint8Array, brokerName = "broker-a") =>
  StoredMessage.decode(body, brokerName).pipe(Effect.provide(NodeCompression.layer))

const decodeError = (body: Uint8Array) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(decode(body))
    if (Exit.isSuccess(exit)) return assert.fail(`expected a StoredMessageError, decoded ${exit.value.length}`)
    const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
    if (error === undefined) return assert.fail(`expected a failure, got ${exit.cause._tag}`)
    assert.strictEqual(error._tag, "StoredMessageError")
    return error
  })

const UNIQ = "C0A800070D2A18B4AAC25B9A9B6F0000"

describe("StoredMessage", () => {
  it.effect("decodes a hand-built V1 record with IPv4 hosts; the body is a view of the input", () =>
    Effect.gen(function*() {
      const body = utf8.encode("hello, world")
      const record = handBuilt({
        magic: "V1",
        sysFlag: 0,
        bornIp: ipv4,
        storeIp: new Uint8Array([10, 0, 0, 1]),
        body,
        topic: "TopicTest",
        properties:
          `TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002UNIQ_KEY\u0001${UNIQ}\u0002DELAY\u00013\u0002WAIT\u0001true\u0002`
      })
      // inside a bigger buffer, as a pull answer's body is
      const framed = concat(new Uint8Array(13), record, new Uint8Array(5)).subarray(13, 13 + record.length)
      const [message, ...rest] = yield* decode(framed)
      assert.strictEqual(rest.length, 0)
      assert.deepStrictEqual({
        ...message!,
        body: hex(message!.body),
        properties: Object.fromEntries(message!.properties)
      }, {
        topic: "TopicTest",
        body: hex(body),
        tags: "TagA",
        keys: ["k1", "k2"],
        properties: { TAGS: "TagA", KEYS: "k1 k2", UNIQ_KEY: UNIQ, DELAY: "3", WAIT: "true" },
        flag: 0x55,
        msgId: UNIQ,
        offsetMsgId: "0A000001" + "00002A9F" + "00007FFF00001234",
        brokerName: "broker-a",
        queueId: 3,
        queueOffset: 1000n,
        commitLogOffset: 0x7fff_0000_1234n,
        storeSize: record.length,
        sysFlag: 0,
        bodyCRC: 0x1234567,
        bornTimestamp: 1_700_000_000_001,
        bornHost: "192.168.0.7:40001",
        storeTimestamp: 1_700_000_000_002,
        storeHost: "10.0.0.1:10911",
        reconsumeTimes: 2,
        preparedTransactionOffset: 77n,
        delayLevel: 3
      })
      assert.strictEqual(message!.body.buffer, framed.buffer, "the body is a subarray, not a copy")
    }))

  it.effect("decodes a hand-built V2 record: 2-byte topic length, IPv6 born and store hosts", () =>
    Effect.gen(function*() {
      const topic = "%RETRY%" + "g".repeat(193) // 200 bytes: more than a V1 length byte can say
      const record = handBuilt({
        magic: "V2",
        sysFlag: 0x10 | 0x20,
        bornIp: ipv6,
        storeIp: ipv6,
        body: utf8.encode("v6"),
        topic,
        properties: "RETRY_TOPIC\u0001T\u0002中文\u0001值\u0002"
      })
      const v4Born = handBuilt({
        magic: "V2",
        sysFlag: 0x20,
        bornIp: ipv4,
        storeIp: ipv6,
        body: new Uint8Array(0),
        topic: "T",
        properties: ""
      })
      const [message, second] = yield* decode(concat(record, v4Born))
      assert.strictEqual(message!.topic, topic)
      assert.strictEqual(message!.bornHost, "[2001:db8:0:0:0:0:0:2a]:40001")
      assert.strictEqual(message!.storeHost, "[2001:db8:0:0:0:0:0:2a]:10911")
      assert.strictEqual(message!.offsetMsgId, "20010DB800000000000000000000002A" + "00002A9F" + "00007FFF00001234")
      assert.strictEqual(message!.msgId, message!.offsetMsgId, "no UNIQ_KEY: msgId is the offsetMsgId")
      assert.strictEqual(message!.properties.get("中文"), "值")
      assert.strictEqual(message!.tags, undefined)
      assert.deepStrictEqual(message!.keys, [])
      assert.strictEqual(message!.delayLevel, 0)
      assert.strictEqual(second!.bornHost, "192.168.0.7:40001")
      assert.strictEqual(second!.storeHost, "[2001:db8:0:0:0:0:0:2a]:10911")
      assert.strictEqual(second!.body.length, 0)
      assert.strictEqual(second!.properties.size, 0)
    }))

  it.effect("inflates zlib bodies (types 3 and 0) and clears the compressed bit", () =>
    Effect.gen(function*() {
      const body = utf8.encode("compress me ".repeat(500))
      const zlib3 = handBuilt({
        magic: "V1",
        sysFlag: 0x301,
        bornIp: ipv4,
        storeIp: ipv4,
        body: new Uint8Array(Zlib.deflateSync(body, { level: 5 })),
        topic: "T",
        properties: "TAGS\u0001a\u0002"
      })
      const zlib0 = handBuilt({
        magic: "V1",
        sysFlag: 0x1 | 0x10,
        bornIp: ipv6,
        storeIp: ipv4,
        body: new Uint8Array(Zlib.deflateSync(body)),
        topic: "T",
        properties: ""
      })
      const plain = handBuilt({
        magic: "V1",
        sysFlag: 0,
        bornIp: ipv4,
        storeIp: ipv4,
        body,
        topic: "T",
        properties: ""
      })
      const messages = yield* decode(concat(zlib3, plain, zlib0))
      assert.strictEqual(messages.length, 3)
      for (const message of messages) assert.isTrue(sameBytes(message.body, body))
      assert.deepStrictEqual(messages.map((m) => m.sysFlag), [0x300, 0, 0x10])
      assert.deepStrictEqual(messages.map((m) => m.storeSize), [zlib3.length, plain.length, zlib0.length])
      assert.strictEqual(messages[0]!.tags, "a")
    }))

  it.effect("unwraps inner batches (INNER_BATCH with NEED_UNWRAP), compressed or not", () =>
    Effect.gen(function*() {
      const inner = Message.encodeBatch([
        { body: utf8.encode("one"), flag: 1, properties: new Map([["UNIQ_KEY", UNIQ], ["TAGS", "x"]]) },
        { body: utf8.encode("two"), flag: 2, properties: new Map([["KEYS", "a b"]]) },
        { body: utf8.encode("three"), flag: 3, properties: new Map() }
      ])
      const plain = handBuilt({
        magic: "V1",
        sysFlag: 0x80 | 0x40,
        bornIp: ipv4,
        storeIp: ipv4,
        body: inner,
        topic: "Batch",
        properties: "INNER_NUM\u00013\u0002",
        queueOffset: 50n
      })
      const compressed = handBuilt({
        magic: "V2",
        sysFlag: 0x80 | 0x40 | 0x301,
        bornIp: ipv4,
        storeIp: ipv4,
        body: new Uint8Array(Zlib.deflateSync(inner)),
        topic: "Batch",
        properties: "",
        queueOffset: 53n
      })
      // INNER_BATCH alone is not unwrapped (Java needs both bits)
      const wrapped = handBuilt({
        magic: "V1",
        sysFlag: 0x80,
        bornIp: ipv4,
        storeIp: ipv4,
        body: inner,
        topic: "Batch",
        properties: ""
      })
      const messages = yield* decode(concat(plain, compressed, wrapped))
      assert.strictEqual(messages.length, 7)
      assert.deepStrictEqual(
        messages.map((m) => [new TextDecoder().decode(m.body), m.flag, m.queueOffset, m.sysFlag]),
        [
          ["one", 1, 50n, 0xc0],
          ["two", 2, 51n, 0xc0],
          ["three", 3, 52n, 0xc0],
          ["one", 1, 53n, 0x3c0],
          ["two", 2, 54n, 0x3c0],
          ["three", 3, 55n, 0x3c0],
          [new TextDecoder().decode(inner), 0x55, 1000n, 0x80]
        ]
      )
      const [one, two, three] = messages
      assert.strictEqual(one!.msgId, UNIQ)
      assert.strictEqual(one!.tags, "x")
      assert.deepStrictEqual(two!.keys, ["a", "b"])
      assert.strictEqual(three!.msgId, three!.offsetMsgId)
      assert.strictEqual(three!.topic, "Batch")
      assert.strictEqual(three!.storeHost, "192.168.0.7:10911")
      assert.strictEqual(three!.commitLogOffset, 0x7fff_0000_1234n)
      assert.strictEqual(three!.storeSize, 22 + 5)
      assert.strictEqual(three!.reconsumeTimes, 0)
    }))

  it.effect("every truncation of a valid body fails with a typed error, never a throw", () =>
    Effect.gen(function*() {
      const first = handBuilt({
        magic: "V1",
        sysFlag: 0x10,
        bornIp: ipv6,
        storeIp: ipv4,
        body: utf8.encode("abc"),
        topic: "T",
        properties: "A\u0001b\u0002"
      })
      const second = handBuilt({
        magic: "V2",
        sysFlag: 0,
        bornIp: ipv4,
        storeIp: ipv4,
        body: utf8.encode("x"),
        topic: "U",
        properties: ""
      })
      const whole = concat(first, second)
      assert.strictEqual((yield* decode(whole)).length, 2)
      for (let cut = 1; cut < whole.length; cut++) {
        if (cut === first.length) continue
        const error = yield* decodeError(whole.subarray(0, cut))
        assert.strictEqual(error.reason, "Truncated", `cut at ${cut}`)
        assert.strictEqual(error.at, cut < first.length ? 0 : first.length, `cut at ${cut}`)
      }
      assert.strictEqual((yield* decode(whole.subarray(0, first.length))).length, 1)
      assert.strictEqual((yield* decode(new Uint8Array(0))).length, 0)
    }))

  it.effect("bad magic, bad lengths, bad UTF-8, unknown and unsupported compression, corrupt bodies", () =>
    Effect.gen(function*() {
      const base = {
        magic: "V1",
        sysFlag: 0,
        bornIp: ipv4,
        storeIp: ipv4,
        body: utf8.encode("abc"),
        topic: "T",
        properties: ""
      } as const
      const good = handBuilt(base)
      const at = (record: Uint8Array, offset: number, value: number) => {
        const copy = new Uint8Array(record)
        new DataView(copy.buffer).setInt32(offset, value)
        return copy
      }
      const badMagic = yield* decodeError(concat(good, at(good, 4, 0x12345678)))
      assert.deepStrictEqual([badMagic.reason, badMagic.at], ["BadMagic", good.length + 4])
      // BODYLEN (at 84 for IPv4 hosts) says more than the record holds
      const badBody = yield* decodeError(at(good, 84, 1000))
      assert.deepStrictEqual([badBody.reason, badBody.at], ["BadLength", 84])
      assert.strictEqual((yield* decodeError(at(good, 84, -1))).reason, "BadLength")
      // TOTALSIZE smaller than the fields
      assert.strictEqual((yield* decodeError(at(good, 0, good.length - 1))).reason, "BadLength")
      assert.strictEqual((yield* decodeError(at(good, 0, 0))).reason, "BadLength")
      const badTopic = handBuilt(base)
      badTopic[good.length - 3] = 0xff // the 1-byte topic "T"
      const utf = yield* decodeError(badTopic)
      assert.deepStrictEqual([utf.reason, utf.at], ["BadUtf8", good.length - 3])
      const unknown = yield* decodeError(handBuilt({ ...base, sysFlag: 0x501 }))
      assert.deepStrictEqual([unknown.reason, unknown.at], ["UnsupportedCompression", 36])
      const lz4 = yield* decodeError(concat(good, handBuilt({ ...base, sysFlag: 0x101 })))
      assert.deepStrictEqual([lz4.reason, lz4.at], ["UnsupportedCompression", good.length])
      const corrupt = yield* decodeError(handBuilt({ ...base, sysFlag: 0x301 }))
      assert.strictEqual(corrupt.reason, "Corrupt")
      assert.match(corrupt.message, /Corrupt at byte 0/)
      // an inner batch whose entry overruns the body
      const batch = Message.encodeBatch([{ body: utf8.encode("x"), flag: 0, properties: new Map() }])
      new DataView(batch.buffer).setInt32(0, 99)
      const inner = yield* decodeError(handBuilt({ ...base, sysFlag: 0xc0, body: batch }))
      assert.deepStrictEqual([inner.reason, inner.at], ["Truncated", 88])
    }))

  it.effect("encode writes what decode reads (V1 and V2, IPv4 and IPv6, Java's body CRC)", () =>
    Effect.gen(function*() {
      const properties = new Map([["UNIQ_KEY", UNIQ], ["TAGS", "t"], ["KEYS", "k"]])
      const record = {
        topic: "T",
        body: utf8.encode("payload"),
        properties,
        flag: 9,
        queueId: 1,
        queueOffset: 5n,
        commitLogOffset: 123456n,
        bornTimestamp: 1_700_000_000_000,
        bornHost: { ip: ipv4, port: 5555 },
        storeTimestamp: 1_700_000_000_050,
        storeHost: { ip: ipv6, port: 10911 },
        reconsumeTimes: 1
      }
      const v1 = StoredMessage.encode(record)
      assert.strictEqual(new DataView(v1.buffer).getInt32(4), StoredMessage.MAGIC_V1)
      const long = StoredMessage.encode({ ...record, topic: "x".repeat(128) })
      assert.strictEqual(new DataView(long.buffer).getInt32(4), StoredMessage.MAGIC_V2)
      const [a, b] = yield* decode(concat(v1, long), "b")
      assert.strictEqual(a!.bodyCRC, StoredMessage.bodyCrc(record.body))
      // CRC-32's check value: CRC32("123456789") = 0xCBF43926, masked to 31 bits
      assert.strictEqual(StoredMessage.bodyCrc(utf8.encode("123456789")), 0x4bf43926)
      assert.strictEqual(a!.sysFlag, StoredMessage.SysFlag.STOREHOST_V6)
      assert.strictEqual(a!.storeHost, "[2001:db8:0:0:0:0:0:2a]:10911")
      assert.strictEqual(a!.bornHost, "192.168.0.7:5555")
      assert.deepStrictEqual([...a!.properties], [...properties])
      assert.strictEqual(a!.msgId, UNIQ)
      assert.strictEqual(a!.reconsumeTimes, 1)
      assert.strictEqual(b!.topic, "x".repeat(128))
      assert.isTrue(sameBytes(b!.body, record.body))
    }))

  it.effect("property: any sequence of encoded records decodes to its fields, whatever the framing offset", () =>
    Effect.gen(function*() {
      const separatorFree = FastCheck.string({ minLength: 1, maxLength: 12, unit: "grapheme" }).filter((t) =>
        !t.includes("\u0001") && !t.includes("\u0002")
      )
      const ip = FastCheck.oneof(
        FastCheck.uint8Array({ minLength: 4, maxLength: 4 }),
        FastCheck.uint8Array({ minLength: 16, maxLength: 16 })
      )
      const record = FastCheck.record({
        topic: FastCheck.string({ minLength: 1, maxLength: 300, unit: "binary" }),
        body: FastCheck.uint8Array({ maxLength: 64 }),
        properties: FastCheck.uniqueArray(FastCheck.tuple(separatorFree, separatorFree), {
          maxLength: 5,
          selector: ([k]) => k
        }),
        flag: FastCheck.integer(),
        queueId: FastCheck.integer({ min: 0, max: 1000 }),
        queueOffset: FastCheck.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
        commitLogOffset: FastCheck.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        bornTimestamp: FastCheck.integer({ min: 0, max: 2 ** 45 }),
        bornIp: ip,
        storeIp: ip,
        magic: FastCheck.constantFrom("V1" as const, "V2" as const)
      })
      FastCheck.assert(
        FastCheck.property(FastCheck.array(record, { maxLength: 6 }), FastCheck.nat(7), (records, pad) => {
          const usable = records
          const encoded = usable.map((r) =>
            StoredMessage.encode({
              ...r,
              properties: new Map(r.properties),
              bornHost: { ip: r.bornIp, port: 1 },
              storeTimestamp: r.bornTimestamp + 1,
              storeHost: { ip: r.storeIp, port: 10911 }
            })
          )
          const framed = concat(new Uint8Array(pad), ...encoded).subarray(pad)
          const messages = Effect.runSync(decode(framed))
          assert.strictEqual(messages.length, usable.length)
          messages.forEach((m, i) => {
            const r = usable[i]!
            assert.strictEqual(m.topic, r.topic)
            assert.strictEqual(hex(m.body), hex(r.body))
            assert.deepStrictEqual([...m.properties], r.properties)
            assert.strictEqual(m.flag, r.flag)
            assert.strictEqual(m.queueOffset, r.queueOffset)
            assert.strictEqual(m.commitLogOffset, r.commitLogOffset)
            assert.strictEqual(m.bornTimestamp, r.bornTimestamp)
            assert.strictEqual(m.storeSize, encoded[i]!.length)
            assert.strictEqual(m.offsetMsgId.length, r.storeIp.length === 16 ? 56 : 32)
          })
        }),
        { numRuns: 200 }
      )
    }))
})
