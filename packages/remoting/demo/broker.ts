/**
 * `pnpm demo:broker`: the remoting client against a real Apache RocketMQ 5.3.3 NameServer and Broker, started
 * here from Maven Central's jars (`test/RocketMQServers.ts`, as the interop tests start them) and stopped at
 * the end, Ctrl-C included.
 *
 * 1. GET_BROKER_CLUSTER_INFO to the NameServer: the broker is listed (`RouteData.decodeClusterInfo`).
 * 2. UPDATE_AND_CREATE_TOPIC to the broker, then GET_ROUTEINFO_BY_TOPIC to the NameServer (`RouteData`).
 * 3. SEND_MESSAGE_V2, ten messages to queue 0: the offsets the broker gives them.
 * 4. PULL_MESSAGE from offset 0 until the ten are back: their bodies and properties (the records read with
 *    `test/StoredMessages.ts`), `UNIQ_KEY` among them: the broker makes one for a message sent without it.
 * 5. HEART_BEAT registering a consumer group, then a second consumer on a connection of its own: the broker's
 *    NOTIFY_CONSUMER_IDS_CHANGED arrives at the handler given to the pool (`handlers`).
 *
 * Needs java, javac and mvn (and Maven able to fetch the jars, about 110 MB into ~/.m2 the first time); without
 * them it says what is missing and exits 1. Run with `pnpm demo:broker` (tsx).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import { RemotingClient, RemotingCode, RemotingCommand, RemotingPool, RouteData } from "../src/index.js"
import { createTopic, heartbeat, pullMessage as pullMessageRequest, sendMessageV2 } from "../test/BrokerRequests.js"
import * as RocketMQServers from "../test/RocketMQServers.js"
import { decodeMessages, type StoredMessage, writeProperties } from "../test/StoredMessages.js"

const { RequestCode, ResponseCode } = RemotingCode

const MESSAGES = 10
const TOPIC = "DemoTopic"
const GROUP = "demo-consumers"

class DemoError extends Data.TaggedError("DemoError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const since = (start: number) => seconds(Date.now() - start)

// ---- the requests ------------------------------------------------------------------------------------------

const sendMessage = (topic: string, brokerName: string, body: string, key: string) =>
  sendMessageV2({
    producerGroup: "demo-producer",
    topic,
    brokerName,
    queueId: 0, // all ten to queue 0, so their offsets run 0..9
    properties: writeProperties({ TAGS: "demo", KEYS: key, WAIT: "true" }),
    body: encoder.encode(body)
  })

// Subscription given (no heartbeat needed first); no long polling: the broker answers at once.
const pullMessage = (topic: string, queueOffset: number) => pullMessageRequest("demo-puller", topic, { queueOffset })

/** Retries `effect` every 200 ms for up to 30 s (the broker registers and dispatches asynchronously). */
const poll = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.retry(effect, { schedule: Schedule.spaced("200 millis"), times: 150 })

// ---- the steps ----------------------------------------------------------------------------------------------

interface Notification {
  readonly address: string
  readonly group: string | undefined
  readonly oneway: boolean
}

interface Result {
  readonly offsets: ReadonlyArray<string>
  readonly pulled: ReadonlyArray<StoredMessage>
  readonly pulls: number
  readonly notifications: number
}

const steps = (servers: RocketMQServers.RocketMQServers, notified: Queue.Queue<Notification>) =>
  Effect.gen(function*() {
    const pool = yield* RemotingPool.RemotingPool
    const { broker, brokerName, clusterName, nameServer } = servers

    // 1. Cluster info.
    const info = yield* pool.invokeSuccess(nameServer, RemotingCommand.request(RequestCode.GET_BROKER_CLUSTER_INFO))
      .pipe(Effect.flatMap((answer) => RouteData.decodeClusterInfo(answer.body)))
    const listed = info.brokerAddrTable.get(brokerName)
    if (listed === undefined) return yield* new DemoError({ reason: `the NameServer does not list ${brokerName}` })
    yield* Console.log(
      `1. cluster info (GET_BROKER_CLUSTER_INFO to ${nameServer}): cluster ${listed.cluster} has ` +
        `${(info.clusterAddrTable.get(clusterName) ?? []).join(", ")}; ${brokerName} master at ${
          RouteData.masterAddress(listed)
        }`
    )

    // 2. A topic and its route.
    yield* pool.invokeSuccess(broker, createTopic(TOPIC))
    const route = yield* poll(
      pool.invokeSuccess(
        nameServer,
        RemotingCommand.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: TOPIC } })
      ).pipe(Effect.flatMap((answer) => RouteData.decodeTopicRouteData(answer.body)))
    )
    const queues = route.queueDatas.map((q) =>
      `${q.brokerName} ${q.readQueueNums} read / ${q.writeQueueNums} write queues, perm ${q.perm}`
    )
    yield* Console.log(
      `2. topic ${TOPIC} created (UPDATE_AND_CREATE_TOPIC to ${broker}); route (GET_ROUTEINFO_BY_TOPIC): ` +
        `${queues.join("; ")}, master ${route.brokerDatas.map(RouteData.masterAddress).join(", ")}`
    )

    // 3. Send.
    yield* Console.log(`3. sending ${MESSAGES} messages (SEND_MESSAGE_V2 to ${broker}, queue 0):`)
    const offsets: Array<string> = []
    for (let i = 0; i < MESSAGES; i++) {
      const body = `hello ${i}`
      const sent = yield* pool.invokeSuccess(broker, sendMessage(TOPIC, brokerName, body, `key-${i}`))
      const field = (name: string) => sent.extFields?.get(name) ?? "?"
      offsets.push(field("queueOffset"))
      yield* Console.log(
        `   "${body}" -> queue ${field("queueId")} offset ${field("queueOffset")} (msgId ${field("msgId")})`
      )
    }

    // 4. Pull them back, from offset 0 until all are in.
    const pulled: Array<StoredMessage> = []
    let pulls = 0
    let next = 0
    const deadline = Date.now() + 30_000
    while (pulled.length < MESSAGES) {
      const answer = yield* pool.invoke(broker, pullMessage(TOPIC, next), { timeout: "10 seconds" })
      pulls++
      if (answer.code === ResponseCode.SUCCESS) {
        const records = yield* Effect.try({
          try: () => decodeMessages(answer.body),
          catch: (error) => new DemoError({ reason: `reading the pulled records: ${error}` })
        })
        pulled.push(...records)
        next = Number(answer.extFields?.get("nextBeginOffset") ?? next + records.length)
      } else if (Date.now() > deadline) {
        return yield* new DemoError({
          reason: `PULL_MESSAGE answered ${RemotingCode.responseCodeName(answer.code) ?? answer.code} for 30 s ` +
            `with ${pulled.length} of ${MESSAGES} messages pulled`
        })
      } else {
        yield* Effect.sleep("200 millis") // PULL_NOT_FOUND / PULL_OFFSET_MOVED: not dispatched yet
      }
    }
    yield* Console.log(
      `4. pulled ${pulled.length} messages back (PULL_MESSAGE from offset 0, ${pulls} pull${pulls === 1 ? "" : "s"}, ` +
        `nextBeginOffset ${next}):`
    )
    for (const message of pulled) {
      const property = (key: string) => `${key} ${message.properties.get(key)}`
      yield* Console.log(
        `   offset ${message.queueOffset}: "${decoder.decode(message.body)}" ` +
          `(${property("TAGS")}, ${property("KEYS")}, ${property("UNIQ_KEY")})`
      )
    }

    // 5. A consumer group: two consumers join; the broker tells the group's connections.
    yield* Console.log(`5. consumer demo-consumer-1 joins group ${GROUP} (HEART_BEAT to ${broker})`)
    yield* pool.invokeSuccess(broker, heartbeat("127.0.0.1@demo-consumer-1", GROUP, TOPIC))
    yield* Console.log("   consumer demo-consumer-2 joins on a connection of its own, then disconnects")
    yield* RemotingClient.RemotingClient.pipe(
      Effect.flatMap((client) => client.invokeSuccess(heartbeat("127.0.0.1@demo-consumer-2", GROUP, TOPIC))),
      Effect.provide(
        RemotingClient.layerTransport({ host: "127.0.0.1", port: servers.brokerPort, retryInterval: "200 millis" }, {
          defaultTimeout: "10 seconds"
        }).pipe(Layer.provide(NodeConnector.layer))
      )
    )
    yield* Queue.take(notified).pipe(
      Effect.repeat({ until: (n) => n.group === GROUP }),
      Effect.timeoutFail({
        duration: "30 seconds",
        onTimeout: () => new DemoError({ reason: "no NOTIFY_CONSUMER_IDS_CHANGED arrived within 30 s" })
      })
    )
    // Let any further notification of the group (the second consumer leaving) reach the handler too.
    yield* Effect.sleep("500 millis")
    const later = Chunk.toReadonlyArray(yield* Queue.takeAll(notified)).filter((n) => n.group === GROUP)
    const notifications = 1 + later.length
    return { offsets, pulled, pulls, notifications } satisfies Result
  })

// ---- the program --------------------------------------------------------------------------------------------

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const program = Effect.gen(function*() {
  // From the process's start: tsx and the imports (which look for java, javac and mvn) take a few seconds.
  const started = Date.now() - Math.round(process.uptime() * 1000)
  yield* Console.log("demo:broker: the remoting client against Apache RocketMQ 5.3.3 (NameServer + Broker)")
  yield* Console.log(
    "checking java, javac and mvn, resolving the RocketMQ jars with Maven (cached after the first run)"
  )
  const availability = yield* RocketMQServers.availability
  if (availability._tag === "Missing") {
    return yield* new DemoError({
      reason: `cannot start a NameServer and a Broker: ${availability.reason}. ` +
        "It needs java, javac and mvn on the PATH, and Maven able to fetch the RocketMQ jars " +
        "from Maven Central (or a warm ~/.m2)."
    })
  }
  yield* Console.log("  ok; starting a NameServer and a Broker (small heaps, a temporary home)")

  const notified = yield* Queue.unbounded<Notification>()
  const outcome = yield* Effect.scoped(Effect.gen(function*() {
    // A graceful broker shutdown takes about 14 s; nothing here needs one, so SIGKILL follows SIGTERM after 1 s.
    const servers = yield* RocketMQServers.start({
      brokerName: "broker-a",
      clusterName: "DemoCluster",
      stopGrace: "1 second"
    })
    yield* Console.log(
      `  NameServer ${servers.nameServer} up in ${seconds(servers.nameServerBootMs)}, broker ${servers.brokerName} ` +
        `${servers.broker} up in ${seconds(servers.brokerBootMs)} and listed by the NameServer`
    )
    // Runs before the servers' own finalizers (last in, first out): the line comes before they stop.
    let stopping = 0
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(
        Effect.sync(() => (stopping = Date.now())),
        Console.log("stopping the broker and the NameServer")
      )
    )
    // One pool for both servers; its handler prints each NOTIFY_CONSUMER_IDS_CHANGED as it arrives.
    const Pool = RemotingPool.layer({
      transport: { retryInterval: "200 millis" },
      client: {
        defaultTimeout: "10 seconds",
        handlers: {
          [RequestCode.NOTIFY_CONSUMER_IDS_CHANGED]: (request, { address }) =>
            Effect.gen(function*() {
              const group = request.extFields?.get("consumerGroup")
              const oneway = RemotingCommand.isOneway(request)
              yield* Console.log(
                `   handler: NOTIFY_CONSUMER_IDS_CHANGED from ${address}, consumerGroup ${group}` +
                  `${oneway ? " (oneway: no answer is sent)" : ""}`
              )
              yield* Queue.offer(notified, { address, group, oneway })
              return RemotingCommand.response(request, ResponseCode.SUCCESS)
            })
        }
      }
    }).pipe(Layer.provide(NodeConnector.layer))
    const result = yield* steps(servers, notified).pipe(Effect.provide(Pool))
    return { servers, result, stopping: () => stopping }
  }))
  const { result, servers } = outcome
  const left = [servers.nameServerPid, servers.brokerPid].filter(isAlive)
  yield* Console.log(
    `  stopped in ${since(outcome.stopping())}; ${
      left.length === 0 ? "no JVM left running" : `still running: pid ${left.join(", ")}`
    }`
  )

  const bodiesMatch = result.pulled.every((m, i) => decoder.decode(m.body) === `hello ${i}`)
  yield* Console.log(
    `summary: broker ${servers.brokerName} listed in cluster ${servers.clusterName}; topic ${TOPIC} routed; ` +
      `${result.offsets.length} sent (offsets ${result.offsets[0]}..${result.offsets[result.offsets.length - 1]}); ` +
      `${result.pulled.length} pulled back in ${result.pulls} pull${result.pulls === 1 ? "" : "s"}, bodies ${
        bodiesMatch ? "as sent" : "DIFFERENT from what was sent"
      }; ${result.notifications} NOTIFY_CONSUMER_IDS_CHANGED at the handler; ${since(started)} in all`
  )
  if (!bodiesMatch) return yield* new DemoError({ reason: "the pulled bodies are not the ones sent" })
  if (left.length > 0) return yield* new DemoError({ reason: `JVMs still running: ${left.join(", ")}` })
})

const describeCause = (cause: Cause.Cause<unknown>): string =>
  Option.match(Cause.failureOption(cause), {
    onNone: () => Cause.pretty(cause),
    onSome: (error) =>
      Predicate.hasProperty(error, "message") && typeof error.message === "string" && error.message.length > 0
        ? error.message
        : String(error)
  })

program.pipe(
  Effect.tapErrorCause((cause) =>
    Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(`demo:broker failed: ${describeCause(cause)}`)
  ),
  // Ctrl-C: runs once the scope has stopped the servers.
  Effect.onInterrupt(() => Console.error("demo:broker: interrupted; the servers are stopped")),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
