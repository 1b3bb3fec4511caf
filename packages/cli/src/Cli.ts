/**
 * The `rmq-transport` command line: `echo-server`, `send`, `ping`, `bench` and `demo`, built with
 * `@effect/cli`.
 *
 * `main(argv)` runs a command line and always succeeds with the process's exit code: a failure has already
 * been printed as one line on standard error (`rmq-transport: connection refused: …`), see `Failure.ts` for
 * the codes. The transport's own logs are kept below the minimum level (`Warning` unless `--log-level` says
 * otherwise), so commands print only their own lines.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Bench from "./Bench.js"
import * as ConnectionOptions from "./ConnectionOptions.js"
import * as Demo from "./Demo.js"
import * as EchoServer from "./EchoServer.js"
import * as Failure from "./Failure.js"
import * as Ping from "./Ping.js"
import * as Send from "./Send.js"

/**
 * @since 0.1.0
 * @category constants
 */
export const name = "rmq-transport"

/**
 * @since 0.1.0
 * @category constants
 */
export const version = "0.1.0"

const host = Options.text("host").pipe(
  Options.withDescription("Host name or IP address"),
  Options.withDefault(ConnectionOptions.defaults.host)
)

const maxMessageSize = Options.integer("max-message-size").pipe(
  Options.withDescription("Largest frame payload in bytes, either way"),
  Options.withDefault(ConnectionOptions.defaults.maxMessageSize)
)

const connectTimeout = Options.float("connect-timeout").pipe(
  Options.withDescription("Seconds one connection attempt may take"),
  Options.withDefault(ConnectionOptions.defaults.connectTimeout)
)

const timeout = Options.float("timeout").pipe(
  Options.withDescription("Seconds a send or a receive may take"),
  Options.withDefault(ConnectionOptions.defaults.timeout)
)

const echoServer = Command.make(
  "echo-server",
  {
    host,
    port: Options.integer("port").pipe(
      Options.withDescription("TCP port to listen on; 0 picks a free one"),
      Options.withDefault(0)
    ),
    maxMessageSize
  },
  (options) => EchoServer.run(options)
).pipe(Command.withDescription("Run a framed echo server until Ctrl-C; prints the address it listens on"))

const send = Command.make(
  "send",
  {
    host,
    port: Options.integer("port").pipe(Options.withDescription("TCP port of the peer")),
    connectTimeout,
    timeout,
    maxMessageSize,
    hex: Options.boolean("hex").pipe(Options.withDescription("Print the reply as a hex dump even when it is text")),
    message: Args.text({ name: "text | @file" }).pipe(
      Args.withDescription("The payload: text (sent as UTF-8), or @path for a file's bytes (@@ for a literal @)")
    )
  },
  ({ hex, message, ...connection }) => Send.run({ connection, message, hex })
).pipe(Command.withDescription("Send one frame and print the reply"))

const ping = Command.make(
  "ping",
  {
    host,
    port: Options.integer("port").pipe(
      Options.withDescription("TCP port of an echo peer; without it, an in-process echo server is used"),
      Options.optional
    ),
    count: Options.integer("count").pipe(
      Options.withAlias("c"),
      Options.withDescription("Round trips"),
      Options.withDefault(100)
    ),
    size: Options.integer("size").pipe(
      Options.withAlias("s"),
      Options.withDescription("Payload bytes per frame"),
      Options.withDefault(64)
    ),
    connectTimeout,
    timeout,
    maxMessageSize
  },
  ({ count, size, ...connection }) => Effect.asVoid(Ping.run({ connection, count, size }))
).pipe(Command.withDescription("Round trips through an echo peer, one at a time, with latency statistics"))

const workload = Options.choice("only", Bench.workloads).pipe(
  Options.withDescription("Run only this workload (repeatable)"),
  Options.repeated
)

const bench = Command.make(
  "bench",
  {
    runs: Options.integer("runs").pipe(
      Options.withDescription("Runs per workload and client; the table shows medians"),
      Options.withDefault(3)
    ),
    quick: Options.boolean("quick").pipe(Options.withDescription("Small counts, for a CI smoke run")),
    only: workload,
    clients: Options.choice("client", Bench.allClients.filter((c) => c !== "baseline")).pipe(
      Options.withDescription(
        "Run only these clients besides the baseline (repeatable); effect-untimed is a diagnostic"
      ),
      Options.repeated
    ),
    profileDir: Options.directory("profile").pipe(
      Options.withDescription("Write a CPU profile (node --cpu-prof) of each transport measurement here"),
      Options.optional
    ),
    verbose: Options.boolean("verbose").pipe(Options.withDescription("Print every run's figures too"))
  },
  (options) => Bench.run(options)
).pipe(
  Command.withDescription(
    "End-to-end benchmark: the transport's Effect and Promise APIs against a plain node:net client, through " +
      "a framed echo server in a child process"
  )
)

const demo = Command.make(
  "demo",
  {
    host,
    port: Options.integer("port").pipe(
      Options.withDescription("Port of an external echo server; without it one is started here"),
      Options.optional
    ),
    quick: Options.boolean("quick").pipe(Options.withDescription("Small counts and a short outage")),
    maxMessageSize
  },
  (options) => Effect.asVoid(Demo.run(options))
).pipe(
  Command.withDescription(
    "Echo frames through the transport, restart the server to show reconnection, and summarize"
  )
)

/**
 * The command tree.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  name,
  {},
  () => Console.log(`${name} ${version}: run \`${name} --help\` for the commands`)
)
  .pipe(
    Command.withDescription("A TCP transport for length-prefixed frames (RocketMQ remoting): tools and benchmarks"),
    Command.withSubcommands([echoServer, send, ping, bench, demo])
  )

const cli = Command.run(command, { name, version })

/**
 * Runs a command line (`process.argv`: runtime and script first) and succeeds with the exit code.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  cli(argv).pipe(
    Effect.as(Failure.ExitCode.Success as number),
    Effect.catchAll((error) => {
      // @effect/cli has printed the usage problem and the help already.
      if (ValidationError.isValidationError(error)) return Effect.succeed(Failure.ExitCode.Usage as number)
      const { exitCode, line } = Failure.describe(error)
      return Effect.as(Console.error(`${name}: ${line.split("\n")[0]}`), exitCode as number)
    }),
    Effect.catchAllDefect((defect) =>
      Effect.as(Console.error(`${name}: internal error: ${String(defect)}`), Failure.ExitCode.Failure as number)
    ),
    // Below `--log-level` (which @effect/cli applies inside), so the flag still wins.
    Logger.withMinimumLogLevel(LogLevel.Warning),
    Effect.provide(NodeContext.layer)
  )
