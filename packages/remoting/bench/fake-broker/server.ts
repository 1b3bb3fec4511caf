/**
 * A fake broker for the client-only bench: a plain `node:net` server that answers every request at once with
 * SUCCESS, so that what a client measured against it costs is the client's own. Run by `send.bench.ts` in a
 * child process of its own (`node --import tsx bench/fake-broker/server.ts [port]`); it writes `PORT <n>` when it
 * listens and exits on SIGTERM or when its stdin closes.
 *
 * Each answer is what a broker says to SEND_MESSAGE_V2 (code 0, flag 1, the request's opaque, `msgId`,
 * `queueId`, `queueOffset`, `MSG_REGION`, `TRACE_ON`), in the request's serialize type: ROCKETMQ answers are
 * one precomputed frame with the opaque patched in; JSON answers are two precomputed halves around the
 * opaque's digits (Java's fastjson layout, keys in alphabetical order). The opaque and flag of a JSON request
 * are read by a scan of its top-level keys, so that an extFields entry named `opaque` cannot fool it. Oneway
 * requests get no answer; frames with the response bit set (answers to the server) are ignored. The header is
 * parsed here by hand, not by `RemotingCodec`: the peer a client is measured against should not share its
 * code.
 */
import * as Net from "node:net"
import { FrameReader, headerMark } from "./frames.js"

const RESPONSE_FLAG = 1
const ONEWAY_FLAG = 2
const JAVA = 0
/** `MQVersion` ordinal of 5.3.3. */
const VERSION = 479

const extFields: ReadonlyArray<readonly [string, string]> = [
  ["MSG_REGION", "DefaultRegion"],
  ["TRACE_ON", "true"],
  ["msgId", "7F00000100002A9F0000000000000000"],
  ["queueId", "0"],
  ["queueOffset", "0"]
]

// ---- ROCKETMQ: one frame, the opaque patched at a fixed offset ---------------------------------------------

const binaryTemplate = (() => {
  const entries = extFields.map(([key, value]) => [Buffer.from(key), Buffer.from(value)] as const)
  const extLength = entries.reduce((sum, [key, value]) => sum + 2 + key.length + 4 + value.length, 0)
  // code 2, language 1, version 2, opaque 4, flag 4, remark length 4, ext length 4, then the entries.
  const headerLength = 21 + extLength
  const frame = Buffer.alloc(8 + headerLength)
  frame.writeUInt32BE(4 + headerLength, 0)
  frame.writeUInt32BE(((1 << 24) | headerLength) >>> 0, 4)
  let at = 8
  at = frame.writeInt16BE(0, at)
  at = frame.writeUInt8(JAVA, at)
  at = frame.writeInt16BE(VERSION, at)
  at = frame.writeInt32BE(0, at)
  at = frame.writeInt32BE(RESPONSE_FLAG, at)
  at = frame.writeInt32BE(0, at)
  at = frame.writeInt32BE(extLength, at)
  for (const [key, value] of entries) {
    at = frame.writeInt16BE(key.length, at)
    at += key.copy(frame, at)
    at = frame.writeInt32BE(value.length, at)
    at += value.copy(frame, at)
  }
  return frame
})()
/** Frame length 4, mark 4, code 2, language 1, version 2. */
const BINARY_OPAQUE_AT = 13

const binaryAnswer = (opaque: number): Buffer => {
  const frame = Buffer.from(binaryTemplate)
  frame.writeInt32BE(opaque, BINARY_OPAQUE_AT)
  return frame
}

// ---- JSON: the header in two halves around the opaque -----------------------------------------------------

const jsonBefore = Buffer.from(
  `{"code":0,"extFields":{${
    extFields.map(([key, value]) => `"${key}":"${value}"`).join(",")
  }},"flag":${RESPONSE_FLAG},` +
    `"language":"JAVA","opaque":`
)
const jsonAfter = Buffer.from(`,"serializeTypeCurrentRPC":"JSON","version":${VERSION}}`)

const jsonAnswer = (opaque: number): Buffer => {
  const digits = Buffer.from(String(opaque))
  const headerLength = jsonBefore.length + digits.length + jsonAfter.length
  const frame = Buffer.allocUnsafe(8 + headerLength)
  frame.writeUInt32BE(4 + headerLength, 0)
  frame.writeUInt32BE(headerLength, 4)
  let at = 8 + jsonBefore.copy(frame, 8)
  at += digits.copy(frame, at)
  jsonAfter.copy(frame, at)
  return frame
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a
const OPAQUE = Buffer.from("opaque")
const FLAG = Buffer.from("flag")

/** The integer after `at` (skipping blanks), as JSON writes it. */
const readInteger = (bytes: Buffer, at: number, end: number): number => {
  while (at < end && (bytes[at] === 0x20 || bytes[at] === 0x0a || bytes[at] === 0x0d || bytes[at] === 0x09)) at++
  const negative = bytes[at] === 0x2d
  if (negative) at++
  let value = 0
  while (at < end && bytes[at]! >= 0x30 && bytes[at]! <= 0x39) value = value * 10 + bytes[at++]! - 0x30
  return negative ? -value : value
}

/** `opaque` and `flag` among the top-level keys of the JSON object in `bytes[start, end)`. */
const jsonOpaqueAndFlag = (bytes: Buffer, start: number, end: number) => {
  let opaque: number | undefined
  let flag = 0
  let depth = 0
  for (let at = start; at < end; at++) {
    const byte = bytes[at]
    if (byte === QUOTE) {
      const from = at + 1
      at = from
      while (at < end && bytes[at] !== QUOTE) at += bytes[at] === BACKSLASH ? 2 : 1
      if (depth !== 1) continue
      let after = at + 1
      while (after < end && bytes[after] === 0x20) after++
      if (bytes[after] !== COLON) continue
      const key = bytes.subarray(from, at)
      if (key.equals(OPAQUE)) opaque = readInteger(bytes, after + 1, end)
      else if (key.equals(FLAG)) flag = readInteger(bytes, after + 1, end)
    } else if (byte === 0x7b || byte === 0x5b) {
      depth++
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--
    }
  }
  return { opaque, flag }
}

// ---- the server -------------------------------------------------------------------------------------------

const answerTo = (payload: Buffer): Buffer | undefined => {
  const { headerLength, serializeType } = headerMark(payload)
  if (serializeType === 1) {
    const flag = payload.readInt32BE(4 + 9)
    return (flag & (RESPONSE_FLAG | ONEWAY_FLAG)) !== 0 ? undefined : binaryAnswer(payload.readInt32BE(4 + 5))
  }
  const { flag, opaque } = jsonOpaqueAndFlag(payload, 4, 4 + headerLength)
  return opaque === undefined || (flag & (RESPONSE_FLAG | ONEWAY_FLAG)) !== 0 ? undefined : jsonAnswer(opaque)
}

const server = Net.createServer({ noDelay: true }, (socket) => {
  // One write per chunk read: the answers to everything that chunk completed.
  let answers: Array<Buffer> = []
  const reader = new FrameReader((payload) => {
    const answer = answerTo(payload)
    if (answer !== undefined) answers.push(answer)
  })
  socket.on("data", (chunk: Buffer) => {
    reader.push(chunk)
    if (answers.length > 0) {
      socket.write(answers.length === 1 ? answers[0]! : Buffer.concat(answers))
      answers = []
    }
  })
  socket.on("error", () => socket.destroy())
})

server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  const address = server.address() as Net.AddressInfo
  process.stdout.write(`PORT ${address.port}\n`)
})
process.on("SIGTERM", () => process.exit(0))
process.stdin.on("end", () => process.exit(0))
process.stdin.resume()
