import { assert, describe, it } from "@effect/vitest"
import { hex, readText as text, text as utf8 } from "@rocketmq-effect/test-kit/Bytes"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { LanguageCode, RequestCode, ResponseCode } from "../src/RemotingCode.js"
import * as RemotingCodec from "../src/RemotingCodec.js"
import * as RemotingCommand from "../src/RemotingCommand.js"
import type { RemotingCodecError, RemotingCodecErrorReason } from "../src/RemotingError.js"

const fromHex = (text: string): Uint8Array => {
  const clean = text.replace(/\s+/g, "")
  const out = new Uint8Array(clean.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16)
  return out
}

// A payload: header mark with the given type byte, then the header bytes, then the body.
const payloadOf = (type: number, header: Uint8Array, body: Uint8Array = new Uint8Array(0)): Uint8Array => {
  const out = new Uint8Array(4 + header.length + body.length)
  new DataView(out.buffer).setUint32(0, ((type << 24) | header.length) >>> 0)
  out.set(header, 4)
  out.set(body, 4 + header.length)
  return out
}
const jsonPayload = (header: string) => payloadOf(0, utf8(header))

const encodeOk = (command: RemotingCommand.RemotingCommand, type: RemotingCommand.SerializeType) =>
  Either.getOrThrow(RemotingCodec.encode(command, type))
const decodeOk = (payload: Uint8Array) => Either.getOrThrow(RemotingCodec.decode(payload))

const leftOf = <A>(result: Either.Either<A, RemotingCodecError>): RemotingCodecError => {
  if (Either.isRight(result)) assert.fail(`expected a RemotingCodecError, got ${JSON.stringify(result.right)}`)
  return result.left
}
const assertFails = <A>(
  result: Either.Either<A, RemotingCodecError>,
  reason: RemotingCodecErrorReason,
  ...inMessage: Array<string>
): RemotingCodecError => {
  const error = leftOf(result)
  assert.strictEqual(error._tag, "RemotingCodecError")
  assert.strictEqual(error.reason, reason, error.message)
  for (const part of inMessage) assert.include(error.message, part)
  return error
}

const plain = (command: RemotingCommand.RemotingCommand) => ({
  code: command.code,
  language: command.language,
  version: command.version,
  opaque: command.opaque,
  flag: command.flag,
  remark: command.remark,
  extFields: command.extFields === undefined ? undefined : Array.from(command.extFields),
  body: Array.from(command.body)
})
const assertSameCommand = (actual: RemotingCommand.RemotingCommand, expected: RemotingCommand.RemotingCommand) =>
  assert.deepStrictEqual(plain(actual), plain(expected))

// ---------------------------------------------------------------------------------------------------------
// arbitraries
// ---------------------------------------------------------------------------------------------------------

const int32 = FastCheck.integer({ min: -0x80000000, max: 0x7fffffff })
const int16 = FastCheck.integer({ min: -0x8000, max: 0x7fff })
// Any code point, so strings are well formed (unpaired surrogates have their own test).
const anyString = FastCheck.string({ unit: "binary", maxLength: 40 })
// Any UTF-16 code unit, unpaired surrogates included.
const anyUnits = FastCheck.string({
  unit: FastCheck.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))
})
const extFieldsArbitrary = FastCheck.option(
  FastCheck.array(FastCheck.tuple(FastCheck.oneof(anyString, FastCheck.constant("")), anyString), { maxLength: 8 })
    .map((entries) => new Map(entries)),
  { nil: undefined }
)
const commandArbitrary = (fields: {
  readonly code: FastCheck.Arbitrary<number>
  readonly language: FastCheck.Arbitrary<number>
  readonly version: FastCheck.Arbitrary<number>
}) =>
  FastCheck.record({
    code: fields.code,
    language: fields.language,
    version: fields.version,
    opaque: int32,
    flag: int32,
    remark: FastCheck.option(FastCheck.oneof(anyString, FastCheck.constant("")), { nil: undefined }),
    extFields: extFieldsArbitrary,
    body: FastCheck.uint8Array({ maxLength: 300 })
  }).map(RemotingCommand.make)

const knownLanguage = FastCheck.constantFrom(...Object.values(LanguageCode))
const jsonCommand = commandArbitrary({ code: int32, language: knownLanguage, version: int32 })
const binaryCommand = commandArbitrary({
  code: int16,
  language: FastCheck.integer({ min: 0, max: 255 }),
  version: int16
})

// What Java reads back from a ROCKETMQ header: zero-length strings are null (see RemotingCodec's module doc).
const asBinaryDecodes = (command: RemotingCommand.RemotingCommand): RemotingCommand.RemotingCommand =>
  RemotingCommand.make({
    ...command,
    remark: command.remark === "" ? undefined : command.remark,
    extFields: command.extFields === undefined || command.extFields.size === 0
      ? undefined
      : new Map(Array.from(command.extFields).filter(([key, value]) => key !== "" && value !== ""))
  })

// fastjson 1.2.83's escaping, written out character by character (checked against Java; see jsonHeader.ts).
const fastjsonQuote = (s: string): string => {
  let out = "\""
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (
      c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff
    ) {
      out += s.slice(i, i + 2)
      i++
    } else if (c >= 0xd800 && c <= 0xdfff) out += "?"
    else if (c === 0x22) out += "\\\""
    else if (c === 0x5c) out += "\\\\"
    else if (c === 0x08) out += "\\b"
    else if (c === 0x09) out += "\\t"
    else if (c === 0x0a) out += "\\n"
    else if (c === 0x0c) out += "\\f"
    else if (c === 0x0d) out += "\\r"
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) {
      out += "\\u" + c.toString(16).toUpperCase().padStart(4, "0")
    } else out += s[i]
  }
  return out + "\""
}
const javaString = (s: string): string =>
  s.replace(/[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]/g, (m) => m.length === 2 ? m : "?")

describe("RemotingCodec", () => {
  describe("round trip", () => {
    it.prop("JSON gives back any command", { command: jsonCommand }, ({ command }) => {
      const payload = encodeOk(command, "JSON")
      assert.strictEqual(payload[0], 0)
      assertSameCommand(decodeOk(payload), command)
    }, { fastCheck: { numRuns: 300 } })

    it.prop("ROCKETMQ gives back any command, zero-length strings read as Java reads them", {
      command: binaryCommand
    }, ({ command }) => {
      const payload = encodeOk(command, "ROCKETMQ")
      assert.strictEqual(payload[0], 1)
      assertSameCommand(decodeOk(payload), asBinaryDecodes(command))
    }, { fastCheck: { numRuns: 300 } })

    it.prop("the header length in the mark is the header's, the body follows it", {
      command: binaryCommand,
      type: FastCheck.constantFrom<RemotingCommand.SerializeType>("JSON", "ROCKETMQ")
    }, ({ command, type }) => {
      const payload = encodeOk(RemotingCommand.make({ ...command, language: 0 }), type)
      const headerLength = new DataView(payload.buffer, payload.byteOffset).getUint32(0) & 0xffffff
      assert.strictEqual(payload.length, 4 + headerLength + command.body.length)
      assert.deepStrictEqual(Array.from(payload.subarray(4 + headerLength)), Array.from(command.body))
    })

    it.prop("strings with unpaired surrogates come back as Java sends them (`?`)", {
      remark: anyUnits,
      key: anyUnits,
      value: anyUnits
    }, ({ key, remark, value }) => {
      const command = RemotingCommand.request(1, { remark, extFields: new Map([[key, value]]) })
      const expected = RemotingCommand.make({
        ...command,
        remark: javaString(remark),
        extFields: new Map([[javaString(key), javaString(value)]])
      })
      assertSameCommand(decodeOk(encodeOk(command, "JSON")), expected)
      assertSameCommand(decodeOk(encodeOk(command, "ROCKETMQ")), asBinaryDecodes(expected))
    })

    it.prop("JSON strings are escaped as fastjson escapes them, and the header is standard JSON", {
      remark: anyUnits,
      key: anyUnits,
      value: anyUnits
    }, ({ key, remark, value }) => {
      const command = RemotingCommand.make({
        code: 10,
        language: 0,
        version: 0,
        opaque: 1,
        flag: 0,
        remark,
        extFields: new Map([[key, value]])
      })
      const header = text(encodeOk(command, "JSON").subarray(4))
      assert.strictEqual(
        header,
        `{"code":10,"extFields":{${fastjsonQuote(key)}:${fastjsonQuote(value)}},"flag":0,"language":"JAVA",` +
          `"opaque":1,"remark":${fastjsonQuote(remark)},"serializeTypeCurrentRPC":"JSON","version":0}`
      )
      const parsed = JSON.parse(header)
      assert.strictEqual(parsed.remark, javaString(remark))
    })

    it("keeps the extFields order of the map", () => {
      const extFields = new Map([["z", "1"], ["a", "2"], ["m", "3"], ["0", "4"]])
      const command = RemotingCommand.request(10, { extFields })
      for (const type of ["JSON", "ROCKETMQ"] as const) {
        assert.deepStrictEqual(Array.from(decodeOk(encodeOk(command, type)).extFields!.keys()), ["z", "a", "m", "0"])
      }
      assert.include(text(encodeOk(command, "JSON")), `"extFields":{"z":"1","a":"2","m":"3","0":"4"}`)
    })

    it("decodes the body as a view of the payload", () => {
      const payload = encodeOk(RemotingCommand.request(10, { body: new Uint8Array([1, 2, 3]) }), "ROCKETMQ")
      const command = decodeOk(payload)
      assert.strictEqual(command.body.buffer, payload.buffer)
      assert.deepStrictEqual(Array.from(command.body), [1, 2, 3])
    })
  })

  describe("JSON vectors", () => {
    // The 4.x response of REMOTING.md, byte for byte after the 8-byte prefix.
    const sample =
      `{"code":19,"extFields":{"suggestWhichBrokerId":"0","nextBeginOffset":"0","maxOffset":"0","minOffset":"0"},` +
      `"flag":1,"language":"JAVA","opaque":2723,"remark":"NO_MESSAGE_IN_QUEUE","serializeTypeCurrentRPC":"JSON",` +
      `"version":252}`
    const sampleCommand = RemotingCommand.make({
      code: ResponseCode.PULL_NOT_FOUND,
      language: LanguageCode.JAVA,
      version: 252,
      opaque: 2723,
      flag: 1,
      remark: "NO_MESSAGE_IN_QUEUE",
      extFields: new Map([["suggestWhichBrokerId", "0"], ["nextBeginOffset", "0"], ["maxOffset", "0"], [
        "minOffset",
        "0"
      ]])
    })

    it("encodes the REMOTING.md 4.x sample response exactly", () => {
      const frame = Either.getOrThrow(RemotingCodec.encodeFrame(sampleCommand, "JSON"))
      const view = new DataView(frame.buffer, frame.byteOffset)
      const headerLength = utf8(sample).length
      assert.strictEqual(view.getUint32(0), 4 + headerLength)
      assert.strictEqual(view.getUint32(4), headerLength) // serialize type 0
      assert.strictEqual(text(frame.subarray(8)), sample)
      assert.strictEqual(hex(encodeOk(sampleCommand, "JSON")), hex(frame.subarray(4)))
    })

    it("decodes the REMOTING.md 4.x sample response", () => {
      const command = decodeOk(jsonPayload(sample))
      assertSameCommand(command, sampleCommand)
      assert.isTrue(RemotingCommand.isResponse(command))
    })

    // Java 5.3.3's `RemotingCommand.encode()` of code 310, NODE_JS, version 479, opaque 0x01020304, oneway,
    // remark "é", extFields a=1, bb=xyz (a LinkedHashMap), body de ad.
    const vectorCommand = RemotingCommand.make({
      code: RequestCode.SEND_MESSAGE_V2,
      language: LanguageCode.NODE_JS,
      version: 479,
      opaque: 0x01020304,
      flag: RemotingCommand.ONEWAY_FLAG,
      remark: "é",
      extFields: new Map([["a", "1"], ["bb", "xyz"]]),
      body: new Uint8Array([0xde, 0xad])
    })

    it("encodes a JSON header as Java does, with language by name and body after it", () => {
      const frame = Either.getOrThrow(RemotingCodec.encodeFrame(vectorCommand, "JSON"))
      assert.strictEqual(
        hex(frame),
        "000000a00000009a" +
          hex(utf8(
            `{"code":310,"extFields":{"a":"1","bb":"xyz"},"flag":2,"language":"NODE_JS","opaque":16909060,` +
              `"remark":"é","serializeTypeCurrentRPC":"JSON","version":479}`
          )) + "dead"
      )
    })

    it("encodes Java's escapes: control characters, quotes, backslash, raw slash, U+2028, raw non-ASCII", () => {
      // Java: key "k\u0001\"\\/\u2028é\u007f", value "v\u0001\u0002\"\\/\u2028é".
      const command = RemotingCommand.make({
        code: 10,
        language: 0,
        version: 0,
        opaque: 7,
        flag: 0,
        extFields: new Map([["k\u0001\"\\/\u2028é\u007f", "v\u0001\u0002\"\\/\u2028é"]])
      })
      assert.strictEqual(
        hex(Either.getOrThrow(RemotingCodec.encodeFrame(command, "JSON"))),
        "000000aa000000a67b22636f6465223a31302c226578744669656c6473223a7b226b5c75303030315c225c5c2f5c7532303238c3a9" +
          "5c7530303746223a22765c75303030315c75303030325c225c5c2f5c7532303238c3a9227d2c22666c6167223a302c226c616e67" +
          "75616765223a224a415641222c226f7061717565223a372c2273657269616c697a655479706543757272656e74525043223a224a" +
          "534f4e222c2276657273696f6e223a307d"
      )
    })

    it("writes an empty remark and empty extFields as Java does, and no remark / extFields when absent", () => {
      const empty = RemotingCommand.make({
        code: 0,
        language: 0,
        version: 0,
        opaque: -5,
        flag: 1,
        remark: "",
        extFields: new Map()
      })
      assert.strictEqual(
        text(encodeOk(empty, "JSON").subarray(4)),
        `{"code":0,"extFields":{},"flag":1,"language":"JAVA","opaque":-5,"remark":"","serializeTypeCurrentRPC":"JSON","version":0}`
      )
      const absent = RemotingCommand.make({ code: 0, language: 7, version: 0, opaque: 0, flag: 0 })
      assert.strictEqual(
        text(encodeOk(absent, "JSON").subarray(4)),
        `{"code":0,"flag":0,"language":"OTHER","opaque":0,"serializeTypeCurrentRPC":"JSON","version":0}`
      )
      assertSameCommand(decodeOk(encodeOk(empty, "JSON")), empty)
    })

    it("writes unpaired surrogates as `?`, as Java does", () => {
      const command = RemotingCommand.make({
        code: 0,
        language: 0,
        version: 0,
        opaque: 1,
        flag: 1,
        remark: "a\ud800b\udc00c"
      })
      assert.include(text(encodeOk(command, "JSON")), `"remark":"a?b?c"`)
    })

    it("reads keys in any order, without remark, extFields or serializeTypeCurrentRPC, ignoring unknown keys", () => {
      const command = decodeOk(
        jsonPayload(`{"version":1,"opaque":9,"flag":1,"code":17,"language":"GO","future":[1,{"x":2}]}`)
      )
      assertSameCommand(
        command,
        RemotingCommand.make({ code: 17, language: LanguageCode.GO, version: 1, opaque: 9, flag: 1 })
      )
      assertSameCommand(
        decodeOk(jsonPayload(`{"code":17}`)),
        RemotingCommand.make({ code: 17, language: LanguageCode.JAVA, version: 0, opaque: 0, flag: 0 })
      )
    })

    it("reads language names ignoring case, unknown names and null as OTHER, known numbers as codes", () => {
      const language = (value: string) => decodeOk(jsonPayload(`{"code":1,"language":${value}}`)).language
      assert.strictEqual(language(`"node_js"`), LanguageCode.NODE_JS)
      assert.strictEqual(language(`"NODE_JS"`), LanguageCode.NODE_JS)
      assert.strictEqual(language(`"KOTLIN"`), LanguageCode.OTHER)
      assert.strictEqual(language(`null`), LanguageCode.OTHER)
      assert.strictEqual(language(`3`), LanguageCode.PYTHON)
    })

    it("stringifies extFields numbers and booleans as fastjson does, drops null values", () => {
      const command = decodeOk(jsonPayload(
        `{"code":10,"remark":123,"extFields":{"a":12345678901234567890,"b":-0,"c":1.50,"d":false,"e":null,"f":"s"}}`
      ))
      assert.strictEqual(command.remark, "123")
      assert.deepStrictEqual(Array.from(command.extFields!), [
        ["a", "12345678901234567890"],
        ["b", "-0"],
        ["c", "1.50"],
        ["d", "false"],
        ["f", "s"]
      ])
    })

    it("reads integer strings for the int fields, null remark and extFields as absent", () => {
      const command = decodeOk(jsonPayload(`{"code":"10","opaque":"-7","remark":null,"extFields":null}`))
      assertSameCommand(command, RemotingCommand.make({ code: 10, language: 0, version: 0, opaque: -7, flag: 0 }))
    })

    it("reads fastjson's bare keys when JSON.parse refuses the header", () => {
      const command = decodeOk(jsonPayload(`{code:10,opaque:1,"extFields":{1:"x"},"remark":2}`))
      assert.strictEqual(command.code, 10)
      assert.strictEqual(command.remark, "2")
      assert.deepStrictEqual(Array.from(command.extFields!), [["1", "x"]])
    })

    it("keeps an own __proto__ extField as a field", () => {
      const command = decodeOk(jsonPayload(`{"code":10,"extFields":{"__proto__":"x","a":"b"}}`))
      assert.deepStrictEqual(Array.from(command.extFields!), [["__proto__", "x"], ["a", "b"]])
    })

    it("accepts a code above 32767", () => {
      const pop = RemotingCommand.request(RequestCode.POP_MESSAGE, { extFields: { topic: "t" } })
      const back = decodeOk(encodeOk(pop, "JSON"))
      assert.strictEqual(back.code, 200050)
      assert.include(text(encodeOk(pop, "JSON")), `{"code":200050,`)
    })
  })

  describe("ROCKETMQ vectors", () => {
    // Hand-computed, and equal to Java 5.3.3's `RemotingCommand.encode()` of the same command.
    const vector = `
      00000030                    # frame length 48
      0100002a                    # mark: ROCKETMQ, header 42
      0136 0d 01df                # code 310, NODE_JS, version 479
      01020304 00000002           # opaque, flag (oneway)
      00000002 c3a9               # remark "é"
      00000013                    # extFields, 19 bytes
      0001 61 00000001 31         # a = 1
      0002 6262 00000003 78797a   # bb = xyz
      dead                        # body`
    const vectorBytes = fromHex(vector.replace(/#.*$/gm, ""))
    const command = RemotingCommand.make({
      code: RequestCode.SEND_MESSAGE_V2,
      language: LanguageCode.NODE_JS,
      version: 479,
      opaque: 0x01020304,
      flag: RemotingCommand.ONEWAY_FLAG,
      remark: "é",
      extFields: new Map([["a", "1"], ["bb", "xyz"]]),
      body: new Uint8Array([0xde, 0xad])
    })

    it("encodes the hand-computed vector", () => {
      assert.strictEqual(vectorBytes.length, 52)
      assert.strictEqual(hex(Either.getOrThrow(RemotingCodec.encodeFrame(command, "ROCKETMQ"))), hex(vectorBytes))
      assert.strictEqual(hex(encodeOk(command, "ROCKETMQ")), hex(vectorBytes.subarray(4)))
    })

    it("decodes the hand-computed vector", () => {
      const back = Either.getOrThrow(RemotingCodec.decodeFrame(vectorBytes))
      assertSameCommand(back, command)
      assert.isTrue(RemotingCommand.isOneway(back))
    })

    it("writes an empty remark as length 0 and empty keys / values as Java does; reads them as Java does", () => {
      // Java 5.3.3: HashMap {"": "x", "y": "", "z": "1"}, opaque 3, code 10; decoded by Java as {null=x, y=null, z=1}.
      const java = fromHex(
        "0000002f0100002b000a00000000000003000000000000000000000016000000000001780001790000000000017a0000000131"
      )
      const withEmpties = RemotingCommand.make({
        code: 10,
        language: 0,
        version: 0,
        opaque: 3,
        flag: 0,
        remark: "",
        extFields: new Map([["", "x"], ["y", ""], ["z", "1"]])
      })
      assert.strictEqual(hex(Either.getOrThrow(RemotingCodec.encodeFrame(withEmpties, "ROCKETMQ"))), hex(java))
      const back = Either.getOrThrow(RemotingCodec.decodeFrame(java))
      assert.isUndefined(back.remark)
      assert.deepStrictEqual(Array.from(back.extFields!), [["z", "1"]])
    })

    it("reads an extFields of only empty entries as an empty map, and no extFields as undefined", () => {
      const onlyEmpty = RemotingCommand.request(10, { extFields: new Map([["k", ""]]) })
      assert.deepStrictEqual(Array.from(decodeOk(encodeOk(onlyEmpty, "ROCKETMQ")).extFields!), [])
      const none = RemotingCommand.request(10, { extFields: new Map() })
      assert.isUndefined(decodeOk(encodeOk(none, "ROCKETMQ")).extFields)
    })

    it("writes unpaired surrogates as `?`, as Java does", () => {
      const command = RemotingCommand.make({
        code: 0,
        language: 0,
        version: 0,
        opaque: 1,
        flag: 1,
        remark: "a\ud800b\udc00c"
      })
      assert.strictEqual(
        hex(Either.getOrThrow(RemotingCodec.encodeFrame(command, "ROCKETMQ"))),
        "0000001e0100001a0000000000000000010000000100000005613f623f6300000000"
      )
    })

    it("writes negative opaques and codes as two's complement", () => {
      const command = RemotingCommand.make({ code: -2, language: 0, version: -1, opaque: -5, flag: 1 })
      assert.strictEqual(hex(encodeOk(command, "ROCKETMQ")), "01000015fffe00fffffffffffb000000010000000000000000")
      assertSameCommand(decodeOk(encodeOk(command, "ROCKETMQ")), command)
    })
  })

  describe("serializeTypeOf", () => {
    it("reads the type from the mark", () => {
      const command = RemotingCommand.request(10)
      assert.deepStrictEqual(RemotingCodec.serializeTypeOf(encodeOk(command, "JSON")), Either.right("JSON"))
      assert.deepStrictEqual(RemotingCodec.serializeTypeOf(encodeOk(command, "ROCKETMQ")), Either.right("ROCKETMQ"))
      assertFails(RemotingCodec.serializeTypeOf(new Uint8Array([2, 0, 0, 0])), "UnknownSerializeType", "2")
      assertFails(RemotingCodec.serializeTypeOf(new Uint8Array([0])), "PayloadTooShort")
    })
  })

  describe("bad input", () => {
    it("a payload shorter than the mark", () => {
      for (const length of [0, 1, 3]) {
        const error = assertFails(RemotingCodec.decode(new Uint8Array(length)), "PayloadTooShort", `${length} bytes`)
        assert.strictEqual(error.available, length)
      }
    })

    it("a header length past the payload", () => {
      const payload = fromHex("00000010 7b7d0000")
      const error = assertFails(RemotingCodec.decode(payload), "HeaderLengthOutOfRange", "16", "4 bytes")
      assert.strictEqual(error.value, 16)
      assert.strictEqual(error.available, 4)
      assertFails(RemotingCodec.decode(fromHex("01ffffff")), "HeaderLengthOutOfRange", "16777215")
    })

    it("an unknown serialize type, with its value", () => {
      const error = assertFails(RemotingCodec.decode(fromHex("02000000")), "UnknownSerializeType", "type 2")
      assert.strictEqual(error.value, 2)
      // An HTTP request on the port: "GET " reads as type 0x47.
      assertFails(RemotingCodec.decode(utf8("GET / HTTP/1.1\r\n")), "UnknownSerializeType", "71", "0x47455420")
    })

    it("malformed JSON, with position and snippet", () => {
      const error = assertFails(RemotingCodec.decode(jsonPayload(`{"code":10,,}`)), "MalformedJson", "position 11")
      assert.strictEqual(error.position, 11)
      assert.include(error.detail, `{"code":10,⟨here⟩,}`)
      assertFails(RemotingCodec.decode(jsonPayload(``)), "MalformedJson", "position 0")
      assertFails(RemotingCodec.decode(jsonPayload(`{"code":10`)), "MalformedJson", "position 10")
      assertFails(
        RemotingCodec.decode(jsonPayload(`{"code":10} x`)),
        "MalformedJson",
        "position 12",
        "end of the input"
      )
    })

    it("a JSON header that is not an object", () => {
      for (const header of [`[1]`, `"x"`, `12`, `null`]) {
        assertFails(RemotingCodec.decode(jsonPayload(header)), "InvalidJsonHeader", "must be an object")
      }
      assertFails(RemotingCodec.decode(jsonPayload(`[1]`)), "InvalidJsonHeader", "got an array")
    })

    it("a JSON header without code", () => {
      const error = assertFails(
        RemotingCodec.decode(jsonPayload(`{"flag":1,"opaque":2}`)),
        "InvalidJsonHeader",
        "code is missing"
      )
      assert.strictEqual(error.field, "code")
    })

    it("JSON header fields of the wrong type or range", () => {
      const cases: ReadonlyArray<readonly [string, string, string]> = [
        [`{"code":"ten"}`, "code", `"ten"`],
        [`{"code":1.5}`, "code", "1.5"],
        [`{"code":2147483648}`, "code", "2147483648"],
        [`{"code":1,"opaque":true}`, "opaque", "true"],
        [`{"code":1,"flag":[]}`, "flag", "an array"],
        [`{"code":1,"version":{}}`, "version", "an object"],
        [`{"code":1,"language":99}`, "language", "99"],
        [`{"code":1,"remark":{}}`, "remark", "an object"],
        [`{"code":1,"extFields":[]}`, "extFields", "an array"],
        [`{"code":1,"extFields":"a=b"}`, "extFields", `"a=b"`],
        [`{"code":1,"extFields":{"a":{"x":1}}}`, `extFields value of "a"`, "an object"]
      ]
      for (const [header, field, seen] of cases) {
        const error = assertFails(RemotingCodec.decode(jsonPayload(header)), "InvalidJsonHeader", field, `got ${seen}`)
        assert.strictEqual(error.field, field)
      }
    })

    it("a JSON header that is not UTF-8", () => {
      assertFails(RemotingCodec.decode(payloadOf(0, new Uint8Array([0x7b, 0xff, 0x7d]))), "InvalidUtf8", "JSON header")
    })

    describe("truncated ROCKETMQ headers name the field, the bytes needed and left", () => {
      const full = encodeOk(
        RemotingCommand.make({
          code: 1,
          language: 0,
          version: 0,
          opaque: 0,
          flag: 0,
          remark: "ab",
          extFields: new Map([["k", "vv"]])
        }),
        "ROCKETMQ"
      ).subarray(4)
      // The header: 21 fixed bytes + 2 remark + 9 ext = 32. Cut it at each length and name what was cut.
      const expected: ReadonlyArray<readonly [number, string, number, number]> = [
        [0, "code", 2, 0],
        [1, "code", 2, 1],
        [2, "language", 1, 0],
        [4, "version", 2, 1],
        [5, "opaque", 4, 0],
        [12, "flag", 4, 3],
        [15, "remark length", 4, 2],
        [18, "remark", 2, 1],
        [20, "extFields length", 4, 1],
        [22, "extFields length", 4, 3],
        [24, "extFields", 9, 1],
        [31, "extFields", 9, 8]
      ]
      for (const [length, field, needed, available] of expected) {
        it(`cut at ${length} bytes: ${field}`, () => {
          const error = assertFails(
            RemotingCodec.decode(payloadOf(1, full.subarray(0, length))),
            "TruncatedBinaryHeader",
            field,
            `${needed} bytes needed, ${available} left`
          )
          assert.strictEqual(error.field, field)
          assert.strictEqual(error.needed, needed)
          assert.strictEqual(error.available, available)
        })
      }

      it("entries that overrun extFields", () => {
        const fixed = "0001 00 0000 00000000 00000000 00000000"
        const cases: ReadonlyArray<readonly [string, string]> = [
          ["00000001 00", "extFields key length"],
          ["00000003 0005 61", "extFields key"],
          ["00000005 0001 61 0000", "extFields value length"],
          ["00000009 0001 61 00000009 7676", "extFields value"]
        ]
        for (const [ext, field] of cases) {
          const error = assertFails(RemotingCodec.decode(payloadOf(1, fromHex(fixed + ext))), "TruncatedBinaryHeader")
          assert.strictEqual(error.field, field)
        }
      })
    })

    it("negative lengths and trailing bytes in a ROCKETMQ header", () => {
      const fixed = "0001 00 0000 00000000 00000000"
      assertFails(
        RemotingCodec.decode(payloadOf(1, fromHex(fixed + "ffffffff 00000000"))),
        "InvalidBinaryHeader",
        "negative length -1"
      )
      assertFails(
        RemotingCodec.decode(payloadOf(1, fromHex(fixed + "00000000 80000000"))),
        "InvalidBinaryHeader",
        "extFields length"
      )
      assertFails(
        RemotingCodec.decode(payloadOf(1, fromHex(fixed + "00000000 00000003 ffff00"))),
        "InvalidBinaryHeader",
        "key length"
      )
      assertFails(
        RemotingCodec.decode(payloadOf(1, fromHex(fixed + "00000000 00000007 0001 61 fffffffe"))),
        "InvalidBinaryHeader",
        "value length"
      )
      const trailing = assertFails(
        RemotingCodec.decode(payloadOf(1, fromHex(fixed + "00000000 00000000 0000"))),
        "InvalidBinaryHeader",
        "2 bytes follow the last field"
      )
      assert.strictEqual(trailing.value, 2)
    })

    it("ROCKETMQ strings that are not UTF-8", () => {
      const fixed = "0001 00 0000 00000000 00000000"
      assertFails(RemotingCodec.decode(payloadOf(1, fromHex(fixed + "00000001 ff 00000000"))), "InvalidUtf8", "remark")
      assertFails(
        RemotingCodec.decode(payloadOf(1, fromHex(fixed + "00000000 00000008 0001 c3 00000001 61"))),
        "InvalidUtf8",
        "extFields key"
      )
      assertFails(
        RemotingCodec.decode(payloadOf(1, fromHex(fixed + "00000000 00000008 0001 61 00000001 80"))),
        "InvalidUtf8",
        "extFields value"
      )
    })

    it("a frame whose length prefix does not match", () => {
      assertFails(RemotingCodec.decodeFrame(fromHex("00000009 00000000 7b7d")), "FrameLengthMismatch", "9", "6")
      assertFails(RemotingCodec.decodeFrame(fromHex("0000")), "PayloadTooShort")
    })
  })

  describe("refused on encode, before anything is produced", () => {
    it("a code above 32767 in ROCKETMQ, accepted in JSON", () => {
      for (const code of [RequestCode.POP_MESSAGE, RequestCode.ACK_MESSAGE, 32768, -32769]) {
        const command = RemotingCommand.request(code)
        const error = assertFails(
          RemotingCodec.encode(command, "ROCKETMQ"),
          "ValueOutOfRange",
          `code ${code}`,
          "int16",
          "JSON"
        )
        assert.strictEqual(error.field, "code")
        assert.strictEqual(error.value, code)
        assert.strictEqual(decodeOk(encodeOk(command, "JSON")).code, code)
      }
      assert.strictEqual(decodeOk(encodeOk(RemotingCommand.request(32767), "ROCKETMQ")).code, 32767)
      assert.strictEqual(decodeOk(encodeOk(RemotingCommand.request(-32768), "ROCKETMQ")).code, -32768)
    })

    it("other numbers that do not fit their field", () => {
      const base = { code: 1, language: 0, version: 0, opaque: 0, flag: 0 }
      const cases: ReadonlyArray<readonly [Partial<typeof base>, RemotingCommand.SerializeType, string]> = [
        [{ version: 40000 }, "ROCKETMQ", "version"],
        [{ language: 256 }, "ROCKETMQ", "language"],
        [{ language: -1 }, "ROCKETMQ", "language"],
        [{ opaque: 2 ** 31 }, "ROCKETMQ", "opaque"],
        [{ opaque: 2 ** 31 }, "JSON", "opaque"],
        [{ flag: 1.5 }, "JSON", "flag"],
        [{ code: 2 ** 31 }, "JSON", "code"],
        [{ version: Number.NaN }, "JSON", "version"]
      ]
      for (const [fields, type, field] of cases) {
        const error = assertFails(
          RemotingCodec.encode(RemotingCommand.make({ ...base, ...fields }), type),
          "ValueOutOfRange"
        )
        assert.strictEqual(error.field, field)
      }
    })

    it("a language with no name in JSON (fine in ROCKETMQ)", () => {
      const command = RemotingCommand.make({ code: 1, language: 99, version: 0, opaque: 0, flag: 0 })
      assertFails(RemotingCodec.encode(command, "JSON"), "UnknownLanguage", "99")
      assert.strictEqual(decodeOk(encodeOk(command, "ROCKETMQ")).language, 99)
    })

    it("an extFields key longer than an int16 length in ROCKETMQ", () => {
      const command = RemotingCommand.request(1, { extFields: new Map([["k".repeat(32768), "v"]]) })
      assertFails(RemotingCodec.encode(command, "ROCKETMQ"), "ValueOutOfRange", "extFields key length 32768")
      const longest = RemotingCommand.request(1, { extFields: new Map([["é".repeat(16383) + "k", "v"]]) })
      assert.strictEqual(decodeOk(encodeOk(longest, "ROCKETMQ")).extFields?.size, 1)
    })

    it("a header over 16 MiB - 1", () => {
      const remark = "a".repeat(0xffffff)
      for (const type of ["JSON", "ROCKETMQ"] as const) {
        assertFails(RemotingCodec.encode(RemotingCommand.request(1, { remark }), type), "HeaderTooLarge", "16777215")
      }
    })
  })
})
