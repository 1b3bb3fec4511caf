import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as JsonParser from "../src/internal/jsonParser.js"
import * as RemotingJson from "../src/RemotingJson.js"

const parseOk = (text: string): unknown => Either.getOrThrow(RemotingJson.parse(text))
// The tolerant parser itself, without the JSON.parse fast path in front of it.
const tolerant = (text: string): unknown => Either.getOrThrow(JsonParser.parse(text, false))

const malformed = (text: string, position: number, ...inMessage: Array<string>) => {
  const result = RemotingJson.parse(text)
  if (Either.isRight(result)) assert.fail(`expected ${JSON.stringify(text)} to be refused`)
  const error = result.left
  assert.strictEqual(error._tag, "RemotingJsonError")
  assert.strictEqual(error.reason, "Malformed")
  assert.strictEqual(error.position, position, error.message)
  assert.include(error.message, `position ${position}`)
  for (const part of inMessage) assert.include(error.message, part)
}

describe("RemotingJson", () => {
  describe("parse", () => {
    it("reads the cluster info a NameServer sends, bare integer keys included", () => {
      const body = `{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"broker-a",` +
        `"cluster":"DefaultCluster","enableActingMaster":false}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}`
      assert.deepStrictEqual(parseOk(body), {
        brokerAddrTable: {
          "broker-a": {
            brokerAddrs: { "0": "127.0.0.1:10911" },
            brokerName: "broker-a",
            cluster: "DefaultCluster",
            enableActingMaster: false
          }
        },
        clusterAddrTable: { DefaultCluster: ["broker-a"] }
      })
    })

    it("reads bare keys: integers, negative integers, identifiers, with whitespace around", () => {
      assert.deepStrictEqual(parseOk(`{ 0 : "a", -1:"b", 12:{ 3 : [ ] }, name_$1: null }`), {
        "0": "a",
        "-1": "b",
        "12": { "3": [] },
        "name_$1": null
      })
    })

    it("reads standard JSON as JSON.parse does", () => {
      assert.deepStrictEqual(parseOk(`{"a":[1,-2.5e3,true,false,null,"x\\u00e9\\n\\/"],"b":{}}`), {
        a: [1, -2500, true, false, null, "xé\n/"],
        b: {}
      })
    })

    it.prop("the tolerant parser agrees with JSON.parse on any JSON", {
      value: FastCheck.jsonValue(),
      spaced: FastCheck.boolean()
    }, ({ spaced, value }) => {
      const text = JSON.stringify(value, null, spaced ? 2 : undefined)
      assert.deepStrictEqual(tolerant(text), JSON.parse(text))
    }, { fastCheck: { numRuns: 300 } })

    it.prop("reads any map with bare integer keys", {
      entries: FastCheck.array(FastCheck.tuple(FastCheck.nat(), FastCheck.jsonValue({ maxDepth: 2 })), {
        maxLength: 10
      })
    }, ({ entries }) => {
      const text = `{${entries.map(([key, value]) => `${key}:${JSON.stringify(value)}`).join(",")}}`
      const expected: Record<string, unknown> = {}
      for (const [key, value] of entries) expected[String(key)] = JSON.parse(JSON.stringify(value))
      assert.deepStrictEqual(parseOk(text), expected)
    })

    it("keeps __proto__ as an own key, as JSON.parse does", () => {
      const value = parseOk(`{__proto__:{"polluted":1},0:"x"}`) as Record<string, unknown>
      assert.deepStrictEqual(Object.keys(value).sort(), ["0", "__proto__"])
      assert.strictEqual(Object.getPrototypeOf(value), Object.prototype)
      assert.isUndefined(({} as Record<string, unknown>).polluted)
    })

    it("reads escapes and raw control characters in the tolerant path", () => {
      assert.deepStrictEqual(parseOk(`{0:"a\\"b\\\\c\\u0001\u0002\\ud83d\\ude00"}`), { "0": "a\"b\\c\u0001\u0002😀" })
    })

    it("refuses malformed input with the position and what was expected", () => {
      malformed(``, 0, "expected a value")
      malformed(`{"a":}`, 5, "expected a value", `{"a":⟨here⟩}`)
      malformed(`{0:"x",}`, 7, "expected a key")
      malformed(`{"a" 1}`, 5, "expected ':' after a key")
      malformed(`[1 2]`, 3, "expected ',' or ']' in an array")
      malformed(`{"a":1 "b":2}`, 7, "expected ',' or '}' in an object")
      malformed(`{"a":"b`, 7, "the closing quote of a string")
      malformed(`{"a":"\\x"}`, 6, "an escape")
      malformed(`{"a":"\\u12"}`, 6, "four hex digits")
      malformed(`tru`, 0, "a value")
      malformed(`{} {}`, 3, "the end of the input")
      malformed(`{"a":01}`, 6, "',' or '}'")
      malformed(`{'a':1}`, 1, "a key")
    })

    it("caps nesting instead of overflowing the stack", () => {
      const deep = (n: number) => "[".repeat(n) + "]".repeat(n)
      assert.isTrue(Either.isRight(JsonParser.parse(deep(JsonParser.MAX_DEPTH), false)))
      const tooDeep = JsonParser.parse(`${"{0:".repeat(100_000)}1${"}".repeat(100_000)}`, false)
      assert.isTrue(Either.isLeft(tooDeep))
      if (Either.isLeft(tooDeep)) assert.include(tooDeep.left.expected, "levels of nesting")
    })

    it("parseBytes reads UTF-8 and refuses what is not", () => {
      assert.deepStrictEqual(
        Either.getOrThrow(RemotingJson.parseBytes(new TextEncoder().encode(`{0:"é"}`))),
        { "0": "é" }
      )
      const bad = RemotingJson.parseBytes(new Uint8Array([0x7b, 0xc3, 0x7d]))
      assert.isTrue(Either.isLeft(bad) && bad.left.reason === "InvalidUtf8")
    })

    it("keeps numbers' source text and member order in lossless mode", () => {
      const value = Either.getOrThrow(JsonParser.parse(`{"b":1.50,0:12345678901234567890}`, true))
      assert.instanceOf(value, JsonParser.ObjectEntries)
      const entries = (value as JsonParser.ObjectEntries).entries
      assert.deepStrictEqual(entries.map(([key]) => key), ["b", "0"])
      assert.deepStrictEqual(entries.map(([, v]) => (v as JsonParser.NumberText).text), [
        "1.50",
        "12345678901234567890"
      ])
    })
  })
})
