/**
 * A real Apache RocketMQ 5.3.3 NameServer and Broker for tests, from Maven Central (no distribution zip, no
 * Docker): `interop/rocketmq-servers/pom.xml` gives the classpath (resolved once and cached under
 * `build/java/rocketmq-servers/`, see `JavaRemoting.mavenClasspath`), and each server is a plain `java -cp`.
 *
 * `start` is a scoped resource: a fresh temporary home (user.home, rocketmq.home.dir, stores, logs), free
 * loopback ports (the broker also takes port − 2 and port + 1), both JVMs started and waited for (their boot
 * lines, then the broker listed in GET_BROKER_CLUSTER_INFO); released, the broker and then the NameServer get
 * SIGTERM, then SIGKILL after a grace period, and the home is removed. A JVM outlives neither the test process
 * (an exit handler kills it) nor a test process killed outright (a small watchdog shell kills it).
 *
 * The broker can crash and come back while the servers run: `killBroker` (SIGKILL), `stopBroker` (SIGTERM,
 * graceful), then `startBroker` on the same ports, properties and store directory (so what it stored is
 * recovered); whichever broker JVM runs when the scope closes is stopped with it.
 *
 * `brokerTls` puts the broker's remoting port behind TLS (RocketMQ's `TlsSystemConfig`: `tls.server.mode` as a
 * system property, the rest from a `tls.config.file` in the home); the NameServer, and the broker's own
 * registration with it (`tls.enable=false`), stay plaintext.
 *
 * `useServers` is the same for a vitest file: `beforeAll` starts, `afterAll` stops. The rest does not need vitest
 * (`demo/broker.ts` uses `start`).
 */
import * as ChildPeer from "@rocketmq-effect/test-kit/ChildPeer"
import type * as Prerequisites from "@rocketmq-effect/test-kit/Prerequisites"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as JavaRemoting from "./JavaRemoting.js"

/**
 * vitest, loaded only inside vitest (which sets `VITEST` in its workers) for `useServers`: a script run with
 * tsx (`pnpm demo:broker`) imports this file without pulling vitest in.
 */
const vitest = process.env.VITEST !== undefined ? await import("vitest") : undefined

/**
 * @category errors
 */
export class ServerError extends Data.TaggedError("ServerError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** The running servers. Addresses are `host:port`, as RocketMQ writes them. */
export interface RocketMQServers {
  readonly nameServer: string
  readonly broker: string
  readonly brokerName: string
  readonly clusterName: string
  readonly nameServerPort: number
  readonly brokerPort: number
  /** The temporary user.home / rocketmq.home.dir: stores under `store/`, logs under `logs/rocketmqlogs/`. */
  readonly home: string
  readonly nameServerPid: number
  readonly brokerPid: number
  /** From spawning the JVM to its boot line, ms. */
  readonly nameServerBootMs: number
  readonly brokerBootMs: number
  /** From the broker's boot line to the NameServer listing it (0 when not awaited), ms. */
  readonly registrationMs: number
  /** Whether a broker JVM is running now (false after `killBroker` / `stopBroker`, until `startBroker`). */
  readonly brokerRunning: () => boolean
  /** The pid of the broker JVM running now, if one is (`brokerPid` is the first one's). */
  readonly currentBrokerPid: () => number | undefined
  /**
   * SIGKILL to the broker JVM, then waits until it is gone: a crash. The store directory stays, so a
   * `startBroker` afterwards recovers the commit log from it (RocketMQ's abnormal recovery: the `abort` file
   * is still there). Does nothing when no broker runs.
   */
  readonly killBroker: Effect.Effect<void>
  /**
   * SIGTERM to the broker JVM (its graceful shutdown: ~15 s on a loaded machine), SIGKILL after `grace`
   * (default 30 s), then waits until it is gone. The store stays.
   */
  readonly stopBroker: (grace?: Duration.DurationInput) => Effect.Effect<void>
  /**
   * Starts the broker again after `killBroker` / `stopBroker`: the same properties file, so the same ports,
   * name and store directory. Waits for its boot line, and for the NameServer to list it when the servers
   * were started with `awaitRegistration` (the default). Returns the boot time, ms. Fails when a broker is
   * running, or when the new JVM does not boot (a port taken meanwhile is not retried: clients hold the
   * address). The new JVM is stopped with the servers.
   */
  readonly startBroker: Effect.Effect<number, ServerError>
}

export interface Options {
  readonly brokerName?: string
  readonly clusterName?: string
  /** Per JVM, from spawn to its boot line. Default 90 s (two JVMs booting on a loaded 2-CPU machine). */
  readonly bootTimeout?: Duration.DurationInput
  /** Between SIGTERM and SIGKILL. Default 3 s: a broker takes ~14 s to shut down gracefully, for nothing here. */
  readonly stopGrace?: Duration.DurationInput
  /** Wait until GET_BROKER_CLUSTER_INFO lists the broker. Default true. */
  readonly awaitRegistration?: boolean
  /** Added to (and overriding) the NameServer's properties file. */
  readonly nameServerProperties?: Readonly<Record<string, string>>
  /** Added to (and overriding) the broker's properties file. */
  readonly brokerProperties?: Readonly<Record<string, string>>
  /** Extra JVM options (both JVMs), e.g. `-Drocketmq.serialize.type=ROCKETMQ`. */
  readonly jvmOptions?: ReadonlyArray<string>
  /** Extra JVM options for the broker only, after `jvmOptions`. */
  readonly brokerJvmOptions?: ReadonlyArray<string>
  /**
   * TLS on the broker's remoting port. Unless given, RocketMQ's default: `permissive`, with a self-signed
   * certificate made at boot (`tls.test.mode.enable=true`) for clients that do start a handshake.
   */
  readonly brokerTls?: BrokerTls
}

/**
 * The broker's TLS settings, as RocketMQ 5.3.3 reads them (`TlsSystemConfig`, `TlsHelper.buildSslContext`). The
 * server context is Netty's over the JDK engine here (no netty-tcnative on the classpath, so `OpenSsl` is not
 * available): TLS 1.2 and 1.3.
 */
export interface BrokerTls {
  /**
   * `tls.server.mode`, read from the system property only (never from the config file): `enforcing` closes a
   * connection whose first byte is not a TLS handshake record (0x16), `permissive` serves both, `disabled`
   * closes TLS ones. Default `enforcing`.
   */
  readonly mode?: "enforcing" | "permissive" | "disabled"
  /** `tls.server.certPath`: the PEM certificate chain. */
  readonly certFile: string
  /** `tls.server.keyPath`: the PEM key, PKCS#8 (Netty's JDK provider reads no PKCS#1). */
  readonly keyFile: string
  /** `tls.server.keyPassword`, for an encrypted PKCS#8 key. */
  readonly keyPassword?: string
  /** `tls.server.need.client.auth`: `none`, `optional` or `require`. Default `none`. */
  readonly needClientAuth?: "none" | "optional" | "require"
  /**
   * `tls.server.authClient=true` with `tls.server.trustCertPath`: client certificates must chain to this CA.
   * Without it RocketMQ trusts any client certificate (`InsecureTrustManagerFactory`), even under `require`.
   */
  readonly trustCertFile?: string
}

/** The broker's JVM options for `tls`, with its `tls.config.file` written under `home`. */
const brokerTlsOptions = (tls: BrokerTls, home: string): ReadonlyArray<string> => {
  const file = Path.join(home, "tls.properties")
  Fs.writeFileSync(
    file,
    properties({
      // Otherwise the server ignores the files below and makes a self-signed certificate.
      "tls.test.mode.enable": "false",
      "tls.server.certPath": tls.certFile,
      "tls.server.keyPath": tls.keyFile,
      ...(tls.keyPassword === undefined ? {} : { "tls.server.keyPassword": tls.keyPassword }),
      "tls.server.need.client.auth": tls.needClientAuth ?? "none",
      "tls.server.authClient": String(tls.trustCertFile !== undefined),
      ...(tls.trustCertFile === undefined ? {} : { "tls.server.trustCertPath": tls.trustCertFile })
    })
  )
  return [
    `-Dtls.server.mode=${tls.mode ?? "enforcing"}`,
    `-Dtls.config.file=${file}`,
    // The broker's own clients (its registration with the NameServer) would otherwise use TLS too:
    // NettyClientConfig.useTLS defaults to `tls.enable`, and that to whether the server mode is enforcing.
    "-Dtls.enable=false"
  ]
}

// ---- prerequisites ----------------------------------------------------------------------------------------

/** java, javac, mvn and the servers' classpath; the value is the classpath. */
export const availability: Effect.Effect<Prerequisites.Availability<string>> = Effect.runSync(
  Effect.cached(JavaRemoting.classpathAvailability("rocketmq-servers"))
)

// ---- processes --------------------------------------------------------------------------------------------

/** A JVM: stdout and stderr as lines (the last 200), watched (exit hook, watchdog) until it exits. */
type Jvm = ChildPeer.ChildPeer

const OUTPUT_LINES = 200

const jvmOptions = (name: string, env: NodeJS.ProcessEnv, grace?: Duration.Duration): ChildPeer.Options => ({
  name,
  env,
  stdin: "ignore",
  stderrLines: true,
  maxLines: OUTPUT_LINES,
  watched: true,
  ...(grace === undefined ? {} : { grace })
})

/** Starts a JVM; the scope's finalizer stops it: SIGTERM, SIGKILL after `grace`, waits until it is gone. */
const startJvm = (
  name: string,
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
  grace: Duration.Duration
): Effect.Effect<Jvm, never, Scope.Scope> => ChildPeer.start("java", args, jvmOptions(name, env, grace))

/** Spawns a JVM, watched (exit hook, watchdog) but owned by no scope: the caller stops it. */
const spawnJvm = (name: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Jvm =>
  ChildPeer.spawnPeer("java", args, jvmOptions(name, env))

/** SIGTERM, SIGKILL after `grace`, then waits (up to 10 s) until the JVM is gone. */
const stopJvm = (jvm: Jvm, grace: Duration.Duration): Effect.Effect<void> => ChildPeer.stop(jvm, grace)

/** SIGKILL, then waits (up to 10 s) until the process is gone and its stdio closed: its ports are free. */
const killJvm = (jvm: Jvm): Effect.Effect<void> => ChildPeer.kill(jvm)

// ---- ports ------------------------------------------------------------------------------------------------

const canListen = (port: number, host: string): Promise<boolean> =>
  new Promise((resolve) => {
    const server = Net.createServer()
    server.once("error", () => resolve(false))
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)))
  })

/** Free on 127.0.0.1 and on all interfaces (the broker's HA port, port + 1, binds to all of them). */
const isFree = async (port: number) => (await canListen(port, "0.0.0.0")) && (await canListen(port, "127.0.0.1"))

/**
 * Four consecutive free ports `base-2 .. base+1`: the broker's fast port (base − 2), the NameServer (base − 1),
 * the broker (base) and its HA port (base + 1). Picked at random below Linux's ephemeral range (32768+), where
 * outgoing connections would otherwise take them.
 */
const pickPorts: Effect.Effect<{ readonly nameServer: number; readonly broker: number }, ServerError> = Effect
  .tryPromise({
    try: async () => {
      for (let attempt = 0; attempt < 200; attempt++) {
        const base = 20_002 + Math.floor(Math.random() * 12_000)
        const ports = [base - 2, base - 1, base, base + 1]
        let free = true
        for (const port of ports) {
          if (!(await isFree(port))) {
            free = false
            break
          }
        }
        if (free) return { nameServer: base - 1, broker: base }
      }
      throw new Error("no four consecutive free ports found in 200 tries")
    },
    catch: (error) => new ServerError({ reason: `picking ports: ${error}` })
  })

// ---- the raw cluster-info request ------------------------------------------------------------------------

/** A JSON GET_BROKER_CLUSTER_INFO (106) request frame, as REMOTING.md gives it. */
const clusterInfoRequest = (opaque: number): Buffer => {
  const header = Buffer.from(
    JSON.stringify({
      code: 106,
      flag: 0,
      language: "JAVA",
      opaque,
      serializeTypeCurrentRPC: "JSON",
      version: 479
    }),
    "utf8"
  )
  const frame = Buffer.alloc(8 + header.length)
  frame.writeUInt32BE(4 + header.length, 0)
  frame.writeUInt32BE(header.length, 4) // serialize type 0 (JSON) in the top byte
  header.copy(frame, 8)
  return frame
}

/** The answer's JSON header and body, as text. */
export interface RawAnswer {
  readonly header: string
  readonly body: string
}

/**
 * Sends one raw GET_BROKER_CLUSTER_INFO to `address` (`host:port`) over node:net and reads one answer frame.
 * The body is RocketMQ's non-standard JSON (unquoted integer keys): returned as text.
 */
export const brokerClusterInfo = (address: string, timeoutMs = 5_000): Effect.Effect<RawAnswer, ServerError> =>
  Effect.async<RawAnswer, ServerError>((resume) => {
    const [host, port] = splitAddress(address)
    const socket = Net.connect({ host, port })
    let buffer = Buffer.alloc(0)
    let done = false
    const finish = (effect: Effect.Effect<RawAnswer, ServerError>) => {
      if (done) return
      done = true
      socket.destroy()
      resume(effect)
    }
    socket.setTimeout(
      timeoutMs,
      () => finish(Effect.fail(new ServerError({ reason: `${address}: no answer within ${timeoutMs} ms` })))
    )
    socket.on("error", (error) => finish(Effect.fail(new ServerError({ reason: `${address}: ${error.message}` }))))
    socket.on("close", () => finish(Effect.fail(new ServerError({ reason: `${address} closed without answering` }))))
    socket.on("connect", () => socket.write(clusterInfoRequest(1)))
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      if (buffer.length < 8) return
      const length = buffer.readUInt32BE(0)
      if (buffer.length < 4 + length) return
      const headerLength = buffer.readUInt32BE(4) & 0xffffff
      const type = buffer.readUInt8(4)
      if (type !== 0) {
        finish(Effect.fail(new ServerError({ reason: `${address} answered with serialize type ${type}, not JSON` })))
        return
      }
      finish(Effect.succeed({
        header: buffer.subarray(8, 8 + headerLength).toString("utf8"),
        body: buffer.subarray(8 + headerLength, 4 + length).toString("utf8")
      }))
    })
    return Effect.sync(() => {
      done = true
      socket.destroy()
    })
  })

const splitAddress = (address: string): readonly [string, number] => {
  const colon = address.lastIndexOf(":")
  return [address.slice(0, colon), Number(address.slice(colon + 1))]
}

/** Whether a GET_BROKER_CLUSTER_INFO body lists `brokerName` with an address. */
export const listsBroker = (body: string, brokerName: string): boolean =>
  body.includes(`"brokerName":"${brokerName}"`) && body.includes(`"brokerAddrs":{0:`)

/** Polls the NameServer until it lists `brokerName`; fails after `timeout` with the last answer or error. */
export const awaitBrokerListed = (
  nameServer: string,
  brokerName: string,
  timeout: Duration.DurationInput = "30 seconds"
): Effect.Effect<RawAnswer, ServerError> => {
  let last = "no answer yet"
  return brokerClusterInfo(nameServer).pipe(
    Effect.tap((answer) => {
      last = `last answer: ${answer.header} ${answer.body}`
    }),
    Effect.tapError((error) => Effect.sync(() => (last = `last error: ${error.reason}`))),
    Effect.filterOrFail(
      (answer) => listsBroker(answer.body, brokerName),
      () => new ServerError({ reason: "broker not listed yet" })
    ),
    Effect.retry(Schedule.spaced("200 millis")),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new ServerError({
          reason: `the NameServer ${nameServer} did not list broker ${brokerName} within ${
            Duration.format(Duration.decode(timeout))
          }; ${last}`
        })
    })
  )
}

// ---- starting ---------------------------------------------------------------------------------------------

const properties = (entries: Readonly<Record<string, string>>) =>
  Object.entries(entries).map(([key, value]) => `${key}=${value}`).join("\n") + "\n"

const tailOfFile = (file: string, lines = 40): string => {
  try {
    return Fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n")
  } catch {
    return `(no ${file})`
  }
}

/** Waits for a boot line; on failure or timeout the error shows the JVM's last output and its log's tail. */
const awaitBoot = (jvm: Jvm, pattern: RegExp, timeout: Duration.Duration, logFile: string) =>
  jvm.awaitLine((line) => pattern.test(line)).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new ServerError({ reason: `${jvm.name} did not print ${pattern} within ${Duration.format(timeout)}` })
    }),
    Effect.mapError((error) =>
      new ServerError({
        reason: `${error.reason}\n--- last output of ${jvm.name} ---\n${jvm.lines().slice(-40).join("\n")}\n` +
          `--- ${logFile} ---\n${tailOfFile(logFile)}`
      })
    ),
    Effect.map(() => Date.now() - jvm.startedAt)
  )

/** "Address already in use": another process took a port between the check and the JVM's bind. */
const isPortRace = (error: ServerError) => /Address already in use|BindException/.test(error.reason)

const keepHome = process.env.ROCKETMQ_TEST_KEEP_HOME === "true"

const startOnce = (
  classpath: string,
  options: Options
): Effect.Effect<RocketMQServers, ServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const brokerName = options.brokerName ?? "broker-a"
    const clusterName = options.clusterName ?? "DefaultCluster"
    const bootTimeout = Duration.decode(options.bootTimeout ?? "90 seconds")
    const grace = Duration.decode(options.stopGrace ?? "3 seconds")

    const home = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "rocketmq-effect-servers-"))),
      (dir) =>
        Effect.sync(() => {
          if (keepHome) console.warn(`RocketMQServers: kept ${dir} (ROCKETMQ_TEST_KEEP_HOME=true)`)
          else Fs.rmSync(dir, { recursive: true, force: true })
        })
    )
    const ports = yield* pickPorts
    const nameServer = `127.0.0.1:${ports.nameServer}`
    const broker = `127.0.0.1:${ports.broker}`
    const store = Path.join(home, "store")

    const nsFile = Path.join(home, "namesrv.properties")
    const brokerFile = Path.join(home, "broker.properties")
    Fs.writeFileSync(
      nsFile,
      properties({
        listenPort: String(ports.nameServer),
        bindAddress: "127.0.0.1",
        rocketmqHome: home,
        ...options.nameServerProperties
      })
    )
    Fs.writeFileSync(
      brokerFile,
      properties({
        brokerClusterName: clusterName,
        brokerName,
        brokerId: "0",
        brokerRole: "ASYNC_MASTER",
        flushDiskType: "ASYNC_FLUSH",
        namesrvAddr: nameServer,
        brokerIP1: "127.0.0.1",
        // The remoting server (listenPort and the fast port, listenPort − 2) on loopback only; the HA port
        // (listenPort + 1) has no such setting and binds to all interfaces.
        bindAddress: "127.0.0.1",
        listenPort: String(ports.broker),
        storePathRootDir: store,
        storePathCommitLog: Path.join(store, "commitlog"),
        autoCreateTopicEnable: "true",
        mappedFileSizeCommitLog: "104857600",
        rocketmqHome: home,
        // A developer's disk at 90 % must not turn every send into SERVICE_NOT_AVAILABLE: the store is tiny.
        diskMaxUsedSpaceRatio: "98",
        diskSpaceWarningLevelRatio: "99",
        diskSpaceCleanForciblyRatio: "98",
        ...options.brokerProperties
      })
    )

    const env: NodeJS.ProcessEnv = { ...process.env, ROCKETMQ_HOME: home }
    delete env.NAMESRV_ADDR
    delete env.ROCKETMQ_SERIALIZE_TYPE
    const common = (heap: string, logback: string, extra: ReadonlyArray<string> = []) => [
      `-Xmx${heap}`,
      `-Duser.home=${home}`,
      `-Drocketmq.home.dir=${home}`,
      // Each server its own log configuration (the first found on the classpath would be the broker's), and no
      // logback status chatter on stdout.
      `-Drmq.logback.configurationFile=${logback}`,
      "-Dlogback.statusListenerClass=org.apache.rocketmq.logging.ch.qos.logback.core.status.NopStatusListener",
      ...(options.jvmOptions ?? []),
      ...extra,
      "-cp",
      classpath
    ]
    const logs = Path.join(home, "logs", "rocketmqlogs")

    const ns = yield* startJvm(
      `NameServer ${nameServer}`,
      [...common("256m", "rmq.namesrv.logback.xml"), "org.apache.rocketmq.namesrv.NamesrvStartup", "-c", nsFile],
      env,
      grace
    )
    const nameServerBootMs = yield* awaitBoot(
      ns,
      /The Name Server boot success/,
      bootTimeout,
      Path.join(logs, "namesrv.log")
    )

    // The broker JVM running now: replaced by `startBroker`, stopped with the scope whichever it is (before the
    // NameServer, as the finalizers run in reverse).
    const current: { jvm: Jvm | undefined } = { jvm: undefined }
    yield* Effect.addFinalizer(() => current.jvm === undefined ? Effect.void : stopJvm(current.jvm, grace))
    const brokerArgs = [
      ...common("512m", "rmq.broker.logback.xml", [
        ...(options.brokerJvmOptions ?? []),
        ...(options.brokerTls === undefined ? [] : brokerTlsOptions(options.brokerTls, home))
      ]),
      "org.apache.rocketmq.broker.BrokerStartup",
      "-c",
      brokerFile,
      "-n",
      nameServer
    ]
    const bootBroker = Effect.gen(function*() {
      const jvm = spawnJvm(`Broker ${brokerName} ${broker}`, brokerArgs, env)
      current.jvm = jvm
      return yield* awaitBoot(jvm, /The broker\[.*\] boot success/, bootTimeout, Path.join(logs, "broker.log"))
    })
    const brokerBootMs = yield* bootBroker
    const br = current.jvm!

    const registered = Date.now()
    if (options.awaitRegistration ?? true) yield* awaitBrokerListed(nameServer, brokerName, "30 seconds")

    const running = () => current.jvm !== undefined && !current.jvm.hasExited()
    return {
      nameServer,
      broker,
      brokerName,
      clusterName,
      nameServerPort: ports.nameServer,
      brokerPort: ports.broker,
      home,
      nameServerPid: ns.child.pid!,
      brokerPid: br.child.pid!,
      nameServerBootMs,
      brokerBootMs,
      registrationMs: (options.awaitRegistration ?? true) ? Date.now() - registered : 0,
      brokerRunning: running,
      currentBrokerPid: () => running() ? current.jvm!.child.pid : undefined,
      killBroker: Effect.suspend(() => current.jvm === undefined ? Effect.void : killJvm(current.jvm)),
      stopBroker: (stopGrace = "30 seconds") =>
        Effect.suspend(() =>
          current.jvm === undefined ? Effect.void : stopJvm(current.jvm, Duration.decode(stopGrace))
        ),
      startBroker: Effect.suspend(() =>
        running()
          ? Effect.fail(new ServerError({ reason: `broker ${brokerName} ${broker} is running` }))
          : Effect.gen(function*() {
            const bootMs = yield* bootBroker
            if (options.awaitRegistration ?? true) yield* awaitBrokerListed(nameServer, brokerName, "30 seconds")
            return bootMs
          })
      )
    }
  })

/**
 * Starts a NameServer and a broker registered with it, for the scope. Fails when a prerequisite is missing
 * (callers skip outside CI: see `availability`). A start that loses a port race is retried with new ports,
 * up to three times; each attempt's processes and home are released before the next.
 */
export const start = (options: Options = {}): Effect.Effect<RocketMQServers, ServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const classpath = yield* availability.pipe(
      Effect.flatMap(JavaRemoting.requireAvailable),
      Effect.mapError((error) => new ServerError({ reason: error.reason }))
    )
    const parent = yield* Effect.scope
    const attempt = Effect.gen(function*() {
      const child = yield* Scope.fork(parent, ExecutionStrategy.sequential)
      return yield* startOnce(classpath, options).pipe(
        Scope.extend(child),
        Effect.onExit((exit) => Exit.isFailure(exit) ? Scope.close(child, exit) : Effect.void)
      )
    })
    return yield* attempt.pipe(Effect.retry({ times: 2, while: isPortRace }))
  })

/** The resident set size of a process, in bytes (Linux `/proc`); undefined elsewhere or once it has exited. */
export const rssBytes = (pid: number): number | undefined => {
  try {
    const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1]
    return kb === undefined ? undefined : Number(kb) * 1024
  } catch {
    return undefined
  }
}

/**
 * For a vitest file: starts the servers in `beforeAll` and stops them in `afterAll`; the getter returns them
 * inside tests. Call it inside a `describe` that is skipped when `availability` says Missing.
 */
export const useServers = (
  options: Options = {},
  timeoutMs = 240_000
): () => RocketMQServers => {
  if (vitest === undefined) throw new Error("RocketMQServers.useServers runs inside vitest only; use start elsewhere")
  const { afterAll, beforeAll } = vitest
  let scope: Scope.CloseableScope | undefined
  let servers: RocketMQServers | undefined
  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    servers = await Effect.runPromise(Scope.extend(start(options), scope))
  }, timeoutMs)
  afterAll(async () => {
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  }, timeoutMs)
  return () => {
    if (servers === undefined) throw new Error("RocketMQServers.useServers: the servers did not start (see beforeAll)")
    return servers
  }
}
