/**
 * The RemotingCommand: the one message type of RocketMQ's remoting protocol, for requests and responses
 * alike. A command is an immutable plain value; the constructors here make requests and responses, and the
 * combinators return changed copies. `RemotingCodec` puts commands on the wire and reads them back.
 *
 * `extFields` is a `ReadonlyMap` because the order of its entries is the order the encoder writes them in.
 *
 * @since 0.2.0
 */
import { defaultLanguage, defaultVersion } from "./RemotingCode.js"

/**
 * How a command's header is written: `JSON` (serialize type 0, what Java servers use unless configured
 * otherwise) or `ROCKETMQ` (type 1, a compact binary layout whose `code` and `version` are 16 bits).
 *
 * @since 0.2.0
 * @category models
 */
export type SerializeType = "JSON" | "ROCKETMQ"

/**
 * A request or response.
 *
 * - `code`: the request code, or the response code in a response.
 * - `language`: a `LanguageCode` number (decoded commands keep whatever number arrived).
 * - `version`: an `MQVersion` ordinal.
 * - `opaque`: matches a response to its request; unique among the requests in flight on a connection.
 * - `flag`: bit 0 set = response, bit 1 set = oneway request.
 * - `remark`: free text, usually the reason of an error response.
 * - `extFields`: the header fields of the request or response, strings by name, in wire order.
 * - `body`: the payload after the header, empty when there is none.
 *
 * @since 0.2.0
 * @category models
 */
export interface RemotingCommand {
  readonly code: number
  readonly language: number
  readonly version: number
  readonly opaque: number
  readonly flag: number
  readonly remark: string | undefined
  readonly extFields: ReadonlyMap<string, string> | undefined
  readonly body: Uint8Array
}

/**
 * The flag bit that marks a response.
 *
 * @since 0.2.0
 * @category constants
 */
export const RESPONSE_FLAG = 1

/**
 * The flag bit that marks a oneway request: the server writes no response to it.
 *
 * @since 0.2.0
 * @category constants
 */
export const ONEWAY_FLAG = 2

const emptyBody = new Uint8Array(0)

/**
 * A value an extField may be given as. Numbers, booleans and bigints are stringified as Java's
 * `toString` does (`true` → `"true"`, `42` → `"42"`).
 *
 * @since 0.2.0
 * @category models
 */
export type ExtFieldValue = string | number | boolean | bigint

/**
 * extFields as a caller gives them. An `undefined` value leaves the field out, as Java leaves out a
 * custom header's null fields. A record lists integer-like keys (`"0"`, `"42"`) first, whatever order
 * they were written in (a JavaScript rule): pass a `Map` when the wire order matters.
 *
 * @since 0.2.0
 * @category models
 */
export type ExtFieldsInput =
  | Readonly<Record<string, ExtFieldValue | undefined>>
  | ReadonlyMap<string, ExtFieldValue | undefined>

/**
 * @since 0.2.0
 * @category models
 */
export interface CommandOptions {
  readonly extFields?: ExtFieldsInput | undefined
  /** Defaults to an empty body. */
  readonly body?: Uint8Array | undefined
  readonly remark?: string | undefined
  /** Defaults to `RemotingCode.defaultLanguage` (`OTHER`). */
  readonly language?: number | undefined
  /** Defaults to `RemotingCode.defaultVersion` (`V5_3_3`). */
  readonly version?: number | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface RequestOptions extends CommandOptions {
  /** Marks the request oneway: the server will not answer. */
  readonly oneway?: boolean | undefined
  /** Defaults to 0; a client assigns each request its own with `withOpaque` before sending. */
  readonly opaque?: number | undefined
}

const stringify = (value: ExtFieldValue): string => typeof value === "string" ? value : String(value)

/**
 * extFields given as a record or a map, as the model holds them: values stringified, `undefined`s left out,
 * entries in the input's order.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeExtFields = (input: ExtFieldsInput): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  if (isReadonlyMap(input)) {
    for (const [key, value] of input) if (value !== undefined) out.set(key, stringify(value))
  } else {
    for (const key of Object.keys(input)) {
      const value = input[key]
      if (value !== undefined) out.set(key, stringify(value))
    }
  }
  return out
}

const isReadonlyMap = (input: ExtFieldsInput): input is ReadonlyMap<string, ExtFieldValue | undefined> =>
  input instanceof Map

/**
 * A command with every field given, for decoders and tests. Prefer `request` and `response`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (fields: {
  readonly code: number
  readonly language: number
  readonly version: number
  readonly opaque: number
  readonly flag: number
  readonly remark?: string | undefined
  readonly extFields?: ReadonlyMap<string, string> | undefined
  readonly body?: Uint8Array | undefined
}): RemotingCommand => ({
  code: fields.code,
  language: fields.language,
  version: fields.version,
  opaque: fields.opaque,
  flag: fields.flag,
  remark: fields.remark,
  extFields: fields.extFields,
  body: fields.body ?? emptyBody
})

/**
 * A request.
 *
 * @example
 * ```ts
 * import { RemotingCode, RemotingCommand } from "@rocketmq-effect/remoting"
 *
 * const route = RemotingCommand.request(RemotingCode.RequestCode.GET_ROUTEINFO_BY_TOPIC, {
 *   extFields: { topic: "orders" }
 * })
 * assert.strictEqual(route.extFields?.get("topic"), "orders")
 * assert.strictEqual(RemotingCommand.isResponse(route), false)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const request = (code: number, options?: RequestOptions): RemotingCommand =>
  make({
    code,
    language: options?.language ?? defaultLanguage,
    version: options?.version ?? defaultVersion,
    opaque: options?.opaque ?? 0,
    flag: options?.oneway === true ? ONEWAY_FLAG : 0,
    remark: options?.remark,
    extFields: options?.extFields === undefined ? undefined : makeExtFields(options.extFields),
    body: options?.body
  })

/**
 * The response to `to`: same opaque, the response bit set.
 *
 * @example
 * ```ts
 * import { RemotingCode, RemotingCommand } from "@rocketmq-effect/remoting"
 *
 * const ask = RemotingCommand.request(RemotingCode.RequestCode.GET_CONSUMER_RUNNING_INFO, { opaque: 7 })
 * const answer = RemotingCommand.response(ask, RemotingCode.ResponseCode.REQUEST_CODE_NOT_SUPPORTED, {
 *   remark: ` request type ${ask.code} not supported`
 * })
 * assert.strictEqual(answer.opaque, 7)
 * assert.strictEqual(RemotingCommand.isResponse(answer), true)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const response = (to: RemotingCommand, code: number, options?: CommandOptions): RemotingCommand =>
  make({
    code,
    language: options?.language ?? defaultLanguage,
    version: options?.version ?? defaultVersion,
    opaque: to.opaque,
    flag: RESPONSE_FLAG,
    remark: options?.remark,
    extFields: options?.extFields === undefined ? undefined : makeExtFields(options.extFields),
    body: options?.body
  })

/**
 * Whether the command is a response (flag bit 0).
 *
 * @since 0.2.0
 * @category predicates
 */
export const isResponse = (command: RemotingCommand): boolean => (command.flag & RESPONSE_FLAG) !== 0

/**
 * Whether the command is a oneway request (flag bit 1): no response will come, and none must be written.
 *
 * @since 0.2.0
 * @category predicates
 */
export const isOneway = (command: RemotingCommand): boolean => (command.flag & ONEWAY_FLAG) !== 0

/**
 * The command with another opaque.
 *
 * @since 0.2.0
 * @category combinators
 */
export const withOpaque = (command: RemotingCommand, opaque: number): RemotingCommand => ({ ...command, opaque })

/**
 * The command with the oneway bit set.
 *
 * @since 0.2.0
 * @category combinators
 */
export const markOneway = (command: RemotingCommand): RemotingCommand => ({
  ...command,
  flag: command.flag | ONEWAY_FLAG
})
