/**
 * The remoting call path, measured on the built packages (dist/esm of remoting, transport and transport-node,
 * loaded through `packages/cli/bench/built-packages.mjs`; the test helpers it uses stay TypeScript), in two
 * settings:
 *
 * **fake** (`--fake-broker`, or `--modes fake`): the client's own cost, without a broker's. A plain `node:net`
 * fake broker (`fake-broker/server.ts`) answers every request at once with SUCCESS; each measurement is a fresh
 * client process (`fake-broker/client.ts`): 100,000 SEND_MESSAGE_V2 calls (the request of the real-broker
 * mode, 1 KiB body), 256 in flight, after 20,000 warm-up, through
 *
 *   (a) `RemotingClient` with its defaults (timeout, metrics, spans) over `makeTransport` + `NodeConnector`, and
 *   (b) a plain `node:net` + Promises client with the same matching (a `Map` from opaque to resolver): each
 *       request encoded per call by the built `RemotingCodec`, each answer decoded by it, so that the ratio is
 *       what the client adds around the codec.
 *
 * The table: calls/s, the client's CPU µs per call, heap bytes allocated and collections per 10,000 calls
 * (medians of `--runs`), with (a)'s ratio to (b). Needs nothing but Node; the broker on one core and the
 * clients on the other where `taskset` exists.
 *
 * **sequential** and **inflight**: SEND_MESSAGE_V2 against a real local broker (RocketMQ 5.3.3, started once
 * through `test/RocketMQServers.ts`): invokes per second with 1 KiB bodies, one at a time (with p50/p99
 * latency) and 256 in flight, for
 *
 *   (a) ours: `RemotingClient` over TCP (`makeTransport` + `NodeConnector`, JSON headers, the defaults), and
 *   (b) Java's: `DefaultMQProducer` of `org.apache.rocketmq:rocketmq-client` 5.3.3
 *       (`interop/java-producer/ProducerBench.java`): sync `send(msg, mq)` one at a time, async
 *       `send(msg, mq, callback)` under a `Semaphore` of 256.
 *
 * Both send to the same topic and the same queue (0), with the same body, count and warm-up, in the same run
 * against the same broker. Before anything is measured, the broker gets a warm-up of its own (10,000 messages,
 * 256 in flight, not measured) so that the client measured first does not pay for the broker's JIT. Each
 * (client, mode) is then measured `--runs` times, the clients alternating which goes first, each measurement
 * after its own warm-up; the table shows medians, then every run. CPU is read from `/proc` around each
 * measurement (warm-up included): the client's process, the broker's, and the whole machine.
 *
 * The counts differ by mode, not by client: one at a time the clients manage ~1-3 k messages/s here, 256 in
 * flight ~3-25 k/s, so the defaults (10,000 and 60,000) keep each measurement at a few seconds to ~20 s on a
 * 2-core machine.
 *
 * The medians the targets are judged on go to `bench-results/remoting.json` (see `results.ts`), which the
 * repository's `pnpm bench` reads for its one targets table.
 *
 * Usage: `pnpm bench` (in packages/remoting: builds, then
 * `node --import tsx --import ../cli/bench/built-packages.mjs bench/send.bench.ts [options]`):
 *   --modes fake,sequential,inflight   which to run (default all three); --fake-broker: fake only
 *   --fake-count N, --fake-warmup N    calls per fake-broker measurement and before it (100000, 20000)
 *   --serialize-type JSON|ROCKETMQ     the headers the fake-broker clients write (default JSON)
 *   --count N       messages measured per run, both real-broker modes (defaults: 10000 sequential, 60000 in
 *                   flight)
 *   --sequential-count N, --inflight-count N
 *   --warmup N      messages sent before each real-broker measurement, not measured (default: a tenth of the
 *                   count, at least 2000)
 *   --runs N        runs per client and mode (default 3)
 *   --window N      calls in flight in the concurrent modes (default 256)
 *   --body N        body size in bytes (default 1024)
 *   --only ours|java
 *   --pause-ms N    idle time before each real-broker measurement, for the broker's flush and the last
 *                   client's threads to settle (default 2000)
 *   --exclusive     before each measurement, wait (up to 10 min) until no JVM other than this bench's runs
 *   --quick         --count 2000 --warmup 500 --runs 1, a broker warm-up of 2000, fake-broker 10000 calls
 *                   after 2000; the targets table says "not judged"
 *
 * The real broker needs java, javac, mvn and Maven Central (or a warm ~/.m2): without them it prints why and
 * skips it (exit 0). It is not part of CI.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeConnector from "@rocketmq-effect/transport-node/NodeConnector"
import { Connector } from "@rocketmq-effect/transport/Connector"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as RemotingClient from "../src/RemotingClient.js"
import type { SerializeType } from "../src/RemotingCommand.js"
import { request } from "../src/RemotingCommand.js"
import { createTopic } from "../test/BrokerRequests.js"
import * as JavaRemoting from "../test/JavaRemoting.js"
import * as RocketMQServers from "../test/RocketMQServers.js"
import { builtPackagesHook, type FakeBrokerSummary, fakeBrokerTable, runFakeBroker } from "./fake-broker/measure.js"
import { median, type TargetResult, writeResults } from "./results.js"
import { invokeInFlight, invokeSequential, type Raw, sendRequests } from "./sendWorkload.js"

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

const quick = flag("--quick")
const COUNT = integer("--count", quick ? 2_000 : 0)
const COUNTS: Readonly<Record<"sequential" | "inflight", number>> = {
  sequential: integer("--sequential-count", COUNT > 0 ? COUNT : 10_000),
  inflight: integer("--inflight-count", COUNT > 0 ? COUNT : 60_000)
}
const WARMUP = integer("--warmup", quick ? 500 : 0)
const warmupOf = (mode: "sequential" | "inflight") =>
  WARMUP > 0 ? WARMUP : Math.max(2_000, Math.round(COUNTS[mode] / 10))
const BROKER_WARMUP = quick ? 2_000 : 10_000
const RUNS = integer("--runs", quick ? 1 : 3)
const WINDOW = integer("--window", 256)
const BODY_SIZE = integer("--body", 1024)
const EXCLUSIVE = flag("--exclusive")
const PAUSE_MS = integer("--pause-ms", 2_000)
type Client = "ours" | "java"
type Mode = "sequential" | "inflight"
const only = option("--only")
const CLIENTS: ReadonlyArray<Client> = only === "ours" || only === "java" ? [only] : ["ours", "java"]
const MODE_NAMES = flag("--fake-broker") ? ["fake"] : (option("--modes") ?? "fake,sequential,inflight").split(",")
/** The real broker's modes. */
const MODES: ReadonlyArray<Mode> = MODE_NAMES.filter((mode): mode is Mode =>
  mode === "sequential" || mode === "inflight"
)
const FAKE = MODE_NAMES.includes("fake")
const FAKE_COUNT = integer("--fake-count", quick ? 10_000 : 100_000)
const FAKE_WARMUP = integer("--fake-warmup", quick ? 2_000 : 20_000)
const SERIALIZE_TYPE: SerializeType = option("--serialize-type") === "ROCKETMQ" ? "ROCKETMQ" : "JSON"

const TIMEOUT_MS = 10_000
const QUEUE_ID = 0
const TOPIC = `bench-send-${Date.now()}`
/** GET_BROKER_CONFIG: the broker's configuration as a properties text (not in `RequestCode`). */
const GET_BROKER_CONFIG = 26

const progress = (line: string) => process.stderr.write(`send.bench: ${line}\n`)

// ---- machine ----------------------------------------------------------------------------------------------

const clockTicks = (() => {
  const result = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" })
  const ticks = Number(result.stdout?.trim())
  return Number.isInteger(ticks) && ticks > 0 ? ticks : 100
})()

/** User + system CPU of a process (all its threads), in µs, from `/proc/<pid>/stat`; undefined when gone. */
const processCpuMicros = (pid: number): number | undefined => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 1e6 / clockTicks
  } catch {
    return undefined
  }
}

/** The machine's busy and total CPU time (all cores), in ticks, from `/proc/stat`. */
const machineTicks = (): { readonly busy: number; readonly total: number } | undefined => {
  try {
    const line = Fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!
    const values = line.trim().split(/\s+/).slice(1, 9).map(Number)
    const total = values.reduce((a, b) => a + b, 0)
    return { busy: total - values[3]! - values[4]!, total }
  } catch {
    return undefined
  }
}

/** JVMs on the machine that are not in `ours` (by `/proc/<pid>/comm`). */
const foreignJvms = (ours: ReadonlySet<number>): ReadonlyArray<number> => {
  try {
    return Fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => {
      if (ours.has(pid)) return false
      try {
        return Fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "java"
      } catch {
        return false
      }
    })
  } catch {
    return []
  }
}

/** The file system type of the mount `path` is on (`/proc/mounts`, the longest matching mount point). */
const fileSystemOf = (path: string): string => {
  try {
    let best = { point: "", type: "unknown" }
    for (const line of Fs.readFileSync("/proc/mounts", "utf8").split("\n")) {
      const [, point, type] = line.split(" ")
      if (point === undefined || type === undefined) continue
      const within = path === point || path.startsWith(point.endsWith("/") ? point : `${point}/`)
      if (within && point.length > best.point.length) best = { point, type }
    }
    return `${best.type} (${best.point})`
  } catch {
    return "unknown"
  }
}

const loadAverage = () => Os.loadavg().map((n) => n.toFixed(2)).join(" / ")

const javaVersion = (): string => {
  const result = spawnSync("java", ["-version"], { encoding: "utf8" })
  return (result.stderr ?? "").split("\n")[0]?.trim() ?? "unknown"
}

// ---- results ----------------------------------------------------------------------------------------------

interface Measurement {
  readonly client: Client
  readonly mode: Mode
  readonly run: number
  readonly count: number
  readonly elapsedMs: number
  readonly p50Us: number | undefined
  readonly p99Us: number | undefined
  readonly errors: number
  readonly lastError: string | undefined
  /** CPU of the client's process per message, µs. */
  readonly clientCpuUs: number | undefined
  readonly brokerCpuUs: number | undefined
  /** Busy share of all cores during the measurement, %. */
  readonly machineBusy: number | undefined
  readonly load1: number
  readonly foreignJvms: number
}

const rate = (m: Measurement) => m.count / (m.elapsedMs / 1000)

const medianOf = (values: ReadonlyArray<number | undefined>): number | undefined => {
  const defined = values.filter((v): v is number => v !== undefined)
  return defined.length === 0 ? undefined : median(defined)
}

// ---- Java's -----------------------------------------------------------------------------------------------

interface JavaProducer {
  readonly pid: number
  readonly command: (line: string, timeoutMs: number) => Effect.Effect<Record<string, unknown>, Error>
}

/** A shell that kills `pid` if this process dies first (even by SIGKILL); it ends by itself after `pid`. */
const watchdog = (pid: number) => {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do kill -0 ${pid} 2>/dev/null || exit 0; sleep 1; done; ` +
    `kill -9 ${pid} 2>/dev/null`
  try {
    spawn("sh", ["-c", script], { stdio: "ignore", detached: true }).unref()
  } catch {
    // The scope's finalizer and the exit handler still cover every ordinary exit.
  }
}

/**
 * The Java producer as a scoped resource: started, waited for until its `ready` line, then asked one command
 * at a time (one JSON line back each). Released: `quit`, then SIGKILL if it has not exited within 10 s.
 */
const startJavaProducer = (
  classpath: string,
  servers: RocketMQServers.RocketMQServers
): Effect.Effect<JavaProducer, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const home = Path.join(servers.home, "java-producer")
    Fs.mkdirSync(home, { recursive: true })
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const jvm = spawn("java", [
          "-Xms256m",
          "-Xmx512m",
          `-Duser.home=${home}`,
          // rocketmq-client 5.x logs through its shaded logback (rocketmq-logback-classic), configured by
          // rmq.client.logback.xml: a file under rocketmq.log.root at rocketmq.log.level, and a console appender
          // that writes only with mq.consoleAppender.enabled=true. (rocketmq.client.logUseSlf4j and
          // rocketmq.client.logLevel were 4.x's and are not read by 5.3.3.)
          "-Drmq.logback.configurationFile=rmq.client.logback.xml",
          `-Drocketmq.log.root=${Path.join(home, "logs")}`,
          "-Drocketmq.log.level=WARN",
          "-Dmq.consoleAppender.enabled=false",
          "-Dlogback.statusListenerClass=org.apache.rocketmq.logging.ch.qos.logback.core.status.NopStatusListener",
          "-cp",
          classpath,
          "ProducerBench",
          servers.nameServer,
          TOPIC,
          servers.brokerName,
          String(QUEUE_ID),
          String(BODY_SIZE),
          "bench-producer-java",
          String(TIMEOUT_MS)
        ], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ROCKETMQ_HOME: servers.home } })
        if (jvm.pid !== undefined) watchdog(jvm.pid)
        const killAtExit = () => jvm.kill("SIGKILL")
        process.once("exit", killAtExit)
        jvm.once("close", () => process.off("exit", killAtExit))
        return jvm
      }),
      (jvm) =>
        Effect.async<void>((resume) => {
          if (jvm.exitCode !== null || jvm.signalCode !== null) return resume(Effect.void)
          const timer = setTimeout(() => jvm.kill("SIGKILL"), 10_000)
          jvm.once("close", () => {
            clearTimeout(timer)
            resume(Effect.void)
          })
          jvm.stdin!.end("quit\n")
        })
    )
    child.stdin!.on("error", () => {})
    const stderr: Array<string> = []
    child.stderr!.setEncoding("utf8")
    child.stderr!.on("data", (text: string) => {
      stderr.push(...text.split("\n").filter((line) => line.length > 0))
      if (stderr.length > 50) stderr.splice(0, stderr.length - 50)
    })
    const lines: Array<string> = []
    let partial = ""
    let waiter: (() => void) | undefined
    let exited = false
    child.stdout!.setEncoding("utf8")
    child.stdout!.on("data", (text: string) => {
      const parts = (partial + text).split("\n")
      partial = parts.pop()!
      lines.push(...parts.filter((line) => line.trim().length > 0))
      waiter?.()
    })
    child.on("close", () => {
      exited = true
      waiter?.()
    })
    child.on("error", () => {
      exited = true
      waiter?.()
    })
    const failure = (what: string) => new Error(`the Java producer ${what}; its stderr:\n${stderr.join("\n")}`)
    const nextLine = (timeoutMs: number): Effect.Effect<Record<string, unknown>, Error> =>
      Effect.async<Record<string, unknown>, Error>((resume) => {
        const timer = setTimeout(() => {
          waiter = undefined
          resume(Effect.fail(failure(`did not answer within ${timeoutMs} ms`)))
        }, timeoutMs)
        const check = () => {
          const line = lines.shift()
          if (line === undefined && !exited) return
          clearTimeout(timer)
          waiter = undefined
          if (line === undefined) return resume(Effect.fail(failure(`exited with ${child.exitCode}`)))
          try {
            resume(Effect.succeed(JSON.parse(line) as Record<string, unknown>))
          } catch {
            resume(Effect.fail(failure(`wrote a line that is not JSON: ${line}`)))
          }
        }
        waiter = check
        check()
        return Effect.sync(() => {
          clearTimeout(timer)
          waiter = undefined
        })
      })
    const ready = yield* nextLine(120_000)
    if (ready.ready !== true) return yield* Effect.fail(failure(`did not start: ${JSON.stringify(ready)}`))
    return {
      pid: child.pid!,
      command: (line, timeoutMs) =>
        Effect.suspend(() => {
          child.stdin!.write(`${line}\n`)
          return nextLine(timeoutMs)
        }).pipe(
          Effect.filterOrFail(
            (answer) => typeof answer.elapsedNs === "number",
            (answer) => failure(`answered ${JSON.stringify(answer)}`)
          )
        )
    }
  })

const javaRaw = (answer: Record<string, unknown>): Raw => ({
  count: answer.count as number,
  elapsedMs: (answer.elapsedNs as number) / 1e6,
  p50Us: typeof answer.p50Ns === "number" ? answer.p50Ns / 1000 : undefined,
  p99Us: typeof answer.p99Ns === "number" ? answer.p99Ns / 1000 : undefined,
  errors: answer.errors as number,
  lastError: typeof answer.lastError === "string" ? answer.lastError : undefined
})

// ---- the table --------------------------------------------------------------------------------------------

const pad = (text: string, width: number, right = false) => right ? text.padStart(width) : text.padEnd(width)
const fixed = (value: number | undefined, digits = 0) => value === undefined ? "-" : value.toFixed(digits)

const clientName = (client: Client) => client === "ours" ? "ours (RemotingClient, JSON)" : "Java DefaultMQProducer"
const modeName = (mode: Mode) => mode === "sequential" ? "sequential" : `${WINDOW} in flight`

const columns = [
  ["client", 28],
  ["mode", 14],
  ["msgs/s", 9],
  ["p50 µs", 8],
  ["p99 µs", 8],
  ["ours/Java", 10],
  ["client CPU µs/msg", 18],
  ["broker CPU µs/msg", 18],
  ["machine busy", 13],
  ["errors", 7]
] as const

const row = (cells: ReadonlyArray<string>) => cells.map((cell, i) => pad(cell, columns[i]![1], i >= 2)).join("  ")

/** The medians of one client in one mode; undefined when it did not run. */
const summaryOf = (measurements: ReadonlyArray<Measurement>, client: Client, mode: Mode) => {
  const runs = measurements.filter((m) => m.client === client && m.mode === mode)
  return runs.length === 0 ? undefined : {
    rate: median(runs.map(rate)),
    p50Us: medianOf(runs.map((m) => m.p50Us)),
    p99Us: medianOf(runs.map((m) => m.p99Us)),
    clientCpuUs: medianOf(runs.map((m) => m.clientCpuUs)),
    brokerCpuUs: medianOf(runs.map((m) => m.brokerCpuUs)),
    machineBusy: medianOf(runs.map((m) => m.machineBusy)),
    errors: runs.reduce((sum, m) => sum + m.errors, 0)
  }
}

const printTable = (measurements: ReadonlyArray<Measurement>) => {
  const summary = (client: Client, mode: Mode) => summaryOf(measurements, client, mode)
  console.log(row(columns.map(([name]) => name)))
  for (const mode of MODES) {
    const java = summary("java", mode)
    for (const client of CLIENTS) {
      const s = summary(client, mode)
      if (s === undefined) continue
      const sequential = mode === "sequential"
      console.log(row([
        clientName(client),
        modeName(mode),
        fixed(s.rate),
        sequential ? fixed(s.p50Us) : "",
        sequential ? fixed(s.p99Us) : "",
        client === "ours" && java !== undefined ? fixed(s.rate / java.rate, 2) : "",
        fixed(s.clientCpuUs, 1),
        fixed(s.brokerCpuUs, 1),
        s.machineBusy === undefined ? "-" : `${s.machineBusy.toFixed(0)} %`,
        String(s.errors)
      ]))
    }
  }
}

// ---- the run ----------------------------------------------------------------------------------------------

const skip = (reason: string) =>
  Effect.sync(() => {
    console.log(`send.bench: real broker skipped: ${reason}`)
    return reason
  })

/** The real broker's modes: every measurement, or why they could not run. */
const realBroker: Effect.Effect<ReadonlyArray<Measurement> | string, unknown, Connector> = Effect.gen(function*() {
  const tools = JavaRemoting.javaToolsPrerequisites()
  if (tools._tag === "Missing") return yield* skip(tools.reason)

  progress("resolving the classpaths (Maven) ...")
  const producerStarted = Date.now()
  const producerClasspath = yield* JavaRemoting.classpathAvailability("java-producer")
  const producerResolveMs = Date.now() - producerStarted
  if (producerClasspath._tag === "Missing") return yield* skip(producerClasspath.reason)
  const serversClasspath = yield* RocketMQServers.availability
  if (serversClasspath._tag === "Missing") return yield* skip(serversClasspath.reason)
  const mavenMs = JavaRemoting.mavenTimings.get("java-producer")
  const mavenNote = mavenMs === undefined
    ? `from the cache (build/java/java-producer/classpath.json), ${producerResolveMs} ms`
    : `resolved by Maven in ${(mavenMs / 1000).toFixed(1)} s`
  const classes = yield* JavaRemoting.compileJava("java-producer", "ProducerBench", producerClasspath.value)

  return yield* Effect.scoped(Effect.gen(function*() {
    progress("starting the NameServer and the broker ...")
    const servers = yield* RocketMQServers.start({
      brokerName: "broker-bench",
      clusterName: "BenchCluster",
      brokerProperties: { flushDiskType: "ASYNC_FLUSH" }
    })
    progress(`NameServer ${servers.nameServer}, broker ${servers.broker}`)

    const [host, port] = [
      servers.broker.slice(0, servers.broker.lastIndexOf(":")),
      Number(servers.broker.slice(servers.broker.lastIndexOf(":") + 1))
    ]
    const transport = yield* RemotingClient.makeTransport({ host, port })
    const client = yield* RemotingClient.make({ transport, defaultTimeout: Duration.millis(TIMEOUT_MS) })

    // The topic, on the broker, which registers it with the NameServer at once.
    yield* client.invokeSuccess(createTopic(TOPIC))
    const config = yield* client.invokeSuccess(request(GET_BROKER_CONFIG)).pipe(
      Effect.map((answer) => {
        const entries = new Map<string, string>()
        for (const line of new TextDecoder().decode(answer.body).split("\n")) {
          const at = line.indexOf("=")
          if (at > 0) entries.set(line.slice(0, at), line.slice(at + 1))
        }
        return entries
      }),
      Effect.orElseSucceed(() => new Map<string, string>())
    )
    // A first send, which also checks the request is right before anything is measured.
    const next = sendRequests({
      producerGroup: "bench-producer-ours",
      topic: TOPIC,
      brokerName: servers.brokerName,
      queueId: QUEUE_ID,
      bodySize: BODY_SIZE
    })
    yield* client.invokeSuccess(next()).pipe(
      Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 50 })
    )

    let java: JavaProducer | undefined = undefined
    if (CLIENTS.includes("java")) {
      progress("starting the Java producer ...")
      java = yield* startJavaProducer([classes, producerClasspath.value].join(Path.delimiter), servers)
    }
    const javaPid = java?.pid
    const ourPids = new Set([servers.nameServerPid, servers.brokerPid, ...(javaPid === undefined ? [] : [javaPid])])

    const facts = [
      `machine: ${Os.cpus().length} cores (${Os.cpus()[0]?.model ?? "unknown"}), ${
        (Os.totalmem() / 2 ** 30).toFixed(1)
      } GiB, ${Os.type()} ${Os.release()}; load average (1/5/15 min) at start ${loadAverage()}`,
      `node ${process.version}; ${javaVersion()}; RocketMQ 5.3.3 broker (-Xmx512m) and NameServer, client JVM -Xmx512m`,
      `broker: flushDiskType=${
        config.get("flushDiskType") ?? "ASYNC_FLUSH (configured; GET_BROKER_CONFIG said nothing)"
      }, ` +
      `brokerRole=${config.get("brokerRole") ?? "?"}, transientStorePoolEnable=${
        config.get("transientStorePoolEnable") ?? "?"
      }, store on ${fileSystemOf(servers.home)}`,
      `rocketmq-client 5.3.3 classpath: ${mavenNote}`,
      `SEND_MESSAGE_V2 to topic ${TOPIC}, queue ${QUEUE_ID}, ${BODY_SIZE}-byte bodies; per run ` +
      MODES.map((mode) => `${modeName(mode)} ${COUNTS[mode]} messages after ${warmupOf(mode)} warm-up`).join(", ") +
      `; ${RUNS} run(s) per client and mode, medians; broker warm-up ${BROKER_WARMUP} messages`
    ]
    for (const fact of facts) progress(fact)

    const measurements: Array<Measurement> = []
    const measure = (client_: Client, mode: Mode, run: number, raw: Effect.Effect<Raw, Error>) =>
      Effect.gen(function*() {
        yield* Effect.sleep(Duration.millis(PAUSE_MS))
        if (EXCLUSIVE) {
          let waitedFor = 0
          while (foreignJvms(ourPids).length > 0 && waitedFor < 600) {
            if (waitedFor % 30 === 0) progress(`waiting for other JVMs to end: ${foreignJvms(ourPids).join(", ")}`)
            yield* Effect.sleep("5 seconds")
            waitedFor += 5
          }
        }
        const clientPid = client_ === "ours" ? process.pid : javaPid!
        const foreignBefore = foreignJvms(ourPids).length
        const cpuBefore = processCpuMicros(clientPid)
        const brokerBefore = processCpuMicros(servers.brokerPid)
        const machineBefore = machineTicks()
        const result = yield* raw
        const cpuAfter = processCpuMicros(clientPid)
        const brokerAfter = processCpuMicros(servers.brokerPid)
        const machineAfter = machineTicks()
        const perMessage = (before: number | undefined, after: number | undefined) =>
          before === undefined || after === undefined ? undefined : (after - before) / (result.count + warmupOf(mode))
        const measurement: Measurement = {
          client: client_,
          mode,
          run,
          count: result.count,
          elapsedMs: result.elapsedMs,
          p50Us: result.p50Us,
          p99Us: result.p99Us,
          errors: result.errors,
          lastError: result.lastError,
          clientCpuUs: perMessage(cpuBefore, cpuAfter),
          brokerCpuUs: perMessage(brokerBefore, brokerAfter),
          machineBusy: machineBefore === undefined || machineAfter === undefined
            ? undefined
            : 100 * (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total),
          load1: Os.loadavg()[0]!,
          foreignJvms: Math.max(foreignBefore, foreignJvms(ourPids).length)
        }
        measurements.push(measurement)
        progress(
          `run ${run} ${clientName(client_)} ${modeName(mode)}: ${rate(measurement).toFixed(0)} msgs/s` +
            (measurement.p50Us === undefined
              ? ""
              : `, p50 ${measurement.p50Us.toFixed(0)} µs, p99 ${measurement.p99Us!.toFixed(0)} µs`) +
            (measurement.errors > 0 ? `, ${measurement.errors} errors (last: ${measurement.lastError})` : "") +
            (client_ === "ours" ? `; heap used ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB` : "")
        )
      })

    const runOurs = (mode: Mode) =>
      Effect.gen(function*() {
        if (mode === "sequential") {
          yield* invokeSequential(client, next, warmupOf(mode))
          return yield* invokeSequential(client, next, COUNTS[mode])
        }
        yield* invokeInFlight(client, next, warmupOf(mode), WINDOW)
        return yield* invokeInFlight(client, next, COUNTS[mode], WINDOW)
      })
    const runJava = (mode: Mode) =>
      Effect.map(
        java!.command(
          mode === "sequential"
            ? `sequential ${COUNTS[mode]} ${warmupOf(mode)}`
            : `inflight ${COUNTS[mode]} ${warmupOf(mode)} ${WINDOW}`,
          // Far above any plausible run: 5 ms a message.
          60_000 + (COUNTS[mode] + warmupOf(mode)) * 5
        ),
        javaRaw
      )

    progress(`broker warm-up: ${BROKER_WARMUP} messages, ${WINDOW} in flight ...`)
    const brokerWarmup = yield* invokeInFlight(client, next, BROKER_WARMUP, WINDOW)
    if (brokerWarmup.errors > 0) progress(`broker warm-up: ${brokerWarmup.errors} errors (${brokerWarmup.lastError})`)

    for (let run = 1; run <= RUNS; run++) {
      for (const mode of MODES) {
        const order = run % 2 === 1 ? CLIENTS : [...CLIENTS].reverse()
        for (const which of order) {
          yield* measure(which, mode, run, which === "ours" ? runOurs(mode) : runJava(mode))
        }
      }
    }

    console.log("")
    for (const fact of facts) console.log(fact)
    console.log(`load average (1/5/15 min) at the end: ${loadAverage()}`)
    const disturbed = measurements.filter((m) => m.foreignJvms > 0)
    if (disturbed.length > 0) {
      console.log(`${disturbed.length} measurement(s) ran while another JVM (not this bench's) was running`)
    }
    console.log("")
    printTable(measurements)
    console.log("")
    console.log("every run:")
    console.log(
      "  run  client                        mode            msgs/s   p50 µs   p99 µs  client CPU  broker CPU  busy  load1"
    )
    for (const m of measurements) {
      console.log(
        `  ${pad(String(m.run), 3)}  ${pad(clientName(m.client), 28)}  ${pad(modeName(m.mode), 14)}  ${
          pad(fixed(rate(m)), 7, true)
        }  ${pad(fixed(m.p50Us), 7, true)}  ${pad(fixed(m.p99Us), 7, true)}  ${
          pad(fixed(m.clientCpuUs, 1), 10, true)
        }  ${pad(fixed(m.brokerCpuUs, 1), 10, true)}  ${
          pad(m.machineBusy === undefined ? "-" : `${m.machineBusy.toFixed(0)}%`, 4, true)
        }  ${m.load1.toFixed(2)}${m.foreignJvms > 0 ? "  (another JVM ran)" : ""}`
      )
    }
    console.log("")
    console.log(
      "CPU columns: the process's user+system CPU (all threads, warm-up included) per message; machine busy: all " +
        `${Os.cpus().length} cores.`
    )
    return measurements
  }))
})

// ---- the targets ------------------------------------------------------------------------------------------

/** Why no figure: the mode was not asked for, or the real broker could not run. */
const notRun = (mode: "fake" | Mode, real: ReadonlyArray<Measurement> | string | undefined): string =>
  mode === "fake"
    ? "the fake-broker mode was not run"
    : !MODES.includes(mode)
    ? `the ${modeName(mode)} mode was not run`
    : typeof real === "string"
    ? `real broker skipped: ${real}`
    : "not measured"

const targetsOf = (
  fake: FakeBrokerSummary | undefined,
  real: ReadonlyArray<Measurement> | string | undefined
): Array<TargetResult> => {
  const measured = typeof real === "string" ? [] : real ?? []
  const ours = fake?.medians.remoting
  const anchor = fake?.medians.net
  const targets: Array<TargetResult> = [{
    target: `remoting, fake broker, ${WINDOW} in flight: RemotingClient (defaults) CPU per call`,
    value: ours?.cpuUsPerCall ?? null,
    unit: "µs",
    anchor: { name: "node:net + Promises", value: anchor?.cpuUsPerCall ?? null },
    bound: { kind: "atMostValue", limit: 25 },
    note: ours === undefined ? notRun("fake", real) : undefined
  }]
  const realTarget = (
    mode: Mode,
    what: string,
    unit: string,
    pick: (s: NonNullable<ReturnType<typeof summaryOf>>) => number | undefined,
    bound: TargetResult["bound"]
  ): TargetResult => {
    const mine = summaryOf(measured, "ours", mode)
    const java = summaryOf(measured, "java", mode)
    const value = mine === undefined ? undefined : pick(mine)
    return {
      target: `remoting, real broker beside Java, ${modeName(mode)}: ${what}`,
      value: value ?? null,
      unit,
      anchor: { name: "Java DefaultMQProducer", value: (java === undefined ? undefined : pick(java)) ?? null },
      bound,
      note: value === undefined ? notRun(mode, real) : undefined
    }
  }
  const faster = (times: number) => ({ kind: "atLeast", times }) as const
  const cheaper = (times: number) => ({ kind: "atMost", times }) as const
  targets.push(
    realTarget("inflight", "RemotingClient msgs/s", "msgs/s", (s) => s.rate, faster(0.8)),
    realTarget("sequential", "RemotingClient msgs/s", "msgs/s", (s) => s.rate, faster(0.9)),
    realTarget("inflight", "RemotingClient CPU per message", "µs", (s) => s.clientCpuUs, cheaper(1.5)),
    realTarget("sequential", "RemotingClient CPU per message", "µs", (s) => s.clientCpuUs, cheaper(1.5))
  )
  return targets
}

// ---- the run ----------------------------------------------------------------------------------------------

/** The packages whose `dist/esm` is missing or older than their sources. */
const staleBuilds = (): Array<string> => {
  const packagesDir = Path.join(JavaRemoting.packageDir, "..")
  const newest = (dir: string, extension: string) => {
    let found = 0
    for (const entry of Fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (entry.isFile() && entry.name.endsWith(extension)) {
        found = Math.max(found, Fs.statSync(Path.join(entry.parentPath, entry.name)).mtimeMs)
      }
    }
    return found
  }
  return ["transport", "transport-node", "remoting"].filter((name) => {
    const dist = Path.join(packagesDir, name, "dist", "esm")
    return !Fs.existsSync(dist) || newest(dist, ".js") < newest(Path.join(packagesDir, name, "src"), ".ts")
  })
}

const program = Effect.gen(function*() {
  // What is measured is what is published: this process and its clients load the packages' dist/esm.
  if (!import.meta.resolve("../src/RemotingClient.js").includes("/dist/esm/")) {
    return yield* Effect.fail(
      new Error(`run with the built packages: pnpm bench, or node --import tsx --import ${builtPackagesHook} ...`)
    )
  }
  const stale = staleBuilds()
  if (stale.length > 0) {
    return yield* Effect.fail(
      new Error(`dist/esm of ${stale.join(", ")} is missing or older than its sources: run pnpm build`)
    )
  }
  let fake: FakeBrokerSummary | undefined
  if (FAKE) {
    progress("fake broker ...")
    fake = yield* Effect.promise(() =>
      runFakeBroker({
        count: FAKE_COUNT,
        warmup: FAKE_WARMUP,
        window: WINDOW,
        bodySize: BODY_SIZE,
        runs: RUNS,
        serializeType: SERIALIZE_TYPE,
        progress
      })
    )
    console.log("")
    for (const fact of fake.facts) console.log(fact)
    console.log(`machine: ${Os.cpus().length} cores (${Os.cpus()[0]?.model ?? "unknown"}), node ${process.version}`)
    console.log("")
    for (const line of fakeBrokerTable(fake)) console.log(line)
  }
  const real = MODES.length > 0 ? yield* realBroker : undefined
  const file = writeResults({
    bench: "remoting",
    quick,
    runs: RUNS,
    finishedAt: new Date().toISOString(),
    targets: targetsOf(fake, real)
  })
  console.log("")
  console.log(`send.bench: results in ${file}`)
})

program.pipe(
  Effect.provideServiceEffect(Connector, NodeConnector.make),
  Logger.withMinimumLogLevel(LogLevel.Warning),
  NodeRuntime.runMain
)
