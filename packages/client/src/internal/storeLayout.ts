/**
 * The broker's stored-message layout, read synchronously in one pass over a PULL_MESSAGE body
 * (`MessageDecoder.decode`): one `DataView`, bodies as `subarray`s of the input, one `TextDecoder`, the
 * properties scanned with `indexOf`. Records whose bodies must be inflated are returned as `Pending` so that the
 * caller can inflate them through the `Compression` service and finish them with `finish`.
 *
 * Record layout (big-endian): TOTALSIZE i32, MAGIC i32, BODYCRC i32, QUEUEID i32, FLAG i32, QUEUEOFFSET i64,
 * PHYSICALOFFSET i64, SYSFLAG i32, BORNTIMESTAMP i64, BORNHOST 4|16 + i32, STORETIMESTAMP i64,
 * STOREHOST 4|16 + i32, RECONSUMETIMES i32, PREPAREDTXOFFSET i64, BODYLEN i32 + body, TOPICLEN 1 (V1) | 2 (V2)
 * + topic, PROPLEN i16 + properties.
 */
import type { CompressionType } from "../Compression.js"
import { typeOfSysFlag } from "../Compression.js"
import { bytesToHex } from "./hexCodec.js"
import { hostText } from "./hostAddress.js"
import * as MessageProperties from "./messageProperties.js"

export const MAGIC_V1 = 0xdaa320a7 | 0
export const MAGIC_V2 = 0xdaa320ab | 0

export const COMPRESSED = 0x1
export const BORNHOST_V6 = 0x10
export const STOREHOST_V6 = 0x20
export const NEED_UNWRAP = 0x40
export const INNER_BATCH = 0x80

/** What `StoredMessage.ReceivedMessage` holds; declared here so the engine does not import the face. */
export interface Received {
  readonly topic: string
  readonly body: Uint8Array
  readonly tags: string | undefined
  readonly keys: ReadonlyArray<string>
  readonly properties: ReadonlyMap<string, string>
  readonly flag: number
  readonly msgId: string
  readonly offsetMsgId: string
  readonly brokerName: string
  readonly queueId: number
  readonly queueOffset: bigint
  readonly commitLogOffset: bigint
  readonly storeSize: number
  readonly sysFlag: number
  readonly bodyCRC: number
  readonly bornTimestamp: number
  readonly bornHost: string
  readonly storeTimestamp: number
  readonly storeHost: string
  readonly reconsumeTimes: number
  readonly preparedTransactionOffset: bigint
  readonly delayLevel: number
}

export type FailureReason = "Truncated" | "BadMagic" | "BadLength" | "BadUtf8" | "UnsupportedCompression" | "Corrupt"

/** A record that could not be read: why, where (a byte offset in the decoded body), and what was seen. */
export interface Failure {
  readonly _tag: "Failure"
  readonly reason: FailureReason
  readonly at: number
  readonly detail: string
}

/** The fields of a record, before its body is settled. */
interface Header {
  readonly start: number
  readonly storeSize: number
  readonly bodyCRC: number
  readonly queueId: number
  readonly flag: number
  readonly queueOffset: bigint
  readonly commitLogOffset: bigint
  readonly sysFlag: number
  readonly bornTimestamp: number
  readonly bornHost: string
  readonly storeTimestamp: number
  readonly storeHost: string
  readonly offsetMsgId: string
  readonly reconsumeTimes: number
  readonly preparedTransactionOffset: bigint
  readonly topic: string
  readonly properties: Map<string, string>
}

/** A record whose body must be inflated (`type`) before it can be finished. */
export interface Pending {
  readonly _tag: "Pending"
  readonly header: Header
  readonly compressed: Uint8Array
  readonly type: CompressionType
}

/** What one pass produced, in record order: finished messages and records waiting for inflation. */
export type Entry = Received | Pending

const utf8 = new TextDecoder("utf-8", { fatal: true })

const failure = (reason: FailureReason, at: number, detail: string): Failure => ({
  _tag: "Failure",
  reason,
  at,
  detail
})

const isFailure = (u: unknown): u is Failure => (u as { _tag?: unknown })._tag === "Failure"

/** A signed 64-bit integer as a number (exact below 2^53: timestamps). */
const int64Number = (view: DataView, at: number): number => view.getInt32(at) * 4294967296 + view.getUint32(at + 4)

const keysOf = (keys: string | undefined): ReadonlyArray<string> => {
  if (keys === undefined) return []
  if (keys.indexOf(" ") < 0) return keys.length > 0 ? [keys] : []
  return keys.split(" ").filter((key) => key.length > 0)
}

const delayLevelOf = (delay: string | undefined): number => {
  if (delay === undefined) return 0
  const level = Number.parseInt(delay, 10)
  return Number.isNaN(level) ? 0 : level
}

const message = (
  header: Header,
  brokerName: string,
  fields: {
    readonly body: Uint8Array
    readonly flag: number
    readonly properties: Map<string, string>
    readonly sysFlag: number
    readonly queueOffset: bigint
    readonly storeSize: number
    readonly bodyCRC: number
    readonly reconsumeTimes: number
    readonly preparedTransactionOffset: bigint
  }
): Received => {
  const properties = fields.properties
  const uniqKey = properties.get("UNIQ_KEY")
  return {
    topic: header.topic,
    body: fields.body,
    tags: properties.get("TAGS"),
    keys: keysOf(properties.get("KEYS")),
    properties,
    flag: fields.flag,
    msgId: uniqKey ?? header.offsetMsgId,
    offsetMsgId: header.offsetMsgId,
    brokerName,
    queueId: header.queueId,
    queueOffset: fields.queueOffset,
    commitLogOffset: header.commitLogOffset,
    storeSize: fields.storeSize,
    sysFlag: fields.sysFlag,
    bodyCRC: fields.bodyCRC,
    bornTimestamp: header.bornTimestamp,
    bornHost: header.bornHost,
    storeTimestamp: header.storeTimestamp,
    storeHost: header.storeHost,
    reconsumeTimes: fields.reconsumeTimes,
    preparedTransactionOffset: fields.preparedTransactionOffset,
    delayLevel: delayLevelOf(properties.get("DELAY"))
  }
}

/**
 * Decodes UTF-8, or fails with `BadUtf8` at `at`. Plain ASCII, most topics and properties, is read without the
 * `TextDecoder` round trip.
 */
const text = (bytes: Uint8Array, from: number, to: number, at: number, what: string): string | Failure => {
  if (to - from <= 64) {
    let ascii = ""
    let i = from
    for (; i < to; i++) {
      const byte = bytes[i]!
      if (byte >= 0x80) break
      ascii += String.fromCharCode(byte)
    }
    if (i === to) return ascii
  }
  try {
    return utf8.decode(bytes.subarray(from, to))
  } catch {
    return failure("BadUtf8", at, `${what} is not UTF-8`)
  }
}

/**
 * A value read from some bytes of the previous record, reused when the next record holds the same bytes: the
 * records of one answer mostly share their topic, store host and born host.
 */
interface BytesCache {
  bytes: Uint8Array | undefined
  text: string
}

const newCache = (): BytesCache => ({ bytes: undefined, text: "" })

const sameBytes = (a: Uint8Array, b: Uint8Array, from: number, length: number): boolean => {
  if (a.length !== length) return false
  for (let i = 0; i < length; i++) if (a[i] !== b[from + i]) return false
  return true
}

/** `hostText` of the address and port at `at`, through `cache`. */
const cachedHost = (cache: BytesCache, body: Uint8Array, view: DataView, at: number, v6: boolean): string => {
  const length = v6 ? 20 : 8
  if (cache.bytes !== undefined && sameBytes(cache.bytes, body, at, length)) return cache.text
  cache.bytes = body.subarray(at, at + length)
  cache.text = hostText(view, at, v6)
  return cache.text
}

/** The upper-case hex of the store host's address and port at `at` (the head of an offsetMsgId), through `cache`. */
const cachedHex = (cache: BytesCache, body: Uint8Array, at: number, length: number): string => {
  if (cache.bytes !== undefined && sameBytes(cache.bytes, body, at, length)) return cache.text
  cache.bytes = body.subarray(at, at + length)
  cache.text = bytesToHex(body, at, length)
  return cache.text
}

/** An int64 as a bigint, without allocating for 0 (a prepared-transaction offset, mostly). */
const int64 = (view: DataView, at: number): bigint =>
  view.getInt32(at) === 0 && view.getInt32(at + 4) === 0 ? 0n : view.getBigInt64(at)

/**
 * Reads the unwrapped form of an inner batch (`MessageDecoder.decodeMessages`): TOTALSIZE, MAGIC, BODYCRC, FLAG,
 * BODYLEN + body, PROPLEN + properties, repeated. `base` is where `bytes` starts in the pull body (for error
 * offsets), or the outer record's start when `bytes` is an inflated copy.
 */
const unwrapInnerBatch = (
  header: Header,
  brokerName: string,
  bytes: Uint8Array,
  sysFlag: number,
  base: number,
  inflated: boolean,
  out: Array<Entry>
): Failure | undefined => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const where = (offset: number) => (inflated ? base : base + offset)
  const describe = (offset: number) => (inflated ? `inner message at ${offset} of the inflated body` : "inner message")
  let offset = 0
  let index = 0
  while (offset < bytes.length) {
    if (bytes.length - offset < 22) {
      return failure("Truncated", where(offset), `${describe(offset)}: ${bytes.length - offset} bytes, fewer than 22`)
    }
    const size = view.getInt32(offset)
    if (size < 22 || size > bytes.length - offset) {
      return failure(size < 22 ? "BadLength" : "Truncated", where(offset), `${describe(offset)}: TOTALSIZE ${size}`)
    }
    const end = offset + size
    const bodyLength = view.getInt32(offset + 16)
    if (bodyLength < 0 || offset + 20 + bodyLength + 2 > end) {
      return failure("BadLength", where(offset + 16), `${describe(offset)}: BODYLEN ${bodyLength}`)
    }
    const bodyStart = offset + 20
    const propertiesAt = bodyStart + bodyLength
    const propertiesLength = view.getInt16(propertiesAt)
    if (propertiesLength < 0 || propertiesAt + 2 + propertiesLength !== end) {
      return failure(
        "BadLength",
        where(propertiesAt),
        `${describe(offset)}: PROPLEN ${propertiesLength}, TOTALSIZE ${size}`
      )
    }
    const propertiesText = text(bytes, propertiesAt + 2, end, where(propertiesAt + 2), "inner properties")
    if (isFailure(propertiesText)) return propertiesText
    out.push(message(header, brokerName, {
      body: bytes.subarray(bodyStart, propertiesAt),
      flag: view.getInt32(offset + 12),
      properties: MessageProperties.decode(propertiesText),
      sysFlag,
      queueOffset: header.queueOffset + BigInt(index),
      storeSize: size,
      bodyCRC: view.getInt32(offset + 8),
      // Java's MessageDecoder.decodeMessage(MessageExt, List) leaves these at 0 for inner messages.
      reconsumeTimes: 0,
      preparedTransactionOffset: 0n
    }))
    offset = end
    index++
  }
  return undefined
}

/** The message(s) of a record whose body is final: one, or an inner batch's. */
const settle = (
  header: Header,
  brokerName: string,
  body: Uint8Array,
  sysFlag: number,
  bodyAt: number,
  inflated: boolean,
  out: Array<Entry>
): Failure | undefined => {
  if ((sysFlag & INNER_BATCH) !== 0 && (sysFlag & NEED_UNWRAP) !== 0) {
    return unwrapInnerBatch(header, brokerName, body, sysFlag, inflated ? header.start : bodyAt, inflated, out)
  }
  out.push(message(header, brokerName, {
    body,
    flag: header.flag,
    properties: header.properties,
    sysFlag,
    queueOffset: header.queueOffset,
    storeSize: header.storeSize,
    bodyCRC: header.bodyCRC,
    reconsumeTimes: header.reconsumeTimes,
    preparedTransactionOffset: header.preparedTransactionOffset
  }))
  return undefined
}

/**
 * Every record of `body`, in order: finished messages, and `Pending` records to inflate; or the first
 * record that cannot be read.
 */
export const decodeRecords = (body: Uint8Array, brokerName: string): Array<Entry> | Failure => {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const out: Array<Entry> = []
  const topicCache = newCache()
  const bornHostCache = newCache()
  const storeHostCache = newCache()
  const storeHexCache = newCache()
  const length = body.length
  let start = 0
  while (start < length) {
    if (length - start < 8) {
      return failure("Truncated", start, `${length - start} bytes left, a record needs at least 8`)
    }
    const storeSize = view.getInt32(start)
    const magic = view.getInt32(start + 4)
    if (magic !== MAGIC_V1 && magic !== MAGIC_V2) {
      return failure("BadMagic", start + 4, `magic 0x${(magic >>> 0).toString(16)}`)
    }
    if (storeSize > length - start) {
      return failure("Truncated", start, `record of ${storeSize} bytes, ${length - start} left`)
    }
    const end = start + storeSize
    const sysFlag = storeSize >= 40 ? view.getInt32(start + 36) : 0
    const bornV6 = (sysFlag & BORNHOST_V6) !== 0
    const storeV6 = (sysFlag & STOREHOST_V6) !== 0
    const bornAt = start + 48
    const storeTimestampAt = bornAt + (bornV6 ? 20 : 8)
    const storeHostAt = storeTimestampAt + 8
    const reconsumeAt = storeHostAt + (storeV6 ? 20 : 8)
    const bodyLengthAt = reconsumeAt + 12
    // Everything up to the body length, and the smallest topic and properties lengths after it.
    if (bodyLengthAt + 4 + (magic === MAGIC_V1 ? 1 : 2) + 2 > end) {
      return failure("BadLength", start, `TOTALSIZE ${storeSize} is less than the fixed fields take`)
    }
    const bodyLength = view.getInt32(bodyLengthAt)
    const bodyStart = bodyLengthAt + 4
    const topicLengthAt = bodyStart + bodyLength
    const topicLengthSize = magic === MAGIC_V1 ? 1 : 2
    if (bodyLength < 0 || topicLengthAt + topicLengthSize + 2 > end) {
      return failure("BadLength", bodyLengthAt, `BODYLEN ${bodyLength} does not fit in a record of ${storeSize} bytes`)
    }
    const topicLength = magic === MAGIC_V1 ? view.getUint8(topicLengthAt) : view.getInt16(topicLengthAt)
    const topicStart = topicLengthAt + topicLengthSize
    const propertiesLengthAt = topicStart + topicLength
    if (topicLength < 0 || propertiesLengthAt + 2 > end) {
      return failure(
        "BadLength",
        topicLengthAt,
        `TOPICLEN ${topicLength} does not fit in a record of ${storeSize} bytes`
      )
    }
    const propertiesLength = view.getInt16(propertiesLengthAt)
    const propertiesStart = propertiesLengthAt + 2
    if (propertiesLength < 0 || propertiesStart + propertiesLength !== end) {
      return failure(
        "BadLength",
        propertiesLengthAt,
        `PROPLEN ${propertiesLength}: the fields end at ${propertiesStart + Math.max(0, propertiesLength)}, ` +
          `TOTALSIZE says ${end}`
      )
    }

    let topic: string
    if (topicCache.bytes !== undefined && sameBytes(topicCache.bytes, body, topicStart, topicLength)) {
      topic = topicCache.text
    } else {
      const decoded = text(body, topicStart, propertiesLengthAt, topicStart, "the topic")
      if (isFailure(decoded)) return decoded
      topic = decoded
      topicCache.bytes = body.subarray(topicStart, propertiesLengthAt)
      topicCache.text = decoded
    }
    const propertiesText = text(body, propertiesStart, end, propertiesStart, "the properties")
    if (isFailure(propertiesText)) return propertiesText

    const commitLogOffset = view.getBigInt64(start + 28)
    const header: Header = {
      start,
      storeSize,
      bodyCRC: view.getInt32(start + 8),
      queueId: view.getInt32(start + 12),
      flag: view.getInt32(start + 16),
      queueOffset: view.getBigInt64(start + 20),
      commitLogOffset,
      sysFlag,
      bornTimestamp: int64Number(view, start + 40),
      bornHost: cachedHost(bornHostCache, body, view, bornAt, bornV6),
      storeTimestamp: int64Number(view, storeTimestampAt),
      storeHost: cachedHost(storeHostCache, body, view, storeHostAt, storeV6),
      offsetMsgId: cachedHex(storeHexCache, body, storeHostAt, storeV6 ? 20 : 8) + bytesToHex(body, start + 28, 8),
      reconsumeTimes: view.getInt32(reconsumeAt),
      preparedTransactionOffset: int64(view, reconsumeAt + 4),
      topic,
      properties: propertiesLength > 0 ? MessageProperties.decode(propertiesText) : new Map()
    }
    const recordBody = body.subarray(bodyStart, topicLengthAt)
    if ((sysFlag & COMPRESSED) !== 0 && bodyLength > 0) {
      const type = typeOfSysFlag(sysFlag)
      if (type === undefined) {
        return failure(
          "UnsupportedCompression",
          start + 36,
          `sysFlag 0x${sysFlag.toString(16)} names compression type ${
            (sysFlag & 0x700) >> 8
          }, which RocketMQ does not define`
        )
      }
      out.push({ _tag: "Pending", header, compressed: recordBody, type })
    } else {
      const failed = settle(header, brokerName, recordBody, sysFlag, bodyStart, false, out)
      if (failed !== undefined) return failed
    }
    start = end
  }
  return out
}

/** Finishes a `Pending` record with its inflated body; Java clears the compressed bit once it has inflated. */
export const finish = (
  pending: Pending,
  brokerName: string,
  inflated: Uint8Array,
  out: Array<Entry>
): Failure | undefined =>
  settle(pending.header, brokerName, inflated, pending.header.sysFlag & ~COMPRESSED, pending.header.start, true, out)
