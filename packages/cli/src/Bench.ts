/**
 * `rmq-transport bench` (`pnpm bench`): the transport end to end against the anchors, in one run.
 *
 * Two echo servers run in child processes of their own, so that neither shares an event loop with the client
 * under test: a Netty 4.1 peer framed as RocketMQ's Java remoting (the reference the targets are set
 * against; it needs javac and Debian's Netty jars and is skipped with a note without them) and
 * `TransportServer.echo`. Where `taskset` exists and there are two cores, the servers run on one core and
 * the clients on another.
 *
 * Each measurement (one workload through one client against one server) runs in a fresh process; the
 * clients take turns within each run so that drifting machine load hits them alike, and the tables show
 * medians over `--runs` runs with every figure's ratio to the plain client's, measured in the same run. The
 * clients: a careful plain `node:net` client (the limit), the Effect and Promise APIs, `tcp-base` (the
 * socket base of ali-ons) and the seed's two algorithms in Python (sync sockets, asyncio streams). A client
 * that does not apply to a workload, or is not installed, shows "—".
 *
 * Workloads: `pipelined` (1 KiB frames, 256 outstanding), `ping-pong` (128 B, one outstanding: warm figures
 * after a warm-up, and a cold p99 over the first round trips of a fresh process), `large` (1 MiB frames, 8
 * outstanding), `connections` (1,000 transports connected at once: the time, memory per idle transport) and
 * `idle` (10,000 idle transports in one process: heap per transport and in all), and `tls-pipelined` /
 * `tls-large` (pipelined and large over TLS, against a second instance of each server that speaks TLS with a
 * certificate made for the run by `openssl`; the plain client is then `tls.connect`).
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { CliError, ExitCode } from "./Failure.js"
import type { ClientName, WorkerInput, WorkerOutput, WorkloadName } from "./internal/benchWorker.js"
import * as Progress from "./Progress.js"
import { formatCount, median } from "./Stats.js"

/**
 * @since 0.1.0
 * @category models
 */
export type Workload = WorkloadName

/**
 * @since 0.1.0
 * @category constants
 */
export const workloads: ReadonlyArray<Workload> = [
  "pipelined",
  "ping-pong",
  "large",
  "connections",
  "idle",
  "tls-pipelined",
  "tls-large"
]

const isTlsWorkload = (workload: Workload): boolean => workload === "tls-pipelined" || workload === "tls-large"

/**
 * @since 0.1.0
 * @category models
 */
export type Client = ClientName

/**
 * Every client: the plain `node:net` client (`baseline`) first. `effect-untimed` (the Effect API with
 * `timeout: Duration.infinity` on each call) is a diagnostic, run only when asked for with `--client`.
 *
 * @since 0.1.0
 * @category constants
 */
export const allClients: ReadonlyArray<Client> = [
  "baseline",
  "effect",
  "promise",
  "tcp-base",
  "seed-sync",
  "seed-asyncio",
  "effect-untimed"
]

/**
 * The clients run unless `--client` says otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultClients: ReadonlyArray<Client> = allClients.filter((client) => client !== "effect-untimed")

/**
 * The echo servers: `netty` (the Netty peer, the targets' reference) and `transport-server`
 * (`TransportServer.echo`).
 *
 * @since 0.3.0
 * @category models
 */
export type Server = "netty" | "transport-server"

/**
 * @since 0.3.0
 * @category constants
 */
export const servers: ReadonlyArray<Server> = ["netty", "transport-server"]

/**
 * @since 0.1.0
 * @category models
 */
export interface BenchOptions {
  readonly runs: number
  /** Small counts, for a CI smoke run. */
  readonly quick: boolean
  /** The workloads to run; all when empty. */
  readonly only: ReadonlyArray<Workload>
  /** The clients besides the plain one (always run); `defaultClients` when empty. */
  readonly clients: ReadonlyArray<Client>
  /** The echo servers to measure against. */
  readonly server: Server | "all"
  /** Write a CPU profile (`node --cpu-prof`) of each transport measurement into this directory. */
  readonly profileDir: Option.Option<string>
  /** Print every run's figures under the tables. */
  readonly verbose: boolean
}

/**
 * What a bench measured, for `--json`: the median of every figure taken, and each target's verdict as the
 * targets table prints it (`met (0.93×)`, `MISSED (…)`, `not judged` on a `--quick` run, `not measured`).
 *
 * @since 0.3.0
 * @category models
 */
export interface BenchResult {
  readonly quick: boolean
  readonly runs: number
  readonly medians: ReadonlyArray<{
    readonly server: Server
    readonly workload: Workload
    readonly client: Client
    readonly metric: string
    readonly value: number
  }>
  readonly targets: ReadonlyArray<{ readonly target: string; readonly server: Server; readonly verdict: string }>
  /** The measurements that failed, each in one line; the command fails after reporting them. */
  readonly failures: ReadonlyArray<string>
}

interface Plan {
  readonly count: number
  readonly size: number
  readonly window: number
  readonly warmup: number
}

interface WorkloadPlan extends Plan {
  readonly workload: Workload
}

const MIB = 1024 * 1024

const plans: Record<Workload, { readonly full: Plan; readonly quick: Plan }> = {
  pipelined: {
    full: { count: 200_000, size: 1024, window: 256, warmup: 20_000 },
    quick: { count: 5_000, size: 1024, window: 256, warmup: 1_000 }
  },
  "ping-pong": {
    full: { count: 20_000, size: 128, window: 1, warmup: 5_000 },
    quick: { count: 500, size: 128, window: 1, warmup: 100 }
  },
  large: {
    full: { count: 2_000, size: MIB, window: 8, warmup: 100 },
    quick: { count: 40, size: MIB, window: 8, warmup: 8 }
  },
  connections: {
    full: { count: 1_000, size: 0, window: 0, warmup: 0 },
    quick: { count: 50, size: 0, window: 0, warmup: 0 }
  },
  idle: {
    full: { count: 10_000, size: 0, window: 0, warmup: 0 },
    quick: { count: 500, size: 0, window: 0, warmup: 0 }
  },
  "tls-pipelined": {
    full: { count: 200_000, size: 1024, window: 256, warmup: 20_000 },
    quick: { count: 5_000, size: 1024, window: 256, warmup: 1_000 }
  },
  "tls-large": {
    full: { count: 1_000, size: MIB, window: 8, warmup: 100 },
    quick: { count: 40, size: MIB, window: 8, warmup: 8 }
  }
}

/** Unmeasured traffic through each server before its first measurement, so that a JIT-compiled server is warm. */
const serverWarmups: Record<"full" | "quick", ReadonlyArray<WorkloadPlan>> = {
  full: [
    { workload: "pipelined", count: 100_000, size: 1024, window: 256, warmup: 0 },
    { workload: "large", count: 200, size: MIB, window: 8, warmup: 0 },
    // The TLS instance too, when TLS workloads run (skipped otherwise, as they are).
    { workload: "tls-pipelined", count: 100_000, size: 1024, window: 256, warmup: 0 },
    { workload: "tls-large", count: 100, size: MIB, window: 8, warmup: 0 }
  ],
  quick: [{ workload: "pipelined", count: 2_000, size: 1024, window: 256, warmup: 0 }]
}

/** The workloads each client runs; the others show "—" in its column. */
const workloadsOf: Record<Client, ReadonlyArray<Workload>> = {
  baseline: workloads,
  effect: workloads,
  promise: workloads,
  "effect-untimed": workloads,
  "tcp-base": workloads.filter((workload) => !isTlsWorkload(workload)),
  // A blocking socket connects one connection at a time: nothing to compare with "at once".
  "seed-sync": ["pipelined", "ping-pong", "large"],
  // Python has no heap figure comparable to V8's, and 10,000 connections say nothing more than 1,000 there.
  "seed-asyncio": ["pipelined", "ping-pong", "large", "connections"]
}

/** The figures of the tables: which workload they come from, how to show them. */
interface Row {
  readonly workload: Workload
  readonly metric: string
  readonly label: (plan: Plan) => string
  readonly digits: number
}

const rows: ReadonlyArray<Row> = [
  {
    workload: "pipelined",
    metric: "framesPerSec",
    label: (plan) => `frames/s (${formatCount(plan.count)} × 1 KiB, ${plan.window} out)`,
    digits: 0
  },
  {
    workload: "ping-pong",
    metric: "p50Us",
    label: (plan) => `warm p50 µs (${formatCount(plan.count)} × 128 B after ${formatCount(plan.warmup)})`,
    digits: 0
  },
  { workload: "ping-pong", metric: "p99Us", label: () => "warm p99 µs", digits: 0 },
  {
    workload: "ping-pong",
    metric: "coldP99Us",
    label: (plan) => `cold p99 µs (the first ${formatCount(plan.count)})`,
    digits: 0
  },
  { workload: "ping-pong", metric: "roundTripsPerSec", label: () => "warm round trips/s", digits: 0 },
  {
    workload: "large",
    metric: "mbPerSec",
    label: (plan) => `MB/s (${formatCount(plan.count)} × 1 MiB, ${plan.window} out)`,
    digits: 0
  },
  {
    workload: "connections",
    metric: "connectMs",
    label: (plan) => `ms to connect ${formatCount(plan.count)} at once`,
    digits: 0
  },
  { workload: "connections", metric: "rssKiB", label: () => "RSS KiB per idle transport", digits: 1 },
  { workload: "connections", metric: "heapKiB", label: () => "heap KiB per idle transport", digits: 1 },
  {
    workload: "idle",
    metric: "heapKiB",
    label: (plan) => `heap KiB per idle transport (${formatCount(plan.count)} open)`,
    digits: 1
  },
  { workload: "idle", metric: "heapMiB", label: () => "total heap MiB", digits: 1 },
  { workload: "idle", metric: "rssKiB", label: () => "RSS KiB per idle transport", digits: 1 },
  {
    workload: "tls-pipelined",
    metric: "framesPerSec",
    label: (plan) => `TLS frames/s (${formatCount(plan.count)} × 1 KiB, ${plan.window} out; plain = node:tls)`,
    digits: 0
  },
  {
    workload: "tls-large",
    metric: "mbPerSec",
    label: (plan) => `TLS MB/s (${formatCount(plan.count)} × 1 MiB, ${plan.window} out; plain = node:tls)`,
    digits: 0
  }
]

/** A target: a figure of one client bounded by another client's (a ratio), or by a number. */
interface Target {
  readonly workload: Workload
  readonly metric: string
  readonly client: Client
  readonly bound:
    | { readonly _tag: "AtLeast"; readonly times: number; readonly of: Client }
    | { readonly _tag: "AtMost"; readonly times: number; readonly of: Client }
    | { readonly _tag: "AtMostValue"; readonly limit: number; readonly unit: string }
}

const atLeast = (times: number, of: Client = "baseline") => ({ _tag: "AtLeast", times, of }) as const
const atMost = (times: number, of: Client = "baseline") => ({ _tag: "AtMost", times, of }) as const
const atMostValue = (limit: number, unit: string) => ({ _tag: "AtMostValue", limit, unit }) as const

/** The targets, set against the Netty peer on medians of at least three runs. */
const targets: ReadonlyArray<Target> = [
  { workload: "pipelined", metric: "framesPerSec", client: "effect", bound: atLeast(0.9) },
  { workload: "pipelined", metric: "framesPerSec", client: "effect", bound: atLeast(1, "seed-asyncio") },
  { workload: "pipelined", metric: "framesPerSec", client: "effect", bound: atLeast(1, "seed-sync") },
  { workload: "pipelined", metric: "framesPerSec", client: "promise", bound: atLeast(0.7) },
  { workload: "large", metric: "mbPerSec", client: "effect", bound: atLeast(0.9) },
  { workload: "large", metric: "mbPerSec", client: "effect", bound: atLeast(1, "seed-sync") },
  { workload: "large", metric: "mbPerSec", client: "promise", bound: atLeast(0.85) },
  { workload: "ping-pong", metric: "p50Us", client: "effect", bound: atMost(1.1) },
  { workload: "ping-pong", metric: "p99Us", client: "effect", bound: atMost(1.5) },
  { workload: "ping-pong", metric: "coldP99Us", client: "effect", bound: atMost(2) },
  { workload: "ping-pong", metric: "p99Us", client: "promise", bound: atMost(2) },
  { workload: "connections", metric: "connectMs", client: "effect", bound: atMost(3) },
  { workload: "connections", metric: "heapKiB", client: "effect", bound: atMostValue(16, "KiB") },
  { workload: "connections", metric: "heapKiB", client: "promise", bound: atMostValue(24, "KiB") },
  { workload: "idle", metric: "heapKiB", client: "effect", bound: atMostValue(16, "KiB") },
  { workload: "idle", metric: "heapKiB", client: "promise", bound: atMostValue(24, "KiB") },
  { workload: "idle", metric: "heapMiB", client: "effect", bound: atMostValue(200, "MiB") },
  { workload: "tls-pipelined", metric: "framesPerSec", client: "effect", bound: atLeast(0.8) },
  { workload: "tls-large", metric: "mbPerSec", client: "effect", bound: atLeast(0.8) }
]

const clientTitles: Record<ClientName, string> = {
  baseline: "plain net",
  effect: "Effect API",
  promise: "Promise API",
  "effect-untimed": "Effect, no timeout",
  "tcp-base": "tcp-base",
  "seed-sync": "seed sync (py)",
  "seed-asyncio": "seed asyncio (py)"
}

const metricTitles: Record<string, string> = {
  framesPerSec: "frames/s",
  mbPerSec: "MB/s",
  p50Us: "warm p50",
  p99Us: "warm p99",
  coldP99Us: "cold p99",
  connectMs: "connect time",
  heapKiB: "heap per transport",
  heapMiB: "total heap"
}

const serverTitles: Record<Server, string> = {
  netty: "Netty",
  "transport-server": "TransportServer"
}

// The child processes (workers, the TransportServer echo peer) always run the built ES modules under plain
// node: what is published is what is measured. Installed, they are beside this file. Run from the sources
// (inside the repository), they are the packages' dist/esm, which `pnpm build` writes, loaded with a hook
// that resolves the workspace packages to dist/esm as well. The Python clients are shipped in src/ either way.
const here = Path.dirname(fileURLToPath(import.meta.url))
const fromSources = import.meta.url.endsWith(".ts")
const builtDir = fromSources ? Path.join(here, "..", "dist", "esm") : Path.join(here, "..", "esm")
const workerPath = Path.join(builtDir, "internal", "benchWorker.js")
const binPath = Path.join(builtDir, "bin.js")
const peersDir = fromSources
  ? Path.join(here, "internal", "peers")
  : Path.join(here, "..", "..", "src", "internal", "peers")
const loader = (): Array<string> =>
  fromSources ? ["--import", pathToFileURL(Path.join(here, "..", "bench", "built-packages.mjs")).href] : []

const packagesDir = Path.join(here, "..", "..")
const newestFileUnder = (dir: string, extension: string): number => {
  let newest = 0
  for (const entry of Fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(extension)) {
      newest = Math.max(newest, Fs.statSync(Path.join(entry.parentPath, entry.name)).mtimeMs)
    }
  }
  return newest
}

/** From the sources, the built packages must exist and be newer than every source they are built from. */
const checkBuilt: Effect.Effect<void, CliError> = Effect.suspend(() => {
  if (!fromSources) return Effect.void
  for (const name of ["transport", "transport-node", "cli"]) {
    const src = Path.join(packagesDir, name, "src")
    const dist = Path.join(packagesDir, name, "dist", "esm")
    if (!Fs.existsSync(dist) || newestFileUnder(dist, ".js") < newestFileUnder(src, ".ts")) {
      return Effect.fail(benchError(`packages/${name}/dist is missing or older than its sources: run pnpm build`))
    }
  }
  return Effect.void
})

/** The interop tests' Netty peer, beside this package in the repository; not part of the installed packages. */
const nettySource = Path.join(
  here,
  ...(fromSources ? [".."] : ["..", ".."]),
  "..",
  "transport-node",
  "interop",
  "netty",
  "NettyEchoPeer.java"
)
/** Where Debian's `libnetty-java` puts its jars; `netty-all.jar` there is an empty aggregate. */
const NETTY_JAR_DIR = "/usr/share/java"
const NETTY_JARS = ["netty-common", "netty-buffer", "netty-resolver", "netty-transport", "netty-codec", "netty-handler"]

/** Enough open files for the `idle` workload's 10,000 connections, in the worker and in the server. */
const FD_LIMIT = 20_000

const benchError = (reason: string) => new CliError({ reason: `bench: ${reason}`, exitCode: ExitCode.Failure })

const succeeds = (command: string, args: ReadonlyArray<string>): boolean => {
  const result = ChildProcess.spawnSync(command, args, { stdio: "ignore", timeout: 30_000 })
  return result.error === undefined && result.status === 0
}

// ---- where processes run ----------------------------------------------------------------------------------

/** Command-line prefixes: the core a role is pinned to, and the raised open-file limit. */
interface Placement {
  readonly server: ReadonlyArray<string>
  readonly client: ReadonlyArray<string>
  readonly manyFiles: ReadonlyArray<string>
  readonly notes: ReadonlyArray<string>
}

/** `0-2,5` → `[0, 1, 2, 5]`. */
const parseCpuList = (list: string): Array<number> =>
  list.trim().split(",").flatMap((part) => {
    const [from, to] = part.split("-").map(Number)
    if (from === undefined || !Number.isInteger(from)) return []
    const last = to !== undefined && Number.isInteger(to) ? to : from
    return Array.from({ length: last - from + 1 }, (_, i) => from + i)
  })

/** The cores this process may run on (its affinity where Linux says it, else all of them). */
const allowedCpus = (): Array<number> => {
  try {
    const match = /^Cpus_allowed_list:\s*(.+)$/m.exec(Fs.readFileSync("/proc/self/status", "utf8"))
    if (match !== null) {
      const cpus = parseCpuList(match[1]!)
      if (cpus.length > 0) return cpus
    }
  } catch {
    // Not Linux.
  }
  return Array.from({ length: Os.availableParallelism() }, (_, i) => i)
}

const placement = (): Placement => {
  const notes: Array<string> = []
  const cpus = allowedCpus()
  let server: ReadonlyArray<string> = []
  let client: ReadonlyArray<string> = []
  if (!succeeds("taskset", ["--version"])) {
    notes.push("pinning: none (taskset not found); servers and clients share the cores")
  } else if (cpus.length < 2) {
    notes.push(`pinning: none (one core allowed: ${cpus.join(",")}); servers and clients share it`)
  } else {
    server = ["taskset", "-c", String(cpus[0])]
    client = ["taskset", "-c", String(cpus[1])]
    notes.push(`pinning: echo servers on core ${cpus[0]}, clients on core ${cpus[1]} (taskset)`)
  }
  // Node and the JVM raise their soft limit to the hard one themselves; the hard one is what may need raising.
  const prlimit = ["prlimit", `--nofile=${FD_LIMIT}:${FD_LIMIT}`, "--"]
  const ulimit = ["bash", "-c", `ulimit -n ${FD_LIMIT} && exec "$0" "$@"`]
  let manyFiles: ReadonlyArray<string> = []
  if (succeeds(prlimit[0]!, [...prlimit.slice(1), "true"])) {
    manyFiles = prlimit
    notes.push(`open files: servers and the connection workloads' workers start under prlimit --nofile=${FD_LIMIT}`)
  } else if (succeeds(ulimit[0]!, [...ulimit.slice(1), "true"])) {
    manyFiles = ulimit
    notes.push(`open files: servers and the connection workloads' workers start under ulimit -n ${FD_LIMIT}`)
  } else {
    notes.push(`open files: cannot raise the limit to ${FD_LIMIT} (no prlimit, ulimit refused); idle may fail`)
  }
  return { server, client, manyFiles, notes }
}

// ---- the echo servers -------------------------------------------------------------------------------------

interface EchoPeer {
  readonly server: Server
  readonly port: number
  /** A second instance of the same server, speaking TLS with the run's certificate, for the `tls-*` workloads. */
  readonly tlsPort: Option.Option<number>
  readonly description: string
}

/** The run's TLS identity: a self-signed certificate for `localhost` that the clients trust. */
interface BenchCertificate {
  readonly certFile: string
  readonly keyFile: string
  readonly cert: string
}

/** A self-signed certificate (its own CA) in a temporary directory for the scope; `None` without openssl. */
const makeCertificate = (
  note: (line: string) => void
): Effect.Effect<Option.Option<BenchCertificate>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "rmq-transport-bench-tls-"))),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )
    const certFile = Path.join(dir, "server.pem")
    const keyFile = Path.join(dir, "server.key")
    const made = ChildProcess.spawnSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1"
    ], { encoding: "utf8", timeout: 60_000 })
    if (made.error !== undefined || made.status !== 0) {
      note(`TLS workloads skipped: openssl could not make a certificate (${made.error?.message ?? made.stderr.trim()})`)
      return Option.none()
    }
    return Option.some({ certFile, keyFile, cert: Fs.readFileSync(certFile, "utf8") })
  })

/** A server in a child process, for the scope; resolves with the port matched in its output once it listens. */
const startPeer = (
  argv: ReadonlyArray<string>,
  listening: RegExp,
  name: string
): Effect.Effect<number, CliError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() =>
      ChildProcess.spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] }).on("error", () => {})
    ),
    (child) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        // The Netty peer exits when its stdin closes; both exit on SIGTERM.
        child.stdin?.end()
        child.kill()
        const timer = setTimeout(() => child.kill("SIGKILL"), 2_000)
        return Effect.sync(() => clearTimeout(timer))
      })
  ).pipe(
    Effect.flatMap((child) =>
      Effect.async<number, CliError>((resume) => {
        let output = ""
        let errors = ""
        let port: number | undefined
        // Read to the end: a peer that logs each connection must never block on a full pipe.
        child.stdout!.on("data", (data: Buffer) => {
          if (port !== undefined) return
          output += data.toString()
          const match = listening.exec(output)
          if (match !== null) {
            port = Number(match[1])
            resume(Effect.succeed(port))
          }
        })
        child.stderr!.on("data", (data: Buffer) => {
          if (errors.length < 16 * 1024) errors += data.toString()
        })
        const onExit = (code: number | null) =>
          resume(
            Effect.fail(benchError(`${name} exited (code ${code}) before listening: ${(output + errors).trim()}`))
          )
        child.once("exit", onExit)
        child.once("error", (error) => resume(Effect.fail(benchError(`${name} could not start: ${error.message}`))))
        return Effect.sync(() => child.off("exit", onExit))
      })
    ),
    Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => benchError(`${name} did not start`) })
  )

const startTransportServer = (
  maxMessageSize: number,
  where: Placement,
  certificate: Option.Option<BenchCertificate>
): Effect.Effect<EchoPeer, CliError, Scope.Scope> =>
  Effect.gen(function*() {
    const start = (tls: ReadonlyArray<string>) =>
      startPeer(
        [
          ...where.server,
          ...where.manyFiles,
          process.execPath,
          ...loader(),
          binPath,
          "echo-server",
          "--port",
          "0",
          "--max-message-size",
          String(maxMessageSize),
          ...tls
        ],
        /listening on (?:\[[^\]]+\]|[^:\s]+):(\d+)/,
        "TransportServer.echo"
      )
    const port = yield* start([])
    const tlsPort = yield* Option.match(certificate, {
      onNone: () => Effect.succeedNone,
      onSome: (made) => Effect.asSome(start(["--tls", "--cert", made.certFile, "--key", made.keyFile]))
    })
    return {
      server: "transport-server" as const,
      port,
      tlsPort,
      description: `TransportServer.echo (rmq-transport echo-server) on 127.0.0.1:${port}` +
        Option.match(tlsPort, { onNone: () => "", onSome: (tls) => `, over TLS on ${tls}` })
    }
  })

/** Why the Netty peer cannot run here, or its classpath. */
const nettyClasspath = (): { readonly classpath: string } | { readonly missing: string } => {
  if (!Fs.existsSync(nettySource)) {
    return { missing: "its source (transport-node/interop/netty, in the repository only) is not here" }
  }
  const absent: Array<string> = []
  if (!succeeds("javac", ["-version"])) absent.push("javac")
  if (!succeeds("java", ["-version"])) absent.push("java")
  const jars = NETTY_JARS.map((name) => Path.join(NETTY_JAR_DIR, `${name}.jar`))
  absent.push(...jars.filter((jar) => !Fs.existsSync(jar)))
  return absent.length === 0
    ? { classpath: jars.join(Path.delimiter) }
    : { missing: `not found: ${absent.join(", ")} (apt-get install default-jdk-headless libnetty-java)` }
}

const nettyVersion = (): string => {
  try {
    const jar = Fs.readdirSync(NETTY_JAR_DIR).find((file) => /^netty-common-\d.*\.jar$/.test(file))
    return jar === undefined ? "" : ` ${jar.slice("netty-common-".length, -".jar".length)}`
  } catch {
    return ""
  }
}

/** The Netty peer, compiled into a temporary directory for the scope; `None` with a note when it cannot run. */
const startNetty = (
  where: Placement,
  certificate: Option.Option<BenchCertificate>,
  note: (line: string) => void
): Effect.Effect<Option.Option<EchoPeer>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const found = nettyClasspath()
    if ("missing" in found) {
      note(`Netty server skipped: ${found.missing}`)
      return Option.none()
    }
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "rmq-transport-bench-netty-"))),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )
    const compiled = ChildProcess.spawnSync(
      "javac",
      ["-nowarn", "-cp", found.classpath, "-d", dir, nettySource],
      { encoding: "utf8", timeout: 120_000 }
    )
    if (compiled.status !== 0) {
      note(`Netty server skipped: javac failed: ${`${compiled.stderr ?? ""}`.trim().split("\n")[0] ?? ""}`)
      return Option.none()
    }
    const start = (tls: ReadonlyArray<string>) =>
      startPeer(
        [
          ...where.server,
          ...where.manyFiles,
          "java",
          "-Xms256m",
          "-Xmx1g",
          "-cp",
          [dir, found.classpath].join(Path.delimiter),
          "NettyEchoPeer",
          ...tls
        ],
        /^PORT (\d+)$/m,
        "the Netty peer"
      ).pipe(Effect.option)
    const started = yield* start([])
    if (Option.isNone(started)) {
      note("Netty server skipped: the peer did not start")
      return Option.none()
    }
    const tlsPort = yield* Option.match(certificate, {
      onNone: () => Effect.succeedNone,
      onSome: (made) => start(["--tls-cert", made.certFile, "--tls-key", made.keyFile])
    })
    if (Option.isSome(certificate) && Option.isNone(tlsPort)) note("Netty over TLS skipped: the peer did not start")
    return Option.some({
      server: "netty" as const,
      port: started.value,
      tlsPort,
      description: `Netty${nettyVersion()} (NettyEchoPeer: LengthFieldBasedFrameDecoder + LengthFieldPrepender, as ` +
        `RocketMQ's remoting) on 127.0.0.1:${started.value}` +
        Option.match(tlsPort, { onNone: () => "", onSome: (tls) => `, over TLS (SslHandler, JDK engine) on ${tls}` })
    })
  })

// ---- the clients ------------------------------------------------------------------------------------------

/** Why each client cannot run here; absent when it can. */
const unavailableClients = (clients: ReadonlyArray<Client>): Map<Client, string> => {
  const unavailable = new Map<Client, string>()
  if (clients.includes("tcp-base")) {
    try {
      createRequire(import.meta.url).resolve("tcp-base")
    } catch {
      unavailable.set("tcp-base", "tcp-base is not installed (a development dependency of the CLI)")
    }
  }
  const seed = clients.filter((client) => client === "seed-sync" || client === "seed-asyncio")
  if (seed.length > 0) {
    const why = !Fs.existsSync(Path.join(peersDir, "bench_protocol.py"))
      ? `the Python clients are not in ${peersDir}`
      : !succeeds("python3", ["-c", "import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)"])
      ? "python3 (3.8 or later) not found"
      : undefined
    if (why !== undefined) { for (const client of seed) unavailable.set(client, why) }
  }
  return unavailable
}

/** The command line of one measurement. */
const workerCommand = (
  input: WorkerInput,
  where: Placement,
  profile: ReadonlyArray<string>
): ReadonlyArray<string> => {
  const prefix = [
    ...where.client,
    ...(input.workload === "connections" || input.workload === "idle" ? where.manyFiles : [])
  ]
  const json = JSON.stringify(input)
  switch (input.client) {
    case "seed-sync":
      return [...prefix, "python3", "-B", Path.join(peersDir, "seed_sync_client.py"), json]
    case "seed-asyncio":
      return [...prefix, "python3", "-B", Path.join(peersDir, "seed_asyncio_client.py"), json]
    default:
      return [...prefix, process.execPath, "--expose-gc", ...profile, ...loader(), workerPath, json]
  }
}

/** What a crashed worker said: the first line naming an error, and the last lines. */
const excerpt = (stderr: string): string => {
  const lines = stderr.split("\n").map((line) => line.trim()).filter((line) => line !== "")
  const first = lines.find((line) => /\b\w*(Error|Exception)\b/.test(line))
  const last = lines.slice(-2)
  return [...(first === undefined || last.includes(first) ? [] : [first]), ...last].join(" | ")
}

/** One measurement in a fresh process. */
const runWorker = (
  input: WorkerInput,
  options: {
    readonly where: Placement
    readonly profileDir: Option.Option<string>
    readonly timeoutMillis: number
    readonly tag: string
  }
): Effect.Effect<Record<string, number>, CliError> =>
  Effect.async<Record<string, number>, CliError>((resume) => {
    const profiled = input.client === "effect" || input.client === "promise" || input.client === "effect-untimed"
    const profile = Option.match(options.profileDir, {
      onNone: (): Array<string> => [],
      // One directory per measurement: Node writes one profile per thread (tsx's loader has its own).
      onSome: (dir) => profiled ? ["--cpu-prof", "--cpu-prof-dir", Path.join(dir, options.tag)] : []
    })
    const argv = workerCommand(input, options.where, profile)
    const child = ChildProcess.spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let spawnError: Error | undefined
    child.stdout.on("data", (data: Buffer) => (stdout += data.toString()))
    child.stderr.on("data", (data: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += data.toString()
    })
    child.on("error", (error) => (spawnError = error))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMillis)
    child.once("close", (code, signal) => {
      clearTimeout(timer)
      const last = stdout.trim().split("\n").pop() ?? ""
      let output: WorkerOutput | undefined
      try {
        output = JSON.parse(last) as WorkerOutput
      } catch {
        output = undefined
      }
      if (output === undefined) {
        const why = spawnError !== undefined
          ? `could not start: ${spawnError.message}`
          : signal === "SIGKILL"
          ? `timed out after ${options.timeoutMillis / 1000} s`
          : `exited with ${code ?? signal}`
        resume(Effect.fail(benchError(`${options.tag} ${why}${stderr.trim() === "" ? "" : `: ${excerpt(stderr)}`}`)))
      } else if (output.ok) {
        // Python writes a figure it could not take as null.
        const metrics: Record<string, number> = {}
        for (const [key, value] of Object.entries(output.metrics)) {
          if (typeof value === "number") metrics[key] = value
        }
        resume(Effect.succeed(metrics))
      } else {
        resume(Effect.fail(benchError(`${options.tag}: ${output.error}`)))
      }
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      child.kill("SIGKILL")
    })
  })

// ---- the report -------------------------------------------------------------------------------------------

const formatValue = (value: number, digits: number): string =>
  Number.isFinite(value)
    ? value >= 1000 || digits === 0
      ? formatCount(value)
      : value.toFixed(digits)
    : "-"

const formatRatio = (ratio: number): string => Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "-×"

/** Left-aligned label columns, right-aligned figures, a rule under the header. */
const renderTable = (table: ReadonlyArray<ReadonlyArray<string>>, labelColumns: number): Array<string> => {
  const widths = table[0]!.map((_, column) => Math.max(...table.map((line) => line[column]!.length)))
  const lines = table.map((line) =>
    line.map((cell, column) => column < labelColumns ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))
      .join("  ").trimEnd()
  )
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "))
  return lines
}

const describeTarget = (target: Target): string => {
  const what = `${target.workload} ${metricTitles[target.metric] ?? target.metric}: ${clientTitles[target.client]}`
  switch (target.bound._tag) {
    case "AtLeast":
      return `${what} ≥ ${target.bound.times === 1 ? "" : `${target.bound.times}× `}${clientTitles[target.bound.of]}`
    case "AtMost":
      return `${what} ≤ ${target.bound.times}× ${clientTitles[target.bound.of]}`
    case "AtMostValue":
      return `${what} ≤ ${target.bound.limit} ${target.bound.unit}`
  }
}

/** `met (0.85×)`, `MISSED (31.2 KiB)`, or why it cannot be judged. */
const judge = (target: Target, figure: (client: Client) => number): string => {
  const value = figure(target.client)
  if (!Number.isFinite(value)) return "not measured"
  switch (target.bound._tag) {
    case "AtLeast":
    case "AtMost": {
      const other = figure(target.bound.of)
      if (!Number.isFinite(other)) return `no ${clientTitles[target.bound.of]}`
      if (other <= 0) return "-"
      const ratio = value / other
      const met = target.bound._tag === "AtLeast" ? ratio >= target.bound.times : ratio <= target.bound.times
      return `${met ? "met" : "MISSED"} (${formatRatio(ratio)})`
    }
    case "AtMostValue":
      return `${value <= target.bound.limit ? "met" : "MISSED"} (${value.toFixed(1)} ${target.bound.unit})`
  }
}

const metricUnits: Record<string, string> = {
  framesPerSec: "frames/s",
  mbPerSec: "MB/s",
  p50Us: "µs",
  p99Us: "µs",
  coldP99Us: "µs",
  connectMs: "ms",
  heapKiB: "KiB",
  heapMiB: "MiB"
}

/**
 * Every target's figures as JSON in `RMQ_BENCH_RESULTS_DIR` (set by `pnpm bench`; nothing is written without
 * it), for the one targets table `scripts/bench-targets.mjs` prints after every bench of the repository.
 */
const writeTargetResults = (
  options: BenchOptions,
  measured: ReadonlyArray<Server>,
  figure: (server: Server, target: Target, client: Client) => number
): void => {
  const dir = process.env.RMQ_BENCH_RESULTS_DIR
  if (dir === undefined || dir === "") return
  // Netty is the targets' reference: its rows are written even when it could not run.
  const against = measured.includes("netty") ? measured : servers
  const orNull = (value: number) => Number.isFinite(value) ? value : null
  const entries = against.flatMap((server) =>
    targets.map((target) => {
      const value = orNull(figure(server, target, target.client))
      const of = target.bound._tag === "AtMostValue" ? "baseline" : target.bound.of
      return {
        target: `transport, against ${serverTitles[server]}: ${target.workload} ${
          metricTitles[target.metric] ?? target.metric
        }, ${clientTitles[target.client]}`,
        value,
        unit: metricUnits[target.metric] ?? target.metric,
        anchor: { name: clientTitles[of], value: orNull(figure(server, target, of)) },
        bound: target.bound._tag === "AtLeast"
          ? { kind: "atLeast", times: target.bound.times }
          : target.bound._tag === "AtMost"
          ? { kind: "atMost", times: target.bound.times }
          : { kind: "atMostValue", limit: target.bound.limit }
      }
    })
  )
  const results = {
    bench: "transport",
    quick: options.quick,
    runs: options.runs,
    finishedAt: new Date().toISOString(),
    targets: entries
  }
  Fs.mkdirSync(dir, { recursive: true })
  Fs.writeFileSync(Path.join(dir, "transport.json"), JSON.stringify(results, null, 2) + "\n")
}

/**
 * The machine line under the title.
 *
 * @since 0.1.0
 * @category utils
 */
export const describeMachine = (): string => {
  const cpus = Os.cpus()
  const load = Os.loadavg().map((n) => n.toFixed(2)).join(" ")
  return `${cpus[0]?.model.trim() ?? "unknown CPU"}, ${cpus.length} cores, node ${process.version}, ` +
    `${Os.platform()} ${Os.release()}, load average ${load}`
}

/**
 * The command.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (
  options: BenchOptions,
  onResult: (result: BenchResult) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<void, CliError> =>
  Effect.gen(function*() {
    yield* checkBuilt
    if (!Number.isInteger(options.runs) || options.runs < 1) {
      return yield* new CliError({ reason: "--runs must be a positive integer", exitCode: ExitCode.Usage })
    }
    const selected = options.only.length === 0 ? workloads : workloads.filter((w) => options.only.includes(w))
    const asked = options.clients.length === 0
      ? defaultClients
      : allClients.filter((c) => c === "baseline" || options.clients.includes(c))
    const wantedServers = options.server === "all" ? servers : servers.filter((s) => s === options.server)
    const planOf = (workload: Workload) => (options.quick ? plans[workload].quick : plans[workload].full)
    const maxSize = Math.max(...selected.map((w) => planOf(w).size), 2 * MIB)

    yield* Console.log(
      `rmq-transport e2e bench${options.quick ? " (quick)" : ""}: ${selected.join(", ")}; ` +
        `medians of ${options.runs} run${options.runs === 1 ? "" : "s"}`
    )
    yield* Console.log(`machine: ${describeMachine()}`)
    const where = placement()
    for (const line of where.notes) yield* Console.log(line)
    const notes: Array<string> = []
    const unavailable = unavailableClients(asked)
    for (const [client, why] of unavailable) notes.push(`${clientTitles[client]} skipped: ${why}`)
    const clients = asked.filter((client) => !unavailable.has(client))
    const runs = (client: Client, workload: Workload) =>
      clients.includes(client) && workloadsOf[client].includes(workload)

    const certificate = selected.some(isTlsWorkload)
      ? yield* makeCertificate((line) => notes.push(line))
      : Option.none<BenchCertificate>()
    const peers: Array<EchoPeer> = []
    for (const server of wantedServers) {
      if (server === "netty") {
        const netty = yield* startNetty(where, certificate, (line) => notes.push(line))
        if (Option.isSome(netty)) peers.push(netty.value)
      } else {
        peers.push(yield* startTransportServer(maxSize, where, certificate))
      }
    }
    for (const peer of peers) yield* Console.log(`echo server: ${peer.description}`)
    yield* Console.log("one process per measurement")
    for (const line of notes) yield* Console.log(`note: ${line}`)
    // Only the Netty peer was asked for, and it cannot run here: a note, not a failure.
    if (peers.length === 0) {
      yield* Console.log("nothing measured: no echo server to measure against")
      return yield* onResult({ quick: options.quick, runs: options.runs, medians: [], targets: [], failures: [] })
    }

    const results = new Map<string, Array<Record<string, number>>>()
    const failures: Array<string> = []
    const warmups = (options.quick ? serverWarmups.quick : serverWarmups.full).filter((plan) =>
      !isTlsWorkload(plan.workload) || selected.some(isTlsWorkload)
    )
    // A server whose TLS instance did not start measures no TLS workload.
    const servedBy = (peer: EchoPeer, workload: Workload) => !isTlsWorkload(workload) || Option.isSome(peer.tlsPort)
    const perRun = (peer: EchoPeer) =>
      selected.reduce(
        (sum, workload) => sum + (servedBy(peer, workload) ? clients.filter((c) => runs(c, workload)).length : 0),
        0
      )
    const progress = yield* Progress.scoped(
      "bench",
      peers.reduce(
        (sum, peer) =>
          sum + warmups.filter((plan) => servedBy(peer, plan.workload)).length + options.runs * perRun(peer),
        0
      )
    )
    const measure = (peer: EchoPeer, plan: WorkloadPlan, client: Client, tag: string) =>
      runWorker(
        isTlsWorkload(plan.workload)
          ? {
            ...plan,
            client,
            host: "127.0.0.1",
            port: Option.getOrElse(peer.tlsPort, () => peer.port),
            tls: {
              ca: Option.match(certificate, { onNone: () => "", onSome: (made) => made.cert }),
              serverName: "localhost"
            }
          }
          : { ...plan, client, host: "127.0.0.1", port: peer.port },
        {
          where,
          profileDir: options.profileDir,
          timeoutMillis: options.quick ? 60_000 : 300_000,
          tag: `${peer.server}-${tag}`
        }
      ).pipe(
        Effect.catchAll((error) =>
          Effect.sync(() => {
            failures.push(error.reason)
            return undefined
          })
        ),
        Effect.ensuring(Effect.sync(() => progress.advance()))
      )

    for (const peer of peers) {
      for (const plan of warmups.filter((plan) => servedBy(peer, plan.workload))) {
        progress.relabel(`warming ${serverTitles[peer.server]} (${plan.workload})`)
        yield* measure(peer, plan, "baseline", `warmup-${plan.workload}`)
      }
    }
    for (let run = 0; run < options.runs; run++) {
      for (const peer of peers) {
        for (const workload of selected) {
          if (!servedBy(peer, workload)) continue
          const turn = clients.filter((client) => runs(client, workload))
          // Rotate who goes first, so that no client always runs right after the same other one.
          const order = turn.map((_, i) => turn[(i + run) % turn.length]!)
          for (const client of order) {
            progress.relabel(
              `run ${run + 1}/${options.runs} ${serverTitles[peer.server]} ${workload} ${clientTitles[client]}`
            )
            const metrics = yield* measure(
              peer,
              { workload, ...planOf(workload) },
              client,
              `${workload}-${client}-run${run + 1}`
            )
            if (metrics !== undefined) {
              const key = `${peer.server}/${workload}/${client}`
              results.set(key, [...(results.get(key) ?? []), metrics])
            }
          }
        }
      }
    }
    progress.finish()

    const medianOf = (server: Server, workload: Workload, client: Client, metric: string) =>
      median(
        (results.get(`${server}/${workload}/${client}`) ?? []).map((m) => m[metric]!).filter(Number.isFinite)
      )

    for (const peer of peers) {
      const header = ["workload", "metric", ...clients.map((c) => clientTitles[c])]
      const table: Array<Array<string>> = [header]
      for (const row of rows.filter((r) => selected.includes(r.workload))) {
        const baseline = medianOf(peer.server, row.workload, "baseline", row.metric)
        const cells = clients.map((client) => {
          if (!runs(client, row.workload)) return "—"
          const value = medianOf(peer.server, row.workload, client, row.metric)
          if (!Number.isFinite(value)) return "—"
          if (client === "baseline") return formatValue(value, row.digits)
          // A baseline at or below zero (memory noise on a small run) makes no ratio.
          return `${formatValue(value, row.digits)} (${formatRatio(baseline > 0 ? value / baseline : NaN)})`
        })
        table.push([row.workload, row.label(planOf(row.workload)), ...cells])
      }
      yield* Console.log("")
      yield* Console.log(
        `against ${serverTitles[peer.server]}${peer.server === "netty" ? " (the targets' reference)" : ""}:`
      )
      for (const line of renderTable(table, 2)) yield* Console.log(line)
    }
    yield* Console.log("")
    yield* Console.log(
      "(×) is the figure divided by the plain client's against the same server in the same runs: above 1 is more " +
        "for throughput, and worse for µs, ms, KiB and MiB. — : the client does not run that workload, or not here."
    )

    const judged = targets.filter((t) => selected.includes(t.workload) && runs(t.client, t.workload))
    const verdicts: Array<BenchResult["targets"][number]> = []
    if (judged.length > 0) {
      const table: Array<Array<string>> = [["target", ...peers.map((peer) => serverTitles[peer.server])]]
      for (const target of judged) {
        const cells = peers.map((peer) =>
          // A smoke run's counts are too small for its figures to be held to a target.
          options.quick ?
            "not judged" :
            judge(
              target,
              (client) =>
                runs(client, target.workload) ? medianOf(peer.server, target.workload, client, target.metric) : NaN
            )
        )
        peers.forEach((peer, i) =>
          verdicts.push({ target: describeTarget(target), server: peer.server, verdict: cells[i]! })
        )
        table.push([describeTarget(target), ...cells])
      }
      yield* Console.log("")
      yield* Console.log(
        `targets (set against Netty on medians of at least 3 runs${
          options.quick
            ? "; --quick: not judged"
            : options.runs < 3
            ? `; ${options.runs} run${options.runs === 1 ? "" : "s"} here: indicative only`
            : ""
        }${
          peers.some((peer) => peer.server === "netty")
            ? ""
            : "; Netty not measured"
        }):`
      )
      for (const line of renderTable(table, 1)) {
        yield* Console.log(line)
      }
    }
    if (options.verbose) {
      yield* Console.log("")
      for (const [key, runs] of results) {
        yield* Console.log(
          `${key}: ${runs.map((m) => Object.entries(m).map(([k, v]) => `${k}=${v.toFixed(1)}`).join(" ")).join(" | ")}`
        )
      }
    }
    const figure = (server: Server, target: Target, client: Client) =>
      peers.some((peer) => peer.server === server) && selected.includes(target.workload) &&
        runs(client, target.workload)
        ? medianOf(server, target.workload, client, target.metric)
        : NaN
    yield* Effect.sync(() => writeTargetResults(options, peers.map((peer) => peer.server), figure))
    yield* onResult({
      quick: options.quick,
      runs: options.runs,
      medians: Array.from(results.keys(), (key) => {
        const [server, workload, client] = key.split("/") as [Server, Workload, Client]
        const metrics = new Set(results.get(key)!.flatMap((m) => Object.keys(m)))
        return Array.from(metrics, (metric) => ({
          server,
          workload,
          client,
          metric,
          value: medianOf(server, workload, client, metric)
        }))
      }).flat(),
      targets: verdicts,
      failures
    })
    if (failures.length > 0) {
      for (const failure of failures) yield* Console.error(failure)
      return yield* benchError(`${failures.length} measurement${failures.length === 1 ? "" : "s"} failed`)
    }
  }).pipe(Effect.scoped)
