/**
 * The JSON header (serialize type 0), byte for byte as Java 5.x writes it with fastjson 1.2.83
 * (`RemotingSerializable.encode(cmd)`), and a lenient reader of what Java, Go and others send.
 *
 * What fastjson 1.2.83 writes, checked against its output for every character U+0000..U+00FF, U+2028,
 * U+2029, U+FEFF, U+FFFE, an emoji and unpaired surrogates (in a remark, an extFields key and a value):
 * - `"` → `\"`, `\` → `\\`; `/` is written raw (it is escaped only with `WriteSlashAsSpecial`);
 * - U+0008, U+0009, U+000A, U+000C, U+000D → `\b` `\t` `\n` `\f` `\r`;
 * - every other character below U+0020, and U+007F..U+009F, → `\u00XX` with UPPERCASE hex digits
 *   (`\u0001`, `\u001A`, `\u007F`): so message properties' separators U+0001 / U+0002 become `\u0001` / `\u0002`;
 * - U+2028 and U+2029 → `\u2028`, `\u2029`;
 * - everything else, U+00A0 upwards (U+FEFF included), raw as UTF-8; an unpaired surrogate becomes `?`
 *   (Java's `String.getBytes(UTF_8)`);
 * - keys are escaped like values.
 *
 * Reading follows Java (fastjson into a `RemotingCommand`) where that is sensible, and is stricter where
 * Java would silently make up values:
 * - keys in any order, unknown keys ignored (`serializeTypeCurrentRPC` is ignored: Go does not send it);
 * - `code` is required (Java would default it to 0); `flag`, `opaque`, `version` default to 0; they must be
 *   integers in the int32 range, given as numbers or integer strings (fastjson accepts `"-7"`);
 * - `language`: a name, matched ignoring case as fastjson does; a name RocketMQ does not define, or `null`,
 *   reads as `OTHER` (fastjson reads it as null and Java carries on, so refusing it would be stricter than any
 *   server); a number must be a defined code; absent means `JAVA`, Java's default;
 * - `remark`: a string, `null` (absent), or a number / boolean (stringified as fastjson does);
 * - `extFields`: an object or `null`; values that are strings are kept, numbers keep their source text
 *   (fastjson keeps it too, except that it rewrites exponents: `1e3` → `1E+3`), booleans become `"true"` /
 *   `"false"`, `null` values are dropped (Java keeps a null that every reader treats as absent), and nested
 *   objects or arrays are refused;
 * - extFields keep the order of the text, integer-like keys included;
 * - the text is parsed with `JSON.parse`; if that fails, again with the fastjson-tolerant parser (bare integer
 *   keys), whose failure position goes in the error. The tolerant parser also runs, keeping numbers' source
 *   text and members' order, when a remark or extFields value is a number or an extFields key is
 *   integer-like: `JSON.parse` loses both.
 */
import * as Either from "effect/Either"
import { LanguageCode, languageFromName, languageName } from "../RemotingCode.js"
import type { RemotingCommand } from "../RemotingCommand.js"
import { make } from "../RemotingCommand.js"
import { RemotingCodecError } from "../RemotingError.js"
import { NumberText, ObjectEntries, parse, snippet } from "./jsonParser.js"
import { readUtf8 } from "./utf8.js"

// ---------------------------------------------------------------------------------------------------------
// writing
// ---------------------------------------------------------------------------------------------------------

const hex4 = (c: number): string => `\\u${c.toString(16).toUpperCase().padStart(4, "0")}`

const escapes: ReadonlyMap<string, string> = (() => {
  const table = new Map<string, string>()
  for (let c = 0; c < 0x20; c++) table.set(String.fromCharCode(c), hex4(c))
  for (let c = 0x7f; c <= 0x9f; c++) table.set(String.fromCharCode(c), hex4(c))
  table.set("\b", "\\b").set("\t", "\\t").set("\n", "\\n").set("\f", "\\f").set("\r", "\\r")
  table.set("\"", "\\\"").set("\\", "\\\\")
  table.set("\u2028", "\\u2028").set("\u2029", "\\u2029")
  return table
})()

// The control characters are the point of these patterns: they are the characters fastjson escapes.
// eslint-disable-next-line no-control-regex
const needsEscape = /["\\\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]/
// eslint-disable-next-line no-control-regex
const toEscape = /["\\\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]/g

const escapeOne = (m: string): string => {
  if (m.length === 2) return m // a surrogate pair: written raw
  const escaped = escapes.get(m)
  return escaped === undefined ? "?" : escaped // the rest of the match is an unpaired surrogate
}

/** A JSON string literal as fastjson writes it, unpaired surrogates already turned into `?`. */
export const quote = (s: string): string => needsEscape.test(s) ? `"${s.replace(toEscape, escapeOne)}"` : `"${s}"`

const INT32_MIN = -0x80000000
const INT32_MAX = 0x7fffffff

const isInt32 = (n: number): boolean => Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX

const outOfRange = (field: string, value: number) =>
  new RemotingCodecError({
    reason: "ValueOutOfRange",
    serializeType: "JSON",
    field,
    value,
    detail: "a Java int (-2147483648..2147483647)"
  })

/**
 * The header text. Keys in fastjson's order (alphabetical), `extFields` / `remark` left out when absent,
 * extFields entries in the map's order.
 */
export const writeJsonHeader = (command: RemotingCommand): string | RemotingCodecError => {
  const { code, extFields, flag, language, opaque, remark, version } = command
  if (!isInt32(code)) return outOfRange("code", code)
  if (!isInt32(flag)) return outOfRange("flag", flag)
  if (!isInt32(opaque)) return outOfRange("opaque", opaque)
  if (!isInt32(version)) return outOfRange("version", version)
  const name = languageName(language)
  if (name === undefined) {
    return new RemotingCodecError({
      reason: "UnknownLanguage",
      serializeType: "JSON",
      field: "language",
      value: language
    })
  }
  let out = `{"code":${code}`
  if (extFields !== undefined) {
    out += `,"extFields":{`
    let first = true
    for (const [key, value] of extFields) {
      out += `${first ? "" : ","}${quote(key)}:${quote(value)}`
      first = false
    }
    out += "}"
  }
  out += `,"flag":${flag},"language":"${name}","opaque":${opaque}`
  if (remark !== undefined) out += `,"remark":${quote(remark)}`
  out += `,"serializeTypeCurrentRPC":"JSON","version":${version}}`
  return out
}

// ---------------------------------------------------------------------------------------------------------
// reading
// ---------------------------------------------------------------------------------------------------------

// `field` undefined: the header as a whole. `value` is what was seen; it is left out (not `undefined`) when
// there is nothing to show.
const invalid = (field: string | undefined, detail: string, ...value: [] | [unknown]): RemotingCodecError =>
  new RemotingCodecError({
    reason: "InvalidJsonHeader",
    serializeType: "JSON",
    field,
    detail,
    ...(value.length === 0 ? {} : { value: seen(value[0]) })
  })

// Which value a field was given, for an error: a `NumberText` as its number, `ObjectEntries` as an object.
const seen = (u: unknown): unknown =>
  u instanceof NumberText ? Number(u.text) : u instanceof ObjectEntries ? Object.fromEntries(u.entries) : u

const integerString = /^-?[0-9]+$/

const readInt = (field: string, u: unknown, absent: number): number | RemotingCodecError => {
  if (u === undefined) return absent
  const n = typeof u === "number"
    ? u
    : u instanceof NumberText
    ? Number(u.text)
    : typeof u === "string" && integerString.test(u)
    ? Number(u)
    : undefined
  if (n === undefined) return invalid(field, "must be an integer", u)
  if (!isInt32(n)) return invalid(field, "must be an integer in the int32 range", u)
  return n
}

const readLanguage = (u: unknown): number | RemotingCodecError => {
  if (u === undefined) return LanguageCode.JAVA
  if (u === null) return LanguageCode.OTHER
  if (typeof u === "string") return languageFromName(u) ?? LanguageCode.OTHER
  const n = typeof u === "number" ? u : u instanceof NumberText ? Number(u.text) : undefined
  if (n !== undefined && languageName(n) !== undefined) return n
  return invalid("language", "must be a language name or code", u)
}

// Returned when the fast parse (`JSON.parse`) lost what a lossless parse keeps: a number's source text (a
// remark or extFields value that is a number), or the order of extFields keys that are integer-like
// (JavaScript objects list those first).
const NEEDS_SOURCE = Symbol("NeedsSource")

// A remark or extFields value: a string, `undefined` for absent or null, `null` for an object or array.
const readScalar = (u: unknown): string | undefined | typeof NEEDS_SOURCE | null => {
  if (typeof u === "string") return u
  if (u instanceof NumberText) return u.text
  if (typeof u === "number") return NEEDS_SOURCE
  if (typeof u === "boolean") return u ? "true" : "false"
  if (u === null || u === undefined) return undefined
  return null // an object or an array
}

const hasOwn = Object.prototype.hasOwnProperty
const indexLike = /^[0-9]+$/

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !(u instanceof NumberText) &&
  !(u instanceof ObjectEntries)

const build = (
  header: unknown,
  body: Uint8Array
): RemotingCommand | RemotingCodecError | typeof NEEDS_SOURCE => {
  let get: (key: string) => unknown
  if (header instanceof ObjectEntries) {
    const members = new Map(header.entries)
    get = (key) => members.get(key)
  } else if (isPlainObject(header)) {
    get = (key) => hasOwn.call(header, key) ? header[key] : undefined
  } else {
    return invalid(undefined, "must be an object", header)
  }
  const rawCode = get("code")
  if (rawCode === undefined) return invalid("code", "is missing")
  const code = readInt("code", rawCode, 0)
  if (code instanceof RemotingCodecError) return code
  const flag = readInt("flag", get("flag"), 0)
  if (flag instanceof RemotingCodecError) return flag
  const opaque = readInt("opaque", get("opaque"), 0)
  if (opaque instanceof RemotingCodecError) return opaque
  const version = readInt("version", get("version"), 0)
  if (version instanceof RemotingCodecError) return version
  const language = readLanguage(get("language"))
  if (language instanceof RemotingCodecError) return language

  const rawRemark = get("remark")
  const remark = readScalar(rawRemark)
  if (remark === NEEDS_SOURCE) return NEEDS_SOURCE
  if (remark === null) return invalid("remark", "must be a string", rawRemark)

  const rawExt = get("extFields")
  let extFields: Map<string, string> | undefined
  if (rawExt !== undefined && rawExt !== null) {
    let members: ReadonlyArray<readonly [string, unknown]>
    if (rawExt instanceof ObjectEntries) {
      members = rawExt.entries
    } else if (isPlainObject(rawExt)) {
      members = Object.entries(rawExt)
      if (members.some(([key]) => indexLike.test(key))) return NEEDS_SOURCE
    } else {
      return invalid("extFields", "must be an object", rawExt)
    }
    extFields = new Map()
    for (const [key, raw] of members) {
      const value = readScalar(raw)
      if (value === NEEDS_SOURCE) return NEEDS_SOURCE
      if (value === null) return invalid(`extFields value of ${JSON.stringify(key)}`, "must be a string", raw)
      if (value !== undefined) extFields.set(key, value)
    }
  }
  return make({ code, language, version, opaque, flag, remark, extFields, body })
}

const tolerantParse = (text: string): unknown | RemotingCodecError =>
  Either.match(parse(text, true), {
    onLeft: (failure) =>
      new RemotingCodecError({
        reason: "MalformedJson",
        serializeType: "JSON",
        position: failure.position,
        detail: `expected ${failure.expected} near ${snippet(text, failure.position)}`
      }),
    onRight: (value) => value
  })

/** Reads a JSON header; `body` becomes the command's body. */
export const readJsonHeader = (bytes: Uint8Array, body: Uint8Array): RemotingCommand | RemotingCodecError => {
  const text = readUtf8(bytes)
  if (text === undefined) {
    return new RemotingCodecError({ reason: "InvalidUtf8", serializeType: "JSON", field: "text" })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = tolerantParse(text)
    if (parsed instanceof RemotingCodecError) return parsed
  }
  const command = build(parsed, body)
  if (command !== NEEDS_SOURCE) return command
  // Rare: parse again, keeping numbers' source text and members' order. That parse gives `NumberText`s and
  // `ObjectEntries`, so `build` cannot ask twice.
  const again = tolerantParse(text)
  if (again instanceof RemotingCodecError) return again
  const retried = build(again, body)
  return retried === NEEDS_SOURCE ? invalid(undefined, "has a number whose source text was lost") : retried
}
