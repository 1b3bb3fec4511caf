/**
 * Foreign peers for the interop tests, run as child processes: a Netty 4.1 echo server framed like RocketMQ's
 * Java remoting (`interop/netty/NettyEchoPeer.java`, compiled with javac against Debian's `libnetty-java`) and
 * the seed's asyncio framing (`interop/python/seed_peer.py`). Each peer prints `PORT <port>` once listening,
 * exits when its stdin closes, and is killed by the scope's finalizer if it does not.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const interopDir = fileURLToPath(new URL("../interop/", import.meta.url))

/** CI sets `CI=true`; there a missing prerequisite fails the tests instead of skipping them. */
export const isCI = process.env.CI === "true"

/** Where Debian's `libnetty-java` puts its jars. */
export const NETTY_JAR_DIR = "/usr/share/java"

/**
 * The Netty modules the peer needs (`netty-handler` for its `SslHandler`). Debian's `netty-all.jar` is an empty
 * aggregate (a manifest and a pom, no classes and no `Class-Path`), so the modules are listed one by one.
 */
export const NETTY_JARS = [
  "netty-common",
  "netty-buffer",
  "netty-resolver",
  "netty-transport",
  "netty-codec",
  "netty-handler"
]

/** A prerequisite check: either what the peer needs, or why it cannot run. */
export type Availability<A> =
  | { readonly _tag: "Available"; readonly value: A }
  | { readonly _tag: "Missing"; readonly reason: string }

const available = <A>(value: A): Availability<A> => ({ _tag: "Available", value })
const missing = <A>(reason: string): Availability<A> => ({ _tag: "Missing", reason })

const runs = (command: string, args: ReadonlyArray<string>): boolean => {
  const result = spawnSync(command, args, { stdio: "ignore", timeout: 30_000 })
  return result.error === undefined && result.status === 0
}

/** javac, java and the Netty jars; the value is the Netty classpath. */
export const nettyPrerequisites = (): Availability<string> => {
  const absent: Array<string> = []
  if (!runs("javac", ["-version"])) absent.push("javac (apt-get install default-jdk-headless)")
  if (!runs("java", ["-version"])) absent.push("java (apt-get install default-jdk-headless)")
  const jars = NETTY_JARS.map((name) => Path.join(NETTY_JAR_DIR, `${name}.jar`))
  const absentJars = jars.filter((jar) => !Fs.existsSync(jar))
  if (absentJars.length > 0) absent.push(`${absentJars.join(", ")} (apt-get install libnetty-java)`)
  return absent.length === 0 ? available(jars.join(Path.delimiter)) : missing(`not found: ${absent.join("; ")}`)
}

/** python3, 3.9 or later (`random.randbytes`); the value is the command. */
export const pythonPrerequisites = (): Availability<string> =>
  runs("python3", ["-c", "import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)"])
    ? available("python3")
    : missing("not found: python3 (3.9 or later)")

/** What a test does about an absent prerequisite: nothing when present, skip locally, fail in CI. */
export const skipReason = <A>(availability: Availability<A>): string | undefined =>
  availability._tag === "Missing" && !isCI ? availability.reason : undefined

/** The value of an available prerequisite; a failure (in CI, where the tests are not skipped) otherwise. */
export const requireAvailable = <A>(availability: Availability<A>): Effect.Effect<A, PeerError> =>
  availability._tag === "Available"
    ? Effect.succeed(availability.value)
    : Effect.fail(new PeerError({ reason: `interop prerequisite missing with CI=true: ${availability.reason}` }))

/**
 * @category errors
 */
export class PeerError extends Data.TaggedError("PeerError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** A running child process, its stdout as lines. */
export interface PeerProcess {
  readonly child: ChildProcess
  /** Stdout lines so far. */
  readonly lines: () => ReadonlyArray<string>
  readonly stderr: () => string
  /** The first stdout line that `match` accepts; fails if the process exits before printing one. */
  readonly awaitLine: (match: (line: string) => boolean) => Effect.Effect<string, PeerError>
  /** The exit code (null when killed by a signal), once the process has exited. */
  readonly exited: Effect.Effect<number | null>
}

const describeCommand = (command: string, args: ReadonlyArray<string>) =>
  [command, ...args].map((part) => part.length > 60 ? `${part.slice(0, 57)}...` : part).join(" ")

/**
 * Starts `command`. The scope's finalizer closes its stdin (the peers exit on that), waits up to 2 seconds,
 * then kills it with SIGKILL and waits for it to be gone.
 */
export const start = (
  command: string,
  args: ReadonlyArray<string>
): Effect.Effect<PeerProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] })
      const lines: Array<string> = []
      let partial = ""
      let stderr = ""
      let exit: { readonly code: number | null } | undefined
      let spawnError: Error | undefined
      const listeners = new Set<() => void>()
      const notify = () => {
        for (const listener of Array.from(listeners)) listener()
      }
      child.stdout.setEncoding("utf8")
      child.stdout.on("data", (text: string) => {
        const parts = (partial + text).split("\n")
        partial = parts.pop()!
        for (const part of parts) lines.push(part.trimEnd())
        notify()
      })
      child.stderr.setEncoding("utf8")
      child.stderr.on("data", (text: string) => {
        // Enough to say why a peer failed; a chatty peer cannot grow it without bound.
        if (stderr.length < 64 * 1024) stderr += text
      })
      // A peer that exits early makes writes to its stdin fail; the exit is what gets reported.
      child.stdin.on("error", () => {})
      child.on("error", (error) => {
        spawnError = error
        exit = { code: null }
        notify()
      })
      child.on("close", (code) => {
        exit = { code }
        notify()
      })

      const waitFor = <A>(poll: () => A | undefined): Effect.Effect<A> =>
        Effect.async<A>((resume) => {
          const check = () => {
            const value = poll()
            if (value !== undefined) {
              listeners.delete(check)
              resume(Effect.succeed(value))
            }
          }
          listeners.add(check)
          check()
          return Effect.sync(() => listeners.delete(check))
        })

      const awaitLine = (match: (line: string) => boolean) =>
        waitFor((): { line: string } | { exited: true } | undefined => {
          const line = lines.find(match)
          if (line !== undefined) return { line }
          return exit !== undefined ? { exited: true } : undefined
        }).pipe(Effect.flatMap((found) =>
          "line" in found
            ? Effect.succeed(found.line)
            : Effect.fail(
              new PeerError({
                reason: `${describeCommand(command, args)} ${
                  spawnError !== undefined ? `could not start: ${spawnError.message}` : `exited with ${exit?.code}`
                } before printing the expected line; stdout: ${JSON.stringify(lines)}, stderr: ${stderr.trim()}`
              })
            )
        ))

      const proc: PeerProcess = {
        child,
        lines: () => lines,
        stderr: () => stderr,
        awaitLine,
        exited: waitFor(() => exit).pipe(Effect.map((exit) => exit.code))
      }
      return proc
    }),
    (proc) =>
      Effect.gen(function*() {
        proc.child.stdin?.end()
        const exited = yield* proc.exited.pipe(Effect.timeout("2 seconds"), Effect.option)
        if (exited._tag === "None") {
          proc.child.kill("SIGKILL")
          yield* proc.exited.pipe(Effect.timeout("5 seconds"), Effect.ignore)
        }
      })
  )

/** Runs `command` to completion; fails with its output unless it exits with 0. */
export const run = (command: string, args: ReadonlyArray<string>): Effect.Effect<PeerProcess, PeerError> =>
  Effect.scoped(Effect.gen(function*() {
    const proc = yield* start(command, args)
    proc.child.stdin?.end()
    const code = yield* proc.exited
    if (code !== 0) {
      return yield* new PeerError({
        reason: `${describeCommand(command, args)} exited with ${code}; stdout: ${
          JSON.stringify(proc.lines())
        }, stderr: ${proc.stderr().trim()}`
      })
    }
    return proc
  }))

/** A peer listening on 127.0.0.1. */
export interface Peer extends PeerProcess {
  readonly port: number
}

const awaitPort = (proc: PeerProcess): Effect.Effect<Peer, PeerError> =>
  proc.awaitLine((line) => line.startsWith("PORT ")).pipe(
    Effect.timeoutFail({
      duration: "60 seconds",
      onTimeout: () => new PeerError({ reason: `no PORT line within 60 seconds; stderr: ${proc.stderr().trim()}` })
    }),
    Effect.map((line) => ({ ...proc, port: Number(line.slice("PORT ".length)) }))
  )

// ---- Netty ------------------------------------------------------------------------------------------------

const nettySource = Path.join(interopDir, "netty", "NettyEchoPeer.java")

/** The temporary directories the compiled peer lives in; removed by `removeBuilds` after the tests. */
const builds: Array<string> = []

/** Removes the compiled Netty peer. For `afterAll`. */
export const removeBuilds = (): void => {
  for (const dir of builds.splice(0)) Fs.rmSync(dir, { recursive: true, force: true })
}

/** Compiles `NettyEchoPeer.java` into a fresh temporary directory, once per test file. */
export const compileNettyPeer: (classpath: string) => Effect.Effect<string, PeerError> = (() => {
  const compiled = new Map<string, Effect.Effect<string, PeerError>>()
  return (classpath: string) => {
    let build = compiled.get(classpath)
    if (build === undefined) {
      build = Effect.runSync(Effect.cached(
        Effect.gen(function*() {
          const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "rocketmq-effect-netty-"))
          builds.push(dir)
          yield* run("javac", ["-nowarn", "-cp", classpath, "-d", dir, nettySource])
          return dir
        })
      ))
      compiled.set(classpath, build)
    }
    return build
  }
})()

/** The Netty peer's default frame limit, RocketMQ's `com.rocketmq.remoting.frameMaxLength`: 16 MiB. */
export const NETTY_MAX_FRAME_LENGTH = 16 * 1024 * 1024

/**
 * The largest payload the Netty peer accepts: the limit counts the 4 length bytes (`lengthFieldEndOffset` is
 * added to the announced length before it is compared).
 */
export const NETTY_MAX_PAYLOAD = NETTY_MAX_FRAME_LENGTH - 4

/**
 * TLS in front of the Netty peer's framing: Netty's `SslHandler` over the JDK engine, as RocketMQ's server
 * puts it in the pipeline. PEM files; the key PKCS#8.
 */
export interface NettyTls {
  readonly certFile: string
  readonly keyFile: string
  /** Require a client certificate (`ClientAuth.REQUIRE`) signed by this CA. */
  readonly clientCaFile?: string
  /** The versions the peer accepts, e.g. `["TLSv1.2"]`; the JDK engine's defaults unless given. */
  readonly protocols?: ReadonlyArray<string>
}

export interface NettyPeerOptions {
  readonly tls?: NettyTls
}

const nettyArgs = (options: NettyPeerOptions): ReadonlyArray<string> => {
  const tls = options.tls
  if (tls === undefined) return []
  return [
    "--tls-cert",
    tls.certFile,
    "--tls-key",
    tls.keyFile,
    ...(tls.clientCaFile === undefined ? [] : ["--tls-client-ca", tls.clientCaFile]),
    ...(tls.protocols === undefined ? [] : ["--tls-protocols", tls.protocols.join(",")])
  ]
}

/**
 * Compiles (once) and starts the Netty echo peer. With `tls` it prints `TLS_OK <protocol> <cipher> <client
 * subject or -> <remote>` or `TLS_FAILED <exception>: <message>` as each handshake ends.
 */
export const startNettyPeer = (
  classpath: string,
  options: NettyPeerOptions = {}
): Effect.Effect<Peer, PeerError, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* compileNettyPeer(classpath)
    // Small heap and C1 only: the peer moves at most a few 16 MiB frames, and the machine is shared.
    const proc = yield* start("java", [
      "-Xmx256m",
      "-XX:+UseSerialGC",
      "-XX:TieredStopAtLevel=1",
      "-cp",
      [dir, classpath].join(Path.delimiter),
      "NettyEchoPeer",
      ...nettyArgs(options)
    ])
    return yield* awaitPort(proc)
  })

// ---- Python -----------------------------------------------------------------------------------------------

const seedPeer = Path.join(interopDir, "python", "seed_peer.py")

/** Starts the seed-framing echo server. */
export const startSeedServer = (python: string): Effect.Effect<Peer, PeerError, Scope.Scope> =>
  Effect.flatMap(start(python, [seedPeer, "server"]), awaitPort)

/**
 * Runs the seed-framing client against `port`: it writes one frame per size, pipelined, then reads them all
 * back and checks each. Succeeds with its stdout lines (`OK <count>`).
 */
export const runSeedClient = (
  python: string,
  port: number,
  sizes: ReadonlyArray<number>
): Effect.Effect<ReadonlyArray<string>, PeerError> =>
  Effect.map(run(python, [seedPeer, "client", String(port), ...sizes.map(String)]), (proc) => proc.lines())
