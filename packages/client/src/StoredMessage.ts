/**
 * Messages as a consumer receives them: the model (what Java's `MessageExt` exposes) and the decoder of the
 * broker's store layout, the body of a PULL_MESSAGE (and POP_MESSAGE) answer.
 *
 * `decode` reads both record versions (MAGIC V1, 1-byte topic length; V2, 2-byte), IPv4 and IPv6 hosts (sysFlag
 * `0x10` born host, `0x20` store host), compressed bodies (inflated through the `Compression` service) and inner
 * batches (`0x80` with `0x40`), and fails with a typed `StoredMessageError` at the first record it cannot read,
 * where Java's decoder silently drops the rest of the answer.
 *
 * It is built for throughput: one synchronous pass over the bytes, bodies as views of the input (not copies:
 * do not mutate the input while messages are in use), and the `Compression` service called only for the records
 * that need it.
 *
 * @since 0.3.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { Compression } from "./Compression.js"
import * as MessageProperties from "./internal/messageProperties.js"
import * as StoreLayout from "./internal/storeLayout.js"

/**
 * A received message. `msgId` is the `UNIQ_KEY` when the producer set one (Java's `getMsgId()`), else the
 * `offsetMsgId`. `topic` is the topic the record is stored under: a consumer renames retry-topic messages back
 * to their `RETRY_TOPIC`. Offsets are int64 as `bigint`; timestamps are epoch ms.
 *
 * Hosts read `ip:port`, or `[x:x:x:x:x:x:x:x]:port` for IPv6. Messages of an inner batch take their topic,
 * queue, hosts, timestamps, sysFlag, commit log offset and `offsetMsgId` from the record that holds them,
 * `queueOffset` = the record's + their index; `storeSize` is their entry's size, `reconsumeTimes` and
 * `preparedTransactionOffset` are 0 (as Java leaves them).
 *
 * @since 0.3.0
 * @category models
 */
export interface ReceivedMessage {
  readonly topic: string
  /** Inflated; a view of the pull answer's bytes when the body was not compressed. */
  readonly body: Uint8Array
  readonly tags: string | undefined
  readonly keys: ReadonlyArray<string>
  /** Every property as stored. */
  readonly properties: ReadonlyMap<string, string>
  readonly flag: number
  readonly msgId: string
  readonly offsetMsgId: string
  readonly brokerName: string
  readonly queueId: number
  readonly queueOffset: bigint
  readonly commitLogOffset: bigint
  readonly storeSize: number
  /** As stored, with the compressed bit (`0x1`) cleared once the body is inflated. */
  readonly sysFlag: number
  readonly bodyCRC: number
  readonly bornTimestamp: number
  readonly bornHost: string
  readonly storeTimestamp: number
  readonly storeHost: string
  readonly reconsumeTimes: number
  readonly preparedTransactionOffset: bigint
  /** The `DELAY` property, or 0. */
  readonly delayLevel: number
}

/**
 * A record that could not be decoded. `at` is the byte offset in the decoded body where the problem is (for an
 * inner batch inside a compressed body: the record's start; `detail` then gives the offset in the inflated body).
 *
 * - `Truncated`: the body ends inside a record.
 * - `BadMagic`: a record's magic is neither V1 `0xdaa320a7` nor V2 `0xdaa320ab`.
 * - `BadLength`: a length field disagrees with the record's total size.
 * - `BadUtf8`: the topic or the properties are not UTF-8.
 * - `UnsupportedCompression`: a compression type RocketMQ does not define, or one the `Compression` layer lacks.
 * - `Corrupt`: a compressed body that does not inflate.
 *
 * @since 0.3.0
 * @category errors
 */
export class StoredMessageError extends Data.TaggedError("StoredMessageError")<{
  readonly reason: "Truncated" | "BadMagic" | "BadLength" | "BadUtf8" | "UnsupportedCompression" | "Corrupt"
  readonly at: number
  readonly detail: string
}> {
  override get message(): string {
    return `stored message ${this.reason} at byte ${this.at}: ${this.detail}`
  }
}

/**
 * The record magic of the first layout (1-byte topic length).
 *
 * @since 0.3.0
 * @category constants
 */
export const MAGIC_V1: number = StoreLayout.MAGIC_V1

/**
 * The record magic of the second layout (2-byte topic length), which brokers use for topics over 127 bytes.
 *
 * @since 0.3.0
 * @category constants
 */
export const MAGIC_V2: number = StoreLayout.MAGIC_V2

/**
 * The bits of a stored message's `sysFlag` (Java `MessageSysFlag`).
 *
 * @since 0.3.0
 * @category constants
 */
export const SysFlag = {
  COMPRESSED: 0x1,
  MULTI_TAGS: 0x2,
  TRANSACTION_PREPARED: 0x4,
  TRANSACTION_COMMIT: 0x8,
  TRANSACTION_ROLLBACK: 0xc,
  BORNHOST_V6: 0x10,
  STOREHOST_V6: 0x20,
  NEED_UNWRAP: 0x40,
  INNER_BATCH: 0x80,
  COMPRESSION_TYPE_MASK: 0x700
} as const

const toError = (failure: StoreLayout.Failure) =>
  new StoredMessageError({ reason: failure.reason, at: failure.at, detail: failure.detail })

const isPending = (entry: StoreLayout.Entry): entry is StoreLayout.Pending => "_tag" in entry

/**
 * Every message of a PULL_MESSAGE answer's body, in order. `brokerName` is the broker the queue is on (records
 * do not hold it). Compressed bodies are inflated through `Compression`; an inner batch becomes its messages.
 * Nothing else is done: no tag filter, no retry-topic rename, no MIN/MAX_OFFSET properties (the consumer's job).
 *
 * @since 0.3.0
 * @category decoding
 */
export const decode = (
  body: Uint8Array,
  brokerName: string
): Effect.Effect<Array<ReceivedMessage>, StoredMessageError, Compression> =>
  Effect.suspend(() => {
    const entries = StoreLayout.decodeRecords(body, brokerName)
    if (!Array.isArray(entries)) return Effect.fail(toError(entries))
    if (!entries.some(isPending)) return Effect.succeed(entries as Array<ReceivedMessage>)
    return Effect.flatMap(Compression, (compression) =>
      Effect.suspend(() => {
        const out: Array<StoreLayout.Entry> = []
        return Effect.as(
          Effect.forEach(entries, (entry) => {
            if (!isPending(entry)) {
              out.push(entry)
              return Effect.void
            }
            return compression.decompress(entry.compressed, entry.type).pipe(
              Effect.mapError((error) =>
                new StoredMessageError({
                  reason: error.reason === "Unsupported" ? "UnsupportedCompression" : "Corrupt",
                  at: entry.header.start,
                  detail: error.message
                })
              ),
              Effect.flatMap((inflated) => {
                const failed = StoreLayout.finish(entry, brokerName, inflated, out)
                return failed === undefined ? Effect.void : Effect.fail(toError(failed))
              })
            )
          }, { discard: true }),
          out as Array<ReceivedMessage>
        )
      }))
  })

/**
 * A socket address as the store layout holds it: `ip` is 4 (IPv4) or 16 (IPv6) bytes.
 *
 * @since 0.3.0
 * @category models
 */
export interface HostAddress {
  readonly ip: Uint8Array
  readonly port: number
}

/**
 * One message to lay out as a broker stores it (`encode`). `body` is written as given: compress it first and
 * set the compressed bits in `sysFlag` for a compressed record. The host bits of `sysFlag` are set from the
 * address lengths. `bodyCRC` defaults to `bodyCrc(body)`.
 *
 * @since 0.3.0
 * @category models
 */
export interface StoredRecord {
  readonly topic: string
  readonly body: Uint8Array
  readonly properties: ReadonlyMap<string, string>
  readonly flag?: number | undefined
  readonly queueId: number
  readonly queueOffset: bigint
  readonly commitLogOffset: bigint
  readonly sysFlag?: number | undefined
  readonly bornTimestamp: number
  readonly bornHost: HostAddress
  readonly storeTimestamp: number
  readonly storeHost: HostAddress
  readonly reconsumeTimes?: number | undefined
  readonly preparedTransactionOffset?: bigint | undefined
  readonly bodyCRC?: number | undefined
  /** Default: V1, or V2 when the topic is over 127 bytes (as brokers do). V2 regardless over 255 bytes. */
  readonly magic?: "V1" | "V2" | undefined
}

const CRC_TABLE = (() => {
  const table = new Int32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c
  }
  return table
})()

/**
 * The body CRC a broker stores (`UtilAll.crc32`): CRC-32 of the body, masked to 31 bits.
 *
 * @since 0.3.0
 * @category encoding
 */
export const bodyCrc = (body: Uint8Array): number => {
  let crc = -1
  for (let i = 0; i < body.length; i++) crc = CRC_TABLE[(crc ^ body[i]!) & 0xff]! ^ (crc >>> 8)
  return (crc ^ -1) & 0x7fffffff
}

const utf8 = new TextEncoder()

/**
 * One record in the broker's store layout (the inverse of `decode` for one message that is not an inner batch),
 * as Java's `MessageDecoder.encode` writes it. A test and fake-broker aid: concatenate records for a pull body.
 *
 * @since 0.3.0
 * @category encoding
 */
export const encode = (record: StoredRecord): Uint8Array => {
  const topic = utf8.encode(record.topic)
  const properties = utf8.encode(MessageProperties.encode(record.properties))
  const v2 = record.magic === "V2" || topic.length > 255 || (record.magic === undefined && topic.length > 127)
  const bornV6 = record.bornHost.ip.length === 16
  const storeV6 = record.storeHost.ip.length === 16
  const sysFlag = ((record.sysFlag ?? 0) & ~(SysFlag.BORNHOST_V6 | SysFlag.STOREHOST_V6)) |
    (bornV6 ? SysFlag.BORNHOST_V6 : 0) | (storeV6 ? SysFlag.STOREHOST_V6 : 0)
  const size = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + (bornV6 ? 20 : 8) + 8 + (storeV6 ? 20 : 8) + 4 + 8 +
    4 + record.body.length + (v2 ? 2 : 1) + topic.length + 2 + properties.length
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  view.setInt32(0, size)
  view.setInt32(4, v2 ? MAGIC_V2 : MAGIC_V1)
  view.setInt32(8, record.bodyCRC ?? bodyCrc(record.body))
  view.setInt32(12, record.queueId)
  view.setInt32(16, record.flag ?? 0)
  view.setBigInt64(20, record.queueOffset)
  view.setBigInt64(28, record.commitLogOffset)
  view.setInt32(36, sysFlag)
  view.setBigInt64(40, BigInt(record.bornTimestamp))
  let at = 48
  out.set(record.bornHost.ip, at)
  at += record.bornHost.ip.length
  view.setInt32(at, record.bornHost.port)
  view.setBigInt64(at + 4, BigInt(record.storeTimestamp))
  at += 12
  out.set(record.storeHost.ip, at)
  at += record.storeHost.ip.length
  view.setInt32(at, record.storeHost.port)
  view.setInt32(at + 4, record.reconsumeTimes ?? 0)
  view.setBigInt64(at + 8, record.preparedTransactionOffset ?? 0n)
  view.setInt32(at + 16, record.body.length)
  at += 20
  out.set(record.body, at)
  at += record.body.length
  if (v2) {
    view.setInt16(at, topic.length)
    at += 2
  } else {
    view.setUint8(at, topic.length)
    at += 1
  }
  out.set(topic, at)
  at += topic.length
  view.setInt16(at, properties.length)
  out.set(properties, at + 2)
  return out
}
