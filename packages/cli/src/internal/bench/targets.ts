/**
 * The targets: a figure of one client bounded by another client's (a ratio) or by a number, set against the
 * Netty peer on medians of at least three runs. Their table with each verdict, and their figures as JSON for
 * the repository's one targets table.
 *
 * @internal
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { BenchOptions, BenchResult, Client, Server, Workload } from "../../Bench.js"
import { clientTitles } from "./clients.js"
import type { EchoPeer } from "./echoServers.js"
import { servers, serverTitles } from "./echoServers.js"
import type { Measurements } from "./measure.js"
import type { Selection } from "./options.js"
import { formatRatio, renderTable } from "./tables.js"

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

/** What the targets are judged on. @internal */
export interface Judged {
  readonly options: BenchOptions
  readonly selection: Selection
  readonly peers: ReadonlyArray<EchoPeer>
  readonly runs: (client: Client, workload: Workload) => boolean
  readonly measurements: Measurements
}

/**
 * The table of the targets whose workload and client ran, a column per server, and its verdicts; nothing
 * when no target applies.
 *
 * @internal
 */
export const targetsTable = (
  { measurements, options, peers, runs, selection }: Judged
): { readonly lines: Array<string>; readonly verdicts: BenchResult["targets"] } => {
  const judged = targets.filter((t) => selection.workloads.includes(t.workload) && runs(t.client, t.workload))
  const verdicts: Array<BenchResult["targets"][number]> = []
  if (judged.length === 0) return { lines: [], verdicts }
  const table: Array<Array<string>> = [["target", ...peers.map((peer) => serverTitles[peer.server])]]
  for (const target of judged) {
    const cells = peers.map((peer) =>
      // A smoke run's counts are too small for its figures to be held to a target.
      options.quick ?
        "not judged" :
        judge(
          target,
          (client) =>
            runs(client, target.workload)
              ? measurements.median(peer.server, target.workload, client, target.metric)
              : NaN
        )
    )
    peers.forEach((peer, i) =>
      verdicts.push({ target: describeTarget(target), server: peer.server, verdict: cells[i]! })
    )
    table.push([describeTarget(target), ...cells])
  }
  const lines = [
    "",
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
    }):`,
    ...renderTable(table, 1)
  ]
  return { lines, verdicts }
}

/**
 * Every target's figures as JSON in `RMQ_BENCH_RESULTS_DIR` (set by `pnpm bench`; nothing is written without
 * it), for the one targets table `scripts/bench-targets.mjs` prints after every bench of the repository.
 *
 * @internal
 */
export const writeTargetResults = ({ measurements, options, peers, runs, selection }: Judged): void => {
  const dir = process.env.RMQ_BENCH_RESULTS_DIR
  if (dir === undefined || dir === "") return
  const measured = peers.map((peer) => peer.server)
  const figure = (server: Server, target: Target, client: Client) =>
    measured.includes(server) && selection.workloads.includes(target.workload) && runs(client, target.workload)
      ? measurements.median(server, target.workload, client, target.metric)
      : NaN
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
