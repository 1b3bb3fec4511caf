/**
 * One measurement of the send bench's fake-broker mode, in a process of its own (run by `send.bench.ts` with
 * the built packages: `node --import tsx --import <built-packages.mjs> bench/fake-broker/client.ts <json>`):
 * `warmup` SEND_MESSAGE_V2 calls, then `count` measured, `window` in flight, through one of
 *
 *   remoting  `RemotingClient` with its defaults (timeout, metrics, spans) over `RemotingClient.makeTransport`
 *             and `NodeConnector`;
 *   net       a plain `node:net` socket and Promises: each request encoded per call by the built
 *             `RemotingCodec.encodeFrame` (the same command `RemotingClient` is given, with the opaque set
 *             here), a `Map` from opaque to resolver, one `data` handler that reassembles frames, decodes each
 *             with `RemotingCodec.decode` and resolves by opaque.
 *
 * Both pay for the codec, so their ratio is what the client adds around it. It writes one JSON line: calls/s,
 * CPU µs per call (`process.cpuUsage`, the measured calls only), heap allocated per call and the collections
 * per 10,000 calls (`v8.GCProfiler` around the measured calls: the heap in use at the end, less at the start,
 * plus what each collection freed).
 */
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Net from "node:net"
import { performance } from "node:perf_hooks"
import * as V8 from "node:v8"
import * as RemotingClient from "../../src/RemotingClient.js"
import { ResponseCode } from "../../src/RemotingCode.js"
import * as RemotingCodec from "../../src/RemotingCodec.js"
import type { RemotingCommand } from "../../src/RemotingCommand.js"
import { invokeInFlight, type Raw, sendRequests } from "../sendWorkload.js"
import { FrameReader } from "./frames.js"
import type { FakeBrokerResult, FakeBrokerRun } from "./measure.js"

const input = JSON.parse(process.argv[2]!) as FakeBrokerRun

const next = sendRequests({
  producerGroup: "bench-producer-ours",
  topic: "bench-send-fake",
  brokerName: "broker-fake",
  queueId: 0,
  bodySize: input.bodySize
})

/** Around the measured calls: CPU, wall time, the heap and its collections. */
const startProbe = () => {
  const heapBefore = V8.getHeapStatistics().used_heap_size
  const profiler = new V8.GCProfiler()
  profiler.start()
  const cpu = process.cpuUsage()
  const started = performance.now()
  return (raw: Raw): FakeBrokerResult => {
    const elapsedMs = performance.now() - started
    const used = process.cpuUsage(cpu)
    const collections = profiler.stop().statistics
    const heapAfter = V8.getHeapStatistics().used_heap_size
    let freed = 0
    let scavenges = 0
    let markCompacts = 0
    for (const gc of collections) {
      freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize
      if (gc.gcType === "Scavenge" || gc.gcType === "MinorMarkCompact") scavenges++
      else if (gc.gcType === "MarkSweepCompact") markCompacts++
    }
    return {
      callsPerSec: raw.count / (elapsedMs / 1000),
      cpuUsPerCall: (used.user + used.system) / raw.count,
      allocatedBytesPerCall: (heapAfter - heapBefore + freed) / raw.count,
      scavengesPer10k: scavenges * 10_000 / raw.count,
      markCompactsPer10k: markCompacts * 10_000 / raw.count,
      errors: raw.errors,
      lastError: raw.lastError
    }
  }
}

// ---- (a) RemotingClient -----------------------------------------------------------------------------------

const remoting = (): Promise<FakeBrokerResult> =>
  Effect.gen(function*() {
    const transport = yield* RemotingClient.makeTransport({ host: "127.0.0.1", port: input.port })
    const client = yield* RemotingClient.make({ transport, serializeType: input.serializeType })
    yield* invokeInFlight(client, next, input.warmup, input.window)
    const probe = startProbe()
    return probe(yield* invokeInFlight(client, next, input.count, input.window))
  }).pipe(
    Effect.scoped,
    Effect.provide(NodeConnector.layer),
    Logger.withMinimumLogLevel(LogLevel.Warning),
    Effect.runPromise
  )

// ---- (b) node:net and Promises ----------------------------------------------------------------------------

const net = async (): Promise<FakeBrokerResult> => {
  const socket = Net.connect({ host: "127.0.0.1", port: input.port, noDelay: true })
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve)
    socket.once("error", reject)
  })
  const pending = new Map<number, (answer: RemotingCommand) => void>()
  let opaque = 0
  let failure: Error | undefined
  const fail = (error: Error) => {
    failure = error
    socket.destroy()
  }
  const reader = new FrameReader((payload) => {
    const answer = RemotingCodec.decode(payload)
    if (Either.isLeft(answer)) return fail(answer.left)
    const resolve = pending.get(answer.right.opaque)
    if (resolve === undefined || (answer.right.flag & 1) === 0) return
    pending.delete(answer.right.opaque)
    resolve(answer.right)
  })
  socket.on("data", (chunk: Buffer) => reader.push(chunk))
  socket.on("error", fail)
  socket.on("close", () => {
    if (pending.size === 0) return
    process.stderr.write(`${failure?.message ?? "the fake broker closed the connection"}\n`)
    process.exit(1)
  })
  const call = (request: RemotingCommand): Promise<RemotingCommand> => {
    const id = opaque++
    const frame = RemotingCodec.encodeFrame({ ...request, opaque: id }, input.serializeType)
    if (Either.isLeft(frame)) return Promise.reject(frame.left)
    return new Promise((resolve) => {
      pending.set(id, resolve)
      socket.write(frame.right)
    })
  }
  const inFlight = async (count: number): Promise<Raw> => {
    let sent = 0
    let errors = 0
    let lastError: string | undefined
    const worker = async () => {
      while (sent < count) {
        sent++
        const answer = await call(next())
        if (answer.code !== ResponseCode.SUCCESS) {
          errors++
          lastError = `code ${answer.code}: ${answer.remark}`
        }
      }
    }
    const started = performance.now()
    await Promise.all(Array.from({ length: Math.min(input.window, count) }, worker))
    return { count, elapsedMs: performance.now() - started, errors, lastError }
  }
  await inFlight(input.warmup)
  const probe = startProbe()
  const result = probe(await inFlight(input.count))
  socket.destroy()
  return result
}

const result = await (input.client === "remoting" ? remoting() : net())
process.stdout.write(`${JSON.stringify(result)}\n`)
process.exit(0)
