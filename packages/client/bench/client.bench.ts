/**
 * The client's producer and consumer beside Apache RocketMQ's own Java client (rocketmq-client 5.3.3), against
 * one real NameServer and broker (RocketMQ 5.3.3, `ASYNC_FLUSH`, started once through the remoting package's
 * `test/RocketMQServers.ts`), on the built packages (dist/esm, loaded through
 * `packages/cli/bench/built-packages.mjs`; the test helpers stay TypeScript). Three workloads, 1 KiB bodies:
 *
 * 1. **sync**: one send at a time. Ours: `Producer.send`, awaited before the next. Java's: `DefaultMQProducer`
 *    sync `send(msg, mq)` (`packages/remoting/interop/java-producer/ProducerBench.java`, `sequential`).
 * 2. **inflight**: 256 sends in flight. Ours: `Effect.forEach(…, producer.send, { concurrency: 256 })`.
 *    Java's: async `send(msg, mq, callback)` under a `Semaphore` of 256 (ProducerBench's `inflight`).
 *    Both producer workloads send `{ topic, body, tags: "bench" }` (Java: `new Message(topic, "bench", body)`)
 *    to a topic of one queue, so that Java's fixed queue and our round-robin pick the same queue. Each
 *    measurement comes after its own warm-up (not measured); CPU is read around the measured sends only.
 * 3. **drain**: a backlog of 100,000 messages in an 8-queue topic (produced first, by ours, 256 in flight),
 *    drained by a fresh consumer group per measurement, from the first offset. Ours: `Consumer.make` with
 *    `consumeFrom: "first"` and `run` with a handler that only counts, 20 at a time (Java's default
 *    `consumeThreadMin`), once with `maxBufferedMessages` 10,000 (the default) and once with 1,000. Java's:
 *    `DefaultMQPushConsumer` with a listener that only counts, in a JVM of its own (`test/JavaClient.ts`
 *    `benchConsume`). msgs/s is counted from the first message handed to the handler to the last one (Java's
 *    `elapsedMs − firstMessageMs`), so that start, rebalance and the JVM's boot are not. CPU per message is
 *    the client's CPU from just before the consumer is made (Java: just before `consumer.start()`) to the
 *    last message, divided by the count. For ours the bench also samples `process.memoryUsage()` every 10 ms
 *    from a forced GC before the consumer is made to the last message (see the memory targets below); the
 *    forced GCs during the drain are left out of its time and CPU.
 *
 * Each (client, workload) runs `--runs` times, the clients alternating which goes first; the table shows
 * medians, then every run. Before anything is measured the broker gets a warm-up of its own (10,000 messages,
 * 256 in flight). The medians the targets are judged on go to `bench-results/client.json`
 * (`../../remoting/bench/results.ts`), which `pnpm bench` reads for its one targets table
 * (`scripts/bench-targets.mjs`).
 *
 * The memory targets, for each buffer setting, as growth above a baseline taken after forced GCs (JS heap in
 * use + `external`, where V8 counts the ArrayBuffers the pull answers arrive in), the worst run:
 *
 * - **held**: a consumer of a fresh group whose handlers never finish, so that the pullers fill the buffer to
 *   its bound (3 s, then forced GCs, twice a second apart): at most 2 × the buffer's bytes + 16 MiB. The
 *   buffer's bytes: the messages the consumer may hold, min(maxBufferedMessages, queues ×
 *   maxBufferedMessagesPerQueue) (the per-queue default is 1,000, so 8,000 for 8 queues under the default
 *   10,000), × 1 KiB. The factor 2: a buffered message holds its 1 KiB body (a view into the pull answer it
 *   came in, with ~200 bytes of record header per message) and its decoded `ReceivedMessage` (ids, hosts and
 *   topic as strings, a properties Map, bigints, the delivery): under 2 KiB in all. The 16 MiB: the consumer's
 *   own state, its connections' buffers, the code its first run compiles.
 * - **peak**: the most of the 10 ms samples during the drain, garbage included: at most 2 × the buffer's
 *   bytes + 96 MiB. The 96 MiB: V8 lets up to 64 MiB of unreferenced external memory (here: pull answers
 *   already handled) accumulate before it forces a collection, and its young generation holds up to 2 × 16 MiB
 *   semi-spaces on Node 20 x64.
 *
 * Either above its bound while the backlog (100,000 × 1 KiB ≈ 98 MiB of bodies) is larger would mean memory
 * follows the backlog, not the buffer. The drains also show the memory after forced GCs at a quarter, half and
 * three quarters of the drain, and once the last message is handled (not judged).
 *
 * Usage: `pnpm bench` in packages/client (builds, then
 * `node --import tsx --import ../cli/bench/built-packages.mjs bench/client.bench.ts [options]`):
 *   --runs N                 runs per client and workload (default 3)
 *   --modes sync,inflight,drain
 *   --only ours|java
 *   --sync-count N, --sync-warmup N           (5,000 after 1,000)
 *   --inflight-count N, --inflight-warmup N   (50,000 after 5,000)
 *   --window N               sends in flight (256)
 *   --backlog N              messages drained (100,000)
 *   --buffers A,B            our drains' maxBufferedMessages (10000,1000; the first is the one judged beside
 *                            Java's rate)
 *   --concurrency N          our drain's handlers at once (20)
 *   --pause-ms N             idle time before each measurement (2,000)
 *   --profile DIR            CPU profiles of our inflight sends and our drains (written to DIR, summarised at the
 *                            end); the profiled runs' figures include the profiler's cost
 *   --quick                  sync 500 after 200, inflight 5,000 after 1,000, backlog 10,000, 1 run, broker
 *                            warm-up 2,000: the targets table says "not judged"
 *
 * Needs java, javac, mvn and Maven Central (or a warm ~/.m2) for the servers: without them it prints why, writes
 * its targets as not measured and exits 0. Not part of CI.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Schedule from "effect/Schedule"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { performance } from "node:perf_hooks"
import { median, type TargetResult, writeResults } from "../../remoting/bench/results.js"
import * as JavaRemoting from "../../remoting/test/JavaRemoting.js"
import * as RocketMQServers from "../../remoting/test/RocketMQServers.js"
import * as Consumer from "../src/Consumer.js"
import * as NodeClient from "../src/NodeClient.js"
import * as Producer from "../src/Producer.js"
import * as ClientServers from "../test/ClientServers.js"
import * as JavaClient from "../test/JavaClient.js"
import * as JavaProducer from "./javaProducer.js"
import * as Machine from "./machine.js"
import * as Profile from "./profile.js"

// ---- options ----------------------------------------------------------------------------------------------

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(name)
const option = (name: string): string | undefined => {
  const at = args.indexOf(name)
  return at >= 0 ? args[at + 1] : undefined
}
const integer = (name: string, fallback: number) => {
  const value = Number(option(name))
  return Number.isInteger(value) && value > 0 ? value : fallback
}

type Mode = "sync" | "inflight" | "drain"
type Client = "ours" | "java"

const quick = flag("--quick")
const RUNS = integer("--runs", quick ? 1 : 3)
const MODES: ReadonlyArray<Mode> = (option("--modes") ?? "sync,inflight,drain").split(",").filter(
  (mode): mode is Mode => mode === "sync" || mode === "inflight" || mode === "drain"
)
const only = option("--only")
const CLIENTS: ReadonlyArray<Client> = only === "ours" || only === "java" ? [only] : ["ours", "java"]
const COUNT: Readonly<Record<"sync" | "inflight", number>> = {
  sync: integer("--sync-count", quick ? 500 : 5_000),
  inflight: integer("--inflight-count", quick ? 5_000 : 50_000)
}
const WARMUP: Readonly<Record<"sync" | "inflight", number>> = {
  sync: integer("--sync-warmup", quick ? 200 : 1_000),
  inflight: integer("--inflight-warmup", quick ? 1_000 : 5_000)
}
const WINDOW = integer("--window", 256)
const BACKLOG = integer("--backlog", quick ? 10_000 : 100_000)
const BUFFERS: ReadonlyArray<number> = (option("--buffers") ?? "10000,1000").split(",").map(Number).filter(
  (n) => Number.isInteger(n) && n > 0
)
const CONCURRENCY = integer("--concurrency", 20)
const PAUSE_MS = integer("--pause-ms", 2_000)
const PROFILE_DIR = option("--profile")
const BROKER_WARMUP = quick ? 2_000 : 10_000
const BODY_SIZE = 1024
const DRAIN_QUEUES = 8
/** `Consumer.Options.maxBufferedMessagesPerQueue`'s default. */
const PER_QUEUE_DEFAULT = 1_000
/** Java's `consumeThreadMin` default: the Java drain's listener threads. */
const JAVA_CONSUME_THREADS = 20
const SEND_TIMEOUT_MS = 10_000
const MIB = 2 ** 20

const stamp = Date.now()
const SEND_TOPIC = `bench_client_send_${stamp}`
const BACKLOG_TOPIC = `bench_client_backlog_${stamp}`

const progress = (line: string) => process.stderr.write(`client.bench: ${line}\n`)

const body = new Uint8Array(BODY_SIZE).map((_, i) => 97 + (i % 26))

/** The messages one of our drains may hold: its `maxBufferedMessages`, or all queues' per-queue bounds. */
const bufferBound = (maxBuffered: number) => Math.min(maxBuffered, DRAIN_QUEUES * PER_QUEUE_DEFAULT)
/** The buffer's bytes, MiB. */
const bufferMiB = (maxBuffered: number) => bufferBound(maxBuffered) * BODY_SIZE / MIB
/** The bound on the memory a full buffer holds above the baseline, MiB. */
const heldLimitMiB = (maxBuffered: number) => 2 * bufferMiB(maxBuffered) + 16
/** The bound on the peak during a drain above the baseline, garbage included, MiB. */
const peakLimitMiB = (maxBuffered: number) => 2 * bufferMiB(maxBuffered) + 96

// ---- measurements -----------------------------------------------------------------------------------------

interface Memory {
  readonly baselineHeapUsed: number
  readonly baselineTotal: number
  readonly peakHeapUsed: number
  readonly peakTotal: number
  /** The most heap + external after a forced GC, at a quarter, half and three quarters of the drain. */
  readonly live: number
  /** Heap + external after a forced GC once the last message is handled (the consumer still open). */
  readonly liveAtEnd: number
  /** Of which the JS heap. */
  readonly liveAtEndHeapUsed: number
  readonly samples: number
}

interface Measurement {
  readonly client: Client
  readonly mode: Mode
  /** Our drains: maxBufferedMessages. */
  readonly buffer: number | undefined
  readonly run: number
  readonly count: number
  readonly elapsedMs: number
  readonly p50Us: number | undefined
  readonly p99Us: number | undefined
  /** Drains: from the consumer's start to its first message, ms. */
  readonly firstMessageMs: number | undefined
  readonly errors: number
  readonly lastError: string | undefined
  readonly clientCpuUs: number | undefined
  readonly brokerCpuUs: number | undefined
  readonly machineBusy: number | undefined
  readonly memory: Memory | undefined
  readonly load1: number
  readonly foreignJvms: number
  readonly profiled: boolean
}

const rate = (m: Measurement) => m.count / (m.elapsedMs / 1000)

const medianOf = (values: ReadonlyArray<number | undefined>): number | undefined => {
  const defined = values.filter((v): v is number => v !== undefined)
  return defined.length === 0 ? undefined : median(defined)
}

const maxOf = (values: ReadonlyArray<number | undefined>): number | undefined => {
  const defined = values.filter((v): v is number => v !== undefined)
  return defined.length === 0 ? undefined : Math.max(...defined)
}

/** A key for one line of the table: client, workload, and our drains' buffer. */
type Line = { readonly client: Client; readonly mode: Mode; readonly buffer?: number | undefined }

const summaryOf = (measurements: ReadonlyArray<Measurement>, line: Line) => {
  const runs = measurements.filter((m) =>
    m.client === line.client && m.mode === line.mode && (line.buffer === undefined || m.buffer === line.buffer)
  )
  return runs.length === 0 ? undefined : {
    rate: median(runs.map(rate)),
    p50Us: medianOf(runs.map((m) => m.p50Us)),
    p99Us: medianOf(runs.map((m) => m.p99Us)),
    firstMessageMs: medianOf(runs.map((m) => m.firstMessageMs)),
    clientCpuUs: medianOf(runs.map((m) => m.clientCpuUs)),
    brokerCpuUs: medianOf(runs.map((m) => m.brokerCpuUs)),
    machineBusy: medianOf(runs.map((m) => m.machineBusy)),
    baselineMiB: medianOf(runs.map((m) => m.memory === undefined ? undefined : m.memory.baselineTotal / MIB)),
    peakHeapUsedMiB: medianOf(runs.map((m) => m.memory === undefined ? undefined : m.memory.peakHeapUsed / MIB)),
    peakTotalMiB: medianOf(runs.map((m) => m.memory === undefined ? undefined : m.memory.peakTotal / MIB)),
    growthMiB: medianOf(
      runs.map((m) => m.memory === undefined ? undefined : (m.memory.peakTotal - m.memory.baselineTotal) / MIB)
    ),
    maxLiveGrowthMiB: maxOf(
      runs.map((m) => m.memory === undefined ? undefined : (m.memory.live - m.memory.baselineTotal) / MIB)
    ),
    maxEndGrowthMiB: maxOf(
      runs.map((m) => m.memory === undefined ? undefined : (m.memory.liveAtEnd - m.memory.baselineTotal) / MIB)
    ),
    maxGrowthMiB: runs.some((m) => m.memory !== undefined)
      ? Math.max(
        ...runs.flatMap((m) => m.memory === undefined ? [] : [(m.memory.peakTotal - m.memory.baselineTotal) / MIB])
      )
      : undefined,
    errors: runs.reduce((sum, m) => sum + m.errors, 0)
  }
}

/** Our consumer holding a full buffer: memory (heap + external) before it starts and while it holds. */
interface Hold {
  readonly run: number
  readonly buffer: number
  readonly baseline: number
  readonly held: number
  /** Messages handed to the (blocked) handlers. */
  readonly handed: number
}

/**
 * Memory after forced collections: two (V8 frees ArrayBuffers' memory in its sweeper, which the next collection
 * waits for), then a third a moment later.
 */
const settledSample = Effect.gen(function*() {
  Machine.forcedGc?.()
  Machine.forcedGc?.()
  yield* Effect.sleep("200 millis")
  Machine.forcedGc?.()
  return Machine.memorySample()
})

// ---- the table --------------------------------------------------------------------------------------------

const fixed = (value: number | undefined, digits = 0) => value === undefined ? "-" : value.toFixed(digits)

const modeName = (mode: Mode) =>
  mode === "sync"
    ? "sync, 1 at a time"
    : mode === "inflight"
    ? `${WINDOW} in flight`
    : `drain ${BACKLOG.toLocaleString("en-US")}`

const clientName = (line: Line) =>
  line.client === "java"
    ? line.mode === "drain" ? "Java DefaultMQPushConsumer" : "Java DefaultMQProducer"
    : line.mode === "drain"
    ? `ours, buffer ${line.buffer?.toLocaleString("en-US")}`
    : "ours (Producer)"

const render = (rows: ReadonlyArray<ReadonlyArray<string>>, leftColumns: number): Array<string> => {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  const lines = rows.map((row) =>
    row.map((cell, column) => column < leftColumns ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))
      .join("  ").trimEnd()
  )
  lines.splice(1, 0, widths.map((width) => "-".repeat(width)).join("  "))
  return lines
}

/** The lines of the table, in order: each workload's clients, ours first. */
const tableLines = (): ReadonlyArray<Line> =>
  MODES.flatMap((mode): ReadonlyArray<Line> =>
    mode === "drain"
      ? [
        ...(CLIENTS.includes("ours") ? BUFFERS.map((buffer) => ({ client: "ours" as const, mode, buffer })) : []),
        ...(CLIENTS.includes("java") ? [{ client: "java" as const, mode }] : [])
      ]
      : CLIENTS.map((client) => ({ client, mode }))
  )

const printTable = (measurements: ReadonlyArray<Measurement>, holds: ReadonlyArray<Hold>) => {
  const rows: Array<Array<string>> = [[
    "workload",
    "client",
    "msgs/s",
    "ours/Java",
    "client CPU µs/msg",
    "p50 µs",
    "p99 µs",
    "1st msg ms",
    "broker CPU µs/msg",
    "busy",
    "errors"
  ]]
  for (const line of tableLines()) {
    const s = summaryOf(measurements, line)
    if (s === undefined) continue
    const java = line.client === "ours" ? summaryOf(measurements, { client: "java", mode: line.mode }) : undefined
    rows.push([
      modeName(line.mode),
      clientName(line),
      fixed(s.rate),
      java === undefined ? "" : `${(s.rate / java.rate).toFixed(2)}×`,
      fixed(s.clientCpuUs, 1),
      fixed(s.p50Us),
      fixed(s.p99Us),
      fixed(s.firstMessageMs),
      fixed(s.brokerCpuUs, 1),
      s.machineBusy === undefined ? "-" : `${s.machineBusy.toFixed(0)} %`,
      String(s.errors)
    ])
  }
  for (const line of render(rows, 2)) console.log(line)
  const drains = BUFFERS.map((buffer) => ({
    buffer,
    s: summaryOf(measurements, { client: "ours", mode: "drain", buffer })
  }))
    .filter((d) => d.s !== undefined)
  if (drains.length === 0) return
  console.log("")
  console.log(
    `our drains' memory (MiB; JS heap in use + external; baseline after a forced GC${
      Machine.forcedGc === undefined ? " (NOT available: no GC before the baseline)" : ""
    }):`
  )
  const memoryRows: Array<Array<string>> = [[
    "maxBufferedMessages",
    "held at most",
    "buffer MiB",
    "baseline",
    "peak heapUsed",
    "peak heap+ext",
    "held (full buffer)",
    "KiB/msg",
    "bound",
    "drain: peak",
    "bound",
    "live",
    "left at end"
  ]]
  for (const { buffer, s } of drains) {
    memoryRows.push([
      buffer.toLocaleString("en-US"),
      bufferBound(buffer).toLocaleString("en-US"),
      fixed(bufferMiB(buffer), 1),
      fixed(s!.baselineMiB, 1),
      fixed(s!.peakHeapUsedMiB, 1),
      fixed(s!.peakTotalMiB, 1),
      fixed(maxOf(holds.filter((h) => h.buffer === buffer).map((h) => (h.held - h.baseline) / MIB)), 1),
      fixed(
        maxOf(holds.filter((h) => h.buffer === buffer).map((h) => (h.held - h.baseline) / 1024 / bufferBound(buffer))),
        1
      ),
      fixed(heldLimitMiB(buffer), 1),
      fixed(s!.maxGrowthMiB, 1),
      fixed(peakLimitMiB(buffer), 1),
      fixed(s!.maxLiveGrowthMiB, 1),
      fixed(s!.maxEndGrowthMiB, 1)
    ])
  }
  for (const line of render(memoryRows, 1)) console.log(line)
  console.log(
    "  above the baseline (after forced GCs), worst run. held: a consumer whose handlers never finish, so " +
      "that the buffer fills, after forced GCs (bound 2 × buffer + 16 MiB). drain: peak = the most of 10 ms " +
      "samples during the drain, garbage included (bound 2 × buffer + 96 MiB: V8 lets 64 MiB of unreferenced " +
      "ArrayBuffers, the pull answers, accumulate before it forces a GC, plus its young generation); live = " +
      "after forced GCs at 1/4, 1/2 and 3/4 of the drain; left at end = after forced GCs once the last message " +
      "is handled, the consumer still open"
  )
  console.log(
    `  the backlog drained: ${BACKLOG.toLocaleString("en-US")} × ${BODY_SIZE} B = ${
      (BACKLOG * BODY_SIZE / MIB).toFixed(0)
    } MiB of bodies`
  )
}

const printRuns = (measurements: ReadonlyArray<Measurement>) => {
  const rows: Array<Array<string>> = [[
    "run",
    "workload",
    "client",
    "msgs/s",
    "client CPU",
    "p50 µs",
    "p99 µs",
    "1st msg ms",
    "broker CPU",
    "busy",
    "growth MiB",
    "load1",
    "note"
  ]]
  for (const m of measurements) {
    rows.push([
      String(m.run),
      modeName(m.mode),
      clientName(m),
      fixed(rate(m)),
      fixed(m.clientCpuUs, 1),
      fixed(m.p50Us),
      fixed(m.p99Us),
      fixed(m.firstMessageMs),
      fixed(m.brokerCpuUs, 1),
      m.machineBusy === undefined ? "-" : `${m.machineBusy.toFixed(0)}%`,
      m.memory === undefined ? "" : fixed((m.memory.peakTotal - m.memory.baselineTotal) / MIB, 1),
      m.load1.toFixed(2),
      [
        m.foreignJvms > 0 ? "another JVM ran" : "",
        m.profiled ? "profiled" : "",
        m.errors > 0 ? `${m.errors} errors: ${m.lastError}` : ""
      ].filter((note) => note !== "").join("; ")
    ])
  }
  for (const line of render(rows, 3)) console.log(`  ${line}`)
}

// ---- the targets ------------------------------------------------------------------------------------------

const targetsOf = (
  measurements: ReadonlyArray<Measurement>,
  holds: ReadonlyArray<Hold>,
  skipped: Readonly<Record<string, string>>
) => {
  const notMeasured = (mode: Mode, client: Client) =>
    skipped[`${client}:${mode}`] ?? skipped.all ??
      (!MODES.includes(mode) ? `the ${mode} workload was not run` : `${client}'s ${mode} figure was not measured`)
  const rateTarget = (mode: Mode, what: string, anchorName: string): TargetResult => {
    const ours = summaryOf(measurements, { client: "ours", mode, buffer: mode === "drain" ? BUFFERS[0] : undefined })
    const java = summaryOf(measurements, { client: "java", mode })
    return {
      target: `client, ${what}: msgs/s`,
      value: ours?.rate ?? null,
      unit: "msgs/s",
      anchor: { name: anchorName, value: java?.rate ?? null },
      bound: { kind: "atLeast", times: 1.0 },
      note: ours === undefined ? notMeasured(mode, "ours") : java === undefined ? notMeasured(mode, "java") : undefined
    }
  }
  const targets: Array<TargetResult> = [
    rateTarget("sync", "producer one at a time (1 KiB)", "Java DefaultMQProducer sync send"),
    rateTarget("inflight", `producer ${WINDOW} in flight (1 KiB)`, `Java DefaultMQProducer async, ${WINDOW} in flight`),
    rateTarget(
      "drain",
      `consumer drain of ${BACKLOG.toLocaleString("en-US")} × 1 KiB (buffer ${BUFFERS[0]?.toLocaleString("en-US")})`,
      "Java DefaultMQPushConsumer"
    )
  ]
  // Memory: the worst run, as a bound holds in every run or not at all.
  for (const buffer of BUFFERS) {
    const held = maxOf(holds.filter((h) => h.buffer === buffer).map((h) => (h.held - h.baseline) / MIB))
    targets.push({
      target: `client, consumer holding a full buffer, maxBufferedMessages ${
        buffer.toLocaleString("en-US")
      }: memory held (heap + external after GC, above baseline)`,
      value: held ?? null,
      unit: "MiB",
      anchor: { name: "buffer bytes", value: bufferMiB(buffer) },
      bound: { kind: "atMostValue", limit: heldLimitMiB(buffer) },
      note: held === undefined ? notMeasured("drain", "ours") : undefined
    })
  }
  for (const buffer of BUFFERS) {
    const ours = summaryOf(measurements, { client: "ours", mode: "drain", buffer })
    targets.push({
      target: `client, consumer drain, maxBufferedMessages ${
        buffer.toLocaleString("en-US")
      }: memory peak (heap + external, garbage included, above baseline)`,
      value: ours?.maxGrowthMiB ?? null,
      unit: "MiB",
      anchor: { name: "buffer bytes", value: bufferMiB(buffer) },
      bound: { kind: "atMostValue", limit: peakLimitMiB(buffer) },
      note: ours === undefined ? notMeasured("drain", "ours") : undefined
    })
  }
  return targets
}

// ---- our workloads ----------------------------------------------------------------------------------------

interface Raw {
  readonly count: number
  readonly elapsedMs: number
  readonly p50Us?: number | undefined
  readonly p99Us?: number | undefined
  readonly errors: number
  readonly lastError: string | undefined
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1))]!

const sendSequential = (producer: Producer.ProducerService, topic: string, count: number) =>
  Effect.gen(function*() {
    const latencies = new Float64Array(count)
    let errors = 0
    let lastError: string | undefined
    const started = performance.now()
    for (let i = 0; i < count; i++) {
      const t0 = performance.now()
      const result = yield* Effect.either(producer.send({ topic, body, tags: "bench" }))
      latencies[i] = (performance.now() - t0) * 1000
      if (Either.isLeft(result)) {
        errors++
        lastError = result.left.message
      } else if (result.right.status !== "SEND_OK") {
        errors++
        lastError = result.right.status
      }
    }
    const elapsedMs = performance.now() - started
    latencies.sort()
    return {
      count,
      elapsedMs,
      p50Us: percentile(latencies, 0.5),
      p99Us: percentile(latencies, 0.99),
      errors,
      lastError
    } satisfies Raw
  })

const sendInFlight = (producer: Producer.ProducerService, topic: string, count: number, window: number) =>
  Effect.gen(function*() {
    let errors = 0
    let lastError: string | undefined
    const indices = Array.from({ length: count }, (_, i) => i)
    const started = performance.now()
    yield* Effect.forEach(indices, () =>
      Effect.either(producer.send({ topic, body, tags: "bench" })).pipe(
        Effect.map((result) => {
          if (Either.isLeft(result)) {
            errors++
            lastError = result.left.message
          } else if (result.right.status !== "SEND_OK") {
            errors++
            lastError = result.right.status
          }
        })
      ), { concurrency: window, discard: true })
    return { count, elapsedMs: performance.now() - started, errors, lastError } satisfies Raw
  })

// ---- the run ----------------------------------------------------------------------------------------------

/** The packages whose `dist/esm` is missing or older than their sources. */
const staleBuilds = (): Array<string> => {
  const packagesDir = Path.join(JavaClient.packageDir, "..")
  const newest = (dir: string, extension: string) => {
    let found = 0
    for (const entry of Fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (entry.isFile() && entry.name.endsWith(extension)) {
        found = Math.max(found, Fs.statSync(Path.join(entry.parentPath, entry.name)).mtimeMs)
      }
    }
    return found
  }
  return ["transport", "transport-node", "remoting", "client"].filter((name) => {
    const dist = Path.join(packagesDir, name, "dist", "esm")
    return !Fs.existsSync(dist) || newest(dist, ".js") < newest(Path.join(packagesDir, name, "src"), ".ts")
  })
}

const pause = Effect.suspend(() => Effect.sleep(Duration.millis(PAUSE_MS)))

const bench = (skipped: Record<string, string>) =>
  Effect.gen(function*() {
    const measurements: Array<Measurement> = []
    const profiles: Array<string> = []
    const holds: Array<Hold> = []

    const tools = JavaRemoting.javaToolsPrerequisites()
    if (tools._tag === "Missing") {
      skipped.all = `no broker: ${tools.reason}`
      return { measurements, holds }
    }
    progress("resolving the classpaths (Maven) ...")
    const serversClasspath = yield* RocketMQServers.availability
    if (serversClasspath._tag === "Missing") {
      skipped.all = `no broker: ${serversClasspath.reason}`
      return { measurements, holds }
    }
    const producerClasspath = CLIENTS.includes("java") ? yield* JavaProducer.classpath : undefined
    if (producerClasspath?._tag === "Missing") {
      skipped["java:sync"] = skipped["java:inflight"] = `Java's producer skipped: ${producerClasspath.reason}`
    }
    const consumerAvailable = CLIENTS.includes("java") ? yield* JavaClient.availability : undefined
    if (consumerAvailable?._tag === "Missing") {
      skipped["java:drain"] = `Java's consumer skipped: ${consumerAvailable.reason}`
    }
    for (const reason of new Set(Object.values(skipped))) progress(reason)

    return yield* Effect.scoped(Effect.gen(function*() {
      progress("starting the NameServer and the broker ...")
      const servers = yield* ClientServers.start({
        brokerName: "broker-bench",
        clusterName: "BenchCluster",
        brokerProperties: { flushDiskType: "ASYNC_FLUSH" }
      })
      progress(`NameServer ${servers.nameServer}, broker ${servers.broker}`)
      yield* ClientServers.createTopic(servers, SEND_TOPIC, 1)
      yield* ClientServers.createTopic(servers, BACKLOG_TOPIC, DRAIN_QUEUES)

      const javaPids = new Set<number>([servers.nameServerPid, servers.brokerPid])
      const ours = (pid: number) => javaPids.has(pid)
      const facts = [
        `machine: ${Os.cpus().length} cores (${Os.cpus()[0]?.model ?? "unknown"}), ${
          (Os.totalmem() / 2 ** 30).toFixed(1)
        } GiB, ${Os.type()} ${Os.release()}; load average (1/5/15 min) at start ${Machine.loadAverage()}`,
        `node ${process.version}; ${Machine.javaVersion()}; RocketMQ 5.3.3 NameServer and broker (ASYNC_FLUSH); ` +
        `Java clients: rocketmq-client 5.3.3, -Xms256m -Xmx512m, full JIT`,
        `sync: ${COUNT.sync} sends after ${WARMUP.sync}; inflight: ${COUNT.inflight} after ${WARMUP.inflight}, ` +
        `${WINDOW} in flight; topic of 1 queue; ${BODY_SIZE}-byte bodies; broker warm-up ${BROKER_WARMUP}`,
        `drain: ${BACKLOG} messages in ${DRAIN_QUEUES} queues, a fresh group per drain, from the first offset; ` +
        `ours: run() with ${CONCURRENCY} at a time, maxBufferedMessages ${BUFFERS.join(" and ")}; ` +
        `Java: ${JAVA_CONSUME_THREADS} consume threads (its default), a JVM per drain`,
        `${RUNS} run(s) per client and workload, medians; ${PAUSE_MS} ms pause before each measurement`
      ]
      for (const fact of facts) progress(fact)
      const busiestAtStart = Machine.busiestProcesses()

      /** One measurement: CPU of the client (`clientCpu`), the broker and the machine around `raw`. */
      const measure = <R>(
        line: Line,
        run: number,
        clientCpu: (() => number | undefined) | undefined,
        raw: Effect.Effect<
          Raw & {
            readonly firstMessageMs?: number | undefined
            readonly cpuUs?: number | undefined
            readonly memory?: Memory | undefined
          },
          unknown,
          R
        >,
        profiled = false
      ) =>
        Effect.gen(function*() {
          yield* pause
          const foreignBefore = Machine.foreignJvms(ours).length
          const cpuBefore = clientCpu?.()
          const brokerBefore = Machine.processCpuMicros(servers.brokerPid)
          const machineBefore = Machine.machineTicks()
          const result = yield* raw
          const cpuAfter = clientCpu?.()
          const brokerAfter = Machine.processCpuMicros(servers.brokerPid)
          const machineAfter = Machine.machineTicks()
          const perMessage = (before: number | undefined, after: number | undefined) =>
            before === undefined || after === undefined ? undefined : (after - before) / result.count
          const measurement: Measurement = {
            client: line.client,
            mode: line.mode,
            buffer: line.buffer,
            run,
            count: result.count,
            elapsedMs: result.elapsedMs,
            p50Us: result.p50Us,
            p99Us: result.p99Us,
            firstMessageMs: result.firstMessageMs,
            errors: result.errors,
            lastError: result.lastError,
            clientCpuUs: result.cpuUs !== undefined ? result.cpuUs / result.count : perMessage(cpuBefore, cpuAfter),
            brokerCpuUs: perMessage(brokerBefore, brokerAfter),
            machineBusy: Machine.busyShare(machineBefore, machineAfter),
            memory: result.memory,
            load1: Os.loadavg()[0]!,
            foreignJvms: Math.max(foreignBefore, Machine.foreignJvms(ours).length),
            profiled
          }
          measurements.push(measurement)
          progress(
            `run ${run} ${modeName(line.mode)} ${clientName(line)}: ${rate(measurement).toFixed(0)} msgs/s, ` +
              `client CPU ${fixed(measurement.clientCpuUs, 1)} µs/msg` +
              (measurement.memory === undefined
                ? ""
                : `, memory growth ${
                  fixed((measurement.memory.peakTotal - measurement.memory.baselineTotal) / MIB, 1)
                } MiB (peak heapUsed ${fixed(measurement.memory.peakHeapUsed / MIB, 1)} MiB); after a GC once ` +
                  `done: heapUsed ${fixed(measurement.memory.liveAtEndHeapUsed / MIB, 1)} MiB, external ${
                    fixed((measurement.memory.liveAtEnd - measurement.memory.liveAtEndHeapUsed) / MIB, 1)
                  } MiB (baseline heapUsed ${fixed(measurement.memory.baselineHeapUsed / MIB, 1)} MiB)`) +
              (measurement.errors > 0 ? `, ${measurement.errors} errors (last: ${measurement.lastError})` : "")
          )
        })

      /** Runs `effect` under the CPU profiler when `--profile` asked for it. */
      const profiling = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
        PROFILE_DIR === undefined ? effect : Effect.gen(function*() {
          const profiler = yield* Effect.promise(() => Profile.start())
          const result = yield* effect
          profiles.push(yield* Effect.promise(() => profiler.stop(PROFILE_DIR, name)))
          return result
        })

      // ---- producers ----
      if (MODES.includes("sync") || MODES.includes("inflight")) {
        yield* Effect.scoped(Effect.gen(function*() {
          const producer = yield* Producer.make({
            nameServer: servers.nameServer,
            group: "bench_producer_ours",
            sendTimeout: Duration.millis(SEND_TIMEOUT_MS)
          })
          yield* producer.send({ topic: SEND_TOPIC, body, tags: "bench" }).pipe(
            Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 50 })
          )
          progress(`broker warm-up: ${BROKER_WARMUP} messages, ${WINDOW} in flight ...`)
          yield* sendInFlight(producer, SEND_TOPIC, BROKER_WARMUP, WINDOW)

          let java: JavaProducer.JavaProducer | undefined
          if (CLIENTS.includes("java") && producerClasspath?._tag === "Available") {
            progress("starting Java's producer ...")
            java = yield* JavaProducer.start({
              classpath: producerClasspath.value,
              nameServer: servers.nameServer,
              home: servers.home,
              topic: SEND_TOPIC,
              brokerName: servers.brokerName,
              queueId: 0,
              bodySize: BODY_SIZE,
              group: "bench_producer_java",
              timeoutMs: SEND_TIMEOUT_MS
            })
            javaPids.add(java.pid)
          }
          const javaCommand = (line: string, count: number) => java!.command(line, 60_000 + count * 10)

          for (let run = 1; run <= RUNS; run++) {
            for (const mode of MODES) {
              if (mode === "drain") continue
              const order = run % 2 === 1 ? CLIENTS : [...CLIENTS].reverse()
              for (const client of order) {
                if (client === "java" && java === undefined) continue
                const line = { client, mode }
                if (client === "ours") {
                  yield* mode === "sync"
                    ? sendSequential(producer, SEND_TOPIC, WARMUP.sync)
                    : sendInFlight(producer, SEND_TOPIC, WARMUP.inflight, WINDOW)
                  const profiled = mode === "inflight" && PROFILE_DIR !== undefined
                  yield* measure(
                    line,
                    run,
                    Machine.ownCpuMicros,
                    mode === "sync"
                      ? sendSequential(producer, SEND_TOPIC, COUNT.sync)
                      : profiling(`inflight-run${run}`, sendInFlight(producer, SEND_TOPIC, COUNT.inflight, WINDOW)),
                    profiled
                  )
                } else {
                  const pid = java!.pid
                  yield* mode === "sync"
                    ? javaCommand(`sequential ${WARMUP.sync} 0`, WARMUP.sync)
                    : javaCommand(`inflight ${WARMUP.inflight} 0 ${WINDOW}`, WARMUP.inflight)
                  yield* measure(
                    line,
                    run,
                    () => Machine.processCpuMicros(pid),
                    mode === "sync"
                      ? javaCommand(`sequential ${COUNT.sync} 0`, COUNT.sync)
                      : javaCommand(`inflight ${COUNT.inflight} 0 ${WINDOW}`, COUNT.inflight)
                  )
                }
              }
            }
          }
        }))
      }

      // ---- drains ----
      if (MODES.includes("drain")) {
        yield* Effect.scoped(Effect.gen(function*() {
          progress(`the backlog: ${BACKLOG} messages into ${BACKLOG_TOPIC} (${DRAIN_QUEUES} queues) ...`)
          const producer = yield* Producer.make({
            nameServer: servers.nameServer,
            group: "bench_backlog",
            sendTimeout: Duration.millis(SEND_TIMEOUT_MS)
          })
          const produced = yield* sendInFlight(producer, BACKLOG_TOPIC, BACKLOG, WINDOW)
          if (produced.errors > 0) {
            return yield* Effect.fail(
              new Error(`the backlog: ${produced.errors} sends failed (last: ${produced.lastError})`)
            )
          }
          progress(`the backlog: ${(produced.count / produced.elapsedMs * 1000).toFixed(0)} msgs/s`)
        }))
        // Every message in the consume queues before the first drain.
        yield* Effect.forEach(
          Array.from({ length: DRAIN_QUEUES }, (_, queueId) => queueId),
          (queueId) => ClientServers.maxOffset(servers, BACKLOG_TOPIC, queueId),
          { concurrency: DRAIN_QUEUES }
        ).pipe(
          Effect.map((offsets) => offsets.reduce((a, b) => a + b, 0)),
          Effect.filterOrFail((total) => total >= BACKLOG, (total) => new Error(`${total} of ${BACKLOG} queued`)),
          Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 60 })
        )

        const drainOurs = (run: number, buffer: number) =>
          Effect.scoped(Effect.gen(function*() {
            const baseline = yield* settledSample
            const sampler = Machine.sampleMemory(10)
            const done = yield* Deferred.make<void>()
            let count = 0
            let firstAt = 0
            let lastAt = 0
            let cpuAtLast = 0
            const cpuBefore = Machine.ownCpuMicros()
            const started = performance.now()
            const consumer = yield* Consumer.make({
              nameServer: servers.nameServer,
              group: `bench_drain_ours_${buffer}_${run}_${stamp}`,
              subscriptions: { [BACKLOG_TOPIC]: "*" },
              consumeFrom: "first",
              maxBufferedMessages: buffer
            })
            // Live memory: a forced GC at a quarter, half and three quarters of the drain, and after its last
            // message (the consumer still open); the time and CPU they take are left out of the figures.
            const probeAt = new Set([1, 2, 3].map((quarter) => Math.floor(BACKLOG * quarter / 4)))
            let live = 0
            let probeMs = 0
            let probeCpuUs = 0
            const probe = () => {
              if (Machine.forcedGc === undefined) return undefined
              const t0 = performance.now()
              const cpu0 = Machine.ownCpuMicros()
              // Two: V8 frees ArrayBuffers' memory in its sweeper, which the next collection waits for.
              Machine.forcedGc()
              Machine.forcedGc()
              const sample = Machine.memorySample()
              probeMs += performance.now() - t0
              probeCpuUs += Machine.ownCpuMicros() - cpu0
              live = Math.max(live, sample.heapUsed + sample.external)
              return sample
            }
            const runner = yield* Effect.fork(consumer.run(() =>
              Effect.sync(() => {
                count++
                if (count === 1) firstAt = performance.now()
                if (probeAt.has(count)) probe()
                if (count === BACKLOG) {
                  lastAt = performance.now()
                  cpuAtLast = Machine.ownCpuMicros()
                  Deferred.unsafeDone(done, Exit.void)
                }
              }), { concurrency: CONCURRENCY }))
            yield* Deferred.await(done).pipe(
              Effect.timeoutFail({
                duration: "10 minutes",
                onTimeout: () => new Error(`our drain: ${count} of ${BACKLOG} messages in 10 minutes`)
              })
            )
            const peaks = sampler.stop()
            const [pausedMs, pausedCpuUs] = [probeMs, probeCpuUs]
            probe()
            // ArrayBuffers' memory is given back by V8's sweeper after the collection: the figure once done is
            // taken after a second collection, a moment later.
            yield* Effect.sleep("200 millis")
            const atEnd = probe()
            yield* Fiber.interrupt(runner)
            return {
              count: BACKLOG,
              elapsedMs: lastAt - firstAt - pausedMs,
              firstMessageMs: firstAt - started,
              cpuUs: cpuAtLast - cpuBefore - pausedCpuUs,
              errors: 0,
              lastError: undefined,
              memory: {
                baselineHeapUsed: baseline.heapUsed,
                baselineTotal: baseline.heapUsed + baseline.external,
                peakHeapUsed: peaks.heapUsed,
                peakTotal: peaks.total,
                live,
                liveAtEnd: atEnd === undefined ? 0 : atEnd.heapUsed + atEnd.external,
                liveAtEndHeapUsed: atEnd?.heapUsed ?? 0,
                samples: peaks.samples
              }
            }
          }))

        const drainJava = (run: number) =>
          Effect.map(
            JavaClient.benchConsume(
              servers.nameServer,
              `bench_drain_java_${run}_${stamp}`,
              BACKLOG_TOPIC,
              BACKLOG,
              { consumeThreads: JAVA_CONSUME_THREADS, timeout: "10 minutes" }
            ),
            (result) => ({
              count: result.count,
              elapsedMs: result.elapsedMs - (result.firstMessageMs ?? 0),
              firstMessageMs: result.firstMessageMs,
              cpuUs: result.cpuMs * 1000,
              errors: 0,
              lastError: undefined
            })
          )

        /**
         * The buffer's bound, filled: a fresh group whose handlers never finish (until released), so that the
         * pullers fill the buffer to its bound; then the memory held, after forced GCs, twice a second apart.
         */
        const holdOurs = (run: number, buffer: number) =>
          Effect.scoped(Effect.gen(function*() {
            yield* pause
            const baseline = yield* settledSample
            const gate = yield* Deferred.make<void>()
            let handed = 0
            const consumer = yield* Consumer.make({
              nameServer: servers.nameServer,
              group: `bench_hold_ours_${buffer}_${run}_${stamp}`,
              subscriptions: { [BACKLOG_TOPIC]: "*" },
              consumeFrom: "first",
              maxBufferedMessages: buffer
            })
            const runner = yield* Effect.fork(consumer.run(() =>
              Effect.zipRight(
                Effect.sync(() => {
                  handed++
                }),
                Deferred.await(gate)
              ), { concurrency: CONCURRENCY }))
            yield* Effect.sleep("3 seconds")
            const first = yield* settledSample
            yield* Effect.sleep("1 second")
            const second = yield* settledSample
            yield* Deferred.succeed(gate, undefined)
            yield* Fiber.interrupt(runner)
            const hold: Hold = {
              run,
              buffer,
              baseline: baseline.heapUsed + baseline.external,
              held: Math.max(first.heapUsed + first.external, second.heapUsed + second.external),
              handed
            }
            holds.push(hold)
            progress(
              `run ${run} hold, ours, buffer ${buffer.toLocaleString("en-US")}: ${handed} handed to handlers; held ${
                fixed((hold.held - hold.baseline) / MIB, 1)
              } MiB above the baseline (heapUsed ${fixed(second.heapUsed / MIB, 1)}, external ${
                fixed(second.external / MIB, 1)
              } MiB; ${fixed((first.heapUsed + first.external) / MIB, 1)} MiB a second before)`
            )
          }))

        for (let run = 1; run <= RUNS; run++) {
          const order = run % 2 === 1 ? CLIENTS : [...CLIENTS].reverse()
          for (const client of order) {
            if (client === "java") {
              if (consumerAvailable?._tag !== "Available") continue
              yield* measure({ client, mode: "drain" }, run, undefined, drainJava(run))
            } else {
              for (const buffer of BUFFERS) {
                yield* measure(
                  { client, mode: "drain", buffer },
                  run,
                  undefined,
                  profiling(`drain-buffer${buffer}-run${run}`, drainOurs(run, buffer)),
                  PROFILE_DIR !== undefined
                )
              }
            }
          }
          if (CLIENTS.includes("ours")) {
            for (const buffer of BUFFERS) yield* holdOurs(run, buffer)
          }
        }
      }

      console.log("")
      for (const fact of facts) console.log(fact)
      console.log(`load average (1/5/15 min) at the end: ${Machine.loadAverage()}`)
      const disturbed = measurements.filter((m) => m.foreignJvms > 0)
      if (disturbed.length > 0) {
        console.log(`${disturbed.length} measurement(s) ran while a JVM not this bench's was running`)
      }
      console.log("")
      printTable(measurements, holds)
      console.log("")
      console.log("every run:")
      printRuns(measurements)
      console.log("")
      console.log(
        "client CPU: the client process's user+system CPU (all threads) per message: producers around the measured " +
          "sends (warm-up excluded); drains from just before the consumer starts to the last message. broker CPU " +
          "likewise (a Java drain's includes its JVM's boot); busy: all cores."
      )
      console.log("processes using the most CPU at the start (ps; %CPU over each process's life):")
      for (const line of busiestAtStart) console.log(`  ${line}`)
      console.log("processes using the most CPU at the end (ps):")
      for (const line of Machine.busiestProcesses()) console.log(`  ${line}`)
      for (const file of profiles) {
        console.log("")
        for (const line of Profile.summary(file)) console.log(line)
      }
      return { measurements, holds }
    }))
  })

const program = Effect.gen(function*() {
  // What is measured is what is published: this process loads the packages' dist/esm.
  if (!import.meta.resolve("../src/Producer.js").includes("/dist/esm/")) {
    return yield* Effect.fail(
      new Error(
        "run with the built packages: pnpm bench, or node --import tsx --import " +
          "../cli/bench/built-packages.mjs bench/client.bench.ts"
      )
    )
  }
  const stale = staleBuilds()
  if (stale.length > 0) {
    return yield* Effect.fail(
      new Error(`dist/esm of ${stale.join(", ")} is missing or older than its sources: run pnpm build`)
    )
  }
  const skipped: Record<string, string> = {}
  const { holds, measurements } = yield* bench(skipped)
  if (skipped.all !== undefined) console.log(`client.bench: skipped: ${skipped.all}`)
  const file = writeResults({
    bench: "client",
    quick,
    runs: RUNS,
    finishedAt: new Date().toISOString(),
    targets: targetsOf(measurements, holds, skipped)
  })
  console.log("")
  console.log(`client.bench: results in ${file}`)
})

program.pipe(
  Effect.provide(NodeClient.layer),
  Logger.withMinimumLogLevel(LogLevel.Warning),
  NodeRuntime.runMain
)
