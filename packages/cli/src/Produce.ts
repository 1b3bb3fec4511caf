/**
 * `rmq-transport produce`: messages sent to a topic through a RocketMQ NameServer with
 * `@rocketmq-effect/client`'s producer, one line printed per stored message and a summary.
 *
 * The bodies: `--count` messages of `message 1`, `message 2`, … by default; `--size` bytes each (printable
 * filler after the number); `--body` text, `--body @path` for a file's bytes, or `--body @-` for one message
 * per line of standard input (empty lines skipped; up to `--count` when it is given). Sends go one at a time,
 * in order; `--ordered-key` sends every one to the queue that key picks (Java's `SelectMessageQueueByHash`).
 *
 * Each stored message prints its status, `msgId` (the `UNIQ_KEY` consumers see), queue and queue offset; with
 * `--json` a JSON line each (`resultJson`) and a last line `{"summary": …}`. The first send that fails ends
 * the command with the producer's error (`ProducerError`, `MessageError`) as its one line, exit code 1.
 *
 * @since 0.3.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as PlatformError from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import type { ClientError, Message } from "@rocketmq-effect/client"
import { NodeClient, Producer } from "@rocketmq-effect/client"
import type { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { CliError, ExitCode, unreadableReason } from "./Failure.js"
import { readPayload } from "./Send.js"
import { formatCount, formatMillis } from "./Stats.js"

/**
 * @since 0.3.0
 * @category models
 */
export interface ProduceOptions {
  /** The NameServers, `host:port` or several joined by `;`. */
  readonly nameServer: string
  readonly topic: string
  /** The producer group. */
  readonly group: string
  readonly tags?: string | undefined
  readonly keys?: ReadonlyArray<string> | undefined
  /** Messages to send; `undefined` is 1, or every line with `--body @-`. */
  readonly count?: number | undefined
  /** Each body this many bytes: the message's number, then printable filler. Not with `body`. */
  readonly size?: number | undefined
  /** Text, `@path` for a file's bytes, `@-` for one message per line of standard input, `@@…` for `@…`. */
  readonly body?: string | undefined
  /** Send each message to the queue this key picks, in order. */
  readonly orderedKey?: string | undefined
  /** One send's time budget, all attempts included. Default 3 s. */
  readonly timeout?: Duration.DurationInput | undefined
  /** JSON lines instead of text. */
  readonly json?: boolean | undefined
}

/**
 * One stored message.
 *
 * @since 0.3.0
 * @category models
 */
export interface ProduceResult {
  /** 1 for the first message sent. */
  readonly index: number
  readonly bytes: number
  readonly result: Producer.SendResult
}

/**
 * What `produce` did.
 *
 * @since 0.3.0
 * @category models
 */
export interface ProduceSummary {
  readonly topic: string
  readonly sent: number
  readonly bytes: number
  readonly elapsedMillis: number
  /** Messages per `SendStatus`. */
  readonly statuses: Readonly<Record<string, number>>
  /** Messages per queue, `brokerName:queueId`. */
  readonly queues: Readonly<Record<string, number>>
}

const encoder = new TextEncoder()

/**
 * The body of message `index` (1-based) of `size` bytes: `message <index> ` then `.` filler, cut to `size`.
 *
 * @since 0.3.0
 * @category utils
 */
export const sizedBody = (index: number, size: number): Uint8Array => {
  const head = encoder.encode(`message ${index} `)
  const body = new Uint8Array(size).fill(0x2e)
  body.set(head.subarray(0, size))
  return body
}

/** Standard input as lines, for `--body @-`. */
const stdinLines: Stream.Stream<string, PlatformError.PlatformError> = NodeStream.fromReadable(
  () => process.stdin,
  (cause) =>
    new PlatformError.SystemError({
      reason: "Unknown",
      module: "Stream",
      method: "read",
      pathOrDescriptor: "standard input",
      cause
    })
).pipe(Stream.decodeText(), Stream.splitLines)

const usage = (reason: string) => new CliError({ reason, exitCode: ExitCode.Usage })

/**
 * The bodies to send, in order. A `@file` that cannot be read is a usage error, found before connecting.
 *
 * @since 0.3.0
 * @category constructors
 */
export const bodies = (
  options: Pick<ProduceOptions, "body" | "count" | "size">
): Effect.Effect<Stream.Stream<Uint8Array, PlatformError.PlatformError>, CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    if (options.size !== undefined && options.body !== undefined) {
      return yield* usage("--size makes the bodies: not with --body")
    }
    const count = options.count
    if (options.body === "@-") {
      const lines = stdinLines.pipe(
        Stream.filter((line) => line.length > 0),
        Stream.map((line) => encoder.encode(line))
      )
      return count === undefined ? lines : Stream.take(lines, count)
    }
    const n = count ?? 1
    const given = options.body
    if (given !== undefined) {
      const body = yield* readPayload(given).pipe(
        Effect.mapError((error) => usage(`cannot read --body ${given.slice(1)}: ${unreadableReason(error)}`))
      )
      if (body.length === 0) return yield* usage("--body is empty: a message needs at least one byte")
      return Stream.take(Stream.repeatValue(body), n)
    }
    const size = options.size
    return Stream.range(1, n).pipe(
      Stream.map((i) => size === undefined ? encoder.encode(`message ${i}`) : sizedBody(i, size))
    )
  })

/**
 * `brokerName:queueId`.
 *
 * @since 0.3.0
 * @category utils
 */
export const queueName = (queue: { readonly brokerName: string; readonly queueId: number }): string =>
  `${queue.brokerName}:${queue.queueId}`

/**
 * The line printed for a stored message.
 *
 * @since 0.3.0
 * @category utils
 */
export const resultLine = ({ index, result }: ProduceResult): string =>
  `${index} ${result.status} msgId=${result.msgId} queue=${queueName(result.queue)} offset=${result.queueOffset}`

/**
 * The JSON line printed for a stored message with `--json`.
 *
 * @since 0.3.0
 * @category utils
 */
export const resultJson = ({ bytes, index, result }: ProduceResult) => ({
  index,
  status: result.status,
  msgId: result.msgId,
  offsetMsgId: result.offsetMsgId,
  topic: result.queue.topic,
  brokerName: result.queue.brokerName,
  queueId: result.queue.queueId,
  queueOffset: Number(result.queueOffset),
  bytes
})

const count = (record: Record<string, number>, key: string) => {
  record[key] = (record[key] ?? 0) + 1
}

/**
 * The summary line.
 *
 * @since 0.3.0
 * @category utils
 */
export const summaryLine = (summary: ProduceSummary): string => {
  const rate = summary.elapsedMillis > 0 ? ` (${formatCount(summary.sent / (summary.elapsedMillis / 1000))} msg/s)` : ""
  const statuses = Object.entries(summary.statuses).map(([status, n]) => `${formatCount(n)} ${status}`).join(", ")
  const queues = Object.keys(summary.queues).length
  return `sent ${formatCount(summary.sent)} message${summary.sent === 1 ? "" : "s"} to ${summary.topic} in ` +
    `${formatMillis(summary.elapsedMillis)}${rate}` +
    (summary.sent === 0 ? "" : `: ${statuses}; ${queues} queue${queues === 1 ? "" : "s"}`)
}

/**
 * The command: connects through the NameServers, sends, prints, and closes the producer (which unregisters
 * from the brokers it used).
 *
 * @since 0.3.0
 * @category commands
 */
export const run = (
  options: ProduceOptions
): Effect.Effect<
  ProduceSummary,
  ClientError.ProducerError | Message.MessageError | ConfigurationError | CliError | PlatformError.PlatformError,
  FileSystem.FileSystem
> =>
  Effect.gen(function*() {
    const messages = yield* bodies(options)
    const producer = yield* Producer.make({
      nameServer: options.nameServer,
      group: options.group,
      ...(options.timeout === undefined ? {} : { sendTimeout: options.timeout })
    })
    const base = {
      topic: options.topic,
      ...(options.tags === undefined ? {} : { tags: options.tags }),
      ...(options.keys === undefined || options.keys.length === 0 ? {} : { keys: options.keys })
    }
    const orderedKey = options.orderedKey
    const statuses: Record<string, number> = {}
    const queues: Record<string, number> = {}
    let sent = 0
    let bytes = 0
    const started = performance.now()
    yield* messages.pipe(
      Stream.runForEach((body) => {
        const message = { ...base, body }
        return (orderedKey === undefined ? producer.send(message) : producer.sendOrdered(message, orderedKey)).pipe(
          Effect.flatMap((result) => {
            sent++
            bytes += body.length
            count(statuses, result.status)
            count(queues, queueName(result.queue))
            const line = { index: sent, bytes: body.length, result }
            return Console.log(options.json === true ? JSON.stringify(resultJson(line)) : resultLine(line))
          })
        )
      })
    )
    const summary: ProduceSummary = {
      topic: options.topic,
      sent,
      bytes,
      elapsedMillis: Math.round((performance.now() - started) * 100) / 100,
      statuses,
      queues
    }
    yield* Console.log(options.json === true ? JSON.stringify({ summary }) : summaryLine(summary))
    return summary
  }).pipe(Effect.scoped, Effect.provide(NodeClient.layer))

/**
 * The default `--timeout` of `produce`, seconds: the producer's own send budget.
 *
 * @since 0.3.0
 * @category constants
 */
export const defaultTimeoutSeconds: number = Duration.toSeconds(Producer.DEFAULT_SEND_TIMEOUT)
