/**
 * The numbers of the RemotingCommand protocol: request and response codes, language codes and the
 * `MQVersion` ordinals that go in a command's `version`. The values are Apache RocketMQ's (5.3.3
 * `RequestCode`, `ResponseCode`, `RemotingSysResponseCode`, `LanguageCode`, `MQVersion`); the selection is
 * what a minimal client sends, answers and reads.
 *
 * @since 0.2.0
 */

/**
 * Request codes: those a client sends, and those a server sends to a client (`CHECK_TRANSACTION_STATE`,
 * `NOTIFY_CONSUMER_IDS_CHANGED`, `GET_CONSUMER_RUNNING_INFO`).
 *
 * `POP_MESSAGE` and `ACK_MESSAGE` are above 32767: they fit a JSON header only, not the ROCKETMQ binary one.
 *
 * @since 0.2.0
 * @category codes
 */
export const RequestCode = {
  SEND_MESSAGE: 10,
  PULL_MESSAGE: 11,
  QUERY_CONSUMER_OFFSET: 14,
  UPDATE_CONSUMER_OFFSET: 15,
  UPDATE_AND_CREATE_TOPIC: 17,
  GET_MAX_OFFSET: 30,
  GET_MIN_OFFSET: 31,
  HEART_BEAT: 34,
  UNREGISTER_CLIENT: 35,
  /** Server → client, oneway. */
  CHECK_TRANSACTION_STATE: 39,
  /** Server → client, oneway; extField `consumerGroup`. */
  NOTIFY_CONSUMER_IDS_CHANGED: 40,
  GET_ROUTEINFO_BY_TOPIC: 105,
  GET_BROKER_CLUSTER_INFO: 106,
  /** Server → client; the server waits up to 10 s for the answer. */
  GET_CONSUMER_RUNNING_INFO: 307,
  SEND_MESSAGE_V2: 310,
  SEND_BATCH_MESSAGE: 320,
  POP_MESSAGE: 200050,
  ACK_MESSAGE: 200051
} as const

/**
 * @since 0.2.0
 * @category codes
 */
export type RequestCode = typeof RequestCode[keyof typeof RequestCode]

/**
 * Response codes. `GO_AWAY` is sent by a server that is shutting down (to clients whose version is above
 * `MQVersion.V5_3_1`).
 *
 * @since 0.2.0
 * @category codes
 */
export const ResponseCode = {
  SUCCESS: 0,
  SYSTEM_ERROR: 1,
  SYSTEM_BUSY: 2,
  REQUEST_CODE_NOT_SUPPORTED: 3,
  SERVICE_NOT_AVAILABLE: 14,
  TOPIC_NOT_EXIST: 17,
  PULL_NOT_FOUND: 19,
  PULL_RETRY_IMMEDIATELY: 20,
  PULL_OFFSET_MOVED: 21,
  QUERY_NOT_FOUND: 22,
  SUBSCRIPTION_NOT_EXIST: 24,
  GO_AWAY: 1500
} as const

/**
 * @since 0.2.0
 * @category codes
 */
export type ResponseCode = typeof ResponseCode[keyof typeof ResponseCode]

/**
 * The language a command says it comes from: a byte in the ROCKETMQ binary header, the name in a JSON
 * header. `NODE_JS` exists from RocketMQ 5.3.2 on; an older server may fail to parse a JSON header naming it.
 *
 * @since 0.2.0
 * @category codes
 */
export const LanguageCode = {
  JAVA: 0,
  CPP: 1,
  DOTNET: 2,
  PYTHON: 3,
  DELPHI: 4,
  ERLANG: 5,
  RUBY: 6,
  OTHER: 7,
  HTTP: 8,
  GO: 9,
  PHP: 10,
  OMS: 11,
  RUST: 12,
  NODE_JS: 13
} as const

/**
 * @since 0.2.0
 * @category codes
 */
export type LanguageCode = typeof LanguageCode[keyof typeof LanguageCode]

/**
 * @since 0.2.0
 * @category codes
 */
export type LanguageName = keyof typeof LanguageCode

const languageNames: ReadonlyArray<LanguageName> = Object.keys(LanguageCode) as Array<LanguageName>
const languagesByName: ReadonlyMap<string, LanguageCode> = new Map(
  languageNames.map((name) => [name.toUpperCase(), LanguageCode[name]])
)

/**
 * The name of a language code (`13` → `"NODE_JS"`), `undefined` for a number RocketMQ does not define.
 *
 * @since 0.2.0
 * @category codes
 */
export const languageName = (code: number): LanguageName | undefined => {
  // The codes are the enum's ordinals, so the name list is indexed by code.
  const name = Number.isInteger(code) && code >= 0 ? languageNames[code] : undefined
  return name !== undefined && LanguageCode[name] === code ? name : undefined
}

/**
 * The code of a language name, ignoring case as fastjson does when it reads the enum (`"node_js"` → `13`);
 * `undefined` for a name RocketMQ does not define.
 *
 * @since 0.2.0
 * @category codes
 */
export const languageFromName = (name: string): LanguageCode | undefined => languagesByName.get(name.toUpperCase())

/**
 * The language this library puts in the commands it makes unless told otherwise: `OTHER`, which every
 * RocketMQ version knows. Pass `LanguageCode.NODE_JS` when the servers are 5.3.2 or newer.
 *
 * @since 0.2.0
 * @category defaults
 */
export const defaultLanguage: LanguageCode = LanguageCode.OTHER

/**
 * Ordinals of Java's `MQVersion.Version` enum (as of RocketMQ 5.3.3), the value of a command's `version`.
 * Servers change their answers by it: a topic route comes back in standard JSON only for `version >=
 * V4_9_4`, and `GO_AWAY` is sent only to clients above `V5_3_1`.
 *
 * @since 0.2.0
 * @category versions
 */
export const MQVersion = {
  V3_4_9: 121,
  V4_0_0: 213,
  V4_5_2: 317,
  V4_7_1: 355,
  V4_9_0: 393,
  V4_9_4: 401,
  V4_9_8: 409,
  V5_0_0: 413,
  V5_1_0: 433,
  V5_1_4: 441,
  V5_2_0: 453,
  V5_3_0: 473,
  V5_3_1: 475,
  V5_3_2: 477,
  V5_3_3: 479
} as const

/**
 * The version this library puts in the commands it makes unless told otherwise: `V5_3_3`, the
 * `CURRENT_VERSION` of the Java client it speaks like.
 *
 * @since 0.2.0
 * @category defaults
 */
export const defaultVersion: number = MQVersion.V5_3_3

const nameOf = (table: Readonly<Record<string, number>>): (code: number) => string | undefined => {
  const names = new Map(Object.entries(table).map(([name, code]) => [code, name]))
  return (code) => names.get(code)
}

/**
 * The name of a request code listed in `RequestCode`, for messages and logs.
 *
 * @since 0.2.0
 * @category codes
 */
export const requestCodeName: (code: number) => string | undefined = nameOf(RequestCode)

/**
 * The name of a response code listed in `ResponseCode`, for messages and logs.
 *
 * @since 0.2.0
 * @category codes
 */
export const responseCodeName: (code: number) => string | undefined = nameOf(ResponseCode)
