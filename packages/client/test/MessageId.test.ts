import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as MessageId from "../src/MessageId.js"

const ipv4 = new Uint8Array([192, 168, 1, 10])
const ipv6 = new Uint8Array([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x42, 0xac, 0xff, 0xfe, 0x11, 0, 0x01])

// Local time: the id counts from the start of the local month, whatever the machine's time zone.
const may15 = new Date(2024, 4, 15, 10, 30, 0, 123).getTime()
const may1 = new Date(2024, 4, 1).getTime()
const june1 = new Date(2024, 5, 1).getTime()

const int32Hex = (value: number) => (value >>> 0).toString(16).toUpperCase().padStart(8, "0")

describe("MessageId", () => {
  describe("UNIQ_KEY", () => {
    it("lays out ip, pid, seed, ms since the local month start and the counter as upper-case hex", () => {
      const generator = MessageId.makeGenerator({ ip: ipv4, pid: 0x1234, seed: 0x0a0b0c0d })
      const first = generator.next(may15)
      assert.strictEqual(first, "C0A8010A" + "1234" + "0A0B0C0D" + int32Hex(may15 - may1) + "0000")
      assert.strictEqual(first.length, 32)
      assert.strictEqual(generator.next(may15), "C0A8010A12340A0B0C0D" + int32Hex(may15 - may1) + "0001")
    })

    it("pid keeps its low 16 bits; a negative seed is its two's complement; IPv6 gives 56 digits", () => {
      const id = MessageId.makeGenerator({ ip: ipv6, pid: 0x12345, seed: -2 }).next(may1)
      assert.strictEqual(id, "FE800000000000000242ACFFFE110001" + "2345" + "FFFFFFFE" + "00000000" + "0000")
      assert.strictEqual(id.length, 56)
    })

    it("the counter wraps at 16 bits", () => {
      const generator = MessageId.makeGenerator({ ip: ipv4, pid: 1, seed: 1 })
      const ids = Array.from({ length: 65537 }, () => generator.next(may15))
      assert.strictEqual(ids[65535]!.slice(-4), "FFFF")
      assert.strictEqual(ids[65536], ids[0])
      assert.strictEqual(new Set(ids.slice(0, 65536)).size, 65536)
    })

    it("moves to the next month when it comes; a clock stepped back ≤ 1 000 000 ms counts as 0", () => {
      const generator = MessageId.makeGenerator({ ip: ipv4, pid: 1, seed: 1 })
      const lastMs = generator.next(june1 - 1)
      assert.strictEqual(lastMs.slice(20, 28), int32Hex(june1 - 1 - may1))
      assert.strictEqual(generator.next(june1 + 7).slice(20, 28), "00000007")
      assert.strictEqual(generator.next(june1 - 500_000).slice(20, 28), "00000000")
      // further back, Java keeps the negative difference (the month start does not move back)
      assert.strictEqual(generator.next(june1 - 2_000_000).slice(20, 28), int32Hex(-2_000_000))
    })

    it("ipOf, pidOf, timeOf read it back as Java's MessageClientIDSetter does", () => {
      const v4 = MessageId.makeGenerator({ ip: ipv4, pid: 4321, seed: 9 }).next(may15)
      assert.strictEqual(MessageId.ipOf(v4), "192.168.1.10")
      assert.strictEqual(MessageId.pidOf(v4), 4321)
      assert.strictEqual(MessageId.timeOf(v4, may15 + 60_000), may15)
      // read in the next month: Java takes the month before when the span would land after now
      assert.strictEqual(MessageId.timeOf(v4, june1 + 3 * 86_400_000), may15)
      const v6 = MessageId.makeGenerator({ ip: ipv6, pid: 0xffff, seed: 9 }).next(may15)
      assert.strictEqual(MessageId.ipOf(v6), "fe80:0000:0000:0000:0242:acff:fe11:0001")
      assert.strictEqual(MessageId.pidOf(v6), 65535)
      assert.strictEqual(MessageId.timeOf(v6, may15 + 1), may15)
      // lower-case ids read the same
      assert.strictEqual(MessageId.ipOf(v4.toLowerCase()), "192.168.1.10")
      assert.isTrue(MessageId.isUniqKey(v6))
      assert.isFalse(MessageId.isUniqKey("XYZ"))
      assert.strictEqual(MessageId.ipOf("nope"), "")
      assert.strictEqual(MessageId.pidOf("nope"), -1)
      assert.isNaN(MessageId.timeOf("nope", may15))
    })
  })

  describe("offsetMsgId", () => {
    it("store host ip + port int32 + commit log offset int64, upper-case hex, and back", () => {
      const v4 = MessageId.offsetMessageId({ ip: new Uint8Array([10, 0, 0, 1]), port: 10911 }, 0x123456789abn)
      assert.strictEqual(v4, "0A000001" + "00002A9F" + "00000123456789AB")
      assert.deepStrictEqual(
        MessageId.decodeOffsetMessageId(v4),
        Either.right({ address: "10.0.0.1:10911", commitLogOffset: 0x123456789abn })
      )
      const v6 = MessageId.offsetMessageId({ ip: ipv6, port: 10911 }, 2n ** 62n)
      assert.strictEqual(v6, "FE800000000000000242ACFFFE110001" + "00002A9F" + "4000000000000000")
      assert.deepStrictEqual(
        MessageId.decodeOffsetMessageId(v6.toLowerCase()),
        Either.right({ address: "[fe80:0:0:0:242:acff:fe11:1]:10911", commitLogOffset: 2n ** 62n })
      )
    })

    it("refuses what is not 32 or 56 hex digits", () => {
      for (const id of ["", "0A000001", "0A00000100002A9F00000123456789A", "0A00000100002A9F00000123456789AG"]) {
        const result = MessageId.decodeOffsetMessageId(id)
        assert.isTrue(Either.isLeft(result), id)
        if (Either.isLeft(result)) assert.strictEqual(result.left._tag, "MessageIdError")
      }
    })
  })
})
