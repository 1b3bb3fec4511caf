/**
 * The two ids a RocketMQ message has.
 *
 * - `UNIQ_KEY`, the id a producer gives each message (Java `MessageClientIDSetter`), and what Java's
 *   `getMsgId()` returns: upper-case hex of the producer's IP (4 or 16 bytes), its pid (int16), a per-process
 *   int32 (Java: its class loader's hash code), the ms since the start of the current month in local time
 *   (int32) and a counter (int16, wrapping): 32 hex digits, or 56 with an IPv6 address. Admin tools read the IP,
 *   pid and an approximate time back out of it (`ipOf`, `pidOf`, `timeOf`), so the layout matters.
 * - The offset message id the broker gives each stored message (Java `MessageDecoder.createMessageId`): the
 *   store host's address, port (int32) and commit log offset (int64), upper-case hex.
 *
 * @since 0.3.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import { bytesToHex, hexToBytes, int16ToHex, int32ToHex } from "./internal/hexCodec.js"
import { ipText } from "./internal/hostAddress.js"

/**
 * An id that could not be read.
 *
 * @since 0.3.0
 * @category errors
 */
export class MessageIdError extends Data.TaggedError("MessageIdError")<{
  readonly id: string
  readonly reason: string
}> {
  override get message(): string {
    return `not a message id (${this.reason}): ${JSON.stringify(this.id)}`
  }
}

/**
 * Makes `UNIQ_KEY`s. One per process is enough (Java has one per JVM); ids from one generator never repeat
 * within 65536 calls in the same millisecond.
 *
 * @since 0.3.0
 * @category models
 */
export interface MessageIdGenerator {
  /** The next id, for a message sent at `nowMillis` (epoch ms). */
  readonly next: (nowMillis: number) => string
}

/** Epoch ms of the first instant of the local-time month that holds `millis`, and of the next month. */
const monthStart = (millis: number, monthsAhead = 0): number => {
  const date = new Date(millis)
  date.setDate(1)
  date.setHours(0, 0, 0, 0)
  if (monthsAhead !== 0) date.setMonth(date.getMonth() + monthsAhead)
  return date.getTime()
}

/**
 * A `UNIQ_KEY` generator for a process with address `ip` (4 or 16 bytes) and process id `pid` (its low 16
 * bits are used). `seed` stands for Java's class loader hash code (an arbitrary int32, random when absent): two
 * processes with the same IP and pid still make different ids when their seeds differ.
 *
 * As Java does, the month start is recomputed only when `nowMillis` reaches the next month, and a time up to
 * 1 000 000 ms before the month start (a clock stepped back) counts as 0.
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeGenerator = (
  options: { readonly ip: Uint8Array; readonly pid: number; readonly seed?: number }
): MessageIdGenerator => {
  const seed = options.seed ?? ((Math.random() * 0x100000000) | 0)
  const prefix = bytesToHex(options.ip) + int16ToHex(options.pid) + int32ToHex(seed)
  let startTime = Number.NaN
  let nextStartTime = Number.NaN
  let counter = 0
  return {
    next: (nowMillis) => {
      // NaN on the first call: `!(now < NaN)` is true.
      if (!(nowMillis < nextStartTime)) {
        startTime = monthStart(nowMillis)
        nextStartTime = monthStart(nowMillis, 1)
      }
      let diff = (nowMillis - startTime) | 0
      if (diff < 0 && diff > -1_000_000) diff = 0
      const id = prefix + int32ToHex(diff) + int16ToHex(counter)
      counter = (counter + 1) & 0xffff
      return id
    }
  }
}

const UNIQ_KEY_PATTERN = /^(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{56})$/

/**
 * Whether `id` has the shape of a `UNIQ_KEY` (32 or 56 hex digits).
 *
 * @since 0.3.0
 * @category guards
 */
export const isUniqKey = (id: string): boolean => UNIQ_KEY_PATTERN.test(id)

const idBytes = (id: string): DataView => {
  const bytes = hexToBytes(id) ?? new Uint8Array(0)
  return new DataView(bytes.buffer)
}

/**
 * The producer's IP in a `UNIQ_KEY` (Java `MessageClientIDSetter.getIPStrFromID`): `a.b.c.d`, or for a 56-digit
 * id eight groups of four lower-case hex digits joined by `:` (Java's `UtilAll.ipToIPv6Str`). An id that is not
 * `isUniqKey` gives `""`.
 *
 * @since 0.3.0
 * @category decoding
 */
export const ipOf = (id: string): string => {
  if (!isUniqKey(id)) return ""
  const view = idBytes(id)
  if (view.byteLength !== 28) return ipText(view, 0, false)
  let out = ""
  for (let i = 0; i < 8; i++) out += (i === 0 ? "" : ":") + view.getUint16(2 * i).toString(16).padStart(4, "0")
  return out
}

/**
 * The producer's process id (its low 16 bits) in a `UNIQ_KEY` (Java `getPidFromID`); -1 for an id that is not
 * `isUniqKey`.
 *
 * @since 0.3.0
 * @category decoding
 */
export const pidOf = (id: string): number => {
  if (!isUniqKey(id)) return -1
  const view = idBytes(id)
  return view.getUint16(view.byteLength - 12)
}

/**
 * Approximately when a `UNIQ_KEY` was made, as epoch ms (Java `getNearlyTimeFromID`): its ms-since-month-start
 * added to the start of the local month of `nowMillis`, or of the month before when that would not be before
 * `nowMillis`. Exact for ids made less than a month before `nowMillis`. NaN for an id that is not `isUniqKey`.
 *
 * @since 0.3.0
 * @category decoding
 */
export const timeOf = (id: string, nowMillis: number): number => {
  if (!isUniqKey(id)) return Number.NaN
  const view = idBytes(id)
  const span = view.getUint32(view.byteLength === 28 ? 22 : 10)
  let start = monthStart(nowMillis)
  if (start + span >= nowMillis) start = monthStart(start, -1)
  return start + span
}

/**
 * The offset message id of a message stored at `commitLogOffset` by the broker at `storeHost` (`ip`: 4 or 16
 * bytes): 32 or 56 upper-case hex digits.
 *
 * @since 0.3.0
 * @category encoding
 */
export const offsetMessageId = (
  storeHost: { readonly ip: Uint8Array; readonly port: number },
  commitLogOffset: bigint
): string => {
  const tail = new DataView(new ArrayBuffer(12))
  tail.setInt32(0, storeHost.port)
  tail.setBigInt64(4, commitLogOffset)
  return bytesToHex(storeHost.ip) + bytesToHex(new Uint8Array(tail.buffer))
}

/**
 * The store host and commit log offset of an offset message id (Java `MessageDecoder.decodeMessageId`):
 * `address` is `a.b.c.d:port`, or `[x:x:x:x:x:x:x:x]:port` for a 56-digit id (groups as Java's
 * `Inet6Address.getHostAddress` writes them).
 *
 * @since 0.3.0
 * @category decoding
 */
export const decodeOffsetMessageId = (
  id: string
): Either.Either<{ readonly address: string; readonly commitLogOffset: bigint }, MessageIdError> => {
  if (id.length !== 32 && id.length !== 56) {
    return Either.left(new MessageIdError({ id, reason: "expected 32 or 56 hex digits" }))
  }
  const bytes = hexToBytes(id)
  if (bytes === undefined) return Either.left(new MessageIdError({ id, reason: "not hex" }))
  const view = new DataView(bytes.buffer)
  const v6 = bytes.length === 28
  const ipLength = v6 ? 16 : 4
  const ip = ipText(view, 0, v6)
  const port = view.getInt32(ipLength)
  return Either.right({
    address: v6 ? `[${ip}]:${port}` : `${ip}:${port}`,
    commitLogOffset: view.getBigInt64(ipLength + 4)
  })
}
