/**
 * The SEND_MESSAGE_V2 workload of the send bench, shared by its real-broker mode (in the bench's process) and
 * its fake-broker clients (in child processes): the request, as Java's `DefaultMQProducer` sends
 * `new Message(topic, "bench", body)` to one queue, and the two ways of sending it through a `RemotingClient`:
 * one at a time, and `window` calls in flight.
 *
 * Only `RemotingClient`'s public surface (`invoke`) is used, so that the bench measures whichever client the
 * package builds.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Crypto from "node:crypto"
import { performance } from "node:perf_hooks"
import type * as RemotingClient from "../src/RemotingClient.js"
import { ResponseCode } from "../src/RemotingCode.js"
import type { RemotingCommand } from "../src/RemotingCommand.js"
import { sendMessageV2 } from "../test/BrokerRequests.js"

/** `size` bytes of `abc…z` repeated. */
export const messageBody = (size: number): Uint8Array => new Uint8Array(size).map((_, i) => 97 + (i % 26))

/**
 * A maker of SEND_MESSAGE_V2 requests to one queue: properties TAGS, WAIT and a fresh UNIQ_KEY each (as Java
 * makes it: a per-process prefix and a counter), `g` (bornTimestamp) the time of the call.
 */
export const sendRequests = (options: {
  readonly producerGroup: string
  readonly topic: string
  readonly brokerName: string
  readonly queueId: number
  readonly bodySize: number
}): () => RemotingCommand => {
  const body = messageBody(options.bodySize)
  const uniqPrefix = Crypto.randomBytes(12).toString("hex").toUpperCase()
  let uniqCounter = 0
  return () =>
    sendMessageV2({
      producerGroup: options.producerGroup,
      topic: options.topic,
      brokerName: options.brokerName,
      queueId: options.queueId,
      properties: `TAGS\u0001bench\u0002WAIT\u0001true\u0002UNIQ_KEY\u0001${uniqPrefix}${
        (uniqCounter++ >>> 0).toString(16).toUpperCase().padStart(8, "0")
      }\u0002`,
      body
    })
}

/** Calls that failed or were not answered SUCCESS, and what the last one said. */
export interface Outcome {
  errors: number
  lastError: string | undefined
}

/** What one measurement of a `RemotingClient` gives. */
export interface Raw {
  readonly count: number
  readonly elapsedMs: number
  readonly p50Us?: number | undefined
  readonly p99Us?: number | undefined
  readonly errors: number
  readonly lastError: string | undefined
}

/** Nearest rank, as the Java side computes it. */
const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1))]!

const sendOnce = (client: RemotingClient.RemotingClientService, next: () => RemotingCommand, outcome: Outcome) =>
  Effect.map(Effect.either(client.invoke(next())), (answer) => {
    if (Either.isLeft(answer)) {
      outcome.errors++
      outcome.lastError = answer.left.message
    } else if (answer.right.code !== ResponseCode.SUCCESS) {
      outcome.errors++
      outcome.lastError = `code ${answer.right.code}: ${answer.right.remark}`
    }
  })

/** `count` calls one after the other, with the latency of each (p50 and p99). */
export const invokeSequential = (
  client: RemotingClient.RemotingClientService,
  next: () => RemotingCommand,
  count: number
): Effect.Effect<Raw> =>
  Effect.gen(function*() {
    const outcome: Outcome = { errors: 0, lastError: undefined }
    const latencies = new Float64Array(count)
    const started = performance.now()
    for (let i = 0; i < count; i++) {
      const t0 = performance.now()
      yield* sendOnce(client, next, outcome)
      latencies[i] = performance.now() - t0
    }
    const elapsedMs = performance.now() - started
    latencies.sort()
    return {
      count,
      elapsedMs,
      p50Us: percentile(latencies, 0.5) * 1000,
      p99Us: percentile(latencies, 0.99) * 1000,
      ...outcome
    }
  })

/** `window` fibers, each sending its next call as soon as its last is answered: `window` calls in flight. */
export const invokeInFlight = (
  client: RemotingClient.RemotingClientService,
  next: () => RemotingCommand,
  count: number,
  window: number
): Effect.Effect<Raw> =>
  Effect.gen(function*() {
    const outcome: Outcome = { errors: 0, lastError: undefined }
    let sent = 0
    const worker = Effect.gen(function*() {
      while (sent < count) {
        sent++
        yield* sendOnce(client, next, outcome)
      }
    })
    const started = performance.now()
    yield* Effect.all(Array.from({ length: Math.min(window, count) }, () => worker), {
      concurrency: "unbounded",
      discard: true
    })
    return { count, elapsedMs: performance.now() - started, ...outcome }
  })
