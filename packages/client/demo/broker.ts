/**
 * `pnpm demo:broker`: the producer and the consumer against a real Apache RocketMQ 5.3.3 NameServer and Broker,
 * started here from Maven Central's jars (`remoting/test/RocketMQServers.ts`, as the interop tests start them)
 * and stopped at the end, Ctrl-C included.
 *
 * 1. An 8-queue topic, created with UPDATE_AND_CREATE_TOPIC through the remoting layer and waited for in the
 *    NameServer's route.
 * 2. Two consumers of one group share its queues (Java's averaging allocation: 4 each); a producer sends 40
 *    messages, round-robin over the 8 queues, and each consumer gets those of its own queues.
 * 3. One consumer leaves (its scope closes: it commits and unregisters): the other takes all 8 queues.
 * 4. The other leaves too; a third member takes the queues, 20 more messages are sent, and it stops after 10 of
 *    them, committing its offsets as it closes; a fourth member starts at those offsets and gets exactly the
 *    other 10.
 *
 * Needs java, javac and mvn (and Maven able to fetch the jars, about 110 MB into ~/.m2 the first time); without
 * them it says what is missing and exits 1. Run with `pnpm demo:broker` (tsx).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { RemotingCode, RemotingCommand, RemotingPool, RouteData } from "@rocketmq-effect/remoting"
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as RocketMQServers from "../../remoting/test/RocketMQServers.js"
import { Consumer, MessageQueue, NodeClient, Producer } from "../src/index.js"

const TOPIC = "DemoOrders"
const GROUP = "demo-billing"
const QUEUES = 8
const FIRST_BATCH = 40
const SECOND_BATCH = 20
const STOP_AFTER = 10

class DemoError extends Data.TaggedError("DemoError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

/** Retries `check` every 100 ms until it holds, failing after `within`. */
const waitFor = <A>(
  what: string,
  check: Effect.Effect<Option.Option<A>>,
  within: Duration.DurationInput = "30 seconds"
) =>
  check.pipe(
    Effect.flatMap(Option.match({
      onNone: () => Effect.fail(new DemoError({ reason: `timed out waiting for ${what}` })),
      onSome: Effect.succeed
    })),
    Effect.retry({ schedule: Schedule.spaced("100 millis"), times: Math.ceil(Duration.toMillis(within) / 100) })
  )

/** The topic's queues in `queues`, as `0-3` (this demo has one broker). */
const ids = (queues: ReadonlyArray<MessageQueue.MessageQueue>) => {
  const sorted = [...new Set(queues.filter((q) => q.topic === TOPIC).map((q) => q.queueId))].sort((a, b) => a - b)
  const ranges: Array<string> = []
  for (let i = 0; i < sorted.length;) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++
    ranges.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`)
    i = j + 1
  }
  return ranges.length === 0 ? "none" : ranges.join(",")
}

const ownQueues = (consumer: Consumer.ConsumerService) =>
  Effect.map(consumer.assignment.get, (queues) => queues.filter((q) => q.topic === TOPIC))

interface Received {
  readonly who: string
  readonly queueId: number
  readonly offset: bigint
  readonly body: string
}

// ---- the steps ----------------------------------------------------------------------------------------------

const steps = (servers: RocketMQServers.RocketMQServers) =>
  Effect.gen(function*() {
    const { broker, brokerName, nameServer } = servers

    // 1. The topic, through the remoting layer.
    const pool = yield* RemotingPool.RemotingPool
    yield* pool.invokeSuccess(
      broker,
      RemotingCommand.request(RemotingCode.RequestCode.UPDATE_AND_CREATE_TOPIC, {
        extFields: {
          topic: TOPIC,
          defaultTopic: "TBW102",
          readQueueNums: QUEUES,
          writeQueueNums: QUEUES,
          perm: 6,
          topicFilterType: "SINGLE_TAG",
          topicSysFlag: 0,
          order: false
        }
      })
    )
    const route = yield* waitFor(
      "the NameServer to route the topic",
      pool.invoke(
        nameServer,
        RemotingCommand.request(RemotingCode.RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: TOPIC } })
      ).pipe(
        Effect.flatMap((answer): Effect.Effect<Option.Option<RouteData.TopicRouteData>> =>
          answer.code !== RemotingCode.ResponseCode.SUCCESS
            ? Effect.succeed(Option.none())
            : RouteData.decodeTopicRouteData(answer.body).pipe(
              Effect.map((route) =>
                route.queueDatas[0]?.writeQueueNums === QUEUES ? Option.some(route) : Option.none()
              ),
              Effect.orElseSucceed(() => Option.none())
            )
        ),
        Effect.orElseSucceed(() => Option.none())
      )
    )
    yield* Console.log(
      `1. topic ${TOPIC} created (UPDATE_AND_CREATE_TOPIC to ${broker}): the NameServer routes ` +
        `${route.queueDatas.map((q) => `${q.writeQueueNums} queues on ${q.brokerName}`).join(", ")}`
    )

    // 2. Two consumers of one group share the queues.
    const received: Array<Received> = []
    const join = (who: string, scope: Scope.Scope) =>
      Effect.gen(function*() {
        const consumer = yield* Consumer.make({
          nameServer,
          group: GROUP,
          subscriptions: { [TOPIC]: "*" },
          consumeFrom: "first",
          instanceName: who
        })
        yield* Effect.forkScoped(consumer.run((message) =>
          Effect.sync(() =>
            received.push({
              who,
              queueId: message.queueId,
              offset: message.queueOffset,
              body: decoder.decode(message.body)
            })
          )
        ))
        return consumer
      }).pipe(Scope.extend(scope))

    const scopeA = yield* Scope.make()
    const scopeB = yield* Scope.make()
    yield* Effect.addFinalizer((exit) => Effect.zipRight(Scope.close(scopeB, exit), Scope.close(scopeA, exit)))
    const a = yield* join("consumer-A", scopeA)
    const b = yield* join("consumer-B", scopeB)
    const [queuesA, queuesB] = yield* waitFor(
      "the group to split the queues between A and B",
      Effect.map(Effect.all([ownQueues(a), ownQueues(b)]), (both) =>
        Option.some(both).pipe(
          Option.filter(([qa, qb]) => qa.length + qb.length === QUEUES && qa.length > 0 && qb.length > 0)
        ))
    )
    yield* Console.log(
      `2. ${GROUP}: consumer-A and consumer-B joined; the queues split as Java splits them: A owns ${ids(queuesA)}, ` +
        `B owns ${ids(queuesB)}`
    )
    const producer = yield* Producer.make({ nameServer, group: "demo-producer" })
    const send = (from: number, count: number) =>
      Effect.forEach(
        Array.from({ length: count }, (_, i) => from + i),
        (n) => producer.send({ topic: TOPIC, body: encoder.encode(`order ${n}`), tags: "paid", keys: [`${n}`] }),
        { concurrency: 1 }
      )
    const first = yield* send(1, FIRST_BATCH)
    const perQueue = new Map<number, number>()
    for (const result of first) perQueue.set(result.queue.queueId, (perQueue.get(result.queue.queueId) ?? 0) + 1)
    yield* Console.log(
      `   producer sent ${FIRST_BATCH} messages round-robin: ${
        [...perQueue].sort(([x], [y]) => x - y).map(([q, n]) => `queue ${q}: ${n}`).join(", ")
      }`
    )
    yield* waitFor(
      `the ${FIRST_BATCH} messages to be consumed`,
      Effect.sync(() => Option.some(received.length).pipe(Option.filter((n) => n >= FIRST_BATCH)))
    )
    const by = (who: string) => received.filter((r) => r.who === who)
    const queuesOf = (list: ReadonlyArray<Received>) =>
      ids(list.map((r) => MessageQueue.make(TOPIC, brokerName, r.queueId)))
    yield* Console.log(
      `   consumer-A got ${by("consumer-A").length} (from queues ${queuesOf(by("consumer-A"))}), consumer-B got ` +
        `${by("consumer-B").length} (from queues ${queuesOf(by("consumer-B"))})`
    )

    // 3. B leaves: A takes every queue.
    yield* Scope.close(scopeB, Exit.void)
    const all = yield* waitFor(
      "consumer-A to take B's queues",
      Effect.map(ownQueues(a), (qs) => Option.some(qs).pipe(Option.filter((q) => q.length === QUEUES)))
    )
    yield* Console.log(
      `3. consumer-B left (its scope closed: offsets committed, UNREGISTER_CLIENT); consumer-A now owns ${ids(all)}`
    )

    // 4. C stops after 10 of 20 new messages; a new member resumes where C committed.
    yield* Scope.close(scopeA, Exit.void)
    const scopeA2 = yield* Scope.make()
    const stopped = yield* Effect.gen(function*() {
      const consumer = yield* Consumer.make({
        nameServer,
        group: GROUP,
        subscriptions: { [TOPIC]: "*" },
        instanceName: "consumer-C"
      })
      yield* waitFor(
        "consumer-C to own the queues",
        Effect.map(ownQueues(consumer), (qs) => Option.some(qs).pipe(Option.filter((q) => q.length === QUEUES)))
      )
      yield* send(FIRST_BATCH + 1, SECOND_BATCH)
      const taken = yield* consumer.stream.pipe(
        Stream.take(STOP_AFTER),
        Stream.mapEffect((delivery) => Effect.as(delivery.ack, delivery.message)),
        Stream.runCollect,
        Effect.timeoutFail({
          duration: "30 seconds",
          onTimeout: () => new DemoError({ reason: `consumer-C did not get ${STOP_AFTER} messages in 30 s` })
        })
      )
      const committed = new Map<number, bigint>()
      for (const queue of yield* ownQueues(consumer)) {
        const offset = yield* consumer.committedOffset(queue)
        if (offset !== undefined) committed.set(queue.queueId, offset)
      }
      return { taken: [...taken], committed }
    }).pipe(Scope.extend(scopeA2))
    yield* Scope.close(scopeA2, Exit.void)
    const offsets = (map: ReadonlyMap<number, bigint>) =>
      [...map].sort(([x], [y]) => x - y).map(([q, o]) => `${q}:${o}`).join(" ")
    yield* Console.log(
      `4. consumer-A left too; consumer-C joined, ${SECOND_BATCH} more were sent, and consumer-C stopped after ${stopped.taken.length} (${
        stopped.taken.map((m) => `q${m.queueId}@${m.queueOffset}`).join(" ")
      }) and closed; committed offsets (queue:offset) ${offsets(stopped.committed)}`
    )

    const later: Array<Received> = []
    const scopeC = yield* Scope.make()
    yield* Effect.gen(function*() {
      const consumer = yield* Consumer.make({
        nameServer,
        group: GROUP,
        subscriptions: { [TOPIC]: "*" },
        instanceName: "consumer-D"
      })
      yield* Effect.forkScoped(consumer.run((message) =>
        Effect.sync(() =>
          later.push({
            who: "consumer-D",
            queueId: message.queueId,
            offset: message.queueOffset,
            body: decoder.decode(message.body)
          })
        )
      ))
      yield* waitFor(
        `consumer-D to get the other ${SECOND_BATCH - STOP_AFTER}`,
        Effect.sync(() => Option.some(later.length).pipe(Option.filter((n) => n >= SECOND_BATCH - STOP_AFTER)))
      )
      // Anything more would be a message delivered twice.
      yield* Effect.sleep("1 second")
    }).pipe(Scope.extend(scopeC))
    yield* Scope.close(scopeC, Exit.void)
    const firstSeen = new Map<number, bigint>()
    for (const r of later) {
      if (!firstSeen.has(r.queueId) || r.offset < firstSeen.get(r.queueId)!) firstSeen.set(r.queueId, r.offset)
    }
    const resumedAsCommitted = [...firstSeen].every(([q, o]) => stopped.committed.get(q) === o)
    const seen = new Set([...stopped.taken.map((m) => decoder.decode(m.body)), ...later.map((r) => r.body)])
    const complete = seen.size === SECOND_BATCH && stopped.taken.length + later.length === SECOND_BATCH
    yield* Console.log(
      `   consumer-D joined ${GROUP} and got ${later.length}, starting at (queue:offset) ${offsets(firstSeen)}: ${
        resumedAsCommitted ? "the committed offsets" : "NOT the committed offsets"
      }; together ${seen.size} distinct of ${SECOND_BATCH}, ${
        complete ? "none lost, none twice" : "SOME LOST OR TWICE"
      }`
    )
    return { first: received.length, resumedAsCommitted, complete }
  })

// ---- the program --------------------------------------------------------------------------------------------

const program = Effect.gen(function*() {
  const started = Date.now() - Math.round(process.uptime() * 1000)
  yield* Console.log("demo:broker: @rocketmq-effect/client against Apache RocketMQ 5.3.3 (NameServer + Broker)")
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
  const result = yield* Effect.scoped(Effect.gen(function*() {
    const servers = yield* RocketMQServers.start({
      brokerName: "broker-a",
      clusterName: "DemoCluster",
      stopGrace: "1 second"
    })
    yield* Console.log(
      `  NameServer ${servers.nameServer} up in ${seconds(servers.nameServerBootMs)}, broker ${servers.brokerName} ` +
        `${servers.broker} up in ${seconds(servers.brokerBootMs)}`
    )
    yield* Effect.addFinalizer(() => Console.log("stopping the broker and the NameServer"))
    const demoStarted = Date.now()
    // The clients and the pool close when the steps end, before the servers stop.
    const outcome = yield* steps(servers).pipe(
      Effect.scoped,
      Effect.provide(Layer.merge(
        NodeClient.layer,
        RemotingPool.layer({ transport: { retryInterval: "200 millis" }, client: { defaultTimeout: "10 seconds" } })
          .pipe(Layer.provide(NodeConnector.layer))
      ))
    )
    return { ...outcome, demoMs: Date.now() - demoStarted }
  }))
  yield* Console.log(
    `summary: ${result.first} consumed by two members, queues handed over on leave, resumed ${
      result.resumedAsCommitted ? "at the committed offsets" : "ELSEWHERE"
    }; the client's steps took ${seconds(result.demoMs)}, ${seconds(Date.now() - started)} in all`
  )
  if (!result.resumedAsCommitted || !result.complete) {
    return yield* new DemoError({ reason: "the new member did not resume exactly where the old one committed" })
  }
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
  Effect.onInterrupt(() => Console.error("demo:broker: interrupted; the servers are stopped")),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
