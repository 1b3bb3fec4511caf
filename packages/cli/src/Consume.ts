/**
 * `rmq-transport consume`: joins a consumer group on a topic with `@rocketmq-effect/client`'s consumer and
 * prints each message it is given, acknowledging each once printed.
 *
 * It stops after `--count` messages, at `--timeout`, or at Ctrl-C, and prints a summary with the offsets it
 * committed; closing the consumer writes them to the brokers and leaves the group, so the next member (or the
 * next `consume` of the group) starts where this one stopped. A message printed is a message acknowledged:
 * messages pulled but not yet printed when it stops are not committed, and come again.
 *
 * Each message prints its `msgId`, `queue` and `offset`, tags, keys, `reconsumeTimes` and its body (as text
 * when it is printable UTF-8, else its size); with `--json` a JSON line each (`messageJson`, the body as text
 * and base64) and a last line `{"summary": …}`. The queues the group gives this member are printed on standard
 * error as they change.
 *
 * Exit codes: 0 when it stopped at `--count` or at a `--timeout` without `--count`; 4 when `--timeout` came
 * before `--count` messages; 130 at Ctrl-C (after the summary and the commit); 1 when the consumer failed.
 *
 * @since 0.3.0
 */
import type { ClientError, MessageQueue, StoredMessage } from "@rocketmq-effect/client"
import { Consumer, NodeClient } from "@rocketmq-effect/client"
import type { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { CliError, ExitCode } from "./Failure.js"
import { queueName } from "./Produce.js"
import { replyJson } from "./Send.js"
import { formatCount, formatMillis } from "./Stats.js"

/**
 * @since 0.3.0
 * @category models
 */
export interface ConsumeOptions {
  /** The NameServers, `host:port` or several joined by `;`. */
  readonly nameServer: string
  readonly topic: string
  readonly group: string
  /** `*`, or tags joined by `||`. Default `*`. */
  readonly tags?: string | undefined
  /** Stop after this many messages. */
  readonly count?: number | undefined
  /** Where a queue the group has no committed offset for starts. Default `last`. */
  readonly from?: "first" | "last" | undefined
  /** Stop after this long. */
  readonly timeout?: Duration.DurationInput | undefined
  /** JSON lines instead of text. */
  readonly json?: boolean | undefined
}

/**
 * Why `consume` stopped.
 *
 * @since 0.3.0
 * @category models
 */
export type StoppedBy = "count" | "timeout" | "interrupt"

/**
 * What `consume` did.
 *
 * @since 0.3.0
 * @category models
 */
export interface ConsumeSummary {
  readonly topic: string
  readonly group: string
  readonly received: number
  readonly elapsedMillis: number
  readonly stoppedBy: StoppedBy
  /** The group's committed offset of each queue of the topic this member owned at the end, `brokerName:queueId`. */
  readonly committed: Readonly<Record<string, number>>
}

const durationPattern = /^(\d+\.?\d*|\.\d+)\s*(ms|s|m|h)?$/

/**
 * A duration as the command line writes it: seconds (`30`, `0.5`) or with a unit (`500ms`, `30s`, `2m`,
 * `1h`); `undefined` unless positive.
 *
 * @since 0.3.0
 * @category utils
 */
export const parseDuration = (text: string): Duration.Duration | undefined => {
  const match = durationPattern.exec(text.trim())
  if (match === null) return undefined
  const n = Number(match[1])
  const millis = n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? "s") as "ms" | "s" | "m" | "h"]
  return Number.isFinite(millis) && millis > 0 ? Duration.millis(millis) : undefined
}

const decoder = new TextDecoder("utf-8", { fatal: true })

/** Printable UTF-8: no control characters other than tab, line feed and carriage return. */
const asText = (bytes: Uint8Array): string | undefined => {
  let text: string
  try {
    text = decoder.decode(bytes)
  } catch {
    return undefined
  }
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? undefined : text
}

/** Longer texts are cut in the text line (`--json` has all of it). */
const TEXT_LIMIT = 200

/**
 * A body in the text line: quoted text (escaped as JSON, cut after 200 characters) when it is printable
 * UTF-8, its size otherwise.
 *
 * @since 0.3.0
 * @category utils
 */
export const renderBody = (body: Uint8Array): string => {
  const text = body.length === 0 ? undefined : asText(body)
  if (text === undefined) return `(${formatCount(body.length)} bytes)`
  return text.length <= TEXT_LIMIT
    ? JSON.stringify(text)
    : `${JSON.stringify(text.slice(0, TEXT_LIMIT))}… (${formatCount(body.length)} bytes)`
}

/**
 * The line printed for a message.
 *
 * @since 0.3.0
 * @category utils
 */
export const messageLine = (message: StoredMessage.ReceivedMessage): string =>
  `msgId=${message.msgId} queue=${queueName(message)} offset=${message.queueOffset} ` +
  `tags=${message.tags ?? "-"} keys=${message.keys.length === 0 ? "-" : message.keys.join(",")} ` +
  `reconsumeTimes=${message.reconsumeTimes} body=${renderBody(message.body)}`

/**
 * The JSON line printed for a message with `--json`: the body as `{ bytes, text, base64 }` (`text` null
 * unless UTF-8), every stored property.
 *
 * @since 0.3.0
 * @category utils
 */
export const messageJson = (message: StoredMessage.ReceivedMessage) => ({
  msgId: message.msgId,
  offsetMsgId: message.offsetMsgId,
  topic: message.topic,
  brokerName: message.brokerName,
  queueId: message.queueId,
  queueOffset: Number(message.queueOffset),
  tags: message.tags ?? null,
  keys: message.keys,
  reconsumeTimes: message.reconsumeTimes,
  bornTimestamp: message.bornTimestamp,
  bornHost: message.bornHost,
  storeTimestamp: message.storeTimestamp,
  storeHost: message.storeHost,
  properties: Object.fromEntries(message.properties),
  body: replyJson(message.body)
})

/**
 * Queues in few words, grouped by broker: `broker-a:0-3,6 broker-b:0-1`; a queue of another topic than
 * `topic` (the group's retry topic) is named with its topic: `%RETRY%group@broker-a:0`.
 *
 * @since 0.3.0
 * @category utils
 */
export const formatQueues = (queues: ReadonlyArray<MessageQueue.MessageQueue>, topic: string): string => {
  const groups = new Map<string, Array<number>>()
  for (const queue of queues) {
    const name = queue.topic === topic ? queue.brokerName : `${queue.topic}@${queue.brokerName}`
    const ids = groups.get(name) ?? []
    ids.push(queue.queueId)
    groups.set(name, ids)
  }
  // The topic's own queues first, then the retry topic's.
  const ordered = [...groups].sort(([a], [b]) => Number(a.includes("@")) - Number(b.includes("@")))
  return ordered.map(([name, ids]) => {
    const sorted = [...new Set(ids)].sort((a, b) => a - b)
    const ranges: Array<string> = []
    for (let i = 0; i < sorted.length;) {
      let j = i
      while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++
      ranges.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`)
      i = j + 1
    }
    return `${name}:${ranges.join(",")}`
  }).join(" ")
}

/**
 * The line printed when the queues this member owns change: how many of the topic's, and which.
 *
 * @since 0.3.0
 * @category utils
 */
export const assignmentLine = (queues: ReadonlyArray<MessageQueue.MessageQueue>, topic: string): string => {
  const own = queues.filter((queue) => queue.topic === topic).length
  return `assignment: ${own} queue${own === 1 ? "" : "s"} of ${topic}` +
    (queues.length === 0 ? "" : ` (${formatQueues(queues, topic)})`)
}

/**
 * The summary line.
 *
 * @since 0.3.0
 * @category utils
 */
export const summaryLine = (summary: ConsumeSummary): string => {
  const committed = Object.entries(summary.committed).map(([queue, offset]) => `${queue}=${offset}`).join(" ")
  const why = summary.stoppedBy === "count" ? "" : summary.stoppedBy === "timeout" ? ", timeout" : ", interrupted"
  return `received ${formatCount(summary.received)} message${summary.received === 1 ? "" : "s"} from ` +
    `${summary.topic} (group ${summary.group}) in ${formatMillis(summary.elapsedMillis)}${why}; ` +
    (committed === "" ? "no queue owned at the end" : `committed offsets ${committed}`)
}

/** How long to wait for a first queue before saying that there is none. */
const NO_QUEUE_HINT_AFTER = Duration.seconds(5)

/**
 * The command: joins the group, prints and acknowledges messages until it stops, prints the summary, and
 * closes the consumer (which commits and leaves the group).
 *
 * @since 0.3.0
 * @category commands
 */
export const run = (
  options: ConsumeOptions
): Effect.Effect<ConsumeSummary, ClientError.ConsumerError | ConfigurationError | CliError> =>
  Effect.gen(function*() {
    const tags = options.tags ?? "*"
    const consumer = yield* Consumer.make({
      nameServer: options.nameServer,
      group: options.group,
      subscriptions: { [options.topic]: tags },
      consumeFrom: options.from ?? "last"
    })
    yield* Console.error(
      `consumer ${consumer.clientId} joined group ${options.group} on ${options.topic} (tags ${tags}, a new ` +
        `group starts at the ${options.from ?? "last"} offset)`
    )
    const topic = options.topic
    yield* consumer.assignment.changes.pipe(
      Stream.changesWith((a, b) => formatQueues(a, topic) === formatQueues(b, topic)),
      Stream.drop(1),
      Stream.runForEach((queues) => Console.error(assignmentLine(queues, topic))),
      Effect.forkScoped
    )
    const initial = yield* consumer.assignment.get
    if (initial.length > 0) {
      yield* Console.error(assignmentLine(initial, topic))
    } else {
      yield* consumer.assignment.get.pipe(
        Effect.delay(NO_QUEUE_HINT_AFTER),
        Effect.flatMap((queues) =>
          queues.length > 0 ? Effect.void : Console.error(
            `no queue of ${options.topic} assigned after ${
              Duration.format(NO_QUEUE_HINT_AFTER)
            }: does the topic exist, and is the NameServer ${options.nameServer} reachable? (or the group has ` +
              "more members than the topic has queues)"
          )
        ),
        Effect.forkScoped
      )
    }

    let received = 0
    const started = performance.now()
    const summarize = (stoppedBy: StoppedBy) =>
      Effect.gen(function*() {
        const committed: Record<string, number> = {}
        for (const queue of yield* consumer.assignment.get) {
          if (queue.topic !== topic) continue
          const offset = yield* consumer.committedOffset(queue)
          if (offset !== undefined) committed[queueName(queue)] = Number(offset)
        }
        const summary: ConsumeSummary = {
          topic: options.topic,
          group: options.group,
          received,
          elapsedMillis: Math.round((performance.now() - started) * 100) / 100,
          stoppedBy,
          committed
        }
        yield* Console.log(options.json === true ? JSON.stringify({ summary }) : summaryLine(summary))
        return summary
      })

    const deliveries = options.count === undefined ? consumer.stream : Stream.take(consumer.stream, options.count)
    const timeout = options.timeout === undefined ? undefined : Duration.decode(options.timeout)
    yield* deliveries.pipe(
      Stream.runForEach(({ ack, message }) =>
        Console.log(options.json === true ? JSON.stringify(messageJson(message)) : messageLine(message)).pipe(
          Effect.zipRight(ack),
          Effect.zipRight(Effect.sync(() => received++))
        )
      ),
      timeout === undefined ? (effect) => Effect.asSome(effect) : Effect.timeoutTo({
        duration: timeout,
        onSuccess: Option.some,
        onTimeout: Option.none
      }),
      Effect.onInterrupt(() => summarize("interrupt"))
    )
    const stoppedBy: StoppedBy = options.count !== undefined && received >= options.count ? "count" : "timeout"
    const summary = yield* summarize(stoppedBy)
    if (options.count !== undefined && received < options.count && timeout !== undefined) {
      return yield* new CliError({
        reason: `timeout: received ${formatCount(received)} of ${formatCount(options.count)} messages in ` +
          Duration.format(timeout),
        exitCode: ExitCode.Timeout
      })
    }
    return summary
  }).pipe(Effect.scoped, Effect.provide(NodeClient.layer))
