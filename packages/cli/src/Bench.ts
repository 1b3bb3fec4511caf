/**
 * `rmq-transport bench` (`pnpm bench`): the transport end to end against the anchors, in one run.
 *
 * Two echo servers run in child processes of their own, so that neither shares an event loop with the client
 * under test: a Netty 4.1 peer framed as RocketMQ's Java remoting (the reference the targets are set
 * against; it needs javac and Debian's Netty jars and is skipped with a note without them) and
 * `TransportServer.echo`. Where `taskset` exists and there are two cores, the servers run on one core and
 * the clients on another.
 *
 * Each measurement (one workload through one client against one server) runs in a fresh process; the
 * clients take turns within each run so that drifting machine load hits them alike, and the tables show
 * medians over `--runs` runs with every figure's ratio to the plain client's, measured in the same run. The
 * clients: a careful plain `node:net` client (the limit), the Effect and Promise APIs, `tcp-base` (the
 * socket base of ali-ons) and the seed's two algorithms in Python (sync sockets, asyncio streams). A client
 * that does not apply to a workload, or is not installed, shows "—".
 *
 * Workloads: `pipelined` (1 KiB frames, 256 outstanding), `ping-pong` (128 B, one outstanding: warm figures
 * after a warm-up, and a cold p99 over the first round trips of a fresh process), `large` (1 MiB frames, 8
 * outstanding), `connections` (1,000 transports connected at once: the time, memory per idle transport) and
 * `idle` (10,000 idle transports in one process: heap per transport and in all), and `tls-pipelined` /
 * `tls-large` (pipelined and large over TLS, against a second instance of each server that speaks TLS with a
 * certificate made for the run by `openssl`; the plain client is then `tls.connect`).
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { CliError } from "./Failure.js"
import * as benchClients from "./internal/bench/clients.js"
import * as echoServers from "./internal/bench/echoServers.js"
import { benchError } from "./internal/bench/failure.js"
import { checkBuilt } from "./internal/bench/locations.js"
import * as machine from "./internal/bench/machine.js"
import { measureAll } from "./internal/bench/measure.js"
import { select } from "./internal/bench/options.js"
import { figuresTables } from "./internal/bench/tables.js"
import { targetsTable, writeTargetResults } from "./internal/bench/targets.js"
import * as benchWorkloads from "./internal/bench/workloads.js"
import type { ClientName, WorkloadName } from "./internal/benchWorker.js"

/**
 * @since 0.1.0
 * @category models
 */
export type Workload = WorkloadName

/**
 * @since 0.1.0
 * @category constants
 */
export const workloads: ReadonlyArray<Workload> = benchWorkloads.workloads

/**
 * @since 0.1.0
 * @category models
 */
export type Client = ClientName

/**
 * Every client: the plain `node:net` client (`baseline`) first. `effect-untimed` (the Effect API with
 * `timeout: Duration.infinity` on each call) is a diagnostic, run only when asked for with `--client`.
 *
 * @since 0.1.0
 * @category constants
 */
export const allClients: ReadonlyArray<Client> = benchClients.allClients

/**
 * The clients run unless `--client` says otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultClients: ReadonlyArray<Client> = benchClients.defaultClients

/**
 * The echo servers: `netty` (the Netty peer, the targets' reference) and `transport-server`
 * (`TransportServer.echo`).
 *
 * @since 0.3.0
 * @category models
 */
export type Server = "netty" | "transport-server"

/**
 * @since 0.3.0
 * @category constants
 */
export const servers: ReadonlyArray<Server> = echoServers.servers

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
  /** The clients besides the plain one (always run); `defaultClients` when empty. */
  readonly clients: ReadonlyArray<Client>
  /** The echo servers to measure against. */
  readonly server: Server | "all"
  /** Write a CPU profile (`node --cpu-prof`) of each transport measurement into this directory. */
  readonly profileDir: Option.Option<string>
  /** Print every run's figures under the tables. */
  readonly verbose: boolean
}

/**
 * What a bench measured, for `--json`: the median of every figure taken, and each target's verdict as the
 * targets table prints it (`met (0.93×)`, `MISSED (…)`, `not judged` on a `--quick` run, `not measured`).
 *
 * @since 0.3.0
 * @category models
 */
export interface BenchResult {
  readonly quick: boolean
  readonly runs: number
  readonly medians: ReadonlyArray<{
    readonly server: Server
    readonly workload: Workload
    readonly client: Client
    readonly metric: string
    readonly value: number
  }>
  readonly targets: ReadonlyArray<{ readonly target: string; readonly server: Server; readonly verdict: string }>
  /** The measurements that failed, each in one line; the command fails after reporting them. */
  readonly failures: ReadonlyArray<string>
}

/**
 * The machine line under the title.
 *
 * @since 0.1.0
 * @category utils
 */
export const describeMachine: () => string = machine.describeMachine

/**
 * The command.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (
  options: BenchOptions,
  onResult: (result: BenchResult) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<void, CliError> =>
  Effect.gen(function*() {
    yield* checkBuilt
    const selection = yield* select(options)

    yield* Console.log(
      `rmq-transport e2e bench${options.quick ? " (quick)" : ""}: ${selection.workloads.join(", ")}; ` +
        `medians of ${options.runs} run${options.runs === 1 ? "" : "s"}`
    )
    yield* Console.log(`machine: ${describeMachine()}`)
    const where = machine.placement()
    for (const line of where.notes) yield* Console.log(line)
    const notes: Array<string> = []
    const note = (line: string) => notes.push(line)
    const unavailable = benchClients.unavailableClients(selection.clients)
    for (const [client, why] of unavailable) note(`${benchClients.clientTitles[client]} skipped: ${why}`)
    const clients = selection.clients.filter((client) => !unavailable.has(client))
    const runs = (client: Client, workload: Workload) =>
      clients.includes(client) && benchClients.workloadsOf[client].includes(workload)

    const certificate = selection.tls
      ? yield* echoServers.makeCertificate(note)
      : Option.none<echoServers.BenchCertificate>()
    const peers = yield* echoServers.startEchoServers(
      selection.servers,
      selection.maxMessageSize,
      where,
      certificate,
      note
    )
    for (const peer of peers) yield* Console.log(`echo server: ${peer.description}`)
    yield* Console.log("one process per measurement")
    for (const line of notes) yield* Console.log(`note: ${line}`)
    // Only the Netty peer was asked for, and it cannot run here: a note, not a failure.
    if (peers.length === 0) {
      yield* Console.log("nothing measured: no echo server to measure against")
      return yield* onResult({ quick: options.quick, runs: options.runs, medians: [], targets: [], failures: [] })
    }

    const { failures, measurements } = yield* measureAll({
      options,
      selection,
      peers,
      clients,
      runs,
      certificate,
      where
    })
    for (const line of figuresTables({ selection, peers, clients, runs, measurements })) yield* Console.log(line)
    const judged = { options, selection, peers, runs, measurements }
    const { lines, verdicts } = targetsTable(judged)
    for (const line of lines) yield* Console.log(line)
    if (options.verbose) {
      yield* Console.log("")
      for (const line of measurements.lines()) yield* Console.log(line)
    }
    yield* Effect.sync(() => writeTargetResults(judged))
    yield* onResult({
      quick: options.quick,
      runs: options.runs,
      medians: measurements.medians(),
      targets: verdicts,
      failures
    })
    if (failures.length > 0) {
      for (const failure of failures) yield* Console.error(failure)
      return yield* benchError(`${failures.length} measurement${failures.length === 1 ? "" : "s"} failed`)
    }
  }).pipe(Effect.scoped)
