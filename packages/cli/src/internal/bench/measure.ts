/**
 * Running the measurements: each one (one workload through one client against one server) in a fresh
 * process, every server warmed first, and the clients taking turns within each run so that drifting machine
 * load hits them alike. What they measured is kept as `Measurements`; what failed, as one line each.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import type { BenchOptions, BenchResult, Client, Server, Workload } from "../../Bench.js"
import type { CliError } from "../../Failure.js"
import * as Progress from "../../Progress.js"
import { median } from "../../Stats.js"
import type { WorkerInput, WorkerOutput } from "../benchWorker.js"
import { clientTitles, workerCommand } from "./clients.js"
import type { BenchCertificate, EchoPeer } from "./echoServers.js"
import { serverTitles } from "./echoServers.js"
import { benchError } from "./failure.js"
import type { Placement } from "./machine.js"
import type { Selection } from "./options.js"
import type { WorkloadPlan } from "./workloads.js"
import { isTlsWorkload, serverWarmups } from "./workloads.js"

/**
 * Every run's figures of each server, workload and client. The keys keep the order of their first
 * measurement, which is the order of `--verbose`'s lines and of `--json`'s medians.
 *
 * @internal
 */
export class Measurements {
  private readonly runs = new Map<string, Array<Record<string, number>>>()

  add(server: Server, workload: Workload, client: Client, metrics: Record<string, number>): void {
    const key = `${server}/${workload}/${client}`
    this.runs.set(key, [...(this.runs.get(key) ?? []), metrics])
  }

  /** The median of a figure over the runs that took it; NaN when none did. */
  median(server: Server, workload: Workload, client: Client, metric: string): number {
    return median(
      (this.runs.get(`${server}/${workload}/${client}`) ?? []).map((m) => m[metric]!).filter(Number.isFinite)
    )
  }

  /** The median of every figure taken. */
  medians(): BenchResult["medians"] {
    return Array.from(this.runs.keys(), (key) => {
      const [server, workload, client] = key.split("/") as [Server, Workload, Client]
      const metrics = new Set(this.runs.get(key)!.flatMap((m) => Object.keys(m)))
      return Array.from(metrics, (metric) => ({
        server,
        workload,
        client,
        metric,
        value: this.median(server, workload, client, metric)
      }))
    }).flat()
  }

  /** Every run's figures, a line per server, workload and client (`--verbose`). */
  lines(): Array<string> {
    return Array.from(
      this.runs,
      ([key, runs]) =>
        `${key}: ${runs.map((m) => Object.entries(m).map(([k, v]) => `${k}=${v.toFixed(1)}`).join(" ")).join(" | ")}`
    )
  }
}

/**
 * Every measurement of the run: the servers' warm-ups, then `options.runs` rounds of every workload through
 * every client that runs it, with a progress line.
 *
 * @internal
 */
export const measureAll = (input: {
  readonly options: BenchOptions
  readonly selection: Selection
  readonly peers: ReadonlyArray<EchoPeer>
  /** The clients that run here, in their columns' order. */
  readonly clients: ReadonlyArray<Client>
  readonly runs: (client: Client, workload: Workload) => boolean
  readonly certificate: Option.Option<BenchCertificate>
  readonly where: Placement
}): Effect.Effect<
  { readonly measurements: Measurements; readonly failures: ReadonlyArray<string> },
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const { certificate, clients, options, peers, runs, selection, where } = input
    const measurements = new Measurements()
    const failures: Array<string> = []
    const warmups = (options.quick ? serverWarmups.quick : serverWarmups.full).filter((plan) =>
      !isTlsWorkload(plan.workload) || selection.workloads.some(isTlsWorkload)
    )
    // A server whose TLS instance did not start measures no TLS workload.
    const servedBy = (peer: EchoPeer, workload: Workload) => !isTlsWorkload(workload) || Option.isSome(peer.tlsPort)
    const perRun = (peer: EchoPeer) =>
      selection.workloads.reduce(
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
        for (const workload of selection.workloads) {
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
              { workload, ...selection.planOf(workload) },
              client,
              `${workload}-${client}-run${run + 1}`
            )
            if (metrics !== undefined) measurements.add(peer.server, workload, client, metrics)
          }
        }
      }
    }
    progress.finish()
    return { measurements, failures }
  })

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
