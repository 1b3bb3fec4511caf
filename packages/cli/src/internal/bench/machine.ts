/**
 * The machine the bench runs on: the line that describes it, the tools it has, and where on it each process
 * runs (the core a role is pinned to, and the raised open-file limit).
 *
 * @internal
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"

/** The CPU, cores, node, system and load. @internal */
export const describeMachine = (): string => {
  const cpus = Os.cpus()
  const load = Os.loadavg().map((n) => n.toFixed(2)).join(" ")
  return `${cpus[0]?.model.trim() ?? "unknown CPU"}, ${cpus.length} cores, node ${process.version}, ` +
    `${Os.platform()} ${Os.release()}, load average ${load}`
}

/** Whether a command runs here and exits with 0. @internal */
export const succeeds = (command: string, args: ReadonlyArray<string>): boolean => {
  const result = ChildProcess.spawnSync(command, args, { stdio: "ignore", timeout: 30_000 })
  return result.error === undefined && result.status === 0
}

/** Enough open files for the `idle` workload's 10,000 connections, in the worker and in the server. */
const FD_LIMIT = 20_000

/**
 * Command-line prefixes: the core a role is pinned to, and the raised open-file limit.
 *
 * @internal
 */
export interface Placement {
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

/** The echo servers on one core and the clients on another where `taskset` can, with notes saying so. @internal */
export const placement = (): Placement => {
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
