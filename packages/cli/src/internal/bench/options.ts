/**
 * A run's options resolved: the workloads, clients and servers it measures, at which counts.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { BenchOptions, Client, Server, Workload } from "../../Bench.js"
import { CliError, ExitCode } from "../../Failure.js"
import { allClients, defaultClients } from "./clients.js"
import { servers } from "./echoServers.js"
import type { Plan } from "./workloads.js"
import { isTlsWorkload, MIB, planOf, workloads } from "./workloads.js"

/** @internal */
export interface Selection {
  /** In the order of `workloads`. */
  readonly workloads: ReadonlyArray<Workload>
  /** The clients asked for, the plain one first; whether each can run here is told later. */
  readonly clients: ReadonlyArray<Client>
  readonly servers: ReadonlyArray<Server>
  readonly planOf: (workload: Workload) => Plan
  /** The echo servers' frame limit: the largest frame of a selected workload, 2 MiB at least. */
  readonly maxMessageSize: number
  /** Whether a TLS workload is selected. */
  readonly tls: boolean
}

/** The selection `options` ask for; a usage error when `--runs` is not a positive integer. @internal */
export const select = (options: BenchOptions): Effect.Effect<Selection, CliError> =>
  Effect.suspend(() => {
    if (!Number.isInteger(options.runs) || options.runs < 1) {
      return Effect.fail(new CliError({ reason: "--runs must be a positive integer", exitCode: ExitCode.Usage }))
    }
    const selected = options.only.length === 0 ? workloads : workloads.filter((w) => options.only.includes(w))
    const plan = (workload: Workload) => planOf(workload, options.quick)
    return Effect.succeed({
      workloads: selected,
      clients: options.clients.length === 0
        ? defaultClients
        : allClients.filter((c) => c === "baseline" || options.clients.includes(c)),
      servers: options.server === "all" ? servers : servers.filter((s) => s === options.server),
      planOf: plan,
      maxMessageSize: Math.max(...selected.map((w) => plan(w).size), 2 * MIB),
      tls: selected.some(isTlsWorkload)
    })
  })
