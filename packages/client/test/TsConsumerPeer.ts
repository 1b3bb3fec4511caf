/**
 * A TypeScript consumer in a process of its own, for `JavaInterop.test.ts`: a member of a consumer group that a
 * test can SIGKILL (a crash: no offset persisted, no UNREGISTER_CLIENT), next to Java's push consumer.
 *
 * Usage: `node --import <tsx loader> TsConsumerPeer.ts '<json>'`, the JSON being `Consumer.Options` without the
 * schedules (`nameServer`, `group`, `subscriptions`, `consumeFrom`, `instanceName`, …) plus `rebalanceEveryMs`,
 * `persistOffsetsEveryMs` and `heartbeatMs`.
 *
 * Prints JSON lines on stdout, nothing else:
 * - `{"event":"ready","clientId"}` once the consumer has joined its group;
 * - `{"event":"assignment","queues":[{"topic","brokerName","queueId"}]}` at once and whenever the owned queues
 *   change (the group's retry topic included);
 * - `{"event":"message","msgId","offsetMsgId","topic","tags","queueId","queueOffset","reconsumeTimes","body"}`
 *   for each message (body as UTF-8 text), printed before the message is acknowledged;
 * - `{"event":"failed","error"}` if it cannot start.
 *
 * It closes the consumer (commit, unregister) and exits 0 when its stdin ends. Logs go to stderr.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Consumer from "../src/Consumer.js"
import * as NodeClient from "../src/NodeClient.js"

interface PeerOptions
  extends Omit<Consumer.Options, "heartbeat" | "rebalanceEvery" | "persistOffsetsEvery" | "pool" | "consumeFrom">
{
  readonly consumeFrom?: "first" | "last" | undefined
  readonly rebalanceEveryMs?: number | undefined
  readonly persistOffsetsEveryMs?: number | undefined
  readonly heartbeatMs?: number | undefined
}

const emit = (line: Record<string, unknown>): void => {
  // Writes to a pipe are synchronous on Linux: a line is out before the message it names is acknowledged.
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

const spaced = (ms: number | undefined) => ms === undefined ? undefined : Schedule.spaced(Duration.millis(ms))

const stdinEnded = Effect.async<void>((resume) => {
  const done = () => resume(Effect.void)
  process.stdin.once("end", done)
  process.stdin.once("close", done)
  process.stdin.resume()
})

const main = (options: PeerOptions) =>
  Effect.gen(function*() {
    const { heartbeatMs, persistOffsetsEveryMs, rebalanceEveryMs, ...rest } = options
    const consumer = yield* Consumer.make({
      ...rest,
      heartbeat: spaced(heartbeatMs),
      rebalanceEvery: spaced(rebalanceEveryMs),
      persistOffsetsEvery: spaced(persistOffsetsEveryMs)
    })
    emit({ event: "ready", clientId: consumer.clientId })
    yield* consumer.assignment.changes.pipe(
      Stream.runForEach((queues) => Effect.sync(() => emit({ event: "assignment", queues }))),
      Effect.forkScoped
    )
    yield* consumer.stream.pipe(
      Stream.runForEach((delivery) =>
        Effect.zipRight(
          Effect.sync(() => {
            const message = delivery.message
            emit({
              event: "message",
              msgId: message.msgId,
              offsetMsgId: message.offsetMsgId,
              topic: message.topic,
              tags: message.tags ?? null,
              queueId: message.queueId,
              queueOffset: Number(message.queueOffset),
              reconsumeTimes: message.reconsumeTimes,
              body: new TextDecoder().decode(message.body)
            })
          }),
          delivery.ack
        )
      ),
      Effect.forkScoped
    )
    yield* stdinEnded
  }).pipe(
    Effect.scoped,
    Effect.provide(NodeClient.layer),
    Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.stringLogger)))
  )

const parsed = JSON.parse(process.argv[2] ?? "{}") as PeerOptions
Effect.runPromise(main(parsed)).then(
  () => process.exit(0),
  (error: unknown) => {
    emit({ event: "failed", error: String(error) })
    process.exit(1)
  }
)
