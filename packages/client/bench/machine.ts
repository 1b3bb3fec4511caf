/**
 * What the client bench reads of the machine (Linux `/proc`): a process's CPU time, the machine's busy share,
 * the JVMs that are not the bench's, this process's memory, and a forced GC without `--expose-gc` on the
 * command line.
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as V8 from "node:v8"
import * as Vm from "node:vm"

const clockTicks = (() => {
  const result = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" })
  const ticks = Number(result.stdout?.trim())
  return Number.isInteger(ticks) && ticks > 0 ? ticks : 100
})()

/** User + system CPU of a process (all its threads), in µs, from `/proc/<pid>/stat`; undefined when gone. */
export const processCpuMicros = (pid: number): number | undefined => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 1e6 / clockTicks
  } catch {
    return undefined
  }
}

/** This process's user + system CPU, µs (`process.cpuUsage`, all threads). */
export const ownCpuMicros = (): number => {
  const usage = process.cpuUsage()
  return usage.user + usage.system
}

/** The machine's busy and total CPU time (all cores), in ticks, from `/proc/stat`. */
export const machineTicks = (): { readonly busy: number; readonly total: number } | undefined => {
  try {
    const line = Fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!
    const values = line.trim().split(/\s+/).slice(1, 9).map(Number)
    const total = values.reduce((a, b) => a + b, 0)
    return { busy: total - values[3]! - values[4]!, total }
  } catch {
    return undefined
  }
}

/** Busy share of all cores between two `machineTicks`, %. */
export const busyShare = (
  before: ReturnType<typeof machineTicks>,
  after: ReturnType<typeof machineTicks>
): number | undefined =>
  before === undefined || after === undefined || after.total === before.total
    ? undefined
    : 100 * (after.busy - before.busy) / (after.total - before.total)

/** JVMs on the machine whose pid is not in `ours` (by `/proc/<pid>/comm`). */
export const foreignJvms = (ours: (pid: number) => boolean): ReadonlyArray<number> => {
  try {
    return Fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => {
      if (pid === process.pid || ours(pid)) return false
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

/** The processes using the most CPU now (`ps`), one line each, for the report of what else ran. */
export const busiestProcesses = (count = 8): ReadonlyArray<string> => {
  const result = spawnSync("ps", ["-eo", "pid,pcpu,rss,etime,comm,args", "--sort=-pcpu"], { encoding: "utf8" })
  if (result.status !== 0) return []
  return result.stdout.split("\n").filter((line) => line.trim().length > 0).slice(0, count + 1)
    .map((line) => line.length > 160 ? `${line.slice(0, 157)}...` : line)
}

export const loadAverage = (): string => Os.loadavg().map((n) => n.toFixed(2)).join(" / ")

export const javaVersion = (): string => {
  const result = spawnSync("java", ["-version"], { encoding: "utf8" })
  return (result.stderr ?? "").split("\n")[0]?.trim() ?? "unknown"
}

/**
 * A full, forced collection: `globalThis.gc` when node ran with `--expose-gc`, else the same function obtained by
 * setting the flag at run time (V8 exposes `gc` to contexts made after that). Undefined when neither works.
 */
export const forcedGc: (() => void) | undefined = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc
  if (typeof exposed === "function") return exposed
  try {
    V8.setFlagsFromString("--expose-gc")
    const gc = Vm.runInNewContext("gc") as unknown
    return typeof gc === "function" ? gc as () => void : undefined
  } catch {
    return undefined
  }
})()

/** This process's memory as V8 accounts it, bytes: the JS heap in use, and memory outside it (ArrayBuffers). */
export interface MemorySample {
  readonly heapUsed: number
  readonly external: number
}

export const memorySample = (): MemorySample => {
  const usage = process.memoryUsage()
  return { heapUsed: usage.heapUsed, external: usage.external }
}

/**
 * Samples `memorySample` every `everyMs` until stopped; `stop` returns the peaks (each column's own maximum, and
 * the maximum of their sum) and how many samples were taken.
 */
export const sampleMemory = (everyMs: number) => {
  let heapUsed = 0
  let external = 0
  let total = 0
  let samples = 0
  const take = () => {
    const sample = memorySample()
    heapUsed = Math.max(heapUsed, sample.heapUsed)
    external = Math.max(external, sample.external)
    total = Math.max(total, sample.heapUsed + sample.external)
    samples++
  }
  take()
  const timer = setInterval(take, everyMs)
  return {
    stop: () => {
      clearInterval(timer)
      take()
      return { heapUsed, external, total, samples }
    }
  }
}
