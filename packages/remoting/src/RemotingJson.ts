/**
 * Reading the JSON bodies RocketMQ servers send. Java writes them with fastjson 1.2, which by default
 * leaves map keys that are numbers unquoted: `{"brokerAddrs":{0:"127.0.0.1:10911"}}`. A NameServer answers
 * `GET_BROKER_CLUSTER_INFO` that way always, and a topic route that way to clients whose version is below
 * `MQVersion.V4_9_4`. `JSON.parse` refuses such bodies; `parse` reads them.
 *
 * `parse` accepts standard JSON plus bare object keys (integers, and the letters, digits, `_` and `$`
 * fastjson also reads unquoted), and tolerates raw control characters inside strings. Values come back as
 * plain JavaScript values with string keys, as `JSON.parse` makes them (an own `__proto__` key stays a
 * key). Numbers are JavaScript numbers: integers above 2^53 lose precision, as with `JSON.parse`.
 *
 * `decode(schema)` parses and then decodes with an `effect/Schema`; `RouteData` has the schemas of the
 * bodies a client reads.
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { parse as parseText, snippet } from "./internal/jsonParser.js"
import { readUtf8 } from "./internal/utf8.js"
import { RemotingJsonError } from "./RemotingError.js"

const parseNamed = (text: string, what: string | undefined): Either.Either<unknown, RemotingJsonError> => {
  try {
    // Standard JSON, the common case, at native speed; anything JSON.parse refuses goes to the tolerant parser.
    return Either.right(JSON.parse(text))
  } catch {
    return Either.mapLeft(parseText(text, false), (failure) =>
      new RemotingJsonError({
        reason: "Malformed",
        what,
        position: failure.position,
        detail: `expected ${failure.expected} near ${snippet(text, failure.position)}`
      }))
  }
}

const parseBytesNamed = (bytes: Uint8Array, what: string | undefined): Either.Either<unknown, RemotingJsonError> => {
  const text = readUtf8(bytes)
  return text === undefined
    ? Either.left(new RemotingJsonError({ reason: "InvalidUtf8", what }))
    : parseNamed(text, what)
}

/**
 * Parses JSON text, fastjson's unquoted map keys included.
 *
 * @example
 * ```ts
 * import { RemotingJson } from "@rocketmq-effect/remoting"
 * import { Either } from "effect"
 *
 * const value = Either.getOrThrow(RemotingJson.parse(`{"brokerAddrs":{0:"127.0.0.1:10911"}}`))
 * assert.deepStrictEqual(value, { brokerAddrs: { "0": "127.0.0.1:10911" } })
 * ```
 *
 * @since 0.2.0
 * @category parsing
 */
export const parse = (text: string): Either.Either<unknown, RemotingJsonError> => parseNamed(text, undefined)

/**
 * Parses a body: UTF-8 bytes of JSON text, fastjson's unquoted map keys included.
 *
 * @since 0.2.0
 * @category parsing
 */
export const parseBytes = (bytes: Uint8Array): Either.Either<unknown, RemotingJsonError> =>
  parseBytesNamed(bytes, undefined)

/**
 * A decoder of bodies (bytes or text) into the schema's type; `what` names the body in errors. Properties
 * the schema does not name are ignored, so bodies from newer servers with more fields still decode.
 *
 * @since 0.2.0
 * @category decoding
 */
export const decode = <A, I>(
  schema: Schema.Schema<A, I, never>,
  what?: string
): (body: Uint8Array | string) => Either.Either<A, RemotingJsonError> => {
  const decodeUnknown = Schema.decodeUnknownEither(schema, { onExcessProperty: "ignore", errors: "first" })
  return (body) =>
    Either.flatMap(
      typeof body === "string" ? parseNamed(body, what) : parseBytesNamed(body, what),
      (value) =>
        Either.mapLeft(decodeUnknown(value), (cause) => new RemotingJsonError({ reason: "Schema", what, cause }))
    )
}
