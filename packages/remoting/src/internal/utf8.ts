/**
 * UTF-8 as Java writes it. Java's encoders (`String.getBytes(UTF_8)`, Netty's `writeCharSequence`) turn an
 * unpaired surrogate into `?`; `TextEncoder` would write U+FFFD (three bytes). Every string that goes on the
 * wire passes through `javaWellFormed` first so our bytes and lengths match Java's.
 */

const encoder = new TextEncoder()
// `ignoreBOM` keeps a leading U+FEFF: it is part of the string, not a byte order mark. `fatal` turns invalid
// bytes into an exception that the callers turn into a typed error.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

// Every code unit below 0x80, control characters included.
// eslint-disable-next-line no-control-regex
const ascii = /^[\x00-\x7f]*$/
const anySurrogate = /[\ud800-\udfff]/
const surrogates = /[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]/g

/** The string with each unpaired surrogate replaced by `?`, as Java encodes it. */
export const javaWellFormed = (s: string): string =>
  anySurrogate.test(s) ? s.replace(surrogates, (m) => (m.length === 2 ? m : "?")) : s

/** The UTF-8 length of a well-formed string (see `javaWellFormed`). */
export const utf8Length = (s: string): number => {
  if (ascii.test(s)) return s.length
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff) {
      // A high surrogate is followed by its low half here: the pair is one 4-byte code point.
      n += 4
      i++
    } else n += 3
  }
  return n
}

/** Writes a well-formed string at `offset`; returns the number of bytes written. */
export const writeUtf8 = (s: string, target: Uint8Array, offset: number): number =>
  s.length === 0 ? 0 : encoder.encodeInto(s, target.subarray(offset)).written

/** Decodes strict UTF-8; `undefined` when the bytes are not valid UTF-8. */
export const readUtf8 = (bytes: Uint8Array): string | undefined => {
  try {
    return decoder.decode(bytes)
  } catch {
    return undefined
  }
}
