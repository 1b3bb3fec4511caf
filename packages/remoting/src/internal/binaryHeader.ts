/**
 * The ROCKETMQ binary header (serialize type 1), as Java's `RocketMQSerializable` lays it out, big-endian:
 *
 * ```text
 * int16 code | uint8 language | int16 version | int32 opaque | int32 flag
 * int32 remarkLength | remark UTF-8
 * int32 extLength | { int16 keyLength | key UTF-8 | int32 valueLength | value UTF-8 }*
 * ```
 *
 * Java reads a zero-length string as null (`readStr`): a zero-length remark is no remark, and an extFields
 * entry with a zero-length key or value becomes a null key or value, which no reader can find and which Java
 * leaves out when it writes the map again. Here such an entry is dropped. Java writes an empty remark as
 * length 0 and an empty key or value as a zero-length string, and so do we, so the bytes match Java's.
 *
 * Decoding is stricter than Java's on lengths: every length must fit the bytes left in the header (Java
 * only compares them with the header length), negative lengths are refused (Java ignores a negative
 * extLength and fails on the others), entries must end exactly at the end of `extFields`, and nothing may
 * follow it inside the header (Java would read the excess as the start of the body).
 */
import type { RemotingCommand } from "../RemotingCommand.js"
import { make } from "../RemotingCommand.js"
import { RemotingCodecError } from "../RemotingError.js"
import { javaWellFormed, readUtf8, utf8Length, writeUtf8 } from "./utf8.js"

/** The header's size without remark and extFields: the fixed fields and the two lengths. */
export const FIXED_SIZE = 21

const INT16_MIN = -0x8000
const INT16_MAX = 0x7fff

const inRange = (n: number, min: number, max: number): boolean => Number.isInteger(n) && n >= min && n <= max

const outOfRange = (field: string, value: number, detail: string) =>
  new RemotingCodecError({ reason: "ValueOutOfRange", serializeType: "ROCKETMQ", field, value, detail })

/** What `write` needs: the strings made well-formed (as Java writes them) and their UTF-8 lengths. */
export interface Plan {
  readonly size: number
  readonly remark: string
  readonly remarkLength: number
  /** extFields keys and values, alternating. */
  readonly strings: ReadonlyArray<string>
  /** The UTF-8 length of each of `strings`. */
  readonly lengths: ReadonlyArray<number>
}

export const plan = (command: RemotingCommand): Plan | RemotingCodecError => {
  const { code, extFields, flag, language, opaque, remark: rawRemark, version } = command
  if (!inRange(code, INT16_MIN, INT16_MAX)) {
    return outOfRange("code", code, "an int16 (-32768..32767); larger codes can only be sent in a JSON header")
  }
  if (!inRange(version, INT16_MIN, INT16_MAX)) return outOfRange("version", version, "an int16 (-32768..32767)")
  if (!inRange(language, 0, 0xff)) return outOfRange("language", language, "a byte (0..255)")
  if (!inRange(opaque, -0x80000000, 0x7fffffff)) return outOfRange("opaque", opaque, "an int32")
  if (!inRange(flag, -0x80000000, 0x7fffffff)) return outOfRange("flag", flag, "an int32")
  const remark = rawRemark === undefined ? "" : javaWellFormed(rawRemark)
  const remarkLength = utf8Length(remark)
  let size = FIXED_SIZE + remarkLength
  const strings: Array<string> = []
  const lengths: Array<number> = []
  if (extFields !== undefined) {
    for (const [rawKey, rawValue] of extFields) {
      const key = javaWellFormed(rawKey)
      const keyLength = utf8Length(key)
      if (keyLength > INT16_MAX) {
        return outOfRange(
          "extFields key length",
          keyLength,
          `an int16: the key starting ${JSON.stringify(key.slice(0, 32))}`
        )
      }
      const value = javaWellFormed(rawValue)
      const valueLength = utf8Length(value)
      strings.push(key, value)
      lengths.push(keyLength, valueLength)
      size += 6 + keyLength + valueLength
    }
  }
  return { size, remark, remarkLength, strings, lengths }
}

/** Writes the planned header at `offset` of `target` (which holds at least `plan.size` bytes there). */
export const write = (command: RemotingCommand, p: Plan, target: Uint8Array, view: DataView, offset: number): void => {
  view.setInt16(offset, command.code)
  view.setUint8(offset + 2, command.language)
  view.setInt16(offset + 3, command.version)
  view.setInt32(offset + 5, command.opaque)
  view.setInt32(offset + 9, command.flag)
  view.setInt32(offset + 13, p.remarkLength)
  let pos = offset + 17 + writeUtf8(p.remark, target, offset + 17)
  view.setInt32(pos, p.size - FIXED_SIZE - p.remarkLength)
  pos += 4
  const { lengths, strings } = p
  for (let i = 0; i < strings.length; i += 2) {
    view.setInt16(pos, lengths[i]!)
    pos += 2
    pos += writeUtf8(strings[i]!, target, pos)
    view.setInt32(pos, lengths[i + 1]!)
    pos += 4
    pos += writeUtf8(strings[i + 1]!, target, pos)
  }
}

const int16 = (p: Uint8Array, i: number): number => ((p[i]! << 24) >> 16) | p[i + 1]!
const int32 = (p: Uint8Array, i: number): number => (p[i]! << 24) | (p[i + 1]! << 16) | (p[i + 2]! << 8) | p[i + 3]!

const truncated = (field: string, needed: number, available: number) =>
  new RemotingCodecError({ reason: "TruncatedBinaryHeader", serializeType: "ROCKETMQ", field, needed, available })

const negative = (field: string, value: number) =>
  new RemotingCodecError({
    reason: "InvalidBinaryHeader",
    serializeType: "ROCKETMQ",
    field,
    value,
    detail: `negative length ${value}`
  })

const badUtf8 = (field: string) => new RemotingCodecError({ reason: "InvalidUtf8", serializeType: "ROCKETMQ", field })

/** Reads the header in `payload[start, end)`; `body` becomes the command's body. */
export const read = (
  payload: Uint8Array,
  start: number,
  end: number,
  body: Uint8Array
): RemotingCommand | RemotingCodecError => {
  // The fixed fields, each checked so the error names the first one cut off.
  const fixed: ReadonlyArray<readonly [string, number]> = [
    ["code", 2],
    ["language", 1],
    ["version", 2],
    ["opaque", 4],
    ["flag", 4],
    ["remark length", 4]
  ]
  if (end - start < 17) {
    let pos = start
    for (const [field, size] of fixed) {
      if (end - pos < size) return truncated(field, size, end - pos)
      pos += size
    }
  }
  const code = int16(payload, start)
  const language = payload[start + 2]!
  const version = int16(payload, start + 3)
  const opaque = int32(payload, start + 5)
  const flag = int32(payload, start + 9)
  const remarkLength = int32(payload, start + 13)
  let pos = start + 17
  if (remarkLength < 0) return negative("remark length", remarkLength)
  if (remarkLength > end - pos) return truncated("remark", remarkLength, end - pos)
  let remark: string | undefined
  if (remarkLength > 0) {
    remark = readUtf8(payload.subarray(pos, pos + remarkLength))
    if (remark === undefined) return badUtf8("remark")
    pos += remarkLength
  }
  if (end - pos < 4) return truncated("extFields length", 4, end - pos)
  const extLength = int32(payload, pos)
  pos += 4
  if (extLength < 0) return negative("extFields length", extLength)
  if (extLength > end - pos) return truncated("extFields", extLength, end - pos)
  let extFields: Map<string, string> | undefined
  if (extLength > 0) {
    extFields = new Map()
    const extEnd = pos + extLength
    while (pos < extEnd) {
      if (extEnd - pos < 2) return truncated("extFields key length", 2, extEnd - pos)
      const keyLength = int16(payload, pos)
      pos += 2
      if (keyLength < 0) return negative("extFields key length", keyLength)
      if (keyLength > extEnd - pos) return truncated("extFields key", keyLength, extEnd - pos)
      const key = keyLength === 0 ? "" : readUtf8(payload.subarray(pos, pos + keyLength))
      if (key === undefined) return badUtf8("extFields key")
      pos += keyLength
      if (extEnd - pos < 4) return truncated("extFields value length", 4, extEnd - pos)
      const valueLength = int32(payload, pos)
      pos += 4
      if (valueLength < 0) return negative("extFields value length", valueLength)
      if (valueLength > extEnd - pos) return truncated("extFields value", valueLength, extEnd - pos)
      const value = valueLength === 0 ? "" : readUtf8(payload.subarray(pos, pos + valueLength))
      if (value === undefined) return badUtf8("extFields value")
      pos += valueLength
      // Java reads a zero-length key or value as null, an entry nobody can read: see the module comment.
      if (keyLength > 0 && valueLength > 0) extFields.set(key, value)
    }
  }
  if (pos !== end) {
    return new RemotingCodecError({
      reason: "InvalidBinaryHeader",
      serializeType: "ROCKETMQ",
      field: "extFields",
      value: end - pos,
      detail: `${end - pos} bytes follow the last field inside the header`
    })
  }
  return make({ code, language, version, opaque, flag, remark, extFields, body })
}
