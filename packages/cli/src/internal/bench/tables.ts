/**
 * The figures' tables, one per echo server: a row per figure, a column per client, each figure with its ratio
 * to the plain client's in the same runs.
 *
 * @internal
 */
import type { Client, Workload } from "../../Bench.js"
import { formatCount } from "../../Stats.js"
import { clientTitles } from "./clients.js"
import type { EchoPeer } from "./echoServers.js"
import { serverTitles } from "./echoServers.js"
import type { Measurements } from "./measure.js"
import type { Selection } from "./options.js"
import type { Plan } from "./workloads.js"

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

const formatValue = (value: number, digits: number): string =>
  Number.isFinite(value)
    ? value >= 1000 || digits === 0
      ? formatCount(value)
      : value.toFixed(digits)
    : "-"

/** `0.93×`. @internal */
export const formatRatio = (ratio: number): string => Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "-×"

/** Left-aligned label columns, right-aligned figures, a rule under the header. @internal */
export const renderTable = (table: ReadonlyArray<ReadonlyArray<string>>, labelColumns: number): Array<string> => {
  const widths = table[0]!.map((_, column) => Math.max(...table.map((line) => line[column]!.length)))
  const lines = table.map((line) =>
    line.map((cell, column) => column < labelColumns ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))
      .join("  ").trimEnd()
  )
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "))
  return lines
}

/**
 * The lines of every server's table and of the legend under them.
 *
 * @internal
 */
export const figuresTables = (input: {
  readonly selection: Selection
  readonly peers: ReadonlyArray<EchoPeer>
  readonly clients: ReadonlyArray<Client>
  readonly runs: (client: Client, workload: Workload) => boolean
  readonly measurements: Measurements
}): Array<string> => {
  const { clients, measurements, peers, runs, selection } = input
  const lines: Array<string> = []
  for (const peer of peers) {
    const header = ["workload", "metric", ...clients.map((c) => clientTitles[c])]
    const table: Array<Array<string>> = [header]
    for (const row of rows.filter((r) => selection.workloads.includes(r.workload))) {
      const baseline = measurements.median(peer.server, row.workload, "baseline", row.metric)
      const cells = clients.map((client) => {
        if (!runs(client, row.workload)) return "—"
        const value = measurements.median(peer.server, row.workload, client, row.metric)
        if (!Number.isFinite(value)) return "—"
        if (client === "baseline") return formatValue(value, row.digits)
        // A baseline at or below zero (memory noise on a small run) makes no ratio.
        return `${formatValue(value, row.digits)} (${formatRatio(baseline > 0 ? value / baseline : NaN)})`
      })
      table.push([row.workload, row.label(selection.planOf(row.workload)), ...cells])
    }
    lines.push("")
    lines.push(`against ${serverTitles[peer.server]}${peer.server === "netty" ? " (the targets' reference)" : ""}:`)
    lines.push(...renderTable(table, 2))
  }
  lines.push("")
  lines.push(
    "(×) is the figure divided by the plain client's against the same server in the same runs: above 1 is more " +
      "for throughput, and worse for µs, ms, KiB and MiB. — : the client does not run that workload, or not here."
  )
  return lines
}
