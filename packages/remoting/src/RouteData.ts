/**
 * The routing bodies a client reads: a topic's route (the answer to `GET_ROUTEINFO_BY_TOPIC`) and the
 * cluster info (the answer to `GET_BROKER_CLUSTER_INFO`), as schemas of Java's `TopicRouteData`,
 * `QueueData`, `BrokerData` and `ClusterInfo` (RocketMQ 5.3).
 *
 * The decoders accept both forms a NameServer writes: standard JSON and fastjson's default, with the
 * broker ids of `brokerAddrs` as bare integer keys (`{0:"127.0.0.1:10911"}`). Keyed tables become
 * `ReadonlyMap`s (broker ids as numbers). They are lenient as Java's reader is: unknown properties are
 * ignored, and what Java initialises when a property is missing (empty lists and tables, `topicSysFlag` 0,
 * `enableActingMaster` false) is filled in the same way; `null` reads as missing.
 *
 * @since 0.2.0
 */
import type * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { RemotingJsonError } from "./RemotingError.js"
import * as RemotingJson from "./RemotingJson.js"

const isPlainObject = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

// A JSON object's members as entries. `Schema.Record` builds its output by assignment, which turns a
// `__proto__` key into the output's prototype and loses it; going through entries keeps every key.
const ObjectMembers = Schema.transformOrFail(
  Schema.Unknown,
  Schema.Array(Schema.Tuple(Schema.String, Schema.Unknown)),
  {
    strict: true,
    decode: (u, _, ast) =>
      isPlainObject(u) ? ParseResult.succeed(Object.entries(u)) : ParseResult.fail(new ParseResult.Type(ast, u)),
    encode: (entries) => ParseResult.succeed(Object.fromEntries(entries))
  }
).annotations({ identifier: "JsonObject" })

// A JSON object as a `ReadonlyMap`, keys decoded by `key`, in the object's order.
const MapFromObject = <K, V, VI>(
  options: { readonly key: Schema.Schema<K, string>; readonly value: Schema.Schema<V, VI> }
) => Schema.compose(ObjectMembers, Schema.ReadonlyMap(options), { strict: false })

/**
 * The broker id of a master in `brokerAddrs`.
 *
 * @since 0.2.0
 * @category constants
 */
export const MASTER_ID = 0

/**
 * Permission bits of `QueueData.perm`.
 *
 * @since 0.2.0
 * @category constants
 */
export const Permission = { READ: 4, WRITE: 2, INHERIT: 1 } as const

/**
 * One broker's queues for a topic.
 *
 * @since 0.2.0
 * @category schemas
 */
export const QueueData = Schema.Struct({
  brokerName: Schema.String,
  readQueueNums: Schema.Int,
  writeQueueNums: Schema.Int,
  /** Permission bits: read 4, write 2 (see `Permission`). */
  perm: Schema.Int,
  topicSysFlag: Schema.optionalWith(Schema.Int, { nullable: true, default: () => 0 })
}).annotations({ identifier: "QueueData" })

/**
 * @since 0.2.0
 * @category models
 */
export interface QueueData extends Schema.Schema.Type<typeof QueueData> {}

const BrokerId = Schema.compose(Schema.NumberFromString, Schema.Int).annotations({ identifier: "BrokerId" })

/**
 * A broker group: its name, cluster and the address of each of its brokers by broker id (0 = master).
 *
 * @since 0.2.0
 * @category schemas
 */
export const BrokerData = Schema.Struct({
  cluster: Schema.String,
  brokerName: Schema.String,
  brokerAddrs: MapFromObject({ key: BrokerId, value: Schema.String }),
  zoneName: Schema.optionalWith(Schema.String, { nullable: true }),
  enableActingMaster: Schema.optionalWith(Schema.Boolean, { nullable: true, default: () => false })
}).annotations({ identifier: "BrokerData" })

/**
 * @since 0.2.0
 * @category models
 */
export interface BrokerData extends Schema.Schema.Type<typeof BrokerData> {}

const emptyList = <A>(): ReadonlyArray<A> => []
const emptyTable = <K, V>(): ReadonlyMap<K, V> => new Map<K, V>()

/**
 * A topic's route: which brokers hold its queues, and where those brokers are.
 *
 * @since 0.2.0
 * @category schemas
 */
export const TopicRouteData = Schema.Struct({
  orderTopicConf: Schema.optionalWith(Schema.String, { nullable: true }),
  queueDatas: Schema.optionalWith(Schema.Array(QueueData), { nullable: true, default: emptyList }),
  brokerDatas: Schema.optionalWith(Schema.Array(BrokerData), { nullable: true, default: emptyList }),
  /** Filter servers by broker address (a retired feature; usually empty). */
  filterServerTable: Schema.optionalWith(
    MapFromObject({ key: Schema.String, value: Schema.Array(Schema.String) }),
    { nullable: true, default: emptyTable }
  ),
  /** Static-topic queue mappings by broker name, kept as they arrived (it could be absent or empty). */
  topicQueueMappingByBroker: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), {
    nullable: true
  })
}).annotations({ identifier: "TopicRouteData" })

/**
 * @since 0.2.0
 * @category models
 */
export interface TopicRouteData extends Schema.Schema.Type<typeof TopicRouteData> {}

/**
 * The brokers a NameServer knows: each broker group by name, and the broker names of each cluster.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ClusterInfo = Schema.Struct({
  brokerAddrTable: Schema.optionalWith(MapFromObject({ key: Schema.String, value: BrokerData }), {
    nullable: true,
    default: emptyTable
  }),
  clusterAddrTable: Schema.optionalWith(
    MapFromObject({ key: Schema.String, value: Schema.Array(Schema.String) }),
    { nullable: true, default: emptyTable }
  )
}).annotations({ identifier: "ClusterInfo" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ClusterInfo extends Schema.Schema.Type<typeof ClusterInfo> {}

/**
 * Reads a `GET_ROUTEINFO_BY_TOPIC` response body, in standard or fastjson form.
 *
 * @example
 * ```ts
 * import { RouteData } from "@rocketmq-effect/remoting"
 * import { Either } from "effect"
 *
 * const route = Either.getOrThrow(RouteData.decodeTopicRouteData(
 *   `{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],` +
 *     `"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
 * ))
 * assert.strictEqual(route.brokerDatas[0]?.brokerAddrs.get(0), "127.0.0.1:10911")
 * ```
 *
 * @since 0.2.0
 * @category decoding
 */
export const decodeTopicRouteData: (body: Uint8Array | string) => Either.Either<TopicRouteData, RemotingJsonError> =
  RemotingJson.decode(TopicRouteData, "TopicRouteData")

/**
 * Reads a `GET_BROKER_CLUSTER_INFO` response body (a NameServer always writes it in fastjson form).
 *
 * @since 0.2.0
 * @category decoding
 */
export const decodeClusterInfo: (body: Uint8Array | string) => Either.Either<ClusterInfo, RemotingJsonError> =
  RemotingJson.decode(ClusterInfo, "ClusterInfo")

/**
 * The master's address of a broker group, if it has one.
 *
 * @since 0.2.0
 * @category accessors
 */
export const masterAddress = (broker: BrokerData): string | undefined => broker.brokerAddrs.get(MASTER_ID)
