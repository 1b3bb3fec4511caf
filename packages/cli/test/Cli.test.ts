import { assert, describe, it } from "@effect/vitest"
import * as TransportServer from "@rocketmq-effect/transport-node/TransportServer"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const bin = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "..", "bin", "rmq-transport.mjs")

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the real executable, as a user would, and waits for it without blocking this event loop. */
const cli = (args: ReadonlyArray<string>, timeoutMillis = 15_000): Effect.Effect<Run> =>
  Effect.async<Run>((resume) => {
    const child = ChildProcess.execFile(
      process.execPath,
      [bin, ...args],
      { timeout: timeoutMillis, env: { ...process.env, NO_COLOR: "1" } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
        resume(Effect.succeed({ code, stdout, stderr }))
      }
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const echoServer = Effect.gen(function*() {
  const server = yield* TransportServer.make()
  yield* server.serve(TransportServer.echo)
  return server
})

/** A port nothing listens on: bound, then released. */
const closedPort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen({ host: "127.0.0.1", port: 0 }, () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A peer that accepts, reads and never answers. */
const silentPeer = Effect.acquireRelease(
  Effect.async<{ readonly server: Net.Server; readonly sockets: Set<Net.Socket> }>((resume) => {
    const sockets = new Set<Net.Socket>()
    const server = Net.createServer((socket) => {
      sockets.add(socket)
      socket.on("error", () => {})
      socket.resume()
    })
    server.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed({ server, sockets })))
  }),
  ({ server, sockets }) =>
    Effect.async<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
)

const lines = (text: string) => text.trim().split("\n").filter((line) => line.length > 0)

describe("Cli", () => {
  it.live("--help lists every command, and each command has its own help", () =>
    Effect.gen(function*() {
      const top = yield* cli(["--help"])
      assert.strictEqual(top.code, 0)
      for (const command of ["echo-server", "send", "ping", "bench", "demo"]) {
        assert.include(top.stdout, command)
      }
      const send = yield* cli(["send", "--help"])
      assert.strictEqual(send.code, 0)
      assert.include(send.stdout, "--port")
      assert.include(send.stdout, "@file")
    }), 20_000)

  it.scopedLive("send prints the echoed reply", () =>
    Effect.gen(function*() {
      const server = yield* echoServer
      const run = yield* cli(["send", "--port", String(server.address.port), "hello, broker"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stdout, "hello, broker\n")
    }), 20_000)

  it.live("send to a closed port exits 3 with a one-line connection refused reason", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const run = yield* cli(["send", "--port", String(port), "hi"])
      assert.strictEqual(run.code, 3)
      assert.strictEqual(run.stdout, "")
      assert.deepStrictEqual(lines(run.stderr), [
        `rmq-transport: connection refused: nothing is listening on 127.0.0.1:${port}`
      ])
    }), 20_000)

  it.scopedLive("a reply that never comes exits 4 with a timeout reason", () =>
    Effect.gen(function*() {
      const peer = yield* silentPeer
      const port = (peer.server.address() as Net.AddressInfo).port
      const run = yield* cli(["send", "--port", String(port), "--timeout", "0.3", "hi"])
      assert.strictEqual(run.code, 4)
      assert.deepStrictEqual(lines(run.stderr), [
        `rmq-transport: timeout: receive to 127.0.0.1:${port} did not complete after 300ms`
      ])
    }), 20_000)

  it.scopedLive(
    "a payload over --max-message-size exits 5 with a frame too large reason",
    () =>
      Effect.gen(function*() {
        const server = yield* echoServer
        const run = yield* cli(["send", "--port", String(server.address.port), "--max-message-size", "4", "too long"])
        assert.strictEqual(run.code, 5)
        const [line, ...rest] = lines(run.stderr)
        assert.deepStrictEqual(rest, [])
        assert.match(line!, /^rmq-transport: frame too large: outbound payload of 8 bytes exceeds .* 4 bytes/)
      }),
    20_000
  )

  it.scopedLive("ping --count 20 prints latency statistics", () =>
    Effect.gen(function*() {
      const server = yield* echoServer
      const run = yield* cli(["ping", "--port", String(server.address.port), "--count", "20", "--size", "32"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.include(run.stdout, `PING 127.0.0.1:${server.address.port}: 20 round trips of 32 B`)
      assert.include(run.stdout, "20 round trips, every echo matched")
      assert.match(run.stdout, /latency: min [\d.]+ [µm]?s {2}p50 [\d.]+ [µm]?s {2}p90 .* {2}p99 .* {2}max .* {2}mean /)
    }), 20_000)

  it.live("demo --quick exits 0 and prints the reconnection and the summary", () =>
    Effect.gen(function*() {
      const run = yield* cli(["demo", "--quick"], 19_000)
      assert.strictEqual(run.code, 0, run.stderr)
      assert.match(run.stdout, /state: connected to 127\.0\.0\.1:\d+ \(generation 1\)/)
      assert.match(run.stdout, /state: disconnected after 1 failed attempt \(.*ECONNREFUSED.*\), retrying in \d+ms/)
      assert.match(run.stdout, /state: connected to 127\.0\.0\.1:\d+ \(generation 2\)/)
      assert.include(run.stdout, "summary")
      assert.match(run.stdout, /frames +[\d,]+ sent, [\d,]+ echoed and checked/)
      assert.match(run.stdout, /round trip p50 .*, p99 /)
      assert.match(run.stdout, /reconnects 1, after \d+ failed attempts?/)
    }), 20_000)
})
