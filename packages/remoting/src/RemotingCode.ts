/**
 * The numbers of the RemotingCommand protocol: request and response codes, language codes and the
 * `MQVersion` ordinals that go in a command's `version`. The values are Apache RocketMQ's (5.3.3
 * `RequestCode`, `ResponseCode`, `RemotingSysResponseCode`, `LanguageCode`, `MQVersion`): every request code
 * the Java client uses; of the others, what a minimal client answers and reads.
 *
 * @since 0.2.0
 */

/**
 * Request codes: every code the Java client (RocketMQ 5.3.3, `rocketmq-client`) sends to a NameServer or a
 * Broker, admin requests included, and those a server sends to a client (marked "Server → client"), so that
 * an error can name any request it met.
 *
 * Codes above 32767 (`POP_MESSAGE`, `ACK_MESSAGE`, …) fit a JSON header only, not the ROCKETMQ binary one.
 *
 * @since 0.2.0
 * @category codes
 */
export const RequestCode = {
  SEND_MESSAGE: 10,
  PULL_MESSAGE: 11,
  QUERY_MESSAGE: 12,
  QUERY_CONSUMER_OFFSET: 14,
  UPDATE_CONSUMER_OFFSET: 15,
  UPDATE_AND_CREATE_TOPIC: 17,
  UPDATE_AND_CREATE_TOPIC_LIST: 18,
  GET_ALL_TOPIC_CONFIG: 21,
  UPDATE_BROKER_CONFIG: 25,
  GET_BROKER_CONFIG: 26,
  GET_BROKER_RUNTIME_INFO: 28,
  SEARCH_OFFSET_BY_TIMESTAMP: 29,
  GET_MAX_OFFSET: 30,
  GET_MIN_OFFSET: 31,
  GET_EARLIEST_MSG_STORETIME: 32,
  VIEW_MESSAGE_BY_ID: 33,
  HEART_BEAT: 34,
  UNREGISTER_CLIENT: 35,
  CONSUMER_SEND_MSG_BACK: 36,
  END_TRANSACTION: 37,
  GET_CONSUMER_LIST_BY_GROUP: 38,
  /** Server → client, oneway. */
  CHECK_TRANSACTION_STATE: 39,
  /** Server → client, oneway; extField `consumerGroup`. */
  NOTIFY_CONSUMER_IDS_CHANGED: 40,
  LOCK_BATCH_MQ: 41,
  UNLOCK_BATCH_MQ: 42,
  CHECK_CLIENT_CONFIG: 46,
  PUT_KV_CONFIG: 100,
  GET_KV_CONFIG: 101,
  DELETE_KV_CONFIG: 102,
  GET_ROUTEINFO_BY_TOPIC: 105,
  GET_BROKER_CLUSTER_INFO: 106,
  UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: 200,
  GET_ALL_SUBSCRIPTIONGROUP_CONFIG: 201,
  GET_TOPIC_STATS_INFO: 202,
  GET_CONSUMER_CONNECTION_LIST: 203,
  GET_PRODUCER_CONNECTION_LIST: 204,
  WIPE_WRITE_PERM_OF_BROKER: 205,
  GET_ALL_TOPIC_LIST_FROM_NAMESERVER: 206,
  DELETE_SUBSCRIPTIONGROUP: 207,
  GET_CONSUME_STATS: 208,
  DELETE_TOPIC_IN_BROKER: 215,
  DELETE_TOPIC_IN_NAMESRV: 216,
  GET_KVLIST_BY_NAMESPACE: 219,
  /** Server → client. */
  RESET_CONSUMER_CLIENT_OFFSET: 220,
  /** Server → client. */
  GET_CONSUMER_STATUS_FROM_CLIENT: 221,
  INVOKE_BROKER_TO_RESET_OFFSET: 222,
  INVOKE_BROKER_TO_GET_CONSUMER_STATUS: 223,
  GET_TOPICS_BY_CLUSTER: 224,
  UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST: 225,
  QUERY_TOPIC_CONSUME_BY_WHO: 300,
  QUERY_CONSUME_TIME_SPAN: 303,
  GET_SYSTEM_TOPIC_LIST_FROM_NS: 304,
  GET_SYSTEM_TOPIC_LIST_FROM_BROKER: 305,
  CLEAN_EXPIRED_CONSUMEQUEUE: 306,
  /** Server → client; the server waits up to 10 s for the answer. */
  GET_CONSUMER_RUNNING_INFO: 307,
  QUERY_CORRECTION_OFFSET: 308,
  /** Server → client. */
  CONSUME_MESSAGE_DIRECTLY: 309,
  SEND_MESSAGE_V2: 310,
  GET_UNIT_TOPIC_LIST: 311,
  GET_HAS_UNIT_SUB_TOPIC_LIST: 312,
  GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST: 313,
  CLONE_GROUP_OFFSET: 314,
  VIEW_BROKER_STATS_DATA: 315,
  CLEAN_UNUSED_TOPIC: 316,
  GET_BROKER_CONSUME_STATS: 317,
  UPDATE_NAMESRV_CONFIG: 318,
  GET_NAMESRV_CONFIG: 319,
  SEND_BATCH_MESSAGE: 320,
  QUERY_CONSUME_QUEUE: 321,
  RESUME_CHECK_HALF_MESSAGE: 323,
  SEND_REPLY_MESSAGE: 324,
  SEND_REPLY_MESSAGE_V2: 325,
  /** Server → client, the reply of a request-reply message. */
  PUSH_REPLY_MESSAGE_TO_CLIENT: 326,
  ADD_WRITE_PERM_OF_BROKER: 327,
  GET_ALL_PRODUCER_INFO: 328,
  DELETE_EXPIRED_COMMITLOG: 329,
  QUERY_TOPICS_BY_CONSUMER: 343,
  QUERY_SUBSCRIPTION_BY_CONSUMER: 345,
  GET_TOPIC_CONFIG: 351,
  GET_SUBSCRIPTIONGROUP_CONFIG: 352,
  UPDATE_AND_GET_GROUP_FORBIDDEN: 353,
  CHECK_ROCKSDB_CQ_WRITE_PROGRESS: 354,
  EXPORT_ROCKSDB_CONFIG_TO_JSON: 355,
  LITE_PULL_MESSAGE: 361,
  RECALL_MESSAGE: 370,
  QUERY_ASSIGNMENT: 400,
  SET_MESSAGE_REQUEST_MODE: 401,
  UPDATE_AND_CREATE_STATIC_TOPIC: 513,
  ADD_BROKER: 902,
  REMOVE_BROKER: 903,
  GET_BROKER_HA_STATUS: 907,
  RESET_MASTER_FLUSH_OFFSET: 908,
  CONTROLLER_ELECT_MASTER: 1002,
  CONTROLLER_GET_METADATA_INFO: 1005,
  CONTROLLER_GET_SYNC_STATE_DATA: 1006,
  GET_BROKER_EPOCH_CACHE: 1007,
  UPDATE_CONTROLLER_CONFIG: 1009,
  GET_CONTROLLER_CONFIG: 1010,
  CLEAN_BROKER_DATA: 1011,
  UPDATE_COLD_DATA_FLOW_CTR_CONFIG: 2001,
  REMOVE_COLD_DATA_FLOW_CTR_CONFIG: 2002,
  GET_COLD_DATA_FLOW_CTR_INFO: 2003,
  SET_COMMITLOG_READ_MODE: 2004,
  AUTH_CREATE_USER: 3001,
  AUTH_UPDATE_USER: 3002,
  AUTH_DELETE_USER: 3003,
  AUTH_GET_USER: 3004,
  AUTH_LIST_USER: 3005,
  AUTH_CREATE_ACL: 3006,
  AUTH_UPDATE_ACL: 3007,
  AUTH_DELETE_ACL: 3008,
  AUTH_GET_ACL: 3009,
  AUTH_LIST_ACL: 3010,
  POP_MESSAGE: 200050,
  ACK_MESSAGE: 200051,
  CHANGE_MESSAGE_INVISIBLETIME: 200053,
  NOTIFICATION: 200054,
  POP_ROLLBACK: 200056,
  BATCH_ACK_MESSAGE: 200151
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
