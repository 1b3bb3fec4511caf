/**
 * Upper-case hex as Java's `UtilAll.bytes2string` writes it, and back.
 */

const HEX_PAIRS: ReadonlyArray<string> = Array.from(
  { length: 256 },
  (_, byte) => byte.toString(16).toUpperCase().padStart(2, "0")
)

/** `length` bytes of `bytes` from `offset` as upper-case hex. */
export const bytesToHex = (bytes: Uint8Array, offset = 0, length = bytes.length - offset): string => {
  let out = ""
  for (let i = offset; i < offset + length; i++) out += HEX_PAIRS[bytes[i]!]!
  return out
}

/** An int32's 8 upper-case hex digits (Java `UtilAll.writeInt`). */
export const int32ToHex = (value: number): string =>
  HEX_PAIRS[(value >>> 24) & 0xff]! + HEX_PAIRS[(value >>> 16) & 0xff]! + HEX_PAIRS[(value >>> 8) & 0xff]! +
  HEX_PAIRS[value & 0xff]!

/** The low 16 bits' 4 upper-case hex digits (Java `UtilAll.writeShort`). */
export const int16ToHex = (value: number): string => HEX_PAIRS[(value >>> 8) & 0xff]! + HEX_PAIRS[value & 0xff]!

const nibble = (code: number): number => {
  if (code >= 48 && code <= 57) return code - 48
  if (code >= 65 && code <= 70) return code - 55
  if (code >= 97 && code <= 102) return code - 87
  return -1
}

/** The bytes of an even-length hex string (either case); `undefined` when it is not one. */
export const hexToBytes = (text: string): Uint8Array | undefined => {
  if (text.length % 2 !== 0) return undefined
  const out = new Uint8Array(text.length / 2)
  for (let i = 0; i < out.length; i++) {
    const high = nibble(text.charCodeAt(2 * i))
    const low = nibble(text.charCodeAt(2 * i + 1))
    if (high < 0 || low < 0) return undefined
    out[i] = (high << 4) | low
  }
  return out
}
