/**
 * The echo servers the clients are measured against, each in a child process of its own so that none shares
 * an event loop with the client under test: a Netty 4.1 peer framed as RocketMQ's Java remoting (the
 * targets' reference; skipped with a note without javac and Debian's Netty jars) and `TransportServer.echo`
 * (`rmq-transport echo-server`). Each also runs a second instance that speaks TLS with a certificate made for
 * the run, for the `tls-*` workloads.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Server } from "../../Bench.js"
import type { CliError } from "../../Failure.js"
import { benchError } from "./failure.js"
import { binPath, loader, nettySource } from "./locations.js"
import type { Placement } from "./machine.js"
import { succeeds } from "./machine.js"

/** @internal */
export const servers: ReadonlyArray<Server> = ["netty", "transport-server"]

/** @internal */
export const serverTitles: Record<Server, string> = {
  netty: "Netty",
  "transport-server": "TransportServer"
}

/** A running echo server. @internal */
export interface EchoPeer {
  readonly server: Server
  readonly port: number
  /** A second instance of the same server, speaking TLS with the run's certificate, for the `tls-*` workloads. */
  readonly tlsPort: Option.Option<number>
  readonly description: string
}

/** The run's TLS identity: a self-signed certificate for `localhost` that the clients trust. @internal */
export interface BenchCertificate {
  readonly certFile: string
  readonly keyFile: string
  readonly cert: string
}

/**
 * A self-signed certificate (its own CA) in a temporary directory for the scope; `None` without openssl.
 *
 * @internal
 */
export const makeCertificate = (
  note: (line: string) => void
): Effect.Effect<Option.Option<BenchCertificate>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "rmq-transport-bench-tls-"))),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )
    const certFile = Path.join(dir, "server.pem")
    const keyFile = Path.join(dir, "server.key")
    const made = ChildProcess.spawnSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1"
    ], { encoding: "utf8", timeout: 60_000 })
    if (made.error !== undefined || made.status !== 0) {
      note(`TLS workloads skipped: openssl could not make a certificate (${made.error?.message ?? made.stderr.trim()})`)
      return Option.none()
    }
    return Option.some({ certFile, keyFile, cert: Fs.readFileSync(certFile, "utf8") })
  })

/**
 * The servers asked for, started for the scope; a Netty peer that cannot run here is left out with a note.
 *
 * @internal
 */
export const startEchoServers = (
  wanted: ReadonlyArray<Server>,
  maxMessageSize: number,
  where: Placement,
  certificate: Option.Option<BenchCertificate>,
  note: (line: string) => void
): Effect.Effect<Array<EchoPeer>, CliError, Scope.Scope> =>
  Effect.gen(function*() {
    const peers: Array<EchoPeer> = []
    for (const server of wanted) {
      if (server === "netty") {
        const netty = yield* startNetty(where, certificate, note)
        if (Option.isSome(netty)) peers.push(netty.value)
      } else {
        peers.push(yield* startTransportServer(maxMessageSize, where, certificate))
      }
    }
    return peers
  })

/** A server in a child process, for the scope; resolves with the port matched in its output once it listens. */
const startPeer = (
  argv: ReadonlyArray<string>,
  listening: RegExp,
  name: string
): Effect.Effect<number, CliError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() =>
      ChildProcess.spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] }).on("error", () => {})
    ),
    (child) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        // The Netty peer exits when its stdin closes; both exit on SIGTERM.
        child.stdin?.end()
        child.kill()
        const timer = setTimeout(() => child.kill("SIGKILL"), 2_000)
        return Effect.sync(() => clearTimeout(timer))
      })
  ).pipe(
    Effect.flatMap((child) =>
      Effect.async<number, CliError>((resume) => {
        let output = ""
        let errors = ""
        let port: number | undefined
        // Read to the end: a peer that logs each connection must never block on a full pipe.
        child.stdout!.on("data", (data: Buffer) => {
          if (port !== undefined) return
          output += data.toString()
          const match = listening.exec(output)
          if (match !== null) {
            port = Number(match[1])
            resume(Effect.succeed(port))
          }
        })
        child.stderr!.on("data", (data: Buffer) => {
          if (errors.length < 16 * 1024) errors += data.toString()
        })
        const onExit = (code: number | null) =>
          resume(
            Effect.fail(benchError(`${name} exited (code ${code}) before listening: ${(output + errors).trim()}`))
          )
        child.once("exit", onExit)
        child.once("error", (error) => resume(Effect.fail(benchError(`${name} could not start: ${error.message}`))))
        return Effect.sync(() => child.off("exit", onExit))
      })
    ),
    Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => benchError(`${name} did not start`) })
  )

const startTransportServer = (
  maxMessageSize: number,
  where: Placement,
  certificate: Option.Option<BenchCertificate>
): Effect.Effect<EchoPeer, CliError, Scope.Scope> =>
  Effect.gen(function*() {
    const start = (tls: ReadonlyArray<string>) =>
      startPeer(
        [
          ...where.server,
          ...where.manyFiles,
          process.execPath,
          ...loader(),
          binPath,
          "echo-server",
          "--port",
          "0",
          "--max-message-size",
          String(maxMessageSize),
          ...tls
        ],
        /listening on (?:\[[^\]]+\]|[^:\s]+):(\d+)/,
        "TransportServer.echo"
      )
    const port = yield* start([])
    const tlsPort = yield* Option.match(certificate, {
      onNone: () => Effect.succeedNone,
      onSome: (made) => Effect.asSome(start(["--tls", "--cert", made.certFile, "--key", made.keyFile]))
    })
    return {
      server: "transport-server" as const,
      port,
      tlsPort,
      description: `TransportServer.echo (rmq-transport echo-server) on 127.0.0.1:${port}` +
        Option.match(tlsPort, { onNone: () => "", onSome: (tls) => `, over TLS on ${tls}` })
    }
  })

/** Where Debian's `libnetty-java` puts its jars; `netty-all.jar` there is an empty aggregate. */
const NETTY_JAR_DIR = "/usr/share/java"
const NETTY_JARS = ["netty-common", "netty-buffer", "netty-resolver", "netty-transport", "netty-codec", "netty-handler"]

/** Why the Netty peer cannot run here, or its classpath. */
const nettyClasspath = (): { readonly classpath: string } | { readonly missing: string } => {
  if (!Fs.existsSync(nettySource)) {
    return { missing: "its source (transport-node/interop/netty, in the repository only) is not here" }
  }
  const absent: Array<string> = []
  if (!succeeds("javac", ["-version"])) absent.push("javac")
  if (!succeeds("java", ["-version"])) absent.push("java")
  const jars = NETTY_JARS.map((name) => Path.join(NETTY_JAR_DIR, `${name}.jar`))
  absent.push(...jars.filter((jar) => !Fs.existsSync(jar)))
  return absent.length === 0
    ? { classpath: jars.join(Path.delimiter) }
    : { missing: `not found: ${absent.join(", ")} (apt-get install default-jdk-headless libnetty-java)` }
}

const nettyVersion = (): string => {
  try {
    const jar = Fs.readdirSync(NETTY_JAR_DIR).find((file) => /^netty-common-\d.*\.jar$/.test(file))
    return jar === undefined ? "" : ` ${jar.slice("netty-common-".length, -".jar".length)}`
  } catch {
    return ""
  }
}

/** The Netty peer, compiled into a temporary directory for the scope; `None` with a note when it cannot run. */
const startNetty = (
  where: Placement,
  certificate: Option.Option<BenchCertificate>,
  note: (line: string) => void
): Effect.Effect<Option.Option<EchoPeer>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const found = nettyClasspath()
    if ("missing" in found) {
      note(`Netty server skipped: ${found.missing}`)
      return Option.none()
    }
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "rmq-transport-bench-netty-"))),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )
    const compiled = ChildProcess.spawnSync(
      "javac",
      ["-nowarn", "-cp", found.classpath, "-d", dir, nettySource],
      { encoding: "utf8", timeout: 120_000 }
    )
    if (compiled.status !== 0) {
      note(`Netty server skipped: javac failed: ${`${compiled.stderr ?? ""}`.trim().split("\n")[0] ?? ""}`)
      return Option.none()
    }
    const start = (tls: ReadonlyArray<string>) =>
      startPeer(
        [
          ...where.server,
          ...where.manyFiles,
          "java",
          "-Xms256m",
          "-Xmx1g",
          "-cp",
          [dir, found.classpath].join(Path.delimiter),
          "NettyEchoPeer",
          ...tls
        ],
        /^PORT (\d+)$/m,
        "the Netty peer"
      ).pipe(Effect.option)
    const started = yield* start([])
    if (Option.isNone(started)) {
      note("Netty server skipped: the peer did not start")
      return Option.none()
    }
    const tlsPort = yield* Option.match(certificate, {
      onNone: () => Effect.succeedNone,
      onSome: (made) => start(["--tls-cert", made.certFile, "--tls-key", made.keyFile])
    })
    if (Option.isSome(certificate) && Option.isNone(tlsPort)) note("Netty over TLS skipped: the peer did not start")
    return Option.some({
      server: "netty" as const,
      port: started.value,
      tlsPort,
      description: `Netty${nettyVersion()} (NettyEchoPeer: LengthFieldBasedFrameDecoder + LengthFieldPrepender, as ` +
        `RocketMQ's remoting) on 127.0.0.1:${started.value}` +
        Option.match(tlsPort, { onNone: () => "", onSome: (tls) => `, over TLS (SslHandler, JDK engine) on ${tls}` })
    })
  })
