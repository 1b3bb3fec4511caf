// Garbage collections of one measurement: runs the benchmark's worker (the built packages) for one workload
// and client against an echo server already listening on PORT, under `node --trace-gc`, and prints the
// worker's figure beside the collections it took, by kind and by the reason V8 gives. A client that keeps
// per-frame state alive across two scavenges shows Mark-Compacts here long before it shows heap growth.
//   tsx bench/gc-trace.ts PORT [WORKLOAD] [CLIENT] [RUNS]      (large | pipelined | ping-pong; effect | …)
// Pinned to core 1 with taskset where there is one, as the benchmark pins its clients (`pnpm build` first).
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const port = Number(process.argv[2])
const workload = process.argv[3] ?? "large"
const client = process.argv[4] ?? "effect"
const runs = Number(process.argv[5] ?? 1)
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write("usage: tsx bench/gc-trace.ts PORT [WORKLOAD] [CLIENT] [RUNS]\n")
  process.exit(2)
}

// The benchmark's own shapes for these workloads (src/Bench.ts), so that the figures compare.
const shapes: Record<string, { count: number; size: number; window: number; warmup: number }> = {
  large: { count: 2_000, size: 1024 * 1024, window: 8, warmup: 100 },
  pipelined: { count: 200_000, size: 1024, window: 256, warmup: 2_000 },
  "ping-pong": { count: 10_000, size: 128, window: 1, warmup: 5_000 }
}
const shape = shapes[workload]
if (shape === undefined) {
  process.stderr.write(`unknown workload ${workload}: one of ${Object.keys(shapes).join(", ")}\n`)
  process.exit(2)
}

const here = Path.dirname(fileURLToPath(import.meta.url))
const worker = Path.join(here, "..", "dist", "esm", "internal", "benchWorker.js")
const loader = new URL("./built-packages.mjs", import.meta.url).href
const pin = ChildProcess.spawnSync("taskset", ["-c", "1", "true"]).status === 0 ? ["taskset", "-c", "1"] : []

for (let run = 1; run <= runs; run++) {
  const input = JSON.stringify({ workload, client, host: "127.0.0.1", port, ...shape })
  const argv = [...pin, process.execPath, "--expose-gc", "--trace-gc", "--import", loader, worker, input]
  const result = ChildProcess.spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
  const lines = `${result.stdout}`.split("\n")
  const byKind = new Map<string, number>()
  const byReason = new Map<string, number>()
  let figure = ""
  for (const line of lines) {
    // "[pid:isolate]  1234 ms: Scavenge 18.8 (84.6) -> 18.2 (84.6) MB, 1.2 / 0.0 ms  (…) <reason>; "
    const gc = /ms: (Scavenge|Mark-Compact|Minor Mark-Compact)\b.*\)\s+([^;()]+?)\s*;/.exec(line)
    if (gc !== null) {
      byKind.set(gc[1]!, (byKind.get(gc[1]!) ?? 0) + 1)
      const key = `${gc[1]}: ${gc[2]}`
      byReason.set(key, (byReason.get(key) ?? 0) + 1)
    } else if (line.startsWith("{")) {
      figure = line
    }
  }
  const kinds = [...byKind].map(([kind, count]) => `${kind} ${count}`).join(", ")
  process.stdout.write(`run ${run}: ${figure === "" ? `worker exited ${result.status}` : figure}\n  ${kinds}\n`)
  for (const [reason, count] of [...byReason].sort((a, b) => b[1] - a[1])) {
    process.stdout.write(`    ${String(count).padStart(5)}  ${reason}\n`)
  }
}
