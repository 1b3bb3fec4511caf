import { assert, describe, it } from "@effect/vitest"
import * as TransportServer from "@rocketmq-effect/transport-node/TransportServer"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const packageDir = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "..")
const bin = Path.join(packageDir, "bin", "rmq-transport.mjs")
const worker = Path.join(packageDir, "src", "internal", "benchWorker.ts")
const peers = Path.join(packageDir, "src", "internal", "peers")

const hasPython =
  ChildProcess.spawnSync("python3", ["-c", "import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)"])
    .status === 0

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const exec = (file: string, args: ReadonlyArray<string>, timeoutMillis: number): Effect.Effect<Run> =>
  Effect.async<Run>((resume) => {
    const child = ChildProcess.execFile(
      file,
      args,
      { timeout: timeoutMillis, env: { ...process.env, NO_COLOR: "1" }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
        resume(Effect.succeed({ code, stdout, stderr }))
      }
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** One measurement as `Bench.ts` runs it: the result line, parsed. */
const measure = (argv: ReadonlyArray<string>) =>
  Effect.map(exec(argv[0]!, argv.slice(1), 60_000), (run) => {
    const last = run.stdout.trim().split("\n").pop() ?? ""
    assert.isTrue(last.startsWith("{"), `no result line; stderr: ${run.stderr}`)
    return JSON.parse(last) as
      | { readonly ok: true; readonly metrics: Record<string, number | null> }
      | { readonly ok: false; readonly error: string }
  })

const echoServer = Effect.gen(function*() {
  const server = yield* TransportServer.make({ port: 0, maxMessageSize: 2 * 1024 * 1024 })
  yield* server.serve(TransportServer.echo)
  return server.address.port
})

const small = {
  pipelined: { workload: "pipelined", count: 600, size: 1024, window: 64, warmup: 100 },
  large: { workload: "large", count: 6, size: 1024 * 1024, window: 2, warmup: 2 },
  "ping-pong": { workload: "ping-pong", count: 60, size: 128, window: 1, warmup: 20 },
  connections: { workload: "connections", count: 10, size: 0, window: 0, warmup: 0 }
} as const

const expected: Record<keyof typeof small, ReadonlyArray<string>> = {
  pipelined: ["framesPerSec"],
  large: ["mbPerSec"],
  "ping-pong": ["p50Us", "p99Us", "coldP99Us", "roundTripsPerSec"],
  connections: ["connectMs"]
}

const assertMetrics = (
  result: Effect.Effect.Success<ReturnType<typeof measure>>,
  names: ReadonlyArray<string>,
  what: string
) => {
  assert.isTrue(result.ok, `${what}: ${result.ok ? "" : result.error}`)
  if (result.ok) {
    for (const name of names) {
      const value = result.metrics[name]
      assert.isTrue(typeof value === "number" && Number.isFinite(value) && value >= 0, `${what} ${name}: ${value}`)
    }
  }
}

describe("Bench", () => {
  it.scopedLive.skipIf(!hasPython)(
    "the seed's Python clients speak the worker's protocol",
    () =>
      Effect.gen(function*() {
        const port = yield* echoServer
        const clients = {
          "seed-sync": ["pipelined", "large", "ping-pong"],
          "seed-asyncio": Object.keys(small)
        } as const
        for (const [client, names] of Object.entries(clients)) {
          const script = Path.join(peers, `${client.replace("-", "_")}_client.py`)
          for (const workload of names as ReadonlyArray<keyof typeof small>) {
            const input = { ...small[workload], client, host: "127.0.0.1", port }
            const result = yield* measure(["python3", "-B", script, JSON.stringify(input)])
            assertMetrics(result, expected[workload], `${client} ${workload}`)
          }
        }
        // A workload a client does not run is a result line too, not a crash.
        const refused = yield* measure([
          "python3",
          "-B",
          Path.join(peers, "seed_sync_client.py"),
          JSON.stringify({ ...small.connections, client: "seed-sync", host: "127.0.0.1", port })
        ])
        assert.isFalse(refused.ok)
      }),
    120_000
  )

  it.scopedLive(
    "the tcp-base client frames with the 4-byte length and matches echoes by the payload's index",
    () =>
      Effect.gen(function*() {
        const port = yield* echoServer
        for (const workload of Object.keys(small) as ReadonlyArray<keyof typeof small>) {
          const input = { ...small[workload], client: "tcp-base", host: "127.0.0.1", port }
          const result = yield* measure([
            process.execPath,
            "--expose-gc",
            "--import",
            pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm")).href,
            worker,
            JSON.stringify(input)
          ])
          assertMetrics(result, expected[workload], `tcp-base ${workload}`)
        }
      }),
    120_000
  )

  it.live(
    "bench --quick prints a table per server, with — where a client does not run a workload",
    () =>
      Effect.gen(function*() {
        const run = yield* exec(process.execPath, [
          bin,
          "bench",
          "--quick",
          "--runs",
          "1",
          "--only",
          "ping-pong",
          "--only",
          "connections",
          "--client",
          "tcp-base",
          "--client",
          "seed-sync",
          "--server",
          "transport-server"
        ], 150_000)
        assert.strictEqual(run.code, 0, `${run.stdout}\n${run.stderr}`)
        assert.include(run.stdout, "against TransportServer")
        assert.notInclude(run.stdout, "against Netty")
        const header = run.stdout.split("\n").find((line) => line.startsWith("workload"))
        assert.isDefined(header)
        for (const title of ["plain net", "tcp-base", hasPython ? "seed sync (py)" : undefined]) {
          if (title !== undefined) assert.include(header, title)
        }
        const connect = run.stdout.split("\n").find((line) => line.includes("ms to connect"))
        assert.isDefined(connect)
        if (hasPython) assert.match(connect!, /—$/)
      }),
    160_000
  )

  it.live(
    "bench --quick judges no target, and --json prints the medians and verdicts as one document",
    () =>
      Effect.gen(function*() {
        const args = [bin, "bench", "--quick", "--runs", "1", "--only", "connections", "--client", "effect"]
        const human = yield* exec(process.execPath, [...args, "--server", "transport-server"], 150_000)
        assert.strictEqual(human.code, 0, `${human.stdout}\n${human.stderr}`)
        assert.include(human.stdout, "--quick: not judged")
        const rows = human.stdout.split("\n").filter((line) => line.startsWith("connections ") && line.includes(":"))
        assert.isAbove(rows.length, 0, human.stdout)
        for (const row of rows) assert.match(row, /not judged$/, row)
        assert.notMatch(human.stdout, /\b(met|MISSED)\b/)

        const json = yield* exec(process.execPath, [...args, "--server", "transport-server", "--json"], 150_000)
        assert.strictEqual(json.code, 0, `${json.stdout}\n${json.stderr}`)
        assert.strictEqual(json.stdout.trim().split("\n").length, 1, json.stdout)
        const result = JSON.parse(json.stdout) as {
          readonly quick: boolean
          readonly medians: ReadonlyArray<{ client: string; workload: string; metric: string; value: number }>
          readonly targets: ReadonlyArray<{ target: string; server: string; verdict: string }>
        }
        assert.isTrue(result.quick)
        const connect = result.medians.find((m) => m.client === "effect" && m.metric === "connectMs")
        assert.isTrue(connect !== undefined && connect.value > 0, JSON.stringify(result.medians))
        assert.isAbove(result.targets.length, 0)
        for (const target of result.targets) {
          assert.strictEqual(target.server, "transport-server")
          assert.strictEqual(target.verdict, "not judged", target.target)
        }
      }),
    320_000
  )

  it.live("bench --server netty measures against the Netty peer, or says why it cannot", () =>
    Effect.gen(function*() {
      const run = yield* exec(process.execPath, [
        bin,
        "bench",
        "--quick",
        "--runs",
        "1",
        "--only",
        "ping-pong",
        "--client",
        "tcp-base",
        "--server",
        "netty"
      ], 150_000)
      assert.strictEqual(run.code, 0, `${run.stdout}\n${run.stderr}`)
      if (run.stdout.includes("Netty server skipped")) {
        assert.include(run.stdout, "nothing measured")
      } else {
        assert.include(run.stdout, "against Netty")
        assert.notInclude(run.stdout, "against TransportServer")
      }
    }), 160_000)
})
