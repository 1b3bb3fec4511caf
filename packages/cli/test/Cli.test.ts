import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { afterAll, assert, describe, it } from "@effect/vitest"
import type { StoredMessage } from "@rocketmq-effect/client"
import * as TransportServer from "@rocketmq-effect/transport-node/TransportServer"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { type Certificates, makeCertificatesSync, opensslAvailable } from "../../transport-node/test/TlsCertificates.js"
import * as Consume from "../src/Consume.js"
import * as PackageVersion from "../src/internal/packageVersion.js"
import * as Produce from "../src/Produce.js"

const bin = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "..", "bin", "rmq-transport.mjs")

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const noColor = { ...process.env, NO_COLOR: "1" }

/** The environment without `NO_COLOR`: only the output being a pipe keeps escape sequences out. */
const colorAllowed = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== "NO_COLOR"))

const exec = (
  file: string,
  args: ReadonlyArray<string>,
  timeoutMillis: number,
  env: NodeJS.ProcessEnv
): Effect.Effect<Run> =>
  Effect.async<Run>((resume) => {
    const child = ChildProcess.execFile(file, args, { timeout: timeoutMillis, env }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** Runs the real executable, as a user would, and waits for it without blocking this event loop. */
const cli = (
  args: ReadonlyArray<string>,
  timeoutMillis = 15_000,
  env: NodeJS.ProcessEnv = noColor
): Effect.Effect<Run> => exec(process.execPath, [bin, ...args], timeoutMillis, env)

/** The executable with `input` on its standard input; standard output as bytes, as a pipe would get them. */
const cliWithInput = (
  args: ReadonlyArray<string>,
  input: Uint8Array | string
): Effect.Effect<{ readonly code: number | null; readonly stdout: Buffer; readonly stderr: string }> =>
  Effect.async((resume) => {
    const child = ChildProcess.spawn(process.execPath, [bin, ...args], { env: noColor })
    const stdout: Array<Buffer> = []
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => void stdout.push(chunk))
    child.stderr.on("data", (chunk) => void (stderr += String(chunk)))
    child.on("close", (code) => resume(Effect.succeed({ code, stdout: Buffer.concat(stdout), stderr })))
    child.stdin.end(input)
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
    child.on("close", () => clearTimeout(timer))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const packageVersion = (
  JSON.parse(Fs.readFileSync(Path.join(Path.dirname(bin), "..", "package.json"), "utf8")) as { version: string }
).version

const shellQuote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`

/** util-linux `script`, which runs a command on a pseudo-terminal. */
const hasScript = process.platform === "linux" && ChildProcess.spawnSync("script", ["--version"]).status === 0

/** The executable on a terminal (standard output and error both): what it wrote, together, in `stdout`. */
const cliOnTerminal = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Effect.Effect<Run> =>
  exec(
    "script",
    ["--quiet", "--return", "--command", [process.execPath, bin, ...args].map(shellQuote).join(" "), "/dev/null"],
    15_000,
    env
  )

const ESC = "\x1b["

const echoServer = Effect.gen(function*() {
  const server = yield* TransportServer.make()
  yield* server.serve(TransportServer.echo)
  return server
})

/** An echo server on 127.0.0.1 over TLS, for the scope. */
const tlsEchoServer = (tls: TransportServer.ServerTlsOptions) =>
  Effect.gen(function*() {
    const server = yield* TransportServer.make({ tls })
    yield* server.serve(TransportServer.echo)
    return server.address.port
  })

/**
 * `rmq-transport echo-server …` as a child process for the scope: its first line of output, and the port
 * it names. Killed when the scope closes.
 */
const cliEchoServer = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => ChildProcess.spawn(process.execPath, [bin, "echo-server", ...args], { env: noColor })),
    (child) => Effect.sync(() => child.kill("SIGKILL"))
  ).pipe(
    Effect.flatMap((child) =>
      Effect.async<{ readonly line: string; readonly port: number }, Error>((resume) => {
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (chunk) => {
          stdout += String(chunk)
          const match = /^echo server listening on 127\.0\.0\.1:(\d+) .*$/m.exec(stdout)
          if (match !== null) resume(Effect.succeed({ line: match[0], port: Number(match[1]) }))
        })
        child.stderr.on("data", (chunk) => void (stderr += String(chunk)))
        child.on("exit", (code) => resume(Effect.fail(new Error(`echo-server exited ${code}: ${stderr}`))))
      })
    ),
    Effect.timeoutFail({ duration: "15 seconds", onTimeout: () => new Error("echo-server did not start") })
  )

/** `rmq-transport echo-server --tls` that requires client certificates signed by the test CA. */
const mutualTlsEchoServer = (certs: Certificates) =>
  cliEchoServer(["--tls", "--cert", certs.server.certFile, "--key", certs.server.keyFile, "--ca", certs.caFile])

const hasOpenssl = opensslAvailable()
if (!hasOpenssl) {
  if (process.env.CI === "true") throw new Error("openssl is required for the TLS tests (apt-get install openssl)")
  console.warn("skipping the CLI's TLS tests: openssl not found")
}
const tlsSuite = hasOpenssl ? describe : describe.skip

// One set of certificates for the whole file, made on first use (about a second).
const certificatesDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "rmq-transport-tls-test-"))
afterAll(() => Fs.rmSync(certificatesDir, { recursive: true, force: true }))
let madeCertificates: Certificates | undefined
const certificates = Effect.sync(() => madeCertificates ??= makeCertificatesSync(certificatesDir))

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

/** A port something else listens on, for the scope. */
const takenPort = Effect.acquireRelease(
  Effect.async<Net.Server>((resume) => {
    const server = Net.createServer()
    server.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
).pipe(Effect.map((server) => (server.address() as Net.AddressInfo).port))

/** The paragraphs of an option's entry in `--help`, from its heading (`--timeout float`) to the next one. */
const helpEntry = (help: string, heading: string): string => {
  const paragraphs = help.split("\n\n").map((p) => p.trim())
  const start = paragraphs.findIndex((p) => p.startsWith(heading))
  assert.isAtLeast(start, 0, `no ${heading} in the help`)
  const rest = paragraphs.slice(start + 1)
  const end = rest.findIndex((p) => p.startsWith("-") || p.startsWith("("))
  return paragraphs.slice(start, start + 1 + (end === -1 ? rest.length : end)).join("\n")
}

const missingFile = Path.join(Os.tmpdir(), `rmq-transport-no-such-file-${process.pid}`)

/** Bad command lines and the one line each must end with, on exit code 2. */
const badInputs: ReadonlyArray<{ readonly args: ReadonlyArray<string>; readonly flag: string; readonly line: string }> =
  [
    {
      args: ["echo-server", "--port", "99999"],
      flag: "--port",
      line: "--port must be an integer from 0 to 65535, got '99999'"
    },
    {
      args: ["send", "--port", "9", "--timeout", "-1", "hi"],
      flag: "--timeout",
      line: "--timeout must be a positive number of seconds, got '-1'"
    },
    {
      args: ["send", "--port", "abc", "hi"],
      flag: "--port",
      line: "--port must be an integer from 1 to 65535, got 'abc'"
    },
    { args: ["send", "hi"], flag: "--port", line: "--port is required for send" },
    { args: ["send", "--port"], flag: "--port", line: "--port needs a value" },
    {
      args: ["send", "--port", "9", "--bogus", "hi"],
      flag: "--bogus",
      line: "unknown flag --bogus for send; see rmq-transport send --help"
    },
    {
      // Without the check, @effect/cli would take the flag for the message and send it.
      args: ["send", "--port", "9", "--bogus"],
      flag: "--bogus",
      line: "unknown flag --bogus for send; see rmq-transport send --help"
    },
    {
      args: ["send", "--port", "9", "--prot", "9", "hi"],
      flag: "--prot",
      line: "unknown flag --prot for send; did you mean --port?"
    },
    {
      args: ["send", "--port", "9", `@${missingFile}`],
      flag: missingFile,
      line: `cannot read ${missingFile}: no such file`
    },
    { args: ["send", "--port", "9"], flag: "<text | @file>", line: "send: missing argument <text | @file>" },
    { args: ["send", "--port", "9", "hi", "there"], flag: "there", line: "send: unexpected argument 'there'" },
    {
      args: ["send", "--port", "9", "--help"],
      flag: "--help",
      line: "--help must come right after send, as in rmq-transport send --help"
    },
    { args: ["ping", "--count", "0"], flag: "--count", line: "--count must be an integer of 1 or more, got '0'" },
    {
      args: ["bench", "--only", "nope"],
      flag: "--only",
      line: "--only must be one of pipelined, ping-pong, large, connections, idle, tls-pipelined, tls-large; got 'nope'"
    },
    {
      args: ["nope"],
      flag: "nope",
      line: "unknown command 'nope'; the commands are echo-server, send, ping, bench, demo, produce, consume"
    },
    { args: ["produce"], flag: "--topic", line: "--topic is required for produce" },
    { args: ["consume", "--topic", "T"], flag: "--group", line: "--group is required for consume" },
    {
      args: ["produce", "-t", "T", "--count", "0"],
      flag: "--count",
      line: "--count must be an integer of 1 or more, got '0'"
    },
    {
      args: ["produce", "-t", "T", "--size", "3", "--body", "abc"],
      flag: "--size",
      line: "--size makes the bodies: not with --body"
    },
    {
      args: ["produce", "-t", "T", "--body", `@${missingFile}`],
      flag: "--body",
      line: `cannot read --body ${missingFile}: no such file`
    },
    {
      args: ["produce", "-t", "T", "--namesrv", "nowhere"],
      flag: "nameServer",
      line: "invalid option: invalid configuration: nameServer must be \"host:port\" or \"host:port;host:port\" " +
        "with ports 1 to 65535, got \"nowhere\""
    },
    {
      args: ["consume", "-t", "T", "-g", "G", "--timeout", "3x"],
      flag: "--timeout",
      line: "--timeout must be a positive duration (30, 30s, 500ms, 2m), got '3x'"
    },
    {
      args: ["consume", "-t", "T", "-g", "G", "--from", "middle"],
      flag: "--from",
      line: "--from must be one of first, last; got 'middle'"
    },
    {
      args: ["consume", "-t", "T", "-g", "G", "--tags"],
      flag: "--tags",
      line: "--tags needs a value"
    },
    {
      args: ["send", "--port", "9", "--cert", "client.pem", "hi"],
      flag: "--cert",
      line: "--cert needs --key (the certificate's private key)"
    },
    {
      args: ["ping", "--port", "9", "--key", "client.key"],
      flag: "--key",
      line: "--key needs --cert (the certificate it is the key of)"
    },
    {
      args: ["send", "--port", "9", "--insecure", "--ca", "ca.pem", "hi"],
      flag: "--insecure",
      line: "--insecure checks no certificate, so --ca would be ignored: give one of them"
    },
    {
      args: ["send", "--port", "9", "--ca", missingFile, "hi"],
      flag: missingFile,
      line: `cannot read --ca ${missingFile}: no such file`
    },
    {
      args: ["send", "--port", "9", "--ca", Os.tmpdir(), "hi"],
      flag: "--ca",
      line: `cannot read --ca ${Os.tmpdir()}: it is a directory`
    },
    {
      // Text, but no certificate in it.
      args: ["send", "--port", "9", "--ca", bin, "hi"],
      flag: "--ca",
      line: `--ca ${bin} must hold at least one PEM certificate`
    },
    { args: ["send", "--port", "9", "--ca", "", "hi"], flag: "--ca", line: "--ca must not be empty" },
    {
      args: ["ping", "--ca", "ca.pem"],
      flag: "--ca",
      line: "--ca needs --port: the in-process echo server speaks plain TCP"
    },
    {
      args: ["echo-server", "--tls"],
      flag: "--tls",
      line: "--tls needs --cert and --key (the server's certificate and its private key)"
    },
    {
      args: ["echo-server", "--tls", "--cert", "server.pem"],
      flag: "--key",
      line: "--tls needs --key (the private key of --cert)"
    },
    {
      args: ["echo-server", "--cert", "server.pem", "--key", "server.key"],
      flag: "--cert",
      line: "--cert is for --tls: add --tls to serve TLS, or leave --cert out"
    },
    {
      args: ["echo-server", "--tls", "--cert", missingFile, "--key", "server.key"],
      flag: missingFile,
      line: `cannot read --cert ${missingFile}: no such file`
    }
  ]

describe("Cli", () => {
  it.live("--help lists every command, and each command has its own help", () =>
    Effect.gen(function*() {
      const top = yield* cli(["--help"])
      assert.strictEqual(top.code, 0)
      for (const command of ["echo-server", "send", "ping", "bench", "demo", "produce", "consume"]) {
        assert.include(top.stdout, command)
      }
      const send = yield* cli(["send", "--help"])
      assert.strictEqual(send.code, 0)
      assert.include(send.stdout, "--port")
      assert.include(send.stdout, "@file")
    }), 20_000)

  it.live("--version prints the package's version", () =>
    Effect.gen(function*() {
      const run = yield* cli(["--version"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stdout.trim(), packageVersion)
    }), 20_000)

  it("the version is found from the built modules too, past dist/cjs's own package.json", () => {
    const packageDir = Path.join(Path.dirname(bin), "..")
    for (const from of ["src/internal", "dist/esm/internal", "dist/cjs/internal"]) {
      assert.strictEqual(PackageVersion.read(Path.join(packageDir, from)), packageVersion, from)
    }
    assert.strictEqual(PackageVersion.read(Os.tmpdir()), "unknown")
  })

  it.live(
    "--help of every command is written for people: no type boilerplate, no --wizard, usage names rmq-transport",
    () =>
      Effect.gen(function*() {
        for (const args of [[], ["echo-server"], ["send"], ["ping"], ["bench"], ["demo"], ["produce"], ["consume"]]) {
          const run = yield* cli([...args, "--help"])
          assert.strictEqual(run.code, 0, run.stderr)
          const what = `${args.join(" ")} --help`
          assert.notInclude(run.stdout, "user-defined piece of text", what)
          assert.notInclude(run.stdout, "A true or false value", what)
          assert.notInclude(run.stdout, "--wizard", what)
          assert.notInclude(run.stdout, "This setting is optional", what)
          assert.include(run.stdout, `$ ${["rmq-transport", ...args].join(" ")}`, what)
          assert.notMatch(run.stdout, /^\$ (?!rmq-transport)/m, what)
        }
        const send = yield* cli(["send", "--help"])
        assert.include(helpEntry(send.stdout, "--port integer"), "Required")
        assert.include(helpEntry(send.stdout, "--hex"), "Default: off")
        assert.include(helpEntry(send.stdout, "--ca file"), "Optional")
        assert.include(helpEntry(send.stdout, "--log-level"), "Default: error")
        assert.include(helpEntry(send.stdout, "<text | @file>"), "@- for standard input")
      }),
    60_000
  )

  for (const { args, flag, line } of badInputs) {
    it.live(`\`${args.join(" ")}\` exits 2 with one line naming ${flag}`, () =>
      Effect.gen(function*() {
        const run = yield* cli(args)
        assert.strictEqual(run.code, 2, run.stderr)
        assert.strictEqual(run.stdout, "")
        assert.deepStrictEqual(lines(run.stderr), [`rmq-transport: ${line}`])
        assert.include(line, flag)
      }), 20_000)
  }

  it.scopedLive("echo-server on a port in use exits 8 with one line naming the address", () =>
    Effect.gen(function*() {
      const port = yield* takenPort
      const run = yield* cli(["echo-server", "--port", String(port)])
      assert.strictEqual(run.code, 8, run.stderr)
      assert.strictEqual(run.stdout, "")
      assert.deepStrictEqual(lines(run.stderr), [
        `rmq-transport: cannot listen on 127.0.0.1:${port}: the address is in use`
      ])
    }), 20_000)

  it.live("--help shows the default of every option that has one", () =>
    Effect.gen(function*() {
      const defaults: Record<string, ReadonlyArray<readonly [heading: string, shown: string]>> = {
        "echo-server": [["--host text", "127.0.0.1"], ["--port integer", "0"], [
          "--max-message-size integer",
          "1048576 (1.0 MiB)"
        ]],
        send: [["--host text", "127.0.0.1"], ["--connect-timeout float", "3"], ["--timeout float", "10"], [
          "--max-message-size integer",
          "1048576 (1.0 MiB)"
        ]],
        ping: [["(-c, --count integer)", "100"], ["(-s, --size integer)", "64"], ["--timeout float", "10"]],
        bench: [["--runs integer", "3"]],
        produce: [["--namesrv text", "127.0.0.1:9876"], ["(-g, --group text)", "DEFAULT_PRODUCER"], [
          "--timeout float",
          "3"
        ]],
        consume: [["--namesrv text", "127.0.0.1:9876"], ["--tags text", "*"], ["--from first | last", "last"]]
      }
      for (const [command, entries] of Object.entries(defaults)) {
        const run = yield* cli([command, "--help"])
        assert.strictEqual(run.code, 0, run.stderr)
        for (const [heading, shown] of entries) {
          assert.include(helpEntry(run.stdout, heading), `Default: ${shown}`, `${command} ${heading}`)
        }
        // A required option shows none.
        if (command === "send") assert.notInclude(helpEntry(run.stdout, "--port integer"), "Default")
      }
    }), 30_000)

  it.live("no escape sequences in a pipe, with or without NO_COLOR", () =>
    Effect.gen(function*() {
      for (const env of [colorAllowed, noColor]) {
        for (const args of [["send", "--help"], ["send", "--port", "abc", "hi"]]) {
          const run = yield* cli(args, 15_000, env)
          assert.notInclude(run.stdout + run.stderr, ESC, `${args.join(" ")} NO_COLOR=${env.NO_COLOR}`)
        }
      }
    }), 30_000)

  it.live.runIf(hasScript)("on a terminal, NO_COLOR keeps help and progress plain", () =>
    Effect.gen(function*() {
      for (const args of [["send", "--help"], ["ping", "--count", "300"]]) {
        const colored = yield* cliOnTerminal(args, colorAllowed)
        assert.strictEqual(colored.code, 0, colored.stdout)
        assert.include(colored.stdout, ESC, `${args.join(" ")} on a terminal`)
        const plain = yield* cliOnTerminal(args, noColor)
        assert.strictEqual(plain.code, 0, plain.stdout)
        assert.notInclude(plain.stdout, ESC, `${args.join(" ")} on a terminal with NO_COLOR`)
        // The progress line is still redrawn in place, with carriage returns.
        if (args[0] === "ping") assert.match(plain.stdout, /\r\[[#-]{24}\] ping \d+%/)
      }
    }), 30_000)

  it.live(
    "--log-level debug: the transport's logs go to standard error, standard output keeps the results",
    () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const run = yield* cli(["send", "--log-level", "debug", "--port", String(port), "hi"])
        assert.strictEqual(run.code, 3)
        assert.strictEqual(run.stdout, "")
        assert.match(run.stderr, /DEBUG .*connecting to 127\.0\.0\.1/)
        assert.include(run.stderr, `rmq-transport: connection refused: nothing is listening on 127.0.0.1:${port}`)
      }),
    20_000
  )

  it.scopedLive("send prints the echoed reply", () =>
    Effect.gen(function*() {
      const server = yield* echoServer
      const run = yield* cli(["send", "--port", String(server.address.port), "hello, broker"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stdout, "hello, broker\n")
    }), 20_000)

  it.scopedLive(
    "send @- sends standard input; --json prints one document; --raw writes the reply's bytes",
    () =>
      Effect.gen(function*() {
        const server = yield* echoServer
        const port = String(server.address.port)
        const text = yield* cliWithInput(["send", "--port", port, "@-"], "from standard input\n")
        assert.strictEqual(text.code, 0, text.stderr)
        assert.strictEqual(text.stdout.toString(), "from standard input\n")

        const bytes = Uint8Array.of(0, 1, 2, 0xff, 0x0a, 0x80, 0x41)
        const raw = yield* cliWithInput(["send", "--port", port, "--raw", "@-"], bytes)
        assert.strictEqual(raw.code, 0, raw.stderr)
        assert.deepStrictEqual(Array.from(raw.stdout), Array.from(bytes))

        const json = yield* cliWithInput(["send", "--port", port, "--json", "@-"], bytes)
        assert.strictEqual(json.code, 0, json.stderr)
        assert.deepStrictEqual(JSON.parse(json.stdout.toString()), {
          address: `127.0.0.1:${port}`,
          reply: { bytes: 7, text: null, base64: Buffer.from(bytes).toString("base64") }
        })
        const utf8 = yield* cli(["send", "--port", port, "--json", "héllo"])
        assert.strictEqual(utf8.code, 0, utf8.stderr)
        assert.deepStrictEqual(lines(utf8.stdout).length, 1)
        assert.deepStrictEqual(JSON.parse(utf8.stdout).reply, {
          bytes: 6,
          text: "héllo",
          base64: Buffer.from("héllo").toString("base64")
        })

        for (
          const [flags, line] of [
            [["--raw", "--json"], "--raw writes the reply as it is: not with --json"],
            [["--raw", "--hex"], "--raw writes the reply as it is: not with --hex"],
            [["--json", "--hex"], "--json prints the reply's text and base64: not with --hex"]
          ] as const
        ) {
          const run = yield* cli(["send", "--port", port, ...flags, "hi"])
          assert.strictEqual(run.code, 2, run.stderr)
          assert.deepStrictEqual(lines(run.stderr), [`rmq-transport: ${line}`])
        }
      }),
    45_000
  )

  it.scopedLive(
    "ping --json prints one document with the latency figures, and nothing else on standard output",
    () =>
      Effect.gen(function*() {
        const server = yield* echoServer
        const run = yield* cli([
          "ping",
          "--port",
          String(server.address.port),
          "--count",
          "10",
          "--size",
          "16",
          "--json"
        ])
        assert.strictEqual(run.code, 0, run.stderr)
        assert.strictEqual(lines(run.stdout).length, 1, run.stdout)
        const result = JSON.parse(run.stdout)
        assert.strictEqual(result.address, `127.0.0.1:${server.address.port}`)
        assert.strictEqual(result.count, 10)
        assert.strictEqual(result.size, 16)
        assert.strictEqual(result.latencyMillis.count, 10)
        for (const key of ["min", "p50", "p90", "p99", "max", "mean"]) {
          assert.isTrue(typeof result.latencyMillis[key] === "number" && result.latencyMillis[key] > 0, key)
        }
      }),
    20_000
  )

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

  it.live("--help says which TLS flags imply --tls, and what echo-server needs", () =>
    Effect.gen(function*() {
      for (const command of ["send", "ping"]) {
        const run = yield* cli([command, "--help"])
        assert.strictEqual(run.code, 0, run.stderr)
        assert.include(helpEntry(run.stdout, "--tls"), "Implied by --ca, --cert, --key, --server-name and --insecure")
        for (const heading of ["--ca file", "--cert file", "--key file", "--server-name text", "--insecure"]) {
          assert.include(helpEntry(run.stdout, heading), "implies --tls", `${command} ${heading}`)
        }
      }
      const server = yield* cli(["echo-server", "--help"])
      assert.strictEqual(server.code, 0, server.stderr)
      assert.include(helpEntry(server.stdout, "--tls"), "needs --cert and --key")
      assert.include(helpEntry(server.stdout, "--ca file"), "every client must present a certificate")
    }), 30_000)

  tlsSuite("TLS", () => {
    /** What a failed command must end with: exit code 3 and one line on standard error. */
    const assertTlsFailure = (run: Run, why: string, port: number) => {
      assert.strictEqual(run.code, 3, run.stderr)
      assert.deepStrictEqual(lines(run.stderr), [`rmq-transport: TLS handshake with 127.0.0.1:${port} failed: ${why}`])
    }

    it.scopedLive(
      "ping and send with --ca reach a TLS echo server; --insecure does without it",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const port = yield* tlsEchoServer({ cert: certs.server.cert, key: certs.server.key })
          const ping = yield* cli(["ping", "--port", String(port), "--ca", certs.caFile, "--count", "5"])
          assert.strictEqual(ping.code, 0, ping.stderr)
          assert.include(ping.stdout, `PING 127.0.0.1:${port} (TLS): 5 round trips of 64 B`)
          assert.include(ping.stdout, "5 round trips, every echo matched")
          const send = yield* cli(["send", "--port", String(port), "--ca", certs.caFile, "hello over TLS"])
          assert.strictEqual(send.code, 0, send.stderr)
          assert.strictEqual(send.stdout, "hello over TLS\n")
          const insecure = yield* cli(["send", "--port", String(port), "--insecure", "unchecked"])
          assert.strictEqual(insecure.code, 0, insecure.stderr)
          assert.strictEqual(insecure.stdout, "unchecked\n")
        }),
      30_000
    )

    it.scopedLive(
      "without --ca the test CA is not trusted: exit 3, one TLS line (send and ping)",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const port = yield* tlsEchoServer({ cert: certs.server.cert, key: certs.server.key })
          const why = "the server's certificate is not signed by a trusted CA (give its CA with --ca)"
          const send = yield* cli(["send", "--port", String(port), "--tls", "hi"])
          assertTlsFailure(send, why, port)
          assert.strictEqual(send.stdout, "")
          assertTlsFailure(yield* cli(["ping", "--port", String(port), "--tls", "--count", "1"]), why, port)
          // Trusting another CA instead is no better.
          assertTlsFailure(yield* cli(["send", "--port", String(port), "--ca", certs.otherCaFile, "hi"]), why, port)
        }),
      30_000
    )

    it.scopedLive(
      "--server-name: the wrong name fails the handshake, the certificate's own name passes",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const port = yield* tlsEchoServer({ cert: certs.server.cert, key: certs.server.key })
          assertTlsFailure(
            yield* cli(["send", "--port", String(port), "--ca", certs.caFile, "--server-name", "other.example", "hi"]),
            "the server's certificate is not for this host (--server-name sets the name to check)",
            port
          )
          const other = yield* tlsEchoServer({ cert: certs.wrongHost.cert, key: certs.wrongHost.key })
          const named = yield* cli([
            "send",
            "--port",
            String(other),
            "--ca",
            certs.caFile,
            "--server-name",
            "other.example",
            "hi"
          ])
          assert.strictEqual(named.code, 0, named.stderr)
          assert.strictEqual(named.stdout, "hi\n")
        }),
      30_000
    )

    it.scopedLive("an expired server certificate: exit 3, one line", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const port = yield* tlsEchoServer({ cert: certs.expired.cert, key: certs.expired.key })
        assertTlsFailure(
          yield* cli(["send", "--port", String(port), "--ca", certs.caFile, "hi"]),
          "the server's certificate has expired",
          port
        )
      }), 30_000)

    it.scopedLive(
      "echo-server --tls --ca requires client certificates: without --cert a client fails, with it it passes",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const server = yield* mutualTlsEchoServer(certs)
          assert.strictEqual(
            server.line,
            `echo server listening on 127.0.0.1:${server.port} (TLS, client certificates required, max message ` +
              "1.0 MiB); Ctrl-C to stop"
          )
          const port = String(server.port)
          // TLS 1.3: the server checks for a certificate after the client's side of the handshake, so the refusal
          // arrives on the first read; it is still reported as the handshake's.
          assertTlsFailure(
            yield* cli(["send", "--port", port, "--ca", certs.caFile, "hi"]),
            "the server requires a client certificate (give --cert and --key)",
            server.port
          )
          const mutual = ["--ca", certs.caFile, "--cert", certs.client.certFile, "--key", certs.client.keyFile]
          const send = yield* cli(["send", "--port", port, ...mutual, "mutual"])
          assert.strictEqual(send.code, 0, send.stderr)
          assert.strictEqual(send.stdout, "mutual\n")
          const ping = yield* cli(["ping", "--port", port, ...mutual, "--count", "5"])
          assert.strictEqual(ping.code, 0, ping.stderr)
          assert.include(ping.stdout, "5 round trips, every echo matched")
        }),
      45_000
    )

    it.scopedLive(
      "a connection that drops before the first reply hints at TLS: plaintext to a TLS port, a refused certificate",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const server = yield* mutualTlsEchoServer(certs)
          const port = String(server.port)
          const lost = `rmq-transport: connection lost: 127.0.0.1:${port} closed the connection`
          for (const command of [["send", "hi"], ["ping", "--count", "3"]]) {
            const plain = yield* cli([...command.slice(0, 1), "--port", port, ...command.slice(1)])
            assert.strictEqual(plain.code, 6, plain.stderr)
            assert.deepStrictEqual(lines(plain.stderr), [`${lost}; if it is a TLS port, try --tls`])
          }
          // TLS 1.3: the server refuses a certificate from a CA it does not trust after the client's side of the
          // handshake; the client sees the connection come up, then close.
          const untrusted = yield* cli([
            "send",
            "--port",
            port,
            "--ca",
            certs.caFile,
            "--cert",
            certs.untrustedClient.certFile,
            "--key",
            certs.untrustedClient.keyFile,
            "hi"
          ])
          assert.strictEqual(untrusted.code, 6, untrusted.stderr)
          assert.deepStrictEqual(lines(untrusted.stderr), [
            `${lost}; the server may refuse the client certificate of --cert and --key (not signed by a CA it trusts?)`
          ])
        }),
      45_000
    )

    it.live(
      "an encrypted --key exits 2 saying how to decrypt it; PEM of the wrong kind is named",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const encrypted = Path.join(certs.dir, "client-encrypted.key")
          const made = ChildProcess.spawnSync("openssl", [
            "pkey",
            "-in",
            certs.client.keyFile,
            "-aes256",
            "-passout",
            "pass:secret",
            "-out",
            encrypted
          ])
          assert.strictEqual(made.status, 0, String(made.stderr))
          const client = ["send", "--port", "9", "--ca", certs.caFile, "--cert", certs.client.certFile]
          const server = ["echo-server", "--tls", "--cert", certs.server.certFile]
          for (const args of [[...client, "--key", encrypted, "hi"], [...server, "--key", encrypted]]) {
            const run = yield* cli(args)
            assert.strictEqual(run.code, 2, run.stderr)
            assert.deepStrictEqual(lines(run.stderr), [
              `rmq-transport: --key ${encrypted} is encrypted: decrypt it with \`openssl pkey -in ${encrypted} -out ` +
              `${encrypted}.plain\` and give that file`
            ])
          }
          const notKey = yield* cli([...client, "--key", certs.caFile, "hi"])
          assert.strictEqual(notKey.code, 2, notKey.stderr)
          assert.deepStrictEqual(lines(notKey.stderr), [
            `rmq-transport: --key ${certs.caFile} holds no PEM private key`
          ])
          const mismatch = yield* cli([...client, "--key", certs.server.keyFile, "hi"])
          assert.strictEqual(mismatch.code, 2, mismatch.stderr)
          assert.deepStrictEqual(lines(mismatch.stderr), [
            `rmq-transport: --key ${certs.server.keyFile} is not --cert's key: it does not match the certificate in ` +
            certs.client.certFile
          ])
        }),
      30_000
    )

    it.scopedLive("echo-server --tls without --ca asks for no client certificate", () =>
      Effect.gen(function*() {
        const certs = yield* certificates
        const server = yield* cliEchoServer(["--tls", "--cert", certs.server.certFile, "--key", certs.server.keyFile])
        assert.strictEqual(
          server.line,
          `echo server listening on 127.0.0.1:${server.port} (TLS, max message 1.0 MiB); Ctrl-C to stop`
        )
        const send = yield* cli(["send", "--port", String(server.port), "--ca", certs.caFile, "plain TLS"])
        assert.strictEqual(send.code, 0, send.stderr)
        assert.strictEqual(send.stdout, "plain TLS\n")
      }), 30_000)

    it.live(
      "echo-server --tls with a key that is not the certificate's exits 2, naming --key",
      () =>
        Effect.gen(function*() {
          const certs = yield* certificates
          const run = yield* cli([
            "echo-server",
            "--tls",
            "--cert",
            certs.server.certFile,
            "--key",
            certs.client.keyFile
          ])
          assert.strictEqual(run.code, 2, run.stderr)
          assert.strictEqual(run.stdout, "")
          const [line, ...rest] = lines(run.stderr)
          assert.deepStrictEqual(rest, [])
          assert.strictEqual(
            line!,
            `rmq-transport: --key ${certs.client.keyFile} is not --cert's key: it does not match the certificate in ` +
              certs.server.certFile
          )
        }),
      20_000
    )
  })
})

describe("Cli produce and consume", () => {
  it.live(
    "--help of produce and consume names each flag, what is required and the stdin form",
    () =>
      Effect.gen(function*() {
        const produce = yield* cli(["produce", "--help"])
        assert.strictEqual(produce.code, 0, produce.stderr)
        assert.include(produce.stdout, "$ rmq-transport produce [--namesrv text] (-t, --topic text)")
        assert.include(helpEntry(produce.stdout, "(-t, --topic text)"), "Required")
        assert.include(helpEntry(produce.stdout, "--body text"), "@- for one message per line of standard input")
        for (const heading of ["--tags text", "--keys text", "(-c, --count integer)", "--ordered-key text"]) {
          assert.include(helpEntry(produce.stdout, heading), "Optional", heading)
        }
        assert.include(helpEntry(produce.stdout, "--json"), "Default: off")
        const consume = yield* cli(["consume", "--help"])
        assert.strictEqual(consume.code, 0, consume.stderr)
        assert.include(consume.stdout, "$ rmq-transport consume [--namesrv text] (-t, --topic text) (-g, --group text)")
        assert.include(helpEntry(consume.stdout, "(-g, --group text)"), "Required")
        assert.include(helpEntry(consume.stdout, "--timeout duration"), "500ms, 30s, 2m")
        assert.include(helpEntry(consume.stdout, "(-c, --count integer)"), "Optional")
      }),
    30_000
  )

  it.live(
    "produce to a NameServer nobody listens on fails within its --timeout, exit 1 and one line",
    () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const started = Date.now()
        const run = yield* cli(["produce", "--namesrv", `127.0.0.1:${port}`, "-t", "T", "--timeout", "0.5"])
        assert.strictEqual(run.code, 1, run.stderr)
        assert.strictEqual(run.stdout, "")
        // One line that says why: no route, because the NameServer refused the connection.
        const stderr = lines(run.stderr)
        assert.strictEqual(stderr.length, 1, run.stderr)
        assert.match(
          stderr[0]!,
          /^rmq-transport: send to T failed: no writable queue of the topic \(last: .*ECONNREFUSED/
        )
        assert.isBelow(Date.now() - started, 10_000)
      }),
    20_000
  )

  it.live(
    "a message the producer refuses exits 1 with the message error's line, before any connection",
    () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const run = yield* cli(["produce", "--namesrv", `127.0.0.1:${port}`, "-t", "bad topic"])
        assert.strictEqual(run.code, 1, run.stderr)
        assert.deepStrictEqual(lines(run.stderr), [
          `rmq-transport: invalid message topic: may only contain the characters %|a-zA-Z0-9_- (got "bad topic")`
        ])
      }),
    20_000
  )

  it("parseDuration takes seconds or a unit, and nothing else", () => {
    const millis = (text: string) => {
      const duration = Consume.parseDuration(text)
      return duration === undefined ? undefined : Duration.toMillis(duration)
    }
    assert.strictEqual(millis("30"), 30_000)
    assert.strictEqual(millis("0.5"), 500)
    assert.strictEqual(millis("30s"), 30_000)
    assert.strictEqual(millis("500ms"), 500)
    assert.strictEqual(millis("2m"), 120_000)
    assert.strictEqual(millis("1h"), 3_600_000)
    for (const bad of ["", "0", "0s", "-1", "3x", "s", "1 d", "1e3"]) assert.isUndefined(millis(bad), bad)
  })

  it.effect("bodies: numbered by default, --size bytes with the number first, one text --count times", () =>
    Effect.gen(function*() {
      const text = (stream: Stream.Stream<Uint8Array, unknown>) =>
        Effect.map(
          Stream.runCollect(stream),
          (chunk) => Chunk.toReadonlyArray(chunk).map((b) => Buffer.from(b).toString())
        )
      assert.deepStrictEqual(yield* text(yield* Produce.bodies({ count: 3 })), ["message 1", "message 2", "message 3"])
      assert.deepStrictEqual(yield* text(yield* Produce.bodies({})), ["message 1"])
      assert.deepStrictEqual(yield* text(yield* Produce.bodies({ count: 2, size: 14 })), [
        "message 1 ....",
        "message 2 ...."
      ])
      assert.deepStrictEqual(yield* text(yield* Produce.bodies({ size: 4 })), ["mess"])
      assert.deepStrictEqual(yield* text(yield* Produce.bodies({ count: 2, body: "@@x" })), ["@x", "@x"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it("a message's line: queue, offset, tags, keys and the body as text or its size", () => {
    const message = {
      msgId: "ID",
      brokerName: "broker-a",
      queueId: 2,
      queueOffset: 17n,
      tags: "a",
      keys: ["k1", "k2"],
      reconsumeTimes: 1,
      body: new TextEncoder().encode("hi \"there\"\n")
    } as unknown as StoredMessage.ReceivedMessage
    assert.strictEqual(
      Consume.messageLine(message),
      `msgId=ID queue=broker-a:2 offset=17 tags=a keys=k1,k2 reconsumeTimes=1 body="hi \\"there\\"\\n"`
    )
    assert.strictEqual(
      Consume.messageLine({ ...message, tags: undefined, keys: [], body: Uint8Array.of(0, 1, 0xff) }),
      "msgId=ID queue=broker-a:2 offset=17 tags=- keys=- reconsumeTimes=1 body=(3 bytes)"
    )
    assert.match(Consume.renderBody(new TextEncoder().encode("x".repeat(1000))), /^"x{200}"… \(1,000 bytes\)$/)
  })

  it("formatQueues: ranges per broker, the topic's own first, the retry topic's named", () => {
    const q = (topic: string, brokerName: string, queueId: number) => ({ topic, brokerName, queueId })
    assert.strictEqual(
      Consume.formatQueues(
        [
          q("%RETRY%g", "broker-a", 0),
          q("T", "broker-a", 0),
          q("T", "broker-a", 1),
          q("T", "broker-a", 3),
          q(
            "T",
            "broker-b",
            5
          )
        ],
        "T"
      ),
      "broker-a:0-1,3 broker-b:5 %RETRY%g@broker-a:0"
    )
    assert.strictEqual(Consume.assignmentLine([], "T"), "assignment: 0 queues of T")
  })
})
