/**
 * Foreign peers for the interop tests, run as child processes: a Netty 4.1 echo server framed like RocketMQ's
 * Java remoting (`interop/netty/NettyEchoPeer.java`, compiled with javac against Debian's `libnetty-java`) and
 * the seed's asyncio framing (`interop/python/seed_peer.py`). Each peer prints `PORT <port>` once listening,
 * exits when its stdin closes, and is killed by the scope's finalizer if it does not.
 */
import { assert } from "@effect/vitest"
import { sameBytes } from "@rocketmq-effect/test-kit/Bytes"
import * as ChildPeer from "@rocketmq-effect/test-kit/ChildPeer"
import { ChildPeerError as PeerError } from "@rocketmq-effect/test-kit/ChildPeer"
import * as Prerequisites from "@rocketmq-effect/test-kit/Prerequisites"
import type * as Transport from "@rocketmq-effect/transport/Transport"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const interopDir = fileURLToPath(new URL("../interop/", import.meta.url))

/** python3, 3.9 or later (`random.randbytes`); the value is the command. */
export const pythonPrerequisites = (): Prerequisites.Availability<string> =>
  Prerequisites.commandRuns("python3", ["-c", "import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)"])
    ? Prerequisites.available("python3")
    : Prerequisites.missing("not found: python3 (3.9 or later)")

/** The value of an available prerequisite; a failure (in CI, where the tests are not skipped) otherwise. */
export const requireAvailable = <A>(availability: Prerequisites.Availability<A>): Effect.Effect<A, PeerError> =>
  Prerequisites.requireAvailable(
    availability,
    (reason) => new PeerError({ reason: `interop prerequisite missing with CI=true: ${reason}` })
  )

/** A peer that could not start, exited early or did not answer. */
export { PeerError }

/** A running child process, its stdout as lines. */
export type PeerProcess = ChildPeer.ChildPeer

/**
 * Starts `command`. The scope's finalizer closes its stdin (the peers exit on that), sends SIGTERM after 2
 * seconds, SIGKILL after 2 more, and waits for it to be gone (`ChildPeer.stop`).
 */
export const start = (command: string, args: ReadonlyArray<string>): Effect.Effect<PeerProcess, never, Scope.Scope> =>
  ChildPeer.start(command, args)

/** Runs `command` to completion; fails with its output unless it exits with 0. */
export const run = (command: string, args: ReadonlyArray<string>): Effect.Effect<PeerProcess, PeerError> =>
  ChildPeer.run(command, args)

/** Sends `payload` and checks that the peer echoes it, byte for byte. */
export const roundTrip = (transport: Transport.TransportService, payload: Uint8Array) =>
  Effect.gen(function*() {
    yield* transport.send(payload)
    const echoed = yield* transport.recvPkg()
    assert.strictEqual(echoed.length, payload.length)
    assert.isTrue(sameBytes(echoed, payload), `echo of ${payload.length} bytes differs`)
  })

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
