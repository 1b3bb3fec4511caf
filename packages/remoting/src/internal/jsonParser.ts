/**
 * A JSON parser that also reads what fastjson 1.2 writes without `QuoteFieldNames`: object keys that are
 * bare integers (`{"brokerAddrs":{0:"127.0.0.1:10911"}}`). Bare keys of letters, digits, `_`, `$` and a
 * leading `-` are accepted too, as fastjson reads them; single-quoted strings, comments and trailing commas
 * are not (no RocketMQ peer writes them).
 *
 * It never throws: a failure is a `ParseFailure` with the position (a UTF-16 index into the text) and what
 * was expected there. Nesting is capped at `MAX_DEPTH`, so hostile input cannot overflow the stack.
 */
import * as Either from "effect/Either"

/** A number's source text, for callers that must keep it exactly (fastjson stringifies it as written). */
export class NumberText {
  constructor(readonly text: string) {}
}

/** An object's members in source order, for callers that must keep it (JavaScript objects list integer-like keys first). */
export class ObjectEntries {
  constructor(readonly entries: ReadonlyArray<readonly [string, unknown]>) {}
}

export interface ParseFailure {
  readonly _tag: "ParseFailure"
  readonly position: number
  readonly expected: string
}

export const MAX_DEPTH = 512

const numberPattern = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y
const bareKeyPattern = /-?[A-Za-z0-9_$]+/y

class Failure {
  constructor(readonly position: number, readonly expected: string) {}
}

const isFailure = (u: unknown): u is Failure => u instanceof Failure

class Parser {
  pos = 0
  constructor(readonly text: string, readonly lossless: boolean) {}

  skipWhitespace(): void {
    const text = this.text
    let pos = this.pos
    while (pos < text.length) {
      const c = text.charCodeAt(pos)
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break
      pos++
    }
    this.pos = pos
  }

  value(depth: number): unknown {
    this.skipWhitespace()
    const text = this.text
    if (this.pos >= text.length) return new Failure(this.pos, "a value")
    const c = text.charCodeAt(this.pos)
    switch (c) {
      case 0x7b: // {
        return depth >= MAX_DEPTH ? new Failure(this.pos, `at most ${MAX_DEPTH} levels of nesting`) : this.object(depth)
      case 0x5b: // [
        return depth >= MAX_DEPTH ? new Failure(this.pos, `at most ${MAX_DEPTH} levels of nesting`) : this.array(depth)
      case 0x22: // "
        return this.string()
      case 0x74: // t
        return this.literal("true", true)
      case 0x66: // f
        return this.literal("false", false)
      case 0x6e: // n
        return this.literal("null", null)
      default:
        return this.number()
    }
  }

  literal(word: string, result: unknown): unknown {
    if (this.text.startsWith(word, this.pos)) {
      this.pos += word.length
      return result
    }
    return new Failure(this.pos, "a value")
  }

  number(): unknown {
    numberPattern.lastIndex = this.pos
    const match = numberPattern.exec(this.text)
    if (match === null) return new Failure(this.pos, "a value")
    this.pos += match[0].length
    return this.lossless ? new NumberText(match[0]) : Number(match[0])
  }

  string(): string | Failure {
    const text = this.text
    const start = this.pos + 1
    let pos = start
    // Fast path: no escapes, the string is one slice.
    while (pos < text.length) {
      const c = text.charCodeAt(pos)
      if (c === 0x22) {
        this.pos = pos + 1
        return text.slice(start, pos)
      }
      if (c === 0x5c) break
      pos++
    }
    let out = text.slice(start, pos)
    while (pos < text.length) {
      const c = text.charCodeAt(pos)
      if (c === 0x22) {
        this.pos = pos + 1
        return out
      }
      if (c !== 0x5c) {
        let end = pos + 1
        while (end < text.length) {
          const d = text.charCodeAt(end)
          if (d === 0x22 || d === 0x5c) break
          end++
        }
        out += text.slice(pos, end)
        pos = end
        continue
      }
      const e = text.charCodeAt(pos + 1)
      switch (e) {
        case 0x22:
          out += "\""
          break
        case 0x5c:
          out += "\\"
          break
        case 0x2f:
          out += "/"
          break
        case 0x62:
          out += "\b"
          break
        case 0x66:
          out += "\f"
          break
        case 0x6e:
          out += "\n"
          break
        case 0x72:
          out += "\r"
          break
        case 0x74:
          out += "\t"
          break
        case 0x75: {
          const hex = text.slice(pos + 2, pos + 6)
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) return new Failure(pos, "four hex digits after \\u")
          out += String.fromCharCode(parseInt(hex, 16))
          pos += 6
          continue
        }
        default:
          return new Failure(pos, "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
      }
      pos += 2
    }
    return new Failure(text.length, "the closing quote of a string")
  }

  key(): string | Failure {
    if (this.text.charCodeAt(this.pos) === 0x22) return this.string()
    bareKeyPattern.lastIndex = this.pos
    const match = bareKeyPattern.exec(this.text)
    if (match === null) return new Failure(this.pos, "a key")
    this.pos += match[0].length
    return match[0]
  }

  object(depth: number): unknown {
    const result: Record<string, unknown> = {}
    const entries: Array<readonly [string, unknown]> = []
    const done = () => (this.lossless ? new ObjectEntries(entries) : result)
    this.pos++
    this.skipWhitespace()
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++
      return done()
    }
    for (;;) {
      this.skipWhitespace()
      const key = this.key()
      if (isFailure(key)) return key
      this.skipWhitespace()
      if (this.text.charCodeAt(this.pos) !== 0x3a) return new Failure(this.pos, "':' after a key")
      this.pos++
      const value = this.value(depth + 1)
      if (isFailure(value)) return value
      if (this.lossless) {
        entries.push([key, value])
      } else if (key === "__proto__") {
        // An own property, as JSON.parse makes it: assignment would replace the prototype instead.
        Object.defineProperty(result, key, { value, writable: true, enumerable: true, configurable: true })
      } else {
        result[key] = value
      }
      this.skipWhitespace()
      const c = this.text.charCodeAt(this.pos)
      this.pos++
      if (c === 0x2c) continue
      if (c === 0x7d) return done()
      return new Failure(this.pos - 1, "',' or '}' in an object")
    }
  }

  array(depth: number): unknown {
    const result: Array<unknown> = []
    this.pos++
    this.skipWhitespace()
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++
      return result
    }
    for (;;) {
      const value = this.value(depth + 1)
      if (isFailure(value)) return value
      result.push(value)
      this.skipWhitespace()
      const c = this.text.charCodeAt(this.pos)
      this.pos++
      if (c === 0x2c) continue
      if (c === 0x5d) return result
      return new Failure(this.pos - 1, "',' or ']' in an array")
    }
  }
}

/**
 * Parses `text`. Numbers become JS numbers and objects plain objects, or, when `lossless`, `NumberText`s
 * and `ObjectEntries` that keep the source's digits and member order. The whole text must be one value
 * (surrounding whitespace allowed).
 */
export const parse = (text: string, lossless: boolean): Either.Either<unknown, ParseFailure> => {
  const parser = new Parser(text, lossless)
  const value = parser.value(0)
  if (isFailure(value)) return Either.left({ _tag: "ParseFailure", position: value.position, expected: value.expected })
  parser.skipWhitespace()
  if (parser.pos < text.length) {
    return Either.left({ _tag: "ParseFailure", position: parser.pos, expected: "the end of the input" })
  }
  return Either.right(value)
}

/** Up to 24 characters either side of `position`, with a marker where the parser stopped. */
export const snippet = (text: string, position: number): string => {
  const from = Math.max(0, position - 24)
  const to = Math.min(text.length, position + 24)
  return `${from > 0 ? "…" : ""}${text.slice(from, position)}⟨here⟩${text.slice(position, to)}${
    to < text.length ? "…" : ""
  }`
}
