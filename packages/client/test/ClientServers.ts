/**
 * The real Apache RocketMQ 5.3.3 NameServer and Broker for the client's tests (the remoting package's
 * `RocketMQServers`), and the admin requests those tests make of them through `@rocketmq-effect/remoting`'s
 * `RemotingClient` over `NodeConnector`: a topic with N queues created and waited for in the NameServer's route,
 * a group's committed offset, a queue's max offset, a group's members as the broker lists them.
 *
 * A test file: `const availability = await Effect.runPromise(ClientServers.availability)`, skip with
 * `Prerequisites.skipReason(availability)`, and `const servers = ClientServers.useServers()` inside the
 * `describe`.
 */
import * as RemotingClient from "@rocketmq-effect/remoting/RemotingClient"
import { RequestCode, ResponseCode } from "@rocketmq-effect/remoting/RemotingCode"
import * as RemotingCommand from "@rocketmq-effect/remoting/RemotingCommand"
import * as RouteData from "@rocketmq-effect/remoting/RouteData"
import type { Availability } from "@rocketmq-effect/test-kit/Prerequisites"
import { available, missing } from "@rocketmq-effect/test-kit/Prerequisites"
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import { Connector } from "@rocketmq-effect/transport/Connector"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as RocketMQServers from "../../remoting/test/RocketMQServers.js"
import * as JavaClient from "./JavaClient.js"

export type { RocketMQServers } from "../../remoting/test/RocketMQServers.js"

/** The options `RocketMQServers.start` takes. */
export type ServerOptions = RocketMQServers.Options

/** A failed admin request, or a topic the NameServer did not route in time. */
export class ClientServersError extends Data.TaggedError("ClientServersError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

// ---- availability and servers -----------------------------------------------------------------------------

/** java, javac, mvn and the servers' classpath (checked once per test file). */
export const availability: Effect.Effect<Availability<string>> = RocketMQServers.availability

/** `availability` and Java's client peer (`JavaClient.availability`) both: for the TS-vs-Java tests. */
export const availabilityWithJava: Effect.Effect<Availability<void>, JavaClient.JavaClientError> = Effect.runSync(
  Effect.cached(Effect.gen(function*() {
    const servers = yield* availability
    if (servers._tag === "Missing") return missing<void>(servers.reason)
    const java = yield* JavaClient.availability
    return java._tag === "Missing" ? missing<void>(java.reason) : available<void>(undefined)
  }))
)

/**
 * `RocketMQServers.useServers` for a client test file: started in `beforeAll`, stopped in `afterAll`; call the
 * getter inside tests. Defaults: broker `broker-client` in cluster `ClientCluster`.
 */
export const useServers = (
  options: ServerOptions = {},
  timeoutMs?: number
): () => RocketMQServers.RocketMQServers =>
  RocketMQServers.useServers({ brokerName: "broker-client", clusterName: "ClientCluster", ...options }, timeoutMs)

/** `RocketMQServers.start` (scoped), with the same defaults as `useServers`. */
export const start = (options: ServerOptions = {}) =>
  RocketMQServers.start({ brokerName: "broker-client", clusterName: "ClientCluster", ...options })

// ---- admin requests ---------------------------------------------------------------------------------------

const DEFAULT_TIMEOUT = Duration.seconds(10)

/** One request to `address` (`host:port`) on a connection of its own, closed after; SUCCESS required. */
export const invoke = (
  address: string,
  command: RemotingCommand.RemotingCommand,
  options: { readonly timeout?: Duration.DurationInput; readonly expect?: ReadonlyArray<number> } = {}
): Effect.Effect<RemotingCommand.RemotingCommand, ClientServersError> =>
  Effect.scoped(Effect.gen(function*() {
    const colon = address.lastIndexOf(":")
    const transport = yield* RemotingClient.makeTransport({
      host: address.slice(0, colon),
      port: Number(address.slice(colon + 1))
    })
    const client = yield* RemotingClient.make({ transport, defaultTimeout: options.timeout ?? DEFAULT_TIMEOUT })
    const answer = yield* client.invoke(command)
    const expected = options.expect ?? [ResponseCode.SUCCESS]
    if (!expected.includes(answer.code)) {
      return yield* new ClientServersError({
        reason: `request ${command.code} to ${address} answered ${answer.code}: ${answer.remark ?? ""}`
      })
    }
    return answer
  })).pipe(
    Effect.provideServiceEffect(Connector, NodeConnector.make),
    Effect.catchIf(
      (error): error is Exclude<typeof error, ClientServersError> => !(error instanceof ClientServersError),
      (error) =>
        Effect.fail(new ClientServersError({ reason: `request ${command.code} to ${address}: ${error.message}` }))
    )
  )

/** GET_ROUTEINFO_BY_TOPIC from the NameServer, decoded; undefined when the NameServer has no route (17). */
export const topicRoute = (
  nameServer: string,
  topic: string
): Effect.Effect<RouteData.TopicRouteData | undefined, ClientServersError> =>
  invoke(nameServer, RemotingCommand.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic } }), {
    expect: [ResponseCode.SUCCESS, ResponseCode.TOPIC_NOT_EXIST]
  }).pipe(
    Effect.flatMap((answer) =>
      answer.code === ResponseCode.TOPIC_NOT_EXIST
        ? Effect.succeed(undefined)
        : Effect.mapError(
          RouteData.decodeTopicRouteData(answer.body),
          (error) => new ClientServersError({ reason: `the route of ${topic}: ${error.message}` })
        )
    )
  )

/** How `createTopic` makes a topic. */
export interface TopicOptions {
  /** Read queues; default: the `queues` given. */
  readonly readQueues?: number
  /** Permission bits (`RouteData.Permission`): default 6, read and write. */
  readonly perm?: number
  /** Java's TopicConfig.order. Default false. */
  readonly order?: boolean
  /** How long the NameServer may take to route it. Default 30 s. */
  readonly timeout?: Duration.DurationInput
}

/**
 * UPDATE_AND_CREATE_TOPIC on the servers' broker with `queues` write queues (and as many read queues unless
 * `readQueues` says otherwise), then waits until the NameServer's GET_ROUTEINFO_BY_TOPIC routes it with those
 * counts on that broker; returns that route.
 */
export const createTopic = (
  servers: RocketMQServers.RocketMQServers,
  topic: string,
  queues: number,
  options: TopicOptions = {}
): Effect.Effect<RouteData.TopicRouteData, ClientServersError> =>
  Effect.gen(function*() {
    const readQueues = options.readQueues ?? queues
    const perm = options.perm ?? 6
    yield* invoke(
      servers.broker,
      RemotingCommand.request(RequestCode.UPDATE_AND_CREATE_TOPIC, {
        extFields: {
          topic,
          defaultTopic: "TBW102",
          readQueueNums: readQueues,
          writeQueueNums: queues,
          perm,
          topicFilterType: "SINGLE_TAG",
          topicSysFlag: 0,
          order: options.order ?? false
        }
      })
    )
    const timeout = Duration.decode(options.timeout ?? "30 seconds")
    let last = "no route yet"
    return yield* topicRoute(servers.nameServer, topic).pipe(
      Effect.tap((route) => Effect.sync(() => (last = JSON.stringify(route?.queueDatas)))),
      Effect.filterOrFail(
        (route): route is RouteData.TopicRouteData =>
          route !== undefined && route.queueDatas.some((queue) =>
            queue.brokerName === servers.brokerName && queue.writeQueueNums === queues &&
            queue.readQueueNums === readQueues && queue.perm === perm
          ),
        () => new ClientServersError({ reason: "not routed yet" })
      ),
      Effect.retry(Schedule.spaced("200 millis")),
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new ClientServersError({
            reason: `the NameServer did not route ${topic} with ${queues} queues on ${servers.brokerName} within ${
              Duration.format(timeout)
            }; last: ${last}`
          })
      })
    )
  })

const offsetOf = (answer: RemotingCommand.RemotingCommand): number => Number(answer.extFields?.get("offset") ?? -1)

/**
 * QUERY_CONSUMER_OFFSET to the broker: `group`'s committed offset of one queue; undefined when it has none
 * (QUERY_NOT_FOUND 22; asked with setZeroIfNotFound=false, so the broker does not answer 0 instead).
 */
export const consumerOffset = (
  servers: RocketMQServers.RocketMQServers,
  group: string,
  topic: string,
  queueId: number
): Effect.Effect<number | undefined, ClientServersError> =>
  invoke(
    servers.broker,
    RemotingCommand.request(RequestCode.QUERY_CONSUMER_OFFSET, {
      extFields: { consumerGroup: group, topic, queueId, setZeroIfNotFound: false }
    }),
    { expect: [ResponseCode.SUCCESS, ResponseCode.QUERY_NOT_FOUND] }
  ).pipe(Effect.map((answer) => answer.code === ResponseCode.SUCCESS ? offsetOf(answer) : undefined))

/** GET_MAX_OFFSET to the broker: the next offset of one queue of `topic` (its message count, from 0). */
export const maxOffset = (
  servers: RocketMQServers.RocketMQServers,
  topic: string,
  queueId: number
): Effect.Effect<number, ClientServersError> =>
  invoke(servers.broker, RemotingCommand.request(RequestCode.GET_MAX_OFFSET, { extFields: { topic, queueId } }))
    .pipe(Effect.map(offsetOf))

/**
 * GET_CONSUMER_LIST_BY_GROUP to the broker: the client ids of `group`'s live members (as heartbeats left them);
 * empty when the broker knows no member (it answers SYSTEM_ERROR "no consumer for this group" then).
 */
export const consumerIds = (
  servers: RocketMQServers.RocketMQServers,
  group: string
): Effect.Effect<ReadonlyArray<string>, ClientServersError> =>
  invoke(
    servers.broker,
    RemotingCommand.request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { extFields: { consumerGroup: group } }),
    { expect: [ResponseCode.SUCCESS, ResponseCode.SYSTEM_ERROR] }
  ).pipe(
    Effect.flatMap((answer) => {
      if (answer.code !== ResponseCode.SUCCESS) {
        return answer.remark?.startsWith("no consumer for this group") === true
          ? Effect.succeed([])
          : Effect.fail(
            new ClientServersError({ reason: `the consumer list of ${group}: ${answer.code} ${answer.remark}` })
          )
      }
      return Effect.try({
        try: () => {
          const body = JSON.parse(new TextDecoder().decode(answer.body)) as { consumerIdList?: Array<string> }
          return body.consumerIdList ?? []
        },
        catch: (error) => new ClientServersError({ reason: `the consumer list of ${group}: ${error}` })
      })
    })
  )
