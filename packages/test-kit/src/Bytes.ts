/**
 * Bytes in tests: comparison, concatenation, and contents that show misordered or misaligned data.
 */

/** The same length and the same bytes. */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The parts, one after another. */
export const concatBytes = (...parts: Array<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

/** Bytes whose content depends on `seed` and position, so misordered or misaligned data shows. */
export const pattern = (size: number, seed = 0): Uint8Array => {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 17 + (i >>> 8)) & 0xff
  return bytes
}

export const KiB = 1024
export const MiB = 1024 * KiB

/** `s` in UTF-8. */
export const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** UTF-8 bytes as a string. */
export const readText = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

/** Lower-case hex, two digits a byte; `"undefined"` for none (a field that was absent). */
export const hex = (bytes: Uint8Array | undefined): string =>
  bytes === undefined ? "undefined" : Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")

/** A payload that carries its sequence number in its first four bytes, the rest a `pattern` seeded with it. */
export const numbered = (seq: number, size: number): Uint8Array => {
  const bytes = pattern(size, seq)
  new DataView(bytes.buffer).setUint32(0, seq)
  return bytes
}

/** The sequence number of a `numbered` payload. */
export const seqOf = (payload: Uint8Array): number => new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0)
