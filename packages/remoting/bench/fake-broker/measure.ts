/**
 * The send bench's fake-broker mode: the client's own cost, without a broker's. `server.ts` runs in a child
 * process pinned to one core (`taskset`, where it exists and two cores are allowed), and each measurement is
 * a fresh `client.ts` process on the other core, on the built packages: `RemotingClient` with its defaults,
 * then the plain `node:net` anchor, taking turns first from run to run. Needs nothing but Node.
 */
import * as ChildProcess from "node:child_process"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import type { SerializeType } from "../../src/RemotingCommand.js"
import { median } from "../results.js"

/** What a `client.ts` process is asked for (its one argument, as JSON). */
export interface FakeBrokerRun {
  readonly client: FakeBrokerClient
  readonly port: number
  readonly count: number
  readonly warmup: number
  readonly window: number
  readonly bodySize: number
  readonly serializeType: SerializeType
}

/** What it answers (its last line of output, as JSON). */
export interface FakeBrokerResult {
  readonly callsPerSec: number
  readonly cpuUsPerCall: number
  readonly allocatedBytesPerCall: number
  readonly scavengesPer10k: number
  readonly markCompactsPer10k: number
  readonly errors: number
  readonly lastError?: string | undefined
}

export type FakeBrokerClient = "remoting" | "net"

export const fakeBrokerClients: ReadonlyArray<FakeBrokerClient> = ["remoting", "net"]

export const fakeBrokerClientNames: Record<FakeBrokerClient, string> = {
  remoting: "RemotingClient (defaults)",
  net: "node:net + Promises"
}

export interface FakeBrokerOptions {
  readonly count: number
  readonly warmup: number
  readonly window: number
  readonly bodySize: number
  readonly runs: number
  readonly serializeType: SerializeType
  readonly progress: (line: string) => void
}

/** Every run's figures, and the medians per client (undefined for a client whose every run failed). */
export interface FakeBrokerSummary {
  readonly runs: ReadonlyArray<{ readonly run: number; readonly client: FakeBrokerClient } & FakeBrokerResult>
  readonly medians: Partial<Record<FakeBrokerClient, FakeBrokerResult>>
  readonly failures: ReadonlyArray<string>
  readonly facts: ReadonlyArray<string>
}

const benchDir = fileURLToPath(new URL("..", import.meta.url))
const packageDir = Path.join(benchDir, "..")
/** The cli's resolve hook: the workspace packages' src/ become their dist/esm/. */
export const builtPackagesHook = fileURLToPath(new URL("../../../cli/bench/built-packages.mjs", import.meta.url))

const succeeds = (command: string, args: ReadonlyArray<string>): boolean => {
  const result = ChildProcess.spawnSync(command, args, { stdio: "ignore", timeout: 10_000 })
  return result.error === undefined && result.status === 0
}

/** `taskset` prefixes for the server and the clients, and what they say. */
const placement = (): { readonly server: Array<string>; readonly client: Array<string>; readonly note: string } => {
  if (!succeeds("taskset", ["--version"])) {
    return { server: [], client: [], note: "no pinning (taskset not found)" }
  }
  if (Os.availableParallelism() < 2) return { server: [], client: [], note: "no pinning (one core)" }
  return {
    server: ["taskset", "-c", "0"],
    client: ["taskset", "-c", "1"],
    note: "the fake broker pinned to core 0, each client to core 1 (taskset)"
  }
}

/** The fake broker, started; resolves with its port and a way to stop it. */
const startServer = (prefix: ReadonlyArray<string>) =>
  new Promise<{ readonly port: number; readonly stop: () => void }>((resolve, reject) => {
    const argv = [...prefix, process.execPath, "--import", "tsx", Path.join(benchDir, "fake-broker", "server.ts")]
    const child = ChildProcess.spawn(argv[0]!, argv.slice(1), { cwd: packageDir, stdio: ["pipe", "pipe", "pipe"] })
    const stop = () => {
      child.stdin.end()
      child.kill()
    }
    process.once("exit", stop)
    let output = ""
    child.stdout.on("data", (data: Buffer) => {
      output += data.toString()
      const match = /^PORT (\d+)$/m.exec(output)
      if (match !== null) resolve({ port: Number(match[1]), stop })
    })
    child.stderr.on("data", (data: Buffer) => (output += data.toString()))
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`the fake broker exited (${code}) before listening: ${output}`)))
  })

/** One measurement in a fresh process. */
const measureOnce = (prefix: ReadonlyArray<string>, run: FakeBrokerRun) =>
  new Promise<FakeBrokerResult>((resolve, reject) => {
    const argv = [
      ...prefix,
      process.execPath,
      "--import",
      "tsx",
      "--import",
      builtPackagesHook,
      Path.join(benchDir, "fake-broker", "client.ts"),
      JSON.stringify(run)
    ]
    const child = ChildProcess.spawn(argv[0]!, argv.slice(1), { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (data: Buffer) => (stdout += data.toString()))
    child.stderr.on("data", (data: Buffer) => {
      if (stderr.length < 16 * 1024) stderr += data.toString()
    })
    // Far above any plausible run: 2 ms a call.
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000 + (run.count + run.warmup) * 2)
    child.once("error", reject)
    child.once("close", (code, signal) => {
      clearTimeout(timer)
      try {
        resolve(JSON.parse(stdout.trim().split("\n").pop() ?? "") as FakeBrokerResult)
      } catch {
        reject(
          new Error(`${run.client} exited with ${code ?? signal}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`)
        )
      }
    })
  })

export const runFakeBroker = async (options: FakeBrokerOptions): Promise<FakeBrokerSummary> => {
  const where = placement()
  const facts = [
    `fake broker: node:net in a child process, answering SUCCESS at once in the request's serialize type; ` +
    `${where.note}; one fresh client process per measurement, on the built packages`,
    `SEND_MESSAGE_V2, ${options.bodySize}-byte bodies, ${options.serializeType} headers: ${options.count} calls ` +
    `after ${options.warmup} warm-up, ${options.window} in flight; ${options.runs} run(s) per client, medians`
  ]
  for (const fact of facts) options.progress(fact)
  const server = await startServer(where.server)
  const runs: Array<{ readonly run: number; readonly client: FakeBrokerClient } & FakeBrokerResult> = []
  const failures: Array<string> = []
  try {
    for (let run = 1; run <= options.runs; run++) {
      const order = run % 2 === 1 ? fakeBrokerClients : [...fakeBrokerClients].reverse()
      for (const client of order) {
        try {
          const result = await measureOnce(where.client, {
            client,
            port: server.port,
            count: options.count,
            warmup: options.warmup,
            window: options.window,
            bodySize: options.bodySize,
            serializeType: options.serializeType
          })
          runs.push({ run, client, ...result })
          options.progress(
            `run ${run} ${fakeBrokerClientNames[client]}: ${result.callsPerSec.toFixed(0)} calls/s, ` +
              `${result.cpuUsPerCall.toFixed(1)} µs CPU/call, ${result.allocatedBytesPerCall.toFixed(0)} B/call` +
              (result.errors > 0 ? `, ${result.errors} errors (last: ${result.lastError})` : "")
          )
        } catch (error) {
          failures.push(`run ${run} ${fakeBrokerClientNames[client]}: ${(error as Error).message}`)
          options.progress(failures.at(-1)!)
        }
      }
    }
  } finally {
    server.stop()
  }
  const medians: Partial<Record<FakeBrokerClient, FakeBrokerResult>> = {}
  for (const client of fakeBrokerClients) {
    const mine = runs.filter((r) => r.client === client)
    if (mine.length === 0) continue
    medians[client] = {
      callsPerSec: median(mine.map((r) => r.callsPerSec)),
      cpuUsPerCall: median(mine.map((r) => r.cpuUsPerCall)),
      allocatedBytesPerCall: median(mine.map((r) => r.allocatedBytesPerCall)),
      scavengesPer10k: median(mine.map((r) => r.scavengesPer10k)),
      markCompactsPer10k: median(mine.map((r) => r.markCompactsPer10k)),
      errors: mine.reduce((sum, r) => sum + r.errors, 0)
    }
  }
  return { runs, medians, failures, facts }
}

const formatNumber = (value: number | undefined, digits = 0): string =>
  value === undefined || !Number.isFinite(value)
    ? "-"
    : value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })

/** The table: medians per client, the ratio of RemotingClient's to the anchor's, then every run. */
export const fakeBrokerTable = (summary: FakeBrokerSummary): Array<string> => {
  const header = ["client", "calls/s", "CPU µs/call", "heap B/call", "scavenges/10k", "mark-compacts/10k", "errors"]
  const cells = (result: FakeBrokerResult | undefined) => [
    formatNumber(result?.callsPerSec),
    formatNumber(result?.cpuUsPerCall, 1),
    formatNumber(result?.allocatedBytesPerCall),
    formatNumber(result?.scavengesPer10k, 1),
    formatNumber(result?.markCompactsPer10k, 1),
    result === undefined ? "-" : String(result.errors)
  ]
  const rows: Array<Array<string>> = [header]
  for (const client of fakeBrokerClients) {
    rows.push([fakeBrokerClientNames[client], ...cells(summary.medians[client])])
  }
  const [ours, anchor] = [summary.medians.remoting, summary.medians.net]
  const ratio = (pick: (result: FakeBrokerResult) => number) =>
    ours === undefined || anchor === undefined || pick(anchor) <= 0 ? "-" : `${(pick(ours) / pick(anchor)).toFixed(2)}×`
  rows.push([
    "RemotingClient / node:net",
    ratio((r) => r.callsPerSec),
    ratio((r) => r.cpuUsPerCall),
    ratio((r) => r.allocatedBytesPerCall),
    ratio((r) => r.scavengesPer10k),
    ratio((r) => r.markCompactsPer10k),
    ""
  ])
  const everyRun = summary.runs.map((r) => [`run ${r.run} ${fakeBrokerClientNames[r.client]}`, ...cells(r)])
  const widths = header.map((_, column) => Math.max(...[...rows, ...everyRun].map((row) => row[column]!.length)))
  const render = (row: ReadonlyArray<string>) =>
    row.map((cell, column) => column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))
      .join("  ").trimEnd()
  const lines = rows.map(render)
  lines.splice(1, 0, widths.map((width) => "-".repeat(width)).join("  "))
  lines.push("", "every run:", ...everyRun.map(render))
  for (const failure of summary.failures) lines.push(`  failed: ${failure}`)
  lines.push(
    "",
    "CPU: the client process's user+system time over the measured calls; heap: bytes allocated (v8.GCProfiler: " +
      "heap in use at the end less at the start, plus what each collection freed); collections per 10,000 calls."
  )
  return lines
}
