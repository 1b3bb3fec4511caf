/**
 * An in-memory RocketMQ cluster for `TestClock` tests: one NameServer and one or more brokers behind the
 * `TestConnector`'s peer. Every connection the client's transports open is decoded with `RemotingCodec` and
 * answered, in the request's serialize type, by the role of the address it was opened to, with the real
 * servers' semantics where a client can see them: routes, sends (single and batch) into per-queue stores with
 * commit-log offsets and offset message ids, pulls with long polling on the `Clock`, tag filtering by the
 * heartbeat's (or the pull's own) subscription, committed offsets, group membership by connection with
 * NOTIFY_CONSUMER_IDS_CHANGED, and sending back to `%RETRY%<group>` / `%DLQ%<group>`.
 *
 * Nothing sleeps in real time: long polls wait on `Effect.sleep` (the `TestClock` in tests) raced against a
 * per-queue arrival signal. Tests can read every request with the clock time it arrived, await one, and inject
 * faults (`failNext`, `hang`, `dropConnections`) or messages (`produce`).
 */
import { RequestCode, ResponseCode } from "@rocketmq-effect/remoting/RemotingCode"
import * as RemotingCodec from "@rocketmq-effect/remoting/RemotingCodec"
import type { RemotingCommand, SerializeType } from "@rocketmq-effect/remoting/RemotingCommand"
import * as Command from "@rocketmq-effect/remoting/RemotingCommand"
import * as RemotingJson from "@rocketmq-effect/remoting/RemotingJson"
import type { Connector } from "@rocketmq-effect/transport/Connector"
import * as TestConnector from "@rocketmq-effect/transport/TestConnector"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"

// ---- options and models ---------------------------------------------------------------------------------

/** A broker of the cluster: its name and its `ip:port` (IPv4: the store layout writes the ip's 4 bytes). */
export interface BrokerSpec {
  readonly name: string
  readonly address: string
}

/** A topic: queues per broker (read = write), on every broker unless `brokers` names some. */
export interface TopicSpec {
  readonly queues: number
  readonly brokers?: ReadonlyArray<string> | undefined
}

export interface Options {
  /** Default "127.0.0.1:9876". */
  readonly nameServer?: string | undefined
  /** Default one broker, "broker-a" at "127.0.0.1:10911". */
  readonly brokers?: ReadonlyArray<BrokerSpec> | undefined
  /** Default "DefaultCluster". */
  readonly clusterName?: string | undefined
  /** Topic name → queues per broker (or a `TopicSpec`). */
  readonly topics?: Readonly<Record<string, number | TopicSpec>> | undefined
  /**
   * Sends to an unknown topic create it with `min(defaultTopicQueueNums, 8)` queues, as a broker with
   * `autoCreateTopicEnable=true` does. Default false: TOPIC_NOT_EXIST.
   */
  readonly autoCreateTopics?: boolean | undefined
  /**
   * A pull without the SUBSCRIPTION flag needs the group's subscription from a heartbeat, as on the real
   * broker (SUBSCRIPTION_NOT_EXIST 24 / SUBSCRIPTION_NOT_LATEST 25 otherwise). Default true; false lets such
   * a pull read every message.
   */
  readonly requireSubscription?: boolean | undefined
  /** The group's `retryMaxTimes` when a send-back carries no `maxReconsumeTimes`. Default 16. */
  readonly defaultMaxReconsumeTimes?: number | undefined
}

/** One request a server of the cluster received (responses from the client are not listed). */
export interface RequestRecord {
  /** The address the connection was opened to. */
  readonly address: string
  /** The TestConnector connection id. */
  readonly connection: number
  readonly code: number
  readonly opaque: number
  readonly oneway: boolean
  readonly version: number
  readonly serializeType: SerializeType
  readonly extFields: Readonly<Record<string, string>>
  readonly body: Uint8Array
  readonly remark: string | undefined
  /** `Clock` time (ms) it arrived. */
  readonly at: number
  /** How it was answered: "handled", or a fault that took it. */
  readonly fault: "failed" | "hung" | undefined
}

/** A message as a broker stored it. */
export interface StoredRecord {
  readonly broker: string
  readonly topic: string
  readonly queueId: number
  readonly queueOffset: bigint
  readonly commitLogOffset: bigint
  readonly storeSize: number
  readonly sysFlag: number
  readonly flag: number
  readonly body: Uint8Array
  readonly properties: ReadonlyMap<string, string>
  readonly tags: string | undefined
  /** Java `String.hashCode` of TAGS, 0 without tags (the consume queue's tagsCode). */
  readonly tagsCode: number
  readonly bodyCRC: number
  readonly bornTimestamp: number
  readonly bornHost: string
  readonly storeTimestamp: number
  readonly storeHost: string
  readonly reconsumeTimes: number
  readonly preparedTransactionOffset: bigint
  readonly offsetMsgId: string
}

/** What `produce` puts in a queue. */
export interface ProduceInput {
  readonly body: Uint8Array | string
  readonly tags?: string | undefined
  readonly keys?: ReadonlyArray<string> | undefined
  readonly properties?: Readonly<Record<string, string>> | undefined
  readonly flag?: number | undefined
  readonly sysFlag?: number | undefined
  readonly reconsumeTimes?: number | undefined
  /** Default: the clock's now. */
  readonly bornTimestamp?: number | undefined
}

export interface CommittedOffset {
  readonly broker: string
  readonly group: string
  readonly topic: string
  readonly queueId: number
  readonly offset: bigint
}

/** A NOTIFY_CONSUMER_IDS_CHANGED the broker sent. */
export interface Notification {
  readonly broker: string
  readonly connection: number
  readonly group: string
  readonly at: number
}

/** A CONSUMER_SEND_MSG_BACK the broker carried out. */
export interface SentBack {
  readonly broker: string
  readonly group: string
  readonly commitLogOffset: bigint
  /** The delayLevel the request asked for (0 = broker chooses, < 0 = DLQ). */
  readonly requestedDelayLevel: number
  /** The level the broker would have delayed by (3 + reconsumeTimes for 0); 0 for a DLQ. Not waited for. */
  readonly delayLevel: number
  readonly dlq: boolean
  readonly original: StoredRecord
  readonly stored: StoredRecord
  readonly at: number
}

export interface ConnectionInfo {
  readonly id: number
  readonly address: string
  readonly open: boolean
}

export interface FakeClusterService {
  readonly nameServer: string
  readonly clusterName: string
  readonly brokers: ReadonlyArray<BrokerSpec>
  /** The address of the broker `name`; dies for an unknown name. */
  readonly brokerAddress: (name: string) => string
  /** Every request so far, in arrival order. */
  readonly requests: Effect.Effect<ReadonlyArray<RequestRecord>>
  /** The requests of `code` (to `address`, if given). */
  readonly requestsOf: (code: number, address?: string) => Effect.Effect<ReadonlyArray<RequestRecord>>
  /**
   * Waits for the `nth` (1-based, default 1) request of `code` that satisfies `predicate`, counting those
   * already received. Completes after the server handled it (a held pull is held by then).
   */
  readonly awaitRequest: (
    code: number,
    predicate?: (request: RequestRecord) => boolean,
    nth?: number
  ) => Effect.Effect<RequestRecord>
  /** The messages of one queue (broker: default the first). */
  readonly messages: (topic: string, queueId: number, broker?: string) => Effect.Effect<ReadonlyArray<StoredRecord>>
  /** Every queue's messages of `topic` on every broker, by broker then queue. */
  readonly topicMessages: (topic: string) => Effect.Effect<ReadonlyArray<StoredRecord>>
  readonly committedOffset: (
    group: string,
    topic: string,
    queueId: number,
    broker?: string
  ) => Effect.Effect<bigint | undefined>
  /** Sets a group's committed offset, as an admin tool would. */
  readonly setCommittedOffset: (
    group: string,
    topic: string,
    queueId: number,
    offset: bigint,
    broker?: string
  ) => Effect.Effect<void>
  readonly offsets: Effect.Effect<ReadonlyArray<CommittedOffset>>
  /** Client ids of the group's member connections, in joining order (broker: default the first). */
  readonly members: (group: string, broker?: string) => Effect.Effect<ReadonlyArray<string>>
  readonly notifications: Effect.Effect<ReadonlyArray<Notification>>
  readonly sentBack: Effect.Effect<ReadonlyArray<SentBack>>
  /** Pulls held (long polling) now. */
  readonly heldPulls: Effect.Effect<number>
  readonly connections: Effect.Effect<ReadonlyArray<ConnectionInfo>>
  /** Creates (or resizes) a topic: `queues` per broker, on `brokers` (default all). */
  readonly addTopic: (topic: string, queues: number, brokers?: ReadonlyArray<string>) => Effect.Effect<void>
  /**
   * Answers the next `count` requests of `code` (to `address`, if given) with `responseCode` and `remark`,
   * without handling them (a oneway one is dropped).
   */
  readonly failNext: (
    code: number,
    responseCode: number,
    count?: number,
    remark?: string,
    address?: string
  ) => Effect.Effect<void>
  /** Never answers the next `count` requests of `code` (to `address`, if given), nor handles them. */
  readonly hang: (code: number, count?: number, address?: string) => Effect.Effect<void>
  /** Closes every open connection to `address` (as a peer's FIN); returns how many. */
  readonly dropConnections: (address: string) => Effect.Effect<number>
  /**
   * Stores messages straight into a queue (broker: default the first), waking held pulls. The queue must exist
   * (`options.topics` or `addTopic`); properties get TAGS, KEYS, the given ones, then CLUSTER.
   */
  readonly produce: (
    topic: string,
    queueId: number,
    messages: ReadonlyArray<ProduceInput>,
    broker?: string
  ) => Effect.Effect<ReadonlyArray<StoredRecord>>
}

export class FakeCluster extends Context.Tag("@rocketmq-effect/client/test/FakeCluster")<
  FakeCluster,
  FakeClusterService
>() {}

// ---- constants ------------------------------------------------------------------------------------------

export const MAGIC_V1 = 0xdaa320a7 | 0
export const MAGIC_V2 = 0xdaa320ab | 0

export const PullSysFlag = { COMMIT_OFFSET: 1, SUSPEND: 2, SUBSCRIPTION: 4, CLASS_FILTER: 8, LITE_PULL: 16 } as const

/** Codes the remoting table does not list. */
export const ExtraResponseCode = {
  SUBSCRIPTION_NOT_LATEST: 25,
  SUBSCRIPTION_GROUP_NOT_EXIST: 26
} as const

const DEFAULT_NAMESERVER = "127.0.0.1:9876"
const DEFAULT_BROKERS: ReadonlyArray<BrokerSpec> = [{ name: "broker-a", address: "127.0.0.1:10911" }]
const RETRY_PREFIX = "%RETRY%"
const DLQ_PREFIX = "%DLQ%"
const PERM_READ_WRITE = 6
/** Java's maxTransferCountOnMessageInMemory: a pull returns at most this many. */
const MAX_TRANSFER_COUNT = 32
/** Java's maxFilterMessageSize / 20 bytes a consume-queue unit: entries scanned per pull. */
const MAX_FILTER_ENTRIES = 800
const VERSION_V3_4_9 = 121
const VERSION_V4_9_4 = 401

// ---- small codecs (test-only) ---------------------------------------------------------------------------

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder()

/** Java `String.hashCode` (int32 wrap, UTF-16 code units). */
export const javaHashCode = (text: string): number => {
  let hash = 0
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0
  return hash
}

/** `name\u0001value\u0002` pairs, in the map's order. */
export const encodeProperties = (properties: ReadonlyMap<string, string>): string => {
  let out = ""
  for (const [key, value] of properties) out += `${key}\u0001${value}\u0002`
  return out
}

export const decodeProperties = (text: string): Map<string, string> => {
  const out = new Map<string, string>()
  for (const pair of text.split("\u0002")) {
    if (pair.length === 0) continue
    const at = pair.indexOf("\u0001")
    if (at > 0) out.set(pair.slice(0, at), pair.slice(at + 1))
  }
  return out
}

const CRC_TABLE = (() => {
  const table = new Int32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c
  }
  return table
})()

/** RocketMQ's `UtilAll.crc32`: CRC-32 of the body, masked to 31 bits. */
export const bodyCrc = (body: Uint8Array): number => {
  let crc = -1
  for (let i = 0; i < body.length; i++) crc = CRC_TABLE[(crc ^ body[i]!) & 0xff]! ^ (crc >>> 8)
  return (crc ^ -1) & 0x7fffffff
}

const parseHost = (address: string): { readonly ip: Uint8Array; readonly port: number } => {
  const colon = address.lastIndexOf(":")
  const parts = address.slice(0, colon).split(".").map(Number)
  const port = Number(address.slice(colon + 1))
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255) || !Number.isInteger(port)) {
    throw new Error(`FakeCluster: "${address}" is not an IPv4 ip:port`)
  }
  return { ip: Uint8Array.from(parts), port }
}

/** The broker's offsetMsgId: store ip (4 bytes) + port int32 + commitLogOffset int64, upper-case hex. */
export const offsetMsgId = (storeHost: string, commitLogOffset: bigint): string => {
  const { ip, port } = parseHost(storeHost)
  const bytes = new Uint8Array(16)
  bytes.set(ip, 0)
  const view = new DataView(bytes.buffer)
  view.setInt32(4, port)
  view.setBigInt64(8, commitLogOffset)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").toUpperCase()
}

/** Encodes one record in the broker's store layout (MAGIC_V1, or V2 for a topic over 127 bytes; IPv4 hosts). */
export const encodeRecord = (record: Omit<StoredRecord, "storeSize" | "offsetMsgId" | "broker">): Uint8Array => {
  const topic = utf8Encoder.encode(record.topic)
  const properties = utf8Encoder.encode(encodeProperties(record.properties))
  const v2 = topic.length > 127
  const size = 91 + (v2 ? 1 : 0) + record.body.length + topic.length + properties.length
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  const born = parseHost(record.bornHost)
  const store = parseHost(record.storeHost)
  let at = 0
  view.setInt32(at, size)
  view.setInt32(at + 4, v2 ? MAGIC_V2 : MAGIC_V1)
  view.setInt32(at + 8, record.bodyCRC)
  view.setInt32(at + 12, record.queueId)
  view.setInt32(at + 16, record.flag)
  view.setBigInt64(at + 20, record.queueOffset)
  view.setBigInt64(at + 28, record.commitLogOffset)
  view.setInt32(at + 36, record.sysFlag & ~0x30) // IPv4 hosts
  view.setBigInt64(at + 40, BigInt(record.bornTimestamp))
  out.set(born.ip, at + 48)
  view.setInt32(at + 52, born.port)
  view.setBigInt64(at + 56, BigInt(record.storeTimestamp))
  out.set(store.ip, at + 64)
  view.setInt32(at + 68, store.port)
  view.setInt32(at + 72, record.reconsumeTimes)
  view.setBigInt64(at + 76, record.preparedTransactionOffset)
  view.setInt32(at + 84, record.body.length)
  out.set(record.body, at + 88)
  at += 88 + record.body.length
  if (v2) {
    view.setInt16(at, topic.length)
    at += 2
  } else {
    view.setUint8(at, topic.length)
    at += 1
  }
  out.set(topic, at)
  at += topic.length
  view.setInt16(at, properties.length)
  out.set(properties, at + 2)
  return out
}

/** One record of a pull body, as `decodeRecords` reads it (a test's check of the fake's own encoder). */
export interface DecodedRecord {
  readonly storeSize: number
  readonly magic: number
  readonly bodyCRC: number
  readonly queueId: number
  readonly flag: number
  readonly queueOffset: bigint
  readonly commitLogOffset: bigint
  readonly sysFlag: number
  readonly bornTimestamp: number
  readonly bornHost: string
  readonly storeTimestamp: number
  readonly storeHost: string
  readonly reconsumeTimes: number
  readonly preparedTransactionOffset: bigint
  readonly body: Uint8Array
  readonly topic: string
  readonly properties: ReadonlyMap<string, string>
}

/** Reads the records `encodeRecord` writes (IPv4 hosts only); throws on anything else. */
export const decodeRecords = (body: Uint8Array): Array<DecodedRecord> => {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const out: Array<DecodedRecord> = []
  let start = 0
  const host = (at: number) => `${Array.from(body.subarray(at, at + 4)).join(".")}:${view.getInt32(at + 4)}`
  while (start < body.length) {
    const size = view.getInt32(start)
    const magic = view.getInt32(start + 4)
    if (magic !== MAGIC_V1 && magic !== MAGIC_V2) throw new Error(`bad magic at ${start}`)
    const bodyLength = view.getInt32(start + 84)
    let at = start + 88 + bodyLength
    const topicLength = magic === MAGIC_V1 ? view.getUint8(at) : view.getInt16(at)
    at += magic === MAGIC_V1 ? 1 : 2
    const topic = utf8Decoder.decode(body.subarray(at, at + topicLength))
    at += topicLength
    const propertiesLength = view.getInt16(at)
    const properties = decodeProperties(utf8Decoder.decode(body.subarray(at + 2, at + 2 + propertiesLength)))
    at += 2 + propertiesLength
    if (at - start !== size) throw new Error(`record at ${start}: read ${at - start} bytes of ${size}`)
    out.push({
      storeSize: size,
      magic,
      bodyCRC: view.getInt32(start + 8),
      queueId: view.getInt32(start + 12),
      flag: view.getInt32(start + 16),
      queueOffset: view.getBigInt64(start + 20),
      commitLogOffset: view.getBigInt64(start + 28),
      sysFlag: view.getInt32(start + 36),
      bornTimestamp: Number(view.getBigInt64(start + 40)),
      bornHost: host(start + 48),
      storeTimestamp: Number(view.getBigInt64(start + 56)),
      storeHost: host(start + 64),
      reconsumeTimes: view.getInt32(start + 72),
      preparedTransactionOffset: view.getBigInt64(start + 76),
      body: body.slice(start + 88, start + 88 + bodyLength),
      topic,
      properties
    })
    start += size
  }
  return out
}

/** Java `MessageDecoder.decodeMessages` of a SEND_BATCH_MESSAGE body. */
const decodeBatch = (
  body: Uint8Array
): Array<{ readonly flag: number; readonly body: Uint8Array; readonly properties: Map<string, string> }> => {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const out: Array<{ flag: number; body: Uint8Array; properties: Map<string, string> }> = []
  let at = 0
  while (at < body.length) {
    const total = view.getInt32(at)
    const flag = view.getInt32(at + 12)
    const bodyLength = view.getInt32(at + 16)
    const messageBody = body.slice(at + 20, at + 20 + bodyLength)
    const propertiesLength = view.getInt16(at + 20 + bodyLength)
    const propertiesStart = at + 22 + bodyLength
    const properties = decodeProperties(
      utf8Decoder.decode(body.subarray(propertiesStart, propertiesStart + propertiesLength))
    )
    if (total <= 0 || propertiesStart + propertiesLength - at !== total) throw new Error(`bad batch entry at ${at}`)
    out.push({ flag, body: messageBody, properties })
    at += total
  }
  return out
}

// ---- state ----------------------------------------------------------------------------------------------

interface QueueState {
  readonly records: Array<StoredRecord & { readonly encoded: Uint8Array }>
  /** Completed and replaced on every store: what a held pull waits on. */
  arrival: Deferred.Deferred<void>
}

interface TopicState {
  readonly queues: Array<QueueState>
}

interface Subscription {
  readonly topic: string
  readonly subString: string
  readonly codeSet: ReadonlySet<number>
  readonly subVersion: number
  readonly expressionType: string
}

interface Member {
  readonly connection: ConnectionState
  readonly clientId: string
}

interface GroupState {
  readonly members: Map<number, Member>
  readonly subscriptions: Map<string, Subscription>
}

interface BrokerState {
  readonly name: string
  readonly address: string
  readonly topics: Map<string, TopicState>
  readonly commitLog: Map<bigint, StoredRecord & { readonly encoded: Uint8Array }>
  nextPhysicalOffset: bigint
  readonly offsets: Map<string, CommittedOffset>
  readonly groups: Map<string, GroupState>
}

interface ConnectionState {
  readonly id: number
  readonly address: string
  readonly peer: TestConnector.PeerConnection
  open: boolean
}

interface Fault {
  readonly code: number
  readonly address: string | undefined
  remaining: number
  readonly answer: { readonly code: number; readonly remark: string | undefined } | "hang"
}

type Filter = { readonly all: true } | { readonly all: false; readonly codes: ReadonlySet<number> }

const newSignal = (): Deferred.Deferred<void> => Deferred.unsafeMake<void>(FiberId.none)
const fire = (signal: Deferred.Deferred<void>) => Deferred.unsafeDone(signal, Exit.void)

const int = (value: string | undefined, fallback: number): number => {
  if (value === undefined || value === "") return fallback
  const n = Number(value)
  return Number.isFinite(n) ? Math.trunc(n) : fallback
}
const long = (value: string | undefined, fallback: bigint): bigint => {
  if (value === undefined || value === "") return fallback
  try {
    return BigInt(value)
  } catch {
    return fallback
  }
}

const SEND_V2_NAMES: Readonly<Record<string, string>> = {
  a: "producerGroup",
  b: "topic",
  c: "defaultTopic",
  d: "defaultTopicQueueNums",
  e: "queueId",
  f: "sysFlag",
  g: "bornTimestamp",
  h: "flag",
  i: "properties",
  j: "reconsumeTimes",
  k: "unitMode",
  l: "maxReconsumeTimes",
  m: "batch",
  n: "brokerName"
}

const filterOf = (subString: string, codeSet: Iterable<number>): Filter => {
  const trimmed = subString.trim()
  return trimmed === "" || trimmed === "*" ? { all: true } : { all: false, codes: new Set(codeSet) }
}

const codesOfExpression = (expression: string): Array<number> =>
  expression.split("||").map((tag) => tag.trim()).filter((tag) => tag.length > 0).map(javaHashCode)

// ---- the cluster ----------------------------------------------------------------------------------------

/**
 * Starts the cluster over the `TestPeer` in context: from now on it takes every accepted connection. A
 * connection to an address that is neither the NameServer nor a broker is closed at once.
 */
export const make = (
  options: Options = {}
): Effect.Effect<FakeClusterService, never, TestConnector.TestPeer | Scope.Scope> =>
  Effect.gen(function*() {
    const peer = yield* TestConnector.TestPeer
    const scope = yield* Effect.scope
    const nameServer = options.nameServer ?? DEFAULT_NAMESERVER
    const brokerSpecs = options.brokers ?? DEFAULT_BROKERS
    const clusterName = options.clusterName ?? "DefaultCluster"
    const requireSubscription = options.requireSubscription ?? true
    const defaultMaxReconsumeTimes = options.defaultMaxReconsumeTimes ?? 16
    for (const spec of brokerSpecs) parseHost(spec.address)

    const brokers = new Map<string, BrokerState>()
    const brokersByAddress = new Map<string, BrokerState>()
    for (const spec of brokerSpecs) {
      const state: BrokerState = {
        name: spec.name,
        address: spec.address,
        topics: new Map(),
        commitLog: new Map(),
        nextPhysicalOffset: 0n,
        offsets: new Map(),
        groups: new Map()
      }
      brokers.set(spec.name, state)
      brokersByAddress.set(spec.address, state)
    }
    const brokerNamed = (name: string | undefined): BrokerState => {
      const broker = name === undefined ? brokers.get(brokerSpecs[0]!.name) : brokers.get(name)
      if (broker === undefined) throw new Error(`FakeCluster: no broker named ${name}`)
      return broker
    }

    const ensureTopic = (broker: BrokerState, topic: string, queues: number): TopicState => {
      let state = broker.topics.get(topic)
      if (state === undefined) {
        state = { queues: [] }
        broker.topics.set(topic, state)
      }
      while (state.queues.length < queues) state.queues.push({ records: [], arrival: newSignal() })
      return state
    }
    const addTopicSync = (topic: string, queues: number, names?: ReadonlyArray<string>) => {
      for (const name of names ?? brokerSpecs.map((b) => b.name)) ensureTopic(brokerNamed(name), topic, queues)
    }
    // A broker with autoCreateTopicEnable carries TBW102 (8 queues), the template a producer's route falls back to.
    if (options.autoCreateTopics === true) addTopicSync("TBW102", 8)
    for (const [topic, spec] of Object.entries(options.topics ?? {})) {
      if (typeof spec === "number") addTopicSync(topic, spec)
      else addTopicSync(topic, spec.queues, spec.brokers)
    }

    const requests: Array<RequestRecord> = []
    let requestsChanged = newSignal()
    const notifications: Array<Notification> = []
    const sentBack: Array<SentBack> = []
    const connections: Array<ConnectionState> = []
    const faults: Array<Fault> = []
    let held = 0
    let serverOpaque = 0

    const now = Clock.currentTimeMillis

    // ---- writing to the client ----

    const send = (connection: ConnectionState, command: RemotingCommand, serializeType: SerializeType) =>
      connection.open
        ? connection.peer.pushFrame(Either.getOrThrow(RemotingCodec.encode(command, serializeType)))
        : Effect.void

    const reply = (
      connection: ConnectionState,
      request: RemotingCommand,
      serializeType: SerializeType,
      code: number,
      fields: Command.CommandOptions = {}
    ) =>
      Command.isOneway(request) ? Effect.void : send(connection, Command.response(request, code, fields), serializeType)

    const notifyGroup = (broker: BrokerState, group: string, targets: ReadonlyArray<ConnectionState>) =>
      Effect.gen(function*() {
        const at = yield* now
        for (const target of targets) {
          if (!target.open) continue
          notifications.push({ broker: broker.name, connection: target.id, group, at })
          yield* send(
            target,
            Command.request(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, {
              oneway: true,
              opaque: ++serverOpaque,
              extFields: { consumerGroup: group }
            }),
            "JSON"
          )
        }
      })

    // ---- the store ----

    const store = (
      broker: BrokerState,
      topic: string,
      queueId: number,
      message: {
        readonly body: Uint8Array
        readonly flag: number
        readonly sysFlag: number
        readonly properties: ReadonlyMap<string, string>
        readonly bornTimestamp: number
        readonly bornHost: string
        readonly reconsumeTimes: number
      }
    ) =>
      Effect.map(now, (storeTimestamp) => {
        const queue = broker.topics.get(topic)?.queues[queueId]
        if (queue === undefined) throw new Error(`FakeCluster: no queue ${topic}/${queueId} on ${broker.name}`)
        const tags = message.properties.get("TAGS")
        const fields = {
          topic,
          queueId,
          queueOffset: BigInt(queue.records.length),
          commitLogOffset: broker.nextPhysicalOffset,
          sysFlag: message.sysFlag,
          flag: message.flag,
          body: message.body,
          properties: message.properties,
          tags,
          tagsCode: tags === undefined ? 0 : javaHashCode(tags),
          bodyCRC: bodyCrc(message.body),
          bornTimestamp: message.bornTimestamp,
          bornHost: message.bornHost,
          storeTimestamp,
          storeHost: broker.address,
          reconsumeTimes: message.reconsumeTimes,
          preparedTransactionOffset: 0n
        }
        const encoded = encodeRecord(fields)
        const record = {
          ...fields,
          broker: broker.name,
          storeSize: encoded.length,
          offsetMsgId: offsetMsgId(broker.address, fields.commitLogOffset),
          encoded
        }
        broker.nextPhysicalOffset += BigInt(encoded.length)
        queue.records.push(record)
        broker.commitLog.set(record.commitLogOffset, record)
        const signal = queue.arrival
        queue.arrival = newSignal()
        fire(signal)
        return record
      })

    const publicRecord = (record: StoredRecord & { readonly encoded?: Uint8Array }): StoredRecord => {
      const { encoded: _, ...rest } = record
      return rest
    }

    const offsetKey = (group: string, topic: string, queueId: number) => `${group}@${topic}@${queueId}`
    const commit = (broker: BrokerState, group: string, topic: string, queueId: number, offset: bigint) => {
      broker.offsets.set(offsetKey(group, topic, queueId), { broker: broker.name, group, topic, queueId, offset })
    }

    // ---- NameServer ----

    const routeBody = (topic: string, standardJson: boolean): string | undefined => {
      const holders = brokerSpecs.map((spec) => brokerNamed(spec.name)).filter((b) => b.topics.has(topic))
      if (holders.length === 0) return undefined
      // fastjson writes keys in alphabetical order.
      const route = {
        brokerDatas: holders.map((broker) => ({
          brokerAddrs: { "0": broker.address },
          brokerName: broker.name,
          cluster: clusterName,
          enableActingMaster: false
        })),
        filterServerTable: {},
        queueDatas: holders.map((broker) => {
          const queues = broker.topics.get(topic)!.queues.length
          return {
            brokerName: broker.name,
            perm: PERM_READ_WRITE,
            readQueueNums: queues,
            topicSysFlag: 0,
            writeQueueNums: queues
          }
        })
      }
      const text = JSON.stringify(route)
      // Below 4.9.4 the NameServer writes map keys unquoted (apache/rocketmq#1445).
      return standardJson ? text : text.replace(/"brokerAddrs":\{"0":/g, "\"brokerAddrs\":{0:")
    }

    const clusterInfoBody = (): string => {
      const brokerAddrTable = brokerSpecs.map((spec) =>
        `${JSON.stringify(spec.name)}:{"brokerAddrs":{0:${JSON.stringify(spec.address)}},"brokerName":${
          JSON.stringify(spec.name)
        },"cluster":${JSON.stringify(clusterName)},"enableActingMaster":false}`
      )
      return `{"brokerAddrTable":{${brokerAddrTable.join(",")}},"clusterAddrTable":{${JSON.stringify(clusterName)}:${
        JSON.stringify(brokerSpecs.map((b) => b.name))
      }}}`
    }

    const handleNameServer = (connection: ConnectionState, request: RemotingCommand, type: SerializeType) => {
      const ext = request.extFields ?? new Map<string, string>()
      switch (request.code) {
        case RequestCode.GET_ROUTEINFO_BY_TOPIC: {
          const topic = ext.get("topic") ?? ""
          const standard = request.version >= VERSION_V4_9_4 || ext.get("acceptStandardJsonOnly") === "true"
          const body = routeBody(topic, standard)
          return body === undefined
            ? reply(connection, request, type, ResponseCode.TOPIC_NOT_EXIST, {
              remark: `No topic route info in name server for the topic: ${topic}`
            })
            : reply(connection, request, type, ResponseCode.SUCCESS, { body: utf8Encoder.encode(body) })
        }
        case RequestCode.GET_BROKER_CLUSTER_INFO:
          return reply(connection, request, type, ResponseCode.SUCCESS, { body: utf8Encoder.encode(clusterInfoBody()) })
        default:
          return notSupported(connection, request, type)
      }
    }

    const notSupported = (connection: ConnectionState, request: RemotingCommand, type: SerializeType) =>
      reply(connection, request, type, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, {
        remark: ` request type ${request.code} not supported`
      })

    // ---- Broker: send ----

    const bornHostOf = (connection: ConnectionState | undefined) =>
      connection === undefined ? "127.0.0.1:39999" : `127.0.0.1:${40000 + connection.id}`

    const storedProperties = (text: string): Map<string, string> => {
      const properties = decodeProperties(text)
      for (const key of [...properties.keys()]) if (key.startsWith("__RMQ.TRANSIENT.")) properties.delete(key)
      properties.set("CLUSTER", clusterName)
      return properties
    }

    const handleSend = (
      broker: BrokerState,
      connection: ConnectionState,
      request: RemotingCommand,
      type: SerializeType
    ) =>
      Effect.gen(function*() {
        const raw = request.extFields ?? new Map<string, string>()
        const header = new Map<string, string>()
        // 310 and 320 carry SendMessageRequestHeaderV2's one-letter names; 10 the long ones.
        const short = request.code !== RequestCode.SEND_MESSAGE
        for (const [key, value] of raw) header.set(short ? SEND_V2_NAMES[key] ?? key : key, value)
        let topic = header.get("topic") ?? ""
        let queueId = int(header.get("queueId"), 0)
        const sysFlag = int(header.get("sysFlag"), 0)
        const reconsumeTimes = int(header.get("reconsumeTimes"), 0)
        if ((sysFlag & 0x4) !== 0) {
          return yield* reply(connection, request, type, ResponseCode.SYSTEM_ERROR, {
            remark: "FakeCluster: transactional (prepared) messages are not supported"
          })
        }
        let topicState = broker.topics.get(topic)
        if (topicState === undefined) {
          if (topic.startsWith(RETRY_PREFIX) || topic.startsWith(DLQ_PREFIX)) topicState = ensureTopic(broker, topic, 1)
          else if (options.autoCreateTopics === true) {
            topicState = ensureTopic(broker, topic, Math.min(int(header.get("defaultTopicQueueNums"), 4), 8))
          } else {
            return yield* reply(connection, request, type, ResponseCode.TOPIC_NOT_EXIST, {
              remark: `topic[${topic}] not exist, apply first please!`
            })
          }
        }
        if (queueId < 0) queueId = 0
        if (queueId >= topicState.queues.length) {
          return yield* reply(connection, request, type, ResponseCode.SYSTEM_ERROR, {
            remark: `request queueId[${queueId}] is illegal, topic ${topic} has ${topicState.queues.length} queues`
          })
        }
        // handleRetryAndDLQ: a retry-topic send past maxReconsumeTimes goes to the group's DLQ.
        if (topic.startsWith(RETRY_PREFIX)) {
          const max = int(header.get("maxReconsumeTimes"), defaultMaxReconsumeTimes)
          if (reconsumeTimes > max) {
            topic = DLQ_PREFIX + topic.slice(RETRY_PREFIX.length)
            ensureTopic(broker, topic, 1)
            queueId = 0
          }
        }
        const bornTimestamp = int(header.get("bornTimestamp"), yield* now)
        const bornHost = bornHostOf(connection)
        const entries = request.code === RequestCode.SEND_BATCH_MESSAGE
          ? decodeBatch(request.body).map((entry) => ({
            body: entry.body,
            flag: entry.flag,
            properties: (() => {
              entry.properties.set("CLUSTER", clusterName)
              return entry.properties
            })()
          }))
          : [{
            body: request.body,
            flag: int(header.get("flag"), 0),
            properties: storedProperties(header.get("properties") ?? "")
          }]
        const stored: Array<StoredRecord> = []
        for (const entry of entries) {
          stored.push(
            yield* store(broker, topic, queueId, { ...entry, sysFlag, bornTimestamp, bornHost, reconsumeTimes })
          )
        }
        const first = stored[0]!
        const uniqKey = stored.length === 1 ? first.properties.get("UNIQ_KEY") : undefined
        return yield* reply(connection, request, type, ResponseCode.SUCCESS, {
          extFields: {
            msgId: stored.map((record) => record.offsetMsgId).join(","),
            queueId,
            queueOffset: first.queueOffset,
            transactionId: uniqKey,
            MSG_REGION: "DefaultRegion",
            TRACE_ON: "true"
          }
        })
      })

    // ---- Broker: pull ----

    type PullResult =
      | {
        readonly _tag: "Answer"
        readonly code: number
        readonly remark: string
        readonly next: bigint
        readonly body?: Uint8Array
      }
      | { readonly _tag: "Error"; readonly code: number; readonly remark: string }

    const filterFor = (
      broker: BrokerState,
      header: ReadonlyMap<string, string>,
      sysFlag: number
    ): Filter | { readonly _tag: "Error"; readonly code: number; readonly remark: string } => {
      const group = header.get("consumerGroup") ?? ""
      const topic = header.get("topic") ?? ""
      if ((sysFlag & PullSysFlag.SUBSCRIPTION) !== 0) {
        const expressionType = header.get("expressionType") ?? "TAG"
        if (expressionType !== "TAG") {
          return {
            _tag: "Error",
            code: ResponseCode.SYSTEM_ERROR,
            remark: "The broker does not support consumer to filter message by SQL92"
          }
        }
        const expression = header.get("subscription") ?? "*"
        return filterOf(expression, codesOfExpression(expression))
      }
      const groupState = broker.groups.get(group)
      if (groupState === undefined) {
        return requireSubscription
          ? { _tag: "Error", code: ResponseCode.SUBSCRIPTION_NOT_EXIST, remark: "the consumer's group info not exist" }
          : { all: true }
      }
      const subscription = groupState.subscriptions.get(topic)
      if (subscription === undefined) {
        return requireSubscription
          ? {
            _tag: "Error",
            code: ResponseCode.SUBSCRIPTION_NOT_EXIST,
            remark: "the consumer's subscription not exist"
          }
          : { all: true }
      }
      if (requireSubscription && subscription.subVersion < int(header.get("subVersion"), 0)) {
        return {
          _tag: "Error",
          code: ExtraResponseCode.SUBSCRIPTION_NOT_LATEST,
          remark: "the consumer's subscription not latest"
        }
      }
      return filterOf(subscription.subString, subscription.codeSet)
    }

    /** DefaultMessageStore.getMessage and PullMessageProcessor's mapping of its status, one run. */
    const pullOnce = (queue: QueueState, offset: bigint, maxMsgNums: number, filter: Filter): PullResult => {
      const maxOffset = BigInt(queue.records.length)
      const minOffset = 0n
      if (maxOffset === 0n) {
        return offset !== 0n
          ? { _tag: "Answer", code: ResponseCode.PULL_OFFSET_MOVED, remark: "NO_MESSAGE_IN_QUEUE", next: 0n }
          : { _tag: "Answer", code: ResponseCode.PULL_NOT_FOUND, remark: "NO_MESSAGE_IN_QUEUE", next: 0n }
      }
      if (offset < minOffset) {
        return { _tag: "Answer", code: ResponseCode.PULL_OFFSET_MOVED, remark: "OFFSET_TOO_SMALL", next: minOffset }
      }
      if (offset === maxOffset) {
        return { _tag: "Answer", code: ResponseCode.PULL_NOT_FOUND, remark: "OFFSET_OVERFLOW_ONE", next: offset }
      }
      if (offset > maxOffset) {
        return {
          _tag: "Answer",
          code: ResponseCode.PULL_OFFSET_MOVED,
          remark: "OFFSET_OVERFLOW_BADLY",
          next: maxOffset
        }
      }
      const limit = Math.min(Math.max(maxMsgNums, 1), MAX_TRANSFER_COUNT)
      const found: Array<Uint8Array> = []
      let index = Number(offset)
      const end = Math.min(queue.records.length, index + Math.max(MAX_FILTER_ENTRIES, limit))
      for (; index < end && found.length < limit; index++) {
        const record = queue.records[index]!
        if (filter.all || filter.codes.has(record.tagsCode)) found.push(record.encoded)
      }
      if (found.length === 0) {
        return {
          _tag: "Answer",
          code: ResponseCode.PULL_RETRY_IMMEDIATELY,
          remark: "NO_MATCHED_MESSAGE",
          next: BigInt(index)
        }
      }
      const body = new Uint8Array(found.reduce((n, bytes) => n + bytes.length, 0))
      let at = 0
      for (const bytes of found) {
        body.set(bytes, at)
        at += bytes.length
      }
      return { _tag: "Answer", code: ResponseCode.SUCCESS, remark: "FOUND", next: BigInt(index), body }
    }

    const answerPull = (
      connection: ConnectionState,
      request: RemotingCommand,
      type: SerializeType,
      queue: QueueState,
      result: PullResult
    ) =>
      result._tag === "Error"
        ? reply(connection, request, type, result.code, { remark: result.remark })
        : reply(connection, request, type, result.code, {
          remark: result.remark,
          extFields: {
            suggestWhichBrokerId: 0,
            nextBeginOffset: result.next,
            minOffset: 0,
            maxOffset: queue.records.length
          },
          body: result.body
        })

    const handlePull = (
      broker: BrokerState,
      connection: ConnectionState,
      request: RemotingCommand,
      type: SerializeType,
      at: number
    ) =>
      Effect.gen(function*() {
        const header = request.extFields ?? new Map<string, string>()
        const topic = header.get("topic") ?? ""
        const queueId = int(header.get("queueId"), 0)
        const sysFlag = int(header.get("sysFlag"), 0)
        const topicState = broker.topics.get(topic)
        if (topicState === undefined) {
          return yield* reply(connection, request, type, ResponseCode.TOPIC_NOT_EXIST, {
            remark: `topic[${topic}] not exist, apply first please!`
          })
        }
        const queue = topicState.queues[queueId]
        if (queue === undefined || queueId < 0) {
          return yield* reply(connection, request, type, ResponseCode.SYSTEM_ERROR, {
            remark:
              `queueId[${queueId}] is illegal, topic:[${topic}] topicConfig.readQueueNums:[${topicState.queues.length}]`
          })
        }
        const filter = filterFor(broker, header, sysFlag)
        if ("_tag" in filter) return yield* answerPull(connection, request, type, queue, filter)
        // The offset piggy-backed on the pull is stored when the broker first handles it.
        if ((sysFlag & PullSysFlag.COMMIT_OFFSET) !== 0 && header.get("commitOffset") !== undefined) {
          commit(broker, header.get("consumerGroup") ?? "", topic, queueId, long(header.get("commitOffset"), 0n))
        }
        const offset = long(header.get("queueOffset"), 0n)
        const maxMsgNums = int(header.get("maxMsgNums"), 32)
        const first = pullOnce(queue, offset, maxMsgNums, filter)
        const suspend = (sysFlag & PullSysFlag.SUSPEND) !== 0
        if (!(suspend && first._tag === "Answer" && first.code === ResponseCode.PULL_NOT_FOUND)) {
          return yield* answerPull(connection, request, type, queue, first)
        }
        // Long polling: held until a matching message arrives or suspendTimeoutMillis passes on the Clock.
        const deadline = at + int(header.get("suspendTimeoutMillis"), 15_000)
        held++
        let signal = queue.arrival
        const wait: Effect.Effect<void> = Effect.flatMap(now, (time) => {
          const remaining = deadline - time
          return remaining <= 0
            ? answerPull(connection, request, type, queue, pullOnce(queue, offset, maxMsgNums, filter))
            : Effect.raceFirst(
              Deferred.await(signal).pipe(Effect.as(true)),
              Effect.sleep(remaining).pipe(Effect.as(false))
            ).pipe(
              Effect.flatMap((arrived) => {
                const result = pullOnce(queue, offset, maxMsgNums, filter)
                if (!arrived || (result._tag === "Answer" && result.code === ResponseCode.SUCCESS)) {
                  return answerPull(connection, request, type, queue, result)
                }
                signal = queue.arrival
                return wait
              })
            )
        })
        yield* Effect.raceFirst(wait, connection.peer.awaitClosed).pipe(
          Effect.ensuring(Effect.sync(() => {
            held--
          })),
          Effect.forkIn(scope)
        )
      })

    // ---- Broker: consumers ----

    const leave = (broker: BrokerState, group: string, connectionId: number) =>
      Effect.suspend(() => {
        const state = broker.groups.get(group)
        if (state === undefined || !state.members.delete(connectionId)) return Effect.void
        const remaining = [...state.members.values()].map((m) => m.connection)
        if (remaining.length === 0) broker.groups.delete(group)
        return notifyGroup(broker, group, remaining)
      })

    const handleHeartbeat = (
      broker: BrokerState,
      connection: ConnectionState,
      request: RemotingCommand,
      type: SerializeType
    ) =>
      Effect.gen(function*() {
        const parsed = RemotingJson.parseBytes(request.body)
        if (Either.isLeft(parsed) || typeof parsed.right !== "object" || parsed.right === null) {
          return yield* reply(connection, request, type, ResponseCode.SYSTEM_ERROR, { remark: "bad heartbeat body" })
        }
        const data = parsed.right as {
          readonly clientID?: string
          readonly consumerDataSet?: ReadonlyArray<{
            readonly groupName?: string
            readonly subscriptionDataSet?: ReadonlyArray<{
              readonly topic?: string
              readonly subString?: string
              readonly codeSet?: ReadonlyArray<number>
              readonly subVersion?: number
              readonly expressionType?: string
            }>
          }>
        }
        const clientId = data.clientID ?? ""
        for (const consumer of data.consumerDataSet ?? []) {
          const group = consumer.groupName ?? ""
          let state = broker.groups.get(group)
          if (state === undefined) {
            state = { members: new Map(), subscriptions: new Map() }
            broker.groups.set(group, state)
          }
          ensureTopic(broker, RETRY_PREFIX + group, 1)
          let changed = false
          for (const sub of consumer.subscriptionDataSet ?? []) {
            const topic = sub.topic ?? ""
            const next: Subscription = {
              topic,
              subString: sub.subString ?? "*",
              codeSet: new Set(sub.codeSet ?? []),
              subVersion: Number(sub.subVersion ?? 0),
              expressionType: sub.expressionType ?? "TAG"
            }
            const previous = state.subscriptions.get(topic)
            if (previous === undefined || previous.subString !== next.subString) changed = true
            if (previous === undefined || previous.subVersion <= next.subVersion) state.subscriptions.set(topic, next)
          }
          const existing = state.members.get(connection.id)
          if (existing === undefined || existing.clientId !== clientId) {
            state.members.set(connection.id, { connection, clientId })
            changed = true
          }
          // ConsumerManager.registerConsumer: a new channel or a changed subscription tells every channel.
          if (changed) yield* notifyGroup(broker, group, [...state.members.values()].map((m) => m.connection))
        }
        return yield* reply(connection, request, type, ResponseCode.SUCCESS)
      })

    const handleSendBack = (
      broker: BrokerState,
      connection: ConnectionState,
      request: RemotingCommand,
      type: SerializeType
    ) =>
      Effect.gen(function*() {
        const header = request.extFields ?? new Map<string, string>()
        const group = header.get("group") ?? ""
        const commitLogOffset = long(header.get("offset"), -1n)
        const requestedDelayLevel = int(header.get("delayLevel"), 0)
        const original = broker.commitLog.get(commitLogOffset)
        if (original === undefined) {
          return yield* reply(connection, request, type, ResponseCode.SYSTEM_ERROR, {
            remark: `look message by offset failed, ${commitLogOffset}`
          })
        }
        const max = request.version >= VERSION_V3_4_9
          ? int(header.get("maxReconsumeTimes"), defaultMaxReconsumeTimes)
          : defaultMaxReconsumeTimes
        const dlq = original.reconsumeTimes >= max || requestedDelayLevel < 0
        const topic = (dlq ? DLQ_PREFIX : RETRY_PREFIX) + group
        ensureTopic(broker, topic, 1)
        const delayLevel = dlq ? 0 : requestedDelayLevel === 0 ? 3 + original.reconsumeTimes : requestedDelayLevel
        const properties = new Map(original.properties)
        if (!properties.has("RETRY_TOPIC")) properties.set("RETRY_TOPIC", original.topic)
        properties.set("WAIT", "false")
        if (!properties.has("ORIGIN_MESSAGE_ID")) properties.set("ORIGIN_MESSAGE_ID", original.offsetMsgId)
        if (dlq) properties.set("DELAY", "0")
        else {
          // Delivered at once, as the schedule service would after the delay: REAL_TOPIC/REAL_QID kept, DELAY cleared.
          properties.delete("DELAY")
          properties.set("REAL_TOPIC", topic)
          properties.set("REAL_QID", "0")
        }
        const stored = yield* store(broker, topic, 0, {
          body: original.body,
          flag: original.flag,
          sysFlag: original.sysFlag,
          properties,
          bornTimestamp: original.bornTimestamp,
          bornHost: original.bornHost,
          reconsumeTimes: original.reconsumeTimes + 1
        })
        sentBack.push({
          broker: broker.name,
          group,
          commitLogOffset,
          requestedDelayLevel,
          delayLevel,
          dlq,
          original: publicRecord(original),
          stored: publicRecord(stored),
          at: yield* now
        })
        return yield* reply(connection, request, type, ResponseCode.SUCCESS)
      })

    const handleBroker = (
      broker: BrokerState,
      connection: ConnectionState,
      request: RemotingCommand,
      type: SerializeType,
      at: number
    ): Effect.Effect<void> => {
      const header = request.extFields ?? new Map<string, string>()
      const queueOf = () => broker.topics.get(header.get("topic") ?? "")?.queues[int(header.get("queueId"), 0)]
      switch (request.code) {
        case RequestCode.SEND_MESSAGE:
        case RequestCode.SEND_MESSAGE_V2:
        case RequestCode.SEND_BATCH_MESSAGE:
          return handleSend(broker, connection, request, type)
        case RequestCode.PULL_MESSAGE:
          return handlePull(broker, connection, request, type, at)
        case RequestCode.HEART_BEAT:
          return handleHeartbeat(broker, connection, request, type)
        case RequestCode.UNREGISTER_CLIENT: {
          const group = header.get("consumerGroup")
          return Effect.zipRight(
            group === undefined ? Effect.void : leave(broker, group, connection.id),
            reply(connection, request, type, ResponseCode.SUCCESS)
          )
        }
        case RequestCode.GET_CONSUMER_LIST_BY_GROUP: {
          const group = header.get("consumerGroup") ?? ""
          const ids = [...(broker.groups.get(group)?.members.values() ?? [])].map((m) => m.clientId)
          return ids.length === 0
            ? reply(connection, request, type, ResponseCode.SYSTEM_ERROR, {
              remark: `no consumer for this group, ${group}`
            })
            : reply(connection, request, type, ResponseCode.SUCCESS, {
              body: utf8Encoder.encode(JSON.stringify({ consumerIdList: ids }))
            })
        }
        case RequestCode.QUERY_CONSUMER_OFFSET: {
          const group = header.get("consumerGroup") ?? ""
          const topic = header.get("topic") ?? ""
          const queueId = int(header.get("queueId"), 0)
          const found = broker.offsets.get(offsetKey(group, topic, queueId))
          if (found !== undefined && found.offset >= 0n) {
            return reply(connection, request, type, ResponseCode.SUCCESS, { extFields: { offset: found.offset } })
          }
          // Java: a queue whose first message is still in memory answers 0 unless setZeroIfNotFound=false.
          const queue = queueOf()
          if (header.get("setZeroIfNotFound") !== "false" && queue !== undefined && queue.records.length > 0) {
            return reply(connection, request, type, ResponseCode.SUCCESS, { extFields: { offset: 0 } })
          }
          return reply(connection, request, type, ResponseCode.QUERY_NOT_FOUND, {
            remark: "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first"
          })
        }
        case RequestCode.UPDATE_CONSUMER_OFFSET: {
          const topic = header.get("topic") ?? ""
          if (!broker.topics.has(topic)) {
            return reply(connection, request, type, ResponseCode.TOPIC_NOT_EXIST, {
              remark: `Topic ${topic} not exist!`
            })
          }
          commit(
            broker,
            header.get("consumerGroup") ?? "",
            topic,
            int(header.get("queueId"), 0),
            long(header.get("commitOffset"), 0n)
          )
          return reply(connection, request, type, ResponseCode.SUCCESS)
        }
        case RequestCode.GET_MAX_OFFSET:
          return reply(connection, request, type, ResponseCode.SUCCESS, {
            extFields: { offset: queueOf()?.records.length ?? 0 }
          })
        case RequestCode.GET_MIN_OFFSET:
          return reply(connection, request, type, ResponseCode.SUCCESS, { extFields: { offset: 0 } })
        case RequestCode.SEARCH_OFFSET_BY_TIMESTAMP: {
          const records = queueOf()?.records ?? []
          const timestamp = int(header.get("timestamp"), 0)
          const index = records.findIndex((record) => record.storeTimestamp >= timestamp)
          return reply(connection, request, type, ResponseCode.SUCCESS, {
            extFields: { offset: index < 0 ? records.length : index }
          })
        }
        case RequestCode.CONSUMER_SEND_MSG_BACK:
          return handleSendBack(broker, connection, request, type)
        default:
          return notSupported(connection, request, type)
      }
    }

    // ---- connections ----

    const takeFault = (code: number, address: string): Fault | undefined => {
      const index = faults.findIndex((f) => f.code === code && (f.address === undefined || f.address === address))
      if (index < 0) return undefined
      const fault = faults[index]!
      if (--fault.remaining <= 0) faults.splice(index, 1)
      return fault
    }

    const onFrame = (connection: ConnectionState, payload: Uint8Array) =>
      Effect.gen(function*() {
        const decoded = RemotingCodec.decode(payload)
        const serializeType = RemotingCodec.serializeTypeOf(payload)
        // Java closes a connection whose frame it cannot decode.
        if (Either.isLeft(decoded) || Either.isLeft(serializeType)) return yield* connection.peer.close
        const request = decoded.right
        const type = serializeType.right
        if (Command.isResponse(request)) return
        const at = yield* now
        const fault = takeFault(request.code, connection.address)
        const record: RequestRecord = {
          address: connection.address,
          connection: connection.id,
          code: request.code,
          opaque: request.opaque,
          oneway: Command.isOneway(request),
          version: request.version,
          serializeType: type,
          extFields: Object.fromEntries(request.extFields ?? []),
          body: request.body,
          remark: request.remark,
          at,
          fault: fault === undefined ? undefined : fault.answer === "hang" ? "hung" : "failed"
        }
        requests.push(record)
        if (fault !== undefined) {
          if (fault.answer !== "hang") {
            yield* reply(connection, request, type, fault.answer.code, { remark: fault.answer.remark })
          }
        } else if (connection.address === nameServer) {
          yield* handleNameServer(connection, request, type)
        } else {
          const broker = brokersByAddress.get(connection.address)
          if (broker !== undefined) yield* handleBroker(broker, connection, request, type, at)
        }
        const signal = requestsChanged
        requestsChanged = newSignal()
        fire(signal)
      })

    const onClose = (connection: ConnectionState) =>
      Effect.suspend(() => {
        connection.open = false
        const broker = brokersByAddress.get(connection.address)
        if (broker === undefined) return Effect.void
        // ConsumerManager.doChannelCloseEvent: every group the channel was in loses it.
        return Effect.forEach([...broker.groups.keys()], (group) => leave(broker, group, connection.id), {
          discard: true
        })
      })

    const serve = (accepted: TestConnector.PeerConnection) =>
      Effect.gen(function*() {
        // The n-th accepted connection is the n-th attempt the peer accepted.
        const attempts = (yield* peer.attempts).filter((attempt) => attempt.behaviour === "accept")
        const address = attempts[accepted.id - 1]?.address ?? "?"
        const connection: ConnectionState = { id: accepted.id, address, peer: accepted, open: true }
        connections.push(connection)
        if (address !== nameServer && !brokersByAddress.has(address)) {
          connection.open = false
          return yield* accepted.close
        }
        const read = Effect.forever(Effect.flatMap(accepted.takeFrame, (payload) => onFrame(connection, payload)))
        yield* Effect.raceFirst(read, accepted.awaitClosed)
        yield* onClose(connection)
      })

    yield* Effect.forever(Effect.flatMap(peer.accepted, (accepted) => Effect.forkIn(serve(accepted), scope))).pipe(
      Effect.forkIn(scope)
    )

    // ---- the service ----

    const awaitRequest = (
      code: number,
      predicate: (request: RequestRecord) => boolean = () => true,
      nth = 1
    ): Effect.Effect<RequestRecord> =>
      Effect.suspend(() => {
        let seen = 0
        for (const request of requests) {
          if (request.code === code && predicate(request) && ++seen === nth) return Effect.succeed(request)
        }
        return Effect.zipRight(Deferred.await(requestsChanged), awaitRequest(code, predicate, nth))
      })

    const service: FakeClusterService = {
      nameServer,
      clusterName,
      brokers: brokerSpecs,
      brokerAddress: (name) => brokerNamed(name).address,
      requests: Effect.sync(() => requests.slice()),
      requestsOf: (code, address) =>
        Effect.sync(() => requests.filter((r) => r.code === code && (address === undefined || r.address === address))),
      awaitRequest,
      messages: (topic, queueId, name) =>
        Effect.sync(() => (brokerNamed(name).topics.get(topic)?.queues[queueId]?.records ?? []).map(publicRecord)),
      topicMessages: (topic) =>
        Effect.sync(() =>
          brokerSpecs.flatMap((spec) =>
            (brokerNamed(spec.name).topics.get(topic)?.queues ?? []).flatMap((queue) => queue.records.map(publicRecord))
          )
        ),
      committedOffset: (group, topic, queueId, name) =>
        Effect.sync(() => brokerNamed(name).offsets.get(offsetKey(group, topic, queueId))?.offset),
      setCommittedOffset: (group, topic, queueId, offset, name) =>
        Effect.sync(() => commit(brokerNamed(name), group, topic, queueId, offset)),
      offsets: Effect.sync(() => brokerSpecs.flatMap((spec) => [...brokerNamed(spec.name).offsets.values()])),
      members: (group, name) =>
        Effect.sync(() => [...(brokerNamed(name).groups.get(group)?.members.values() ?? [])].map((m) => m.clientId)),
      notifications: Effect.sync(() => notifications.slice()),
      sentBack: Effect.sync(() => sentBack.slice()),
      heldPulls: Effect.sync(() => held),
      connections: Effect.sync(() => connections.map((c) => ({ id: c.id, address: c.address, open: c.open }))),
      addTopic: (topic, queues, names) => Effect.sync(() => addTopicSync(topic, queues, names)),
      failNext: (code, responseCode, count = 1, remark, address) =>
        Effect.sync(() => {
          faults.push({ code, address, remaining: count, answer: { code: responseCode, remark } })
        }),
      hang: (code, count = 1, address) =>
        Effect.sync(() => {
          faults.push({ code, address, remaining: count, answer: "hang" })
        }),
      dropConnections: (address) =>
        Effect.gen(function*() {
          const open = connections.filter((c) => c.open && c.address === address)
          for (const connection of open) yield* connection.peer.close
          return open.length
        }),
      produce: (topic, queueId, messages, name) =>
        Effect.gen(function*() {
          const broker = brokerNamed(name)
          const bornDefault = yield* now
          const out: Array<StoredRecord> = []
          for (const message of messages) {
            const properties = new Map<string, string>()
            if (message.tags !== undefined) properties.set("TAGS", message.tags)
            if (message.keys !== undefined) properties.set("KEYS", message.keys.join(" "))
            for (const [key, value] of Object.entries(message.properties ?? {})) properties.set(key, value)
            properties.set("CLUSTER", clusterName)
            const stored = yield* store(broker, topic, queueId, {
              body: typeof message.body === "string" ? utf8Encoder.encode(message.body) : message.body,
              flag: message.flag ?? 0,
              sysFlag: message.sysFlag ?? 0,
              properties,
              bornTimestamp: message.bornTimestamp ?? bornDefault,
              bornHost: bornHostOf(undefined),
              reconsumeTimes: message.reconsumeTimes ?? 0
            })
            out.push(publicRecord(stored))
          }
          return out
        })
    }
    return service
  })

/** The cluster as a layer over the `TestPeer` in context. */
export const layer = (options?: Options): Layer.Layer<FakeCluster, never, TestConnector.TestPeer> =>
  Layer.scoped(FakeCluster, make(options))

/** The cluster with its own `TestConnector`: provides `Connector` (for the client's pool) and `TestPeer` too. */
export const layerTest = (
  options?: Options
): Layer.Layer<FakeCluster | TestConnector.TestPeer | Connector> =>
  layer(options).pipe(Layer.provideMerge(TestConnector.layer))
