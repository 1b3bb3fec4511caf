/**
 * `rmq-transport bench` (`pnpm bench`): the transport end to end against a plain `node:net` client.
 *
 * One framed echo server (`TransportServer.echo`) runs in a child process, so that it does not share an
 * event loop with the client under test. Each measurement (one workload through one client) runs in a fresh
 * process of its own (see `internal/benchWorker.ts`), and the clients take turns within each run so that
 * drifting machine load hits them alike. The table shows medians over `--runs` runs.
 *
 * Workloads: `pipelined` (1 KiB frames, 256 outstanding), `ping-pong` (128 B, one outstanding), `large`
 * (1 MiB frames, 8 outstanding) and `connections` (many idle connections: time to connect them all, memory
 * per connection).
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
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
export const workloads: ReadonlyArray<Workload> = ["pipelined", "ping-pong", "large", "connections"]

/**
 * @since 0.1.0
 * @category models
 */
export type Client = ClientName

/**
 * Every client: the baseline first. `effect-untimed` (the Effect API with `timeout: Duration.infinity` on
 * each call) is a diagnostic, run only when asked for with `--client`.
 *
 * @since 0.1.0
 * @category constants
 */
export const allClients: ReadonlyArray<Client> = ["baseline", "effect", "promise", "effect-untimed"]

/**
 * The clients run unless `--client` says otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultClients: ReadonlyArray<Client> = ["baseline", "effect", "promise"]

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
  /** The clients besides the baseline (always run); `defaultClients` when empty. */
  readonly clients: ReadonlyArray<Client>
  /** Write a CPU profile (`node --cpu-prof`) of each transport measurement into this directory. */
  readonly profileDir: Option.Option<string>
  /** Print every run's figures under the table. */
  readonly verbose: boolean
}

interface Plan {
  readonly count: number
  readonly size: number
  readonly window: number
  readonly warmup: number
}

const MIB = 1024 * 1024

const plans: Record<Workload, { readonly full: Plan; readonly quick: Plan }> = {
  pipelined: {
    full: { count: 200_000, size: 1024, window: 256, warmup: 20_000 },
    quick: { count: 5_000, size: 1024, window: 256, warmup: 1_000 }
  },
  "ping-pong": {
    full: { count: 20_000, size: 128, window: 1, warmup: 2_000 },
    quick: { count: 500, size: 128, window: 1, warmup: 100 }
  },
  large: {
    full: { count: 2_000, size: MIB, window: 8, warmup: 100 },
    quick: { count: 40, size: MIB, window: 8, warmup: 8 }
  },
  connections: {
    full: { count: 1_000, size: 0, window: 0, warmup: 0 },
    quick: { count: 50, size: 0, window: 0, warmup: 0 }
  }
}

/** The figures of the table: which workload they come from, how to show them, which way is better. */
interface Row {
  readonly workload: Workload
  readonly metric: string
  readonly label: (plan: Plan) => string
  readonly higherIsBetter: boolean
  readonly digits: number
  /** The target, as a ratio to the baseline. */
  readonly target?: { readonly ratio: number; readonly text: string } | undefined
}

const rows: ReadonlyArray<Row> = [
  {
    workload: "pipelined",
    metric: "framesPerSec",
    label: (plan) => `frames/s (${formatCount(plan.count)} × 1 KiB, ${plan.window} out)`,
    higherIsBetter: true,
    digits: 0,
    target: { ratio: 0.8, text: "≥ 0.8×" }
  },
  {
    workload: "ping-pong",
    metric: "p50Us",
    label: (plan) => `p50 µs (${formatCount(plan.count)} × 128 B)`,
    higherIsBetter: false,
    digits: 0,
    target: { ratio: 2, text: "≤ 2×" }
  },
  { workload: "ping-pong", metric: "p99Us", label: () => "p99 µs", higherIsBetter: false, digits: 0 },
  {
    workload: "ping-pong",
    metric: "roundTripsPerSec",
    label: () => "round trips/s",
    higherIsBetter: true,
    digits: 0
  },
  {
    workload: "large",
    metric: "mbPerSec",
    label: (plan) => `MB/s (${formatCount(plan.count)} × 1 MiB, ${plan.window} out)`,
    higherIsBetter: true,
    digits: 0,
    target: { ratio: 0.9, text: "≥ 0.9×" }
  },
  {
    workload: "connections",
    metric: "connectMs",
    label: (plan) => `ms to connect ${formatCount(plan.count)}`,
    higherIsBetter: false,
    digits: 0
  },
  {
    workload: "connections",
    metric: "rssKiB",
    label: () => "RSS KiB per idle conn",
    higherIsBetter: false,
    digits: 1,
    target: { ratio: 2, text: "≤ 2×" }
  },
  {
    workload: "connections",
    metric: "heapKiB",
    label: () => "heap KiB per idle conn",
    higherIsBetter: false,
    digits: 1
  }
]

const clientTitles: Record<ClientName, string> = {
  baseline: "baseline (net)",
  effect: "Effect API",
  promise: "Promise API",
  "effect-untimed": "Effect, no timeout"
}

// Run from the sources (inside the repository), the child processes load TypeScript through tsx; installed,
// the built ES modules run as they are, under plain node.
const here = Path.dirname(fileURLToPath(import.meta.url))
const fromSources = import.meta.url.endsWith(".ts")
const workerPath = fromSources
  ? Path.join(here, "internal", "benchWorker.ts")
  : Path.join(here, "..", "esm", "internal", "benchWorker.js")
const binPath = fromSources ? Path.join(here, "..", "bin", "rmq-transport.mjs") : Path.join(here, "..", "esm", "bin.js")
const loader = (): Array<string> => fromSources ? ["--import", import.meta.resolve("tsx/esm")] : []

const benchError = (reason: string) => new CliError({ reason: `bench: ${reason}`, exitCode: ExitCode.Failure })

/** The echo server in a child process, for the scope; resolves with its port once it listens. */
const startServer = (maxMessageSize: number): Effect.Effect<number, CliError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() =>
      ChildProcess.spawn(
        process.execPath,
        [binPath, "echo-server", "--port", "0", "--max-message-size", String(maxMessageSize)],
        { stdio: ["ignore", "pipe", "inherit"] }
      )
    ),
    (child) => Effect.sync(() => child.kill())
  ).pipe(
    Effect.flatMap((child) =>
      Effect.async<number, CliError>((resume) => {
        let output = ""
        const onData = (data: Buffer) => {
          output += data.toString()
          const match = /listening on (?:\[[^\]]+\]|[^:\s]+):(\d+)/.exec(output)
          if (match !== null) {
            child.stdout!.off("data", onData)
            resume(Effect.succeed(Number(match[1])))
          }
        }
        const onExit = (code: number | null) =>
          resume(Effect.fail(benchError(`the echo server exited (code ${code}) before listening: ${output.trim()}`)))
        child.stdout!.on("data", onData)
        child.once("exit", onExit)
        return Effect.sync(() => {
          child.stdout!.off("data", onData)
          child.off("exit", onExit)
        })
      })
    ),
    Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => benchError("the echo server did not start") })
  )

/** One measurement in a fresh process. */
const runWorker = (
  input: WorkerInput,
  options: { readonly profileDir: Option.Option<string>; readonly timeoutMillis: number; readonly tag: string }
): Effect.Effect<Record<string, number>, CliError> =>
  Effect.async<Record<string, number>, CliError>((resume) => {
    const profile = Option.match(options.profileDir, {
      onNone: (): Array<string> => [],
      onSome: (dir) =>
        // One directory per measurement: Node writes one profile per thread (tsx's loader has its own).
        input.client === "baseline" ? [] : ["--cpu-prof", "--cpu-prof-dir", Path.join(dir, options.tag)]
    })
    const child = ChildProcess.spawn(
      process.execPath,
      ["--expose-gc", ...profile, ...loader(), workerPath, JSON.stringify(input)],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (data: Buffer) => (stdout += data.toString()))
    child.stderr.on("data", (data: Buffer) => (stderr += data.toString()))
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
        const why = signal === "SIGKILL"
          ? `timed out after ${options.timeoutMillis / 1000} s`
          : `exited with ${code ?? signal}`
        resume(
          Effect.fail(
            benchError(
              `${options.tag} ${why}${
                stderr.trim() === "" ? "" : `: ${stderr.trim().split("\n").slice(-3).join(" | ")}`
              }`
            )
          )
        )
      } else if (output.ok) {
        resume(Effect.succeed(output.metrics))
      } else {
        resume(Effect.fail(benchError(`${options.tag}: ${output.error}`)))
      }
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      child.kill("SIGKILL")
    })
  })

const formatValue = (value: number, digits: number): string =>
  Number.isFinite(value)
    ? value >= 1000 || digits === 0
      ? formatCount(value)
      : value.toFixed(digits)
    : "-"

/**
 * The machine line under the table's title.
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
export const run = (options: BenchOptions): Effect.Effect<void, CliError> =>
  Effect.gen(function*() {
    if (!Number.isInteger(options.runs) || options.runs < 1) {
      return yield* new CliError({ reason: "--runs must be a positive integer", exitCode: ExitCode.Usage })
    }
    const selected = options.only.length === 0 ? workloads : workloads.filter((w) => options.only.includes(w))
    const clients = options.clients.length === 0
      ? defaultClients
      : allClients.filter((c) => c === "baseline" || options.clients.includes(c))
    const planOf = (workload: Workload) => (options.quick ? plans[workload].quick : plans[workload].full)
    const maxSize = Math.max(...selected.map((w) => planOf(w).size), 2 * MIB)

    yield* Console.log(
      `rmq-transport e2e bench${options.quick ? " (quick)" : ""}: ${selected.join(", ")}; ` +
        `medians of ${options.runs} run${options.runs === 1 ? "" : "s"}`
    )
    yield* Console.log(`machine: ${describeMachine()}`)
    const port = yield* startServer(maxSize)
    yield* Console.log(
      `echo server: TransportServer.echo in child process, 127.0.0.1:${port}; one process per measurement`
    )

    const results = new Map<string, Array<Record<string, number>>>()
    const failures: Array<string> = []
    const steps = options.runs * selected.length * clients.length
    const progress = yield* Progress.scoped("bench", steps)
    for (let run = 0; run < options.runs; run++) {
      for (const workload of selected) {
        // Rotate who goes first, so that no client always runs right after the same other one.
        const order = clients.map((_, i) => clients[(i + run) % clients.length]!)
        for (const client of order) {
          const tag = `${workload}-${client}-run${run + 1}`
          progress.relabel(`run ${run + 1}/${options.runs} ${workload} ${clientTitles[client]}`)
          const plan = planOf(workload)
          const metrics = yield* runWorker(
            { workload, client, host: "127.0.0.1", port, ...plan },
            { profileDir: options.profileDir, timeoutMillis: options.quick ? 60_000 : 300_000, tag }
          ).pipe(
            Effect.catchAll((error) =>
              Effect.sync(() => {
                failures.push(error.reason)
                return undefined
              })
            )
          )
          if (metrics !== undefined) {
            const key = `${workload}/${client}`
            results.set(key, [...(results.get(key) ?? []), metrics])
          }
          progress.advance()
        }
      }
    }
    progress.finish()

    const medianOf = (workload: Workload, client: ClientName, metric: string) =>
      median((results.get(`${workload}/${client}`) ?? []).map((m) => m[metric]!).filter(Number.isFinite))

    const header = ["workload", "metric", ...clients.map((c) => clientTitles[c])]
    const table: Array<Array<string>> = [header]
    const verdicts: Array<string> = []
    for (const row of rows.filter((r) => selected.includes(r.workload))) {
      const baseline = medianOf(row.workload, "baseline", row.metric)
      const cells = clients.map((client) => {
        const value = medianOf(row.workload, client, row.metric)
        if (client === "baseline") return formatValue(value, row.digits)
        // A baseline at or below zero (memory noise on a small run) makes no ratio.
        const ratio = baseline > 0 ? value / baseline : NaN
        if (row.target !== undefined && Number.isFinite(ratio)) {
          const met = row.higherIsBetter ? ratio >= row.target.ratio : ratio <= row.target.ratio
          verdicts.push(
            `${clientTitles[client]} ${row.workload} ${row.metric} ${ratio.toFixed(2)}× (target ${row.target.text}): ` +
              (met ? "met" : "MISSED")
          )
        }
        return `${formatValue(value, row.digits)} (${Number.isFinite(ratio) ? ratio.toFixed(2) : "-"}×)`
      })
      table.push([row.workload, row.label(planOf(row.workload)), ...cells])
    }
    const widths = header.map((_, column) => Math.max(...table.map((line) => line[column]!.length)))
    yield* Console.log("")
    for (const [i, line] of table.entries()) {
      yield* Console.log(
        line.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join(
          "  "
        )
      )
      if (i === 0) yield* Console.log(widths.map((w) => "-".repeat(w)).join("  "))
    }
    yield* Console.log("")
    yield* Console.log(
      "(×) is the figure divided by the baseline's: above 1 is more for throughput, and worse for µs, ms, KiB."
    )
    for (const verdict of verdicts) yield* Console.log(`target: ${verdict}`)
    if (options.verbose) {
      yield* Console.log("")
      for (const [key, runs] of results) {
        yield* Console.log(
          `${key}: ${runs.map((m) => Object.entries(m).map(([k, v]) => `${k}=${v.toFixed(1)}`).join(" ")).join(" | ")}`
        )
      }
    }
    if (failures.length > 0) {
      for (const failure of failures) yield* Console.error(failure)
      return yield* benchError(`${failures.length} measurement${failures.length === 1 ? "" : "s"} failed`)
    }
  }).pipe(Effect.scoped)
