import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { defaultLanguage, defaultVersion, LanguageCode, RequestCode, ResponseCode } from "../src/RemotingCode.js"
import * as RemotingCommand from "../src/RemotingCommand.js"

describe("RemotingCommand", () => {
  describe("request", () => {
    it("has the defaults: no flag bits, opaque 0, default language and version, empty body", () => {
      const command = RemotingCommand.request(RequestCode.HEART_BEAT)
      assert.deepStrictEqual({ ...command, body: Array.from(command.body) }, {
        code: 34,
        language: defaultLanguage,
        version: defaultVersion,
        opaque: 0,
        flag: 0,
        remark: undefined,
        extFields: undefined,
        body: []
      })
      assert.isFalse(RemotingCommand.isResponse(command))
      assert.isFalse(RemotingCommand.isOneway(command))
    })

    it("takes every option", () => {
      const body = new Uint8Array([1, 2])
      const command = RemotingCommand.request(RequestCode.SEND_MESSAGE_V2, {
        body,
        remark: "r",
        language: LanguageCode.NODE_JS,
        version: 401,
        oneway: true,
        opaque: 12
      })
      assert.strictEqual(command.body, body)
      assert.strictEqual(command.remark, "r")
      assert.strictEqual(command.language, 13)
      assert.strictEqual(command.version, 401)
      assert.strictEqual(command.opaque, 12)
      assert.strictEqual(command.flag, RemotingCommand.ONEWAY_FLAG)
      assert.isTrue(RemotingCommand.isOneway(command))
    })

    it("stringifies extFields values as Java does and leaves undefined ones out", () => {
      const command = RemotingCommand.request(RequestCode.PULL_MESSAGE, {
        extFields: {
          topic: "t",
          queueId: 3,
          order: false,
          unitMode: true,
          queueOffset: 9007199254740993n,
          skip: undefined
        }
      })
      assert.deepStrictEqual(Array.from(command.extFields!), [
        ["topic", "t"],
        ["queueId", "3"],
        ["order", "false"],
        ["unitMode", "true"],
        ["queueOffset", "9007199254740993"]
      ])
    })

    it("keeps a map's order; a record lists integer-like keys first", () => {
      const fromMap = RemotingCommand.request(1, {
        extFields: new Map<string, string | number>([["b", 1], ["0", "x"]])
      })
      assert.deepStrictEqual(Array.from(fromMap.extFields!.keys()), ["b", "0"])
      const fromRecord = RemotingCommand.request(1, { extFields: { b: 1, "0": "x" } })
      assert.deepStrictEqual(Array.from(fromRecord.extFields!.keys()), ["0", "b"])
    })

    it("copies the extFields it is given", () => {
      const input = new Map([["a", "1"]])
      const command = RemotingCommand.request(1, { extFields: input })
      input.set("b", "2")
      assert.strictEqual(command.extFields!.size, 1)
    })
  })

  describe("response", () => {
    it("takes the request's opaque and sets the response bit only", () => {
      const request = RemotingCommand.request(RequestCode.GET_CONSUMER_RUNNING_INFO, { opaque: -42, oneway: true })
      const response = RemotingCommand.response(request, ResponseCode.SUCCESS, {
        extFields: { a: 1 },
        body: new Uint8Array([7])
      })
      assert.strictEqual(response.opaque, -42)
      assert.strictEqual(response.flag, RemotingCommand.RESPONSE_FLAG)
      assert.strictEqual(response.code, 0)
      assert.isTrue(RemotingCommand.isResponse(response))
      assert.isFalse(RemotingCommand.isOneway(response))
      assert.deepStrictEqual(Array.from(response.extFields!), [["a", "1"]])
    })
  })

  describe("combinators", () => {
    it.prop("withOpaque and markOneway change only their field, and return copies", {
      opaque: FastCheck.integer({ min: -0x80000000, max: 0x7fffffff }),
      flag: FastCheck.integer({ min: 0, max: 0xff })
    }, ({ flag, opaque }) => {
      const command = RemotingCommand.make({ code: 1, language: 0, version: 0, opaque: 5, flag })
      const reopaqued = RemotingCommand.withOpaque(command, opaque)
      assert.deepStrictEqual(reopaqued, { ...command, opaque })
      assert.strictEqual(command.opaque, 5)
      const oneway = RemotingCommand.markOneway(command)
      assert.strictEqual(oneway.flag, flag | 2)
      assert.isTrue(RemotingCommand.isOneway(oneway))
      assert.strictEqual(RemotingCommand.isResponse(oneway), (flag & 1) === 1)
      assert.strictEqual(command.flag, flag)
    })
  })
})
