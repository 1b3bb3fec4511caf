/**
 * The message a producer sends: its model, the checks Java's client makes before sending (`validate`), the
 * properties Java would put on the wire for it (`properties`), and the two encodings a send uses: the property
 * string (`encodeProperties`) and the body of a batch send (`encodeBatch`).
 *
 * @since 0.3.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as MessageProperties from "./internal/messageProperties.js"

/**
 * A message to send.
 *
 * - `keys`: the message's index keys; sent space-joined in `KEYS`, so a key cannot hold a space.
 * - `properties`: user properties; names Java reserves (`Property`) are refused by `validate`.
 * - `delayLevel`: a broker delay level (`DELAY`; 1..18 on a default broker, higher levels are clamped by it).
 * - `deliverAt`: an absolute delivery time, epoch ms (`TIMER_DELIVER_MS`; needs the broker's timer wheel).
 * - `delay`: a delivery delay (`TIMER_DELAY_MS`). At most one of `delayLevel`, `deliverAt` and `delay`.
 * - `waitStoreMsgOK`: `WAIT`; default true.
 *
 * @since 0.3.0
 * @category models
 */
export interface Message {
  readonly topic: string
  readonly body: Uint8Array
  readonly tags?: string | undefined
  readonly keys?: ReadonlyArray<string> | undefined
  readonly properties?: Readonly<Record<string, string>> | undefined
  readonly flag?: number | undefined
  readonly delayLevel?: number | undefined
  readonly deliverAt?: number | undefined
  readonly delay?: Duration.DurationInput | undefined
  readonly waitStoreMsgOK?: boolean | undefined
}

/**
 * A message `validate` refuses: `field` names the part (`topic`, `body`, `tags`, `keys`, `flag`, `delayLevel`,
 * `deliverAt`, `delay`, `properties`, `properties.<name>`), `rule` the rule it breaks, and `value` what was
 * seen (for a body, its length in bytes).
 *
 * @since 0.3.0
 * @category errors
 */
export class MessageError extends Data.TaggedError("MessageError")<{
  readonly field: string
  readonly rule: string
  readonly value: unknown
}> {
  override get message(): string {
    const value = typeof this.value === "string" ? JSON.stringify(this.value) : String(this.value)
    return `invalid message ${this.field}: ${this.rule} (got ${value})`
  }
}

/**
 * Property names with a meaning to RocketMQ (Java `MessageConst`).
 *
 * @since 0.3.0
 * @category constants
 */
export const Property = {
  KEYS: "KEYS",
  TAGS: "TAGS",
  WAIT: "WAIT",
  DELAY: "DELAY",
  RETRY_TOPIC: "RETRY_TOPIC",
  REAL_TOPIC: "REAL_TOPIC",
  REAL_QID: "REAL_QID",
  TRAN_MSG: "TRAN_MSG",
  PGROUP: "PGROUP",
  MIN_OFFSET: "MIN_OFFSET",
  MAX_OFFSET: "MAX_OFFSET",
  BUYER_ID: "BUYER_ID",
  ORIGIN_MESSAGE_ID: "ORIGIN_MESSAGE_ID",
  TRANSFER_FLAG: "TRANSFER_FLAG",
  CORRECTION_FLAG: "CORRECTION_FLAG",
  MQ2_FLAG: "MQ2_FLAG",
  RECONSUME_TIME: "RECONSUME_TIME",
  MSG_REGION: "MSG_REGION",
  TRACE_ON: "TRACE_ON",
  UNIQ_KEY: "UNIQ_KEY",
  EXTEND_UNIQ_INFO: "EXTEND_UNIQ_INFO",
  MAX_RECONSUME_TIMES: "MAX_RECONSUME_TIMES",
  CONSUME_START_TIME: "CONSUME_START_TIME",
  INNER_NUM: "INNER_NUM",
  INNER_BASE: "INNER_BASE",
  DUP_INFO: "DUP_INFO",
  CHECK_IMMUNITY_TIME_IN_SECONDS: "CHECK_IMMUNITY_TIME_IN_SECONDS",
  TRAN_PREPARED_QUEUE_OFFSET: "TRAN_PREPARED_QUEUE_OFFSET",
  TRANSACTION_ID: "__transactionId__",
  TRANSACTION_CHECK_TIMES: "TRANSACTION_CHECK_TIMES",
  INSTANCE_ID: "INSTANCE_ID",
  CORRELATION_ID: "CORRELATION_ID",
  REPLY_TO_CLIENT: "REPLY_TO_CLIENT",
  TTL: "TTL",
  ARRIVE_TIME: "ARRIVE_TIME",
  PUSH_REPLY_TIME: "PUSH_REPLY_TIME",
  CLUSTER: "CLUSTER",
  MSG_TYPE: "MSG_TYPE",
  POP_CK: "POP_CK",
  POP_CK_OFFSET: "POP_CK_OFFSET",
  FIRST_POP_TIME: "1ST_POP_TIME",
  SHARDING_KEY: "__SHARDINGKEY",
  FORWARD_QUEUE_ID: "PROPERTY_FORWARD_QUEUE_ID",
  REDIRECT: "REDIRECT",
  INNER_MULTI_DISPATCH: "INNER_MULTI_DISPATCH",
  INNER_MULTI_QUEUE_OFFSET: "INNER_MULTI_QUEUE_OFFSET",
  TRACE_CONTEXT: "TRACE_CONTEXT",
  TIMER_DELAY_SEC: "TIMER_DELAY_SEC",
  TIMER_DELIVER_MS: "TIMER_DELIVER_MS",
  TIMER_DELAY_MS: "TIMER_DELAY_MS",
  TIMER_ENQUEUE_MS: "TIMER_ENQUEUE_MS",
  TIMER_DEQUEUE_MS: "TIMER_DEQUEUE_MS",
  TIMER_ROLL_TIMES: "TIMER_ROLL_TIMES",
  TIMER_OUT_MS: "TIMER_OUT_MS",
  TIMER_DEL_UNIQKEY: "TIMER_DEL_UNIQKEY",
  TIMER_DELAY_LEVEL: "TIMER_DELAY_LEVEL",
  BORN_HOST: "__BORNHOST",
  BORN_TIMESTAMP: "BORN_TIMESTAMP",
  CRC32: "__CRC32#",
  DLQ_ORIGIN_TOPIC: "DLQ_ORIGIN_TOPIC",
  DLQ_ORIGIN_MESSAGE_ID: "DLQ_ORIGIN_MESSAGE_ID",
  TRANSIENT_PREFIX: "__RMQ.TRANSIENT."
} as const

/**
 * The names a user property cannot have: Java's `MessageConst.STRING_HASH_SET`, which `putUserProperty`
 * refuses.
 *
 * @since 0.3.0
 * @category constants
 */
export const reservedPropertyNames: ReadonlySet<string> = new Set([
  Property.TRACE_ON,
  Property.MSG_REGION,
  Property.KEYS,
  Property.TAGS,
  Property.WAIT,
  Property.DELAY,
  Property.RETRY_TOPIC,
  Property.REAL_TOPIC,
  Property.REAL_QID,
  Property.TRAN_MSG,
  Property.PGROUP,
  Property.MIN_OFFSET,
  Property.MAX_OFFSET,
  Property.BUYER_ID,
  Property.ORIGIN_MESSAGE_ID,
  Property.TRANSFER_FLAG,
  Property.CORRECTION_FLAG,
  Property.MQ2_FLAG,
  Property.RECONSUME_TIME,
  Property.UNIQ_KEY,
  Property.MAX_RECONSUME_TIMES,
  Property.CONSUME_START_TIME,
  Property.POP_CK,
  Property.POP_CK_OFFSET,
  Property.FIRST_POP_TIME,
  Property.TRAN_PREPARED_QUEUE_OFFSET,
  Property.DUP_INFO,
  Property.EXTEND_UNIQ_INFO,
  Property.INSTANCE_ID,
  Property.CORRELATION_ID,
  Property.REPLY_TO_CLIENT,
  Property.TTL,
  Property.ARRIVE_TIME,
  Property.PUSH_REPLY_TIME,
  Property.CLUSTER,
  Property.MSG_TYPE,
  Property.INNER_MULTI_QUEUE_OFFSET,
  Property.TIMER_DELAY_MS,
  Property.TIMER_DELAY_SEC,
  Property.TIMER_DELIVER_MS,
  Property.TIMER_ENQUEUE_MS,
  Property.TIMER_DEQUEUE_MS,
  Property.TIMER_ROLL_TIMES,
  Property.TIMER_OUT_MS,
  Property.TIMER_DEL_UNIQKEY,
  Property.TIMER_DELAY_LEVEL,
  Property.BORN_HOST,
  Property.BORN_TIMESTAMP,
  Property.DLQ_ORIGIN_TOPIC,
  Property.DLQ_ORIGIN_MESSAGE_ID,
  Property.CRC32
])

/**
 * Java's `DefaultMQProducer.maxMessageSize`: 4 MiB of body.
 *
 * @since 0.3.0
 * @category constants
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024

/**
 * The longest topic name Java accepts (`Validators.TOPIC_MAX_LENGTH`), in UTF-16 code units.
 *
 * @since 0.3.0
 * @category constants
 */
export const TOPIC_MAX_LENGTH = 127

/**
 * The most bytes a stored message's properties can take (`Short.MAX_VALUE`: the broker refuses more).
 *
 * @since 0.3.0
 * @category constants
 */
export const MAX_PROPERTIES_SIZE = 32767

/**
 * Room `validate` keeps in the properties for the `UNIQ_KEY` the producer adds: `UNIQ_KEY\u0001` + 56 hex digits
 * (an IPv6 id) + `\u0002`.
 */
const UNIQ_KEY_RESERVE = 66

/**
 * Topics a client may not send to (Java `TopicValidator.NOT_ALLOWED_SEND_TOPIC_SET`).
 *
 * @since 0.3.0
 * @category constants
 */
export const notAllowedSendTopics: ReadonlySet<string> = new Set([
  "SCHEDULE_TOPIC_XXXX",
  "RMQ_SYS_TRANS_HALF_TOPIC",
  "RMQ_SYS_TRANS_OP_HALF_TOPIC",
  "TRANS_CHECK_MAX_TIME_TOPIC",
  "SELF_TEST_TOPIC",
  "OFFSET_MOVED_EVENT"
])

const TOPIC_CHARACTERS = /^[%|a-zA-Z0-9_-]+$/
// eslint-disable-next-line no-control-regex
const SEPARATORS = /[\u0001\u0002]/

const isBlank = (text: string) => text.trim().length === 0
const isInt32 = (value: number) => Number.isInteger(value) && value >= -2147483648 && value <= 2147483647

/**
 * Whether `topic` is a name Java's `Validators.checkTopic` accepts: not blank, at most 127 characters, only
 * `%|a-zA-Z0-9_-`. `undefined` when it is, else the rule it breaks.
 *
 * @since 0.3.0
 * @category validation
 */
export const checkTopic = (topic: string): string | undefined => {
  if (topic.length === 0) return "must not be empty"
  if (topic.length > TOPIC_MAX_LENGTH) return `must be at most ${TOPIC_MAX_LENGTH} characters`
  if (!TOPIC_CHARACTERS.test(topic)) return "may only contain the characters %|a-zA-Z0-9_-"
  return undefined
}

const utf8 = new TextEncoder()

/**
 * Java's checks before a send (`Validators.checkMessage`, `Message.putUserProperty`) and those the broker
 * would otherwise answer with MESSAGE_ILLEGAL, first failure only:
 *
 * - `topic`: `checkTopic`, and not a topic Java refuses to send to (`notAllowedSendTopics`);
 * - `body`: 1 to `maxMessageSize` (default 4 MiB) bytes;
 * - `tags`: no `\u0001`/`\u0002` and no `||` (a subscription could never name it);
 * - `keys`: each non-blank, without spaces or `\u0001`/`\u0002`;
 * - `flag`: an int32; `delayLevel`: an int32 ≥ 0; `deliverAt`: an integer epoch ms ≥ 0; `delay`: a finite
 *   duration ≥ 0; at most one of `delayLevel` (when > 0), `deliverAt` and `delay` (the broker would silently
 *   drop all but one);
 * - `properties.<name>`: not a reserved name, name and value not blank, no `\u0001`/`\u0002`;
 * - `properties`: all properties encoded, with room for the `UNIQ_KEY` a send adds, within 32767 bytes.
 *
 * @since 0.3.0
 * @category validation
 */
export const validate = (
  message: Message,
  options?: { readonly maxMessageSize?: number }
): Either.Either<Message, MessageError> => {
  const fail = (field: string, rule: string, value: unknown) => Either.left(new MessageError({ field, rule, value }))
  const topicRule = checkTopic(message.topic)
  if (topicRule !== undefined) return fail("topic", topicRule, message.topic)
  if (notAllowedSendTopics.has(message.topic)) {
    return fail("topic", "is a system topic clients may not send to", message.topic)
  }
  const maxMessageSize = options?.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
  if (message.body.length === 0) return fail("body", "must not be empty", 0)
  if (message.body.length > maxMessageSize) {
    return fail("body", `must be at most ${maxMessageSize} bytes`, message.body.length)
  }
  if (message.tags !== undefined) {
    if (SEPARATORS.test(message.tags)) return fail("tags", "must not contain \\u0001 or \\u0002", message.tags)
    if (message.tags.includes("||")) {
      return fail("tags", "must not contain || (the subscription separator)", message.tags)
    }
  }
  if (message.keys !== undefined) {
    for (const key of message.keys) {
      if (isBlank(key)) return fail("keys", "each key must not be blank", key)
      if (key.includes(" ")) return fail("keys", "a key must not contain a space (keys are sent space-separated)", key)
      if (SEPARATORS.test(key)) return fail("keys", "must not contain \\u0001 or \\u0002", key)
    }
  }
  if (message.flag !== undefined && !isInt32(message.flag)) return fail("flag", "must be an int32", message.flag)
  if (message.delayLevel !== undefined && !(isInt32(message.delayLevel) && message.delayLevel >= 0)) {
    return fail("delayLevel", "must be an integer >= 0", message.delayLevel)
  }
  if (message.deliverAt !== undefined && !(Number.isSafeInteger(message.deliverAt) && message.deliverAt >= 0)) {
    return fail("deliverAt", "must be an integer epoch time in ms >= 0", message.deliverAt)
  }
  if (message.delay !== undefined) {
    const delay = Duration.decodeUnknown(message.delay)
    if (Option.isNone(delay) || !Duration.isFinite(delay.value)) {
      return fail("delay", "must be a finite duration", message.delay)
    }
  }
  const timed = (message.delayLevel !== undefined && message.delayLevel > 0 ? 1 : 0) +
    (message.deliverAt !== undefined ? 1 : 0) + (message.delay !== undefined ? 1 : 0)
  if (timed > 1) {
    const field = message.deliverAt !== undefined ? "deliverAt" : "delay"
    return fail(field, "at most one of delayLevel, deliverAt and delay", message[field])
  }
  if (message.properties !== undefined) {
    for (const [name, value] of Object.entries(message.properties)) {
      const field = `properties.${name}`
      if (reservedPropertyNames.has(name)) return fail(field, "is a name reserved by RocketMQ", value)
      if (isBlank(name)) return fail(field, "the name must not be blank", name)
      if (typeof value !== "string" || isBlank(value)) return fail(field, "the value must be a non-blank string", value)
      if (SEPARATORS.test(name)) return fail(field, "the name must not contain \\u0001 or \\u0002", name)
      if (SEPARATORS.test(value)) return fail(field, "the value must not contain \\u0001 or \\u0002", value)
    }
  }
  const size = utf8.encode(encodeProperties(properties(message))).length + UNIQ_KEY_RESERVE
  if (size > MAX_PROPERTIES_SIZE) {
    return fail(
      "properties",
      `must encode to at most ${MAX_PROPERTIES_SIZE - UNIQ_KEY_RESERVE} bytes`,
      size - UNIQ_KEY_RESERVE
    )
  }
  return Either.right(message)
}

/**
 * The properties Java would send for `message`, before the producer adds `UNIQ_KEY`: `TAGS` (when not empty),
 * `KEYS` (space-joined, when any), `WAIT`, `DELAY` (when > 0), `TIMER_DELIVER_MS`, `TIMER_DELAY_MS`, then the
 * user properties.
 *
 * @since 0.3.0
 * @category encoding
 */
export const properties = (message: Message): Map<string, string> => {
  const out = new Map<string, string>()
  if (message.tags !== undefined && message.tags.length > 0) out.set(Property.TAGS, message.tags)
  if (message.keys !== undefined && message.keys.length > 0) out.set(Property.KEYS, message.keys.join(" "))
  out.set(Property.WAIT, message.waitStoreMsgOK === false ? "false" : "true")
  if (message.delayLevel !== undefined && message.delayLevel > 0) out.set(Property.DELAY, String(message.delayLevel))
  if (message.deliverAt !== undefined) out.set(Property.TIMER_DELIVER_MS, String(Math.trunc(message.deliverAt)))
  if (message.delay !== undefined) {
    const delay = Duration.decodeUnknown(message.delay)
    if (Option.isSome(delay) && Duration.isFinite(delay.value)) {
      out.set(Property.TIMER_DELAY_MS, String(Math.max(0, Math.floor(Duration.toMillis(delay.value)))))
    }
  }
  if (message.properties !== undefined) {
    for (const [name, value] of Object.entries(message.properties)) out.set(name, value)
  }
  return out
}

/**
 * `name\u0001value\u0002` for each property, in the map's order (Java
 * `MessageDecoder.messageProperties2String`).
 *
 * @since 0.3.0
 * @category encoding
 */
export const encodeProperties: (properties: ReadonlyMap<string, string>) => string = MessageProperties.encode

/**
 * The properties of a property string, read as Java does (`MessageDecoder.string2messageProperties`): a pair
 * with an empty name or value, or without `\u0001`, is skipped.
 *
 * @since 0.3.0
 * @category encoding
 */
export const decodeProperties: (text: string) => Map<string, string> = MessageProperties.decode

/**
 * One message of a batch send.
 *
 * @since 0.3.0
 * @category models
 */
export interface BatchEntry {
  readonly body: Uint8Array
  readonly flag: number
  readonly properties: ReadonlyMap<string, string>
}

/**
 * The body of a SEND_BATCH_MESSAGE (Java `MessageDecoder.encodeMessages`): for each entry, big-endian,
 * TOTALSIZE int32, MAGIC 0, BODYCRC 0, FLAG int32, BODYLEN int32 and the body, PROPLEN int16 and the UTF-8
 * properties; concatenated. Properties longer than 32767 bytes wrap as Java's `(short)` cast does: validate
 * first.
 *
 * @since 0.3.0
 * @category encoding
 */
export const encodeBatch = (entries: ReadonlyArray<BatchEntry>): Uint8Array => {
  const encodedProperties = entries.map((entry) => utf8.encode(MessageProperties.encode(entry.properties)))
  let total = 0
  for (let i = 0; i < entries.length; i++) total += 22 + entries[i]!.body.length + encodedProperties[i]!.length
  const out = new Uint8Array(total)
  const view = new DataView(out.buffer)
  let at = 0
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    const props = encodedProperties[i]!
    view.setInt32(at, 22 + entry.body.length + props.length)
    view.setInt32(at + 4, 0)
    view.setInt32(at + 8, 0)
    view.setInt32(at + 12, entry.flag)
    view.setInt32(at + 16, entry.body.length)
    out.set(entry.body, at + 20)
    at += 20 + entry.body.length
    view.setInt16(at, props.length << 16 >> 16)
    out.set(props, at + 2)
    at += 2 + props.length
  }
  return out
}
