import { assert, describe, it } from "@effect/vitest"
import * as RemotingError from "../src/RemotingError.js"

describe("RemotingError", () => {
  it("RemotingError names the request, the response code and the remark", () => {
    const error = new RemotingError.RemotingError({
      code: 17,
      remark: "No topic route info in name server for the topic: t",
      opaque: 4,
      requestCode: 105
    })
    assert.strictEqual(error._tag, "RemotingError")
    assert.strictEqual(
      error.message,
      "request GET_ROUTEINFO_BY_TOPIC (code 105, opaque 4) failed with TOPIC_NOT_EXIST (code 17): " +
        "No topic route info in name server for the topic: t"
    )
    const unnamed = new RemotingError.RemotingError({ code: 999, remark: undefined, opaque: 1, requestCode: 4242 })
    assert.strictEqual(unnamed.message, "request (code 4242, opaque 1) failed with (code 999)")
  })

  it("RemotingCodecError renders each reason readably", () => {
    const messages: ReadonlyArray<
      readonly [ConstructorParameters<typeof RemotingError.RemotingCodecError>[0], string]
    > = [
      [{ reason: "PayloadTooShort", available: 2 }, "payload of 2 bytes is shorter than the 4-byte header mark"],
      [{ reason: "FrameLengthMismatch", value: 9, available: 6 }, "frame length prefix says 9 bytes but 6 follow it"],
      [
        { reason: "HeaderLengthOutOfRange", value: 16, available: 4 },
        "header length 16 exceeds the 4 bytes after the header mark"
      ],
      [
        { reason: "UnknownSerializeType", value: 2, detail: "header mark 0x02000000" },
        "unknown serialize type 2 in the header mark (0 = JSON, 1 = ROCKETMQ): header mark 0x02000000"
      ],
      [
        { reason: "TruncatedBinaryHeader", serializeType: "ROCKETMQ", field: "remark", needed: 5, available: 2 },
        "ROCKETMQ header ends inside remark: 5 bytes needed, 2 left"
      ],
      [
        { reason: "ValueOutOfRange", serializeType: "ROCKETMQ", field: "code", value: 200050, detail: "an int16" },
        "code 200050 does not fit the ROCKETMQ header: an int16"
      ],
      [
        { reason: "UnknownLanguage", serializeType: "JSON", value: 99 },
        "language code 99 has no name to write in a JSON header"
      ],
      [
        { reason: "InvalidJsonHeader", serializeType: "JSON", field: "code", detail: "must be an integer", value: "x" },
        `JSON header code must be an integer, got "x"`
      ],
      [
        { reason: "InvalidUtf8", serializeType: "ROCKETMQ", field: "remark" },
        "ROCKETMQ header remark is not valid UTF-8"
      ]
    ]
    for (const [fields, message] of messages) {
      const error = new RemotingError.RemotingCodecError(fields)
      assert.strictEqual(error._tag, "RemotingCodecError")
      assert.strictEqual(error.message, message)
      assert.strictEqual(error[RemotingError.TypeId], RemotingError.TypeId)
    }
  })
})
