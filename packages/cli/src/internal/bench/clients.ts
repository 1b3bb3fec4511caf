/**
 * The clients under test: their names and titles, the workloads each one runs, whether it can run here, and
 * the command line that runs one measurement through it (the Node clients in `benchWorker.js`, the seed's
 * Python clients in `peers/`).
 *
 * @internal
 */
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import type { Client, Workload } from "../../Bench.js"
import type { WorkerInput } from "../benchWorker.js"
import { loader, peersDir, workerPath } from "./locations.js"
import type { Placement } from "./machine.js"
import { succeeds } from "./machine.js"
import { isTlsWorkload, workloads } from "./workloads.js"

/** @internal */
export const allClients: ReadonlyArray<Client> = [
  "baseline",
  "effect",
  "promise",
  "tcp-base",
  "seed-sync",
  "seed-asyncio",
  "effect-untimed"
]

/** @internal */
export const defaultClients: ReadonlyArray<Client> = allClients.filter((client) => client !== "effect-untimed")

/** The clients' column titles. @internal */
export const clientTitles: Record<Client, string> = {
  baseline: "plain net",
  effect: "Effect API",
  promise: "Promise API",
  "effect-untimed": "Effect, no timeout",
  "tcp-base": "tcp-base",
  "seed-sync": "seed sync (py)",
  "seed-asyncio": "seed asyncio (py)"
}

/** The workloads each client runs; the others show "—" in its column. @internal */
export const workloadsOf: Record<Client, ReadonlyArray<Workload>> = {
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

/** Why each client cannot run here; absent when it can. @internal */
export const unavailableClients = (clients: ReadonlyArray<Client>): Map<Client, string> => {
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

/** The command line of one measurement. @internal */
export const workerCommand = (
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
