/**
 * The `rmq-transport` command line: `echo-server`, `send`, `ping`, `bench` and `demo` for the transport,
 * `produce` and `consume` for a RocketMQ cluster (through `@rocketmq-effect/client`), built with `@effect/cli`.
 *
 * `main(argv)` runs a command line and always succeeds with the process's exit code: a failure has already
 * been printed as one line on standard error (`rmq-transport: connection refused: …`), see `Failure.ts` for
 * the codes. A bad command line is exit code 2 and a line that names the flag (`rmq-transport: --port must be
 * an integer from 0 to 65535, got '99999'`). The transport's own logs are kept below the minimum level
 * (`Error` unless `--log-level` says otherwise), so commands print only their own lines; nothing printed
 * carries escape sequences unless it goes to a terminal and `NO_COLOR` is not set.
 *
 * TLS: on `send` and `ping`, `--tls` connects over TLS, and each of `--ca`, `--cert`, `--key`, `--server-name`
 * and `--insecure` implies it. `echo-server --tls` serves TLS and needs `--cert` and `--key`; with `--ca` it
 * requires client certificates. The PEM files are read by the CLI; a file it cannot read, or a bad
 * combination (`--cert` without `--key`, `echo-server --cert` without `--tls`), is a usage error naming the
 * flag.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as BuiltInOptions from "@effect/cli/BuiltInOptions"
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import * as Directive from "@effect/cli/CommandDirective"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Bench from "./Bench.js"
import * as ConnectionOptions from "./ConnectionOptions.js"
import * as Consume from "./Consume.js"
import * as Demo from "./Demo.js"
import * as EchoServer from "./EchoServer.js"
import * as Failure from "./Failure.js"
import * as Color from "./internal/color.js"
import * as CommandLine from "./internal/commandLine.js"
import * as Flag from "./internal/flag.js"
import * as Help from "./internal/help.js"
import * as JsonOutput from "./internal/jsonOutput.js"
import * as PackageVersion from "./internal/packageVersion.js"
import * as Ping from "./Ping.js"
import * as Produce from "./Produce.js"
import * as Send from "./Send.js"
import { formatBytes } from "./Stats.js"

/**
 * @since 0.1.0
 * @category constants
 */
export const name = "rmq-transport"

/**
 * The version of the `@rocketmq-effect/cli` package, from its `package.json`.
 *
 * @since 0.1.0
 * @category constants
 */
export const version: string = PackageVersion.read()

const host = Flag.withDefault(
  Flag.text("host", { description: "Host name or IP address" }),
  ConnectionOptions.defaults.host
)

const maxMessageSize = Flag.withDefault(
  Flag.integer("max-message-size", {
    description: "Largest frame payload in bytes, either way",
    min: 1,
    max: TransportConfig.MAX_MESSAGE_SIZE_LIMIT
  }),
  ConnectionOptions.defaults.maxMessageSize,
  `${ConnectionOptions.defaults.maxMessageSize} (${formatBytes(ConnectionOptions.defaults.maxMessageSize)})`
)

const connectTimeout = Flag.withDefault(
  Flag.seconds("connect-timeout", { description: "Seconds one connection attempt may take" }),
  ConnectionOptions.defaults.connectTimeout
)

const timeout = Flag.withDefault(
  Flag.seconds("timeout", { description: "Seconds a send or a receive may take" }),
  ConnectionOptions.defaults.timeout
)

/** The port of a peer to connect to: 0 is no port there. */
const peerPort = (description: string) => Flag.integer("port", { description, min: 1, max: 65535 })

/** The TLS flags of the client commands: any of them but `--tls` itself implies `--tls`. */
const clientTlsFlags = {
  tls: Flag.boolean("tls", {
    description: "Connect over TLS. Implied by --ca, --cert, --key, --server-name and --insecure; alone, it " +
      "trusts Node's bundled CAs and checks the server's certificate against --host"
  }),
  ca: Flag.optional(Flag.file("ca", {
    description: "PEM file of the CAs to trust for the server's certificate, instead of Node's bundled ones; " +
      "implies --tls"
  })),
  cert: Flag.optional(Flag.file("cert", {
    description: "PEM file of a client certificate, for a server that requires one (mutual TLS); needs --key; " +
      "implies --tls"
  })),
  key: Flag.optional(Flag.file("key", {
    description: "PEM file of the private key of --cert (unencrypted); needs --cert; implies --tls"
  })),
  serverName: Flag.optional(Flag.text("server-name", {
    description: "The name to send (SNI) and to check the server's certificate against, instead of --host; " +
      "implies --tls"
  })),
  insecure: Flag.boolean("insecure", {
    description: "Do not verify the server's certificate (CA, dates, name): encrypted but not authenticated, " +
      "for tests only; implies --tls; not with --ca"
  })
}

interface ClientTlsValues {
  readonly tls: boolean
  readonly ca: Option.Option<string>
  readonly cert: Option.Option<string>
  readonly key: Option.Option<string>
  readonly serverName: Option.Option<string>
  readonly insecure: boolean
}

/** A client command's parsed flags with the TLS ones folded into `tls`: undefined for plain TCP. */
const withClientTls = <A extends ClientTlsValues>(
  options: A
): Omit<A, keyof ClientTlsValues> & { readonly tls: ConnectionOptions.TlsOptions | undefined } => {
  const { ca, cert, insecure, key, serverName, tls, ...rest } = options
  const on = tls || insecure || [ca, cert, key, serverName].some(Option.isSome)
  return {
    ...rest,
    tls: on
      ? {
        caFile: Option.getOrUndefined(ca),
        certFile: Option.getOrUndefined(cert),
        keyFile: Option.getOrUndefined(key),
        serverName: Option.getOrUndefined(serverName),
        insecure
      }
      : undefined
  }
}

/** The TLS flags of `echo-server`: `--tls` turns TLS on and needs `--cert` and `--key`; nothing implies it. */
const serverTlsFlags = {
  tls: Flag.boolean("tls", { description: "Serve TLS instead of plain TCP; needs --cert and --key" }),
  cert: Flag.optional(Flag.file("cert", { description: "PEM file of the server's certificate chain, for --tls" })),
  key: Flag.optional(Flag.file("key", {
    description: "PEM file of the private key of --cert (unencrypted), for --tls"
  })),
  ca: Flag.optional(Flag.file("ca", {
    description: "PEM file of the CAs that client certificates must chain to: with it, every client must " +
      "present a certificate they signed (mutual TLS); for --tls"
  }))
}

const usageError = (reason: string) => new Failure.CliError({ reason, exitCode: Failure.ExitCode.Usage })

/** The echo server's TLS options, or a usage error naming the flag that is missing or out of place. */
const serverTls = (options: {
  readonly tls: boolean
  readonly cert: Option.Option<string>
  readonly key: Option.Option<string>
  readonly ca: Option.Option<string>
}): Effect.Effect<EchoServer.TlsOptions | undefined, Failure.CliError> => {
  if (!options.tls) {
    const given = ([["--cert", options.cert], ["--key", options.key], ["--ca", options.ca]] as const)
      .find(([, value]) => Option.isSome(value))
    return given === undefined
      ? Effect.succeed(undefined)
      : Effect.fail(usageError(`${given[0]} is for --tls: add --tls to serve TLS, or leave ${given[0]} out`))
  }
  if (Option.isNone(options.cert)) {
    return Effect.fail(usageError("--tls needs --cert and --key (the server's certificate and its private key)"))
  }
  if (Option.isNone(options.key)) return Effect.fail(usageError("--tls needs --key (the private key of --cert)"))
  return Effect.succeed({
    certFile: options.cert.value,
    keyFile: options.key.value,
    caFile: Option.getOrUndefined(options.ca)
  })
}

const echoServerFlags = {
  host,
  port: Flag.withDefault(
    Flag.integer("port", { description: "TCP port to listen on; 0 picks a free one", min: 0, max: 65535 }),
    0
  ),
  maxMessageSize,
  ...serverTlsFlags
}

const echoServer = Command.make(
  "echo-server",
  Flag.options(echoServerFlags),
  ({ ca, cert, key, tls, ...options }) =>
    Effect.flatMap(serverTls({ ca, cert, key, tls }), (tls) => EchoServer.run({ ...options, tls }))
).pipe(
  Command.withDescription(
    "Run a framed echo server until Ctrl-C; prints the address it listens on. With --tls (and --cert, --key) " +
      "it serves TLS; with --ca too, it requires client certificates"
  )
)

const sendFlags = {
  host,
  port: peerPort("TCP port of the peer"),
  connectTimeout,
  timeout,
  maxMessageSize,
  ...clientTlsFlags,
  hex: Flag.boolean("hex", { description: "Print the reply as a hex dump even when it is text" }),
  json: Flag.boolean("json", {
    description: "Print one JSON document instead: the address and the reply's size, text (null unless UTF-8) " +
      "and base64"
  }),
  raw: Flag.boolean("raw", {
    description: "Write the reply's bytes to standard output exactly as they came: no newline, no decoding"
  })
}

const send = Command.make(
  "send",
  {
    ...Flag.options(sendFlags),
    message: Args.text({ name: "text | @file" }).pipe(
      Args.withDescription(
        "The payload: text (sent as UTF-8), @path for a file's bytes, or @- for standard input's (@@ for a " +
          "literal @; a text that starts with - goes after --)"
      )
    )
  },
  ({ hex, json, message, raw, ...connection }) => {
    const clash = raw && (json || hex) ?
      `--raw writes the reply as it is: not with ${json ? "--json" : "--hex"}`
      : json && hex ?
      "--json prints the reply's text and base64: not with --hex"
      : undefined
    return clash === undefined
      ? Send.run({ connection: withClientTls(connection), message, hex, json, raw })
      : Effect.fail(usageError(clash))
  }
).pipe(Command.withDescription("Send one frame and print the reply"))

const pingFlags = {
  host,
  port: Flag.optional(peerPort("TCP port of an echo peer; without it, an in-process echo server (plain TCP) is used")),
  count: Flag.withDefault(Flag.integer("count", { description: "Round trips", alias: "c", min: 1 }), 100),
  size: Flag.withDefault(Flag.integer("size", { description: "Payload bytes per frame", alias: "s", min: 0 }), 64),
  connectTimeout,
  timeout,
  maxMessageSize,
  ...clientTlsFlags,
  json: Flag.boolean("json", {
    description: "Print one JSON document instead: the address, counts and the latency figures in milliseconds"
  })
}

const ping = Command.make(
  "ping",
  Flag.options(pingFlags),
  ({ count, json, size, ...connection }) => {
    const pinged = Ping.run({ connection: withClientTls(connection), count, size })
    return json
      ? JsonOutput.only(pinged, ({ latency, ...result }) => ({ ...result, latencyMillis: latency }))
      : Effect.asVoid(pinged)
  }
).pipe(Command.withDescription("Round trips through an echo peer, one at a time, with latency statistics"))

const benchFlags = {
  runs: Flag.withDefault(
    Flag.integer("runs", { description: "Runs per workload and client; the table shows medians", min: 1 }),
    3
  ),
  quick: Flag.boolean("quick", { description: "Small counts, for a CI smoke run" }),
  only: Flag.repeated(
    Flag.choice("only", Bench.workloads, { description: "Run only this workload (repeatable); all unless given" })
  ),
  clients: Flag.repeated(
    Flag.choice("client", Bench.allClients.filter((c) => c !== "baseline"), {
      description: "Run only these clients besides the plain node:net one (repeatable); effect-untimed is a " +
        `diagnostic. Default: ${Bench.defaultClients.filter((c) => c !== "baseline").join(", ")}`
    })
  ),
  server: Flag.withDefault(
    Flag.choice("server", [...Bench.servers, "all"], {
      description: "The echo server to measure against: the Netty peer (needs javac and libnetty-java; skipped " +
        "with a note without them), TransportServer.echo, or both"
    }),
    "all"
  ),
  profileDir: Flag.optional(
    Flag.directory("profile", {
      description: "Write a CPU profile (node --cpu-prof) of each transport measurement here"
    })
  ),
  verbose: Flag.boolean("verbose", { description: "Print every run's figures too" }),
  json: Flag.boolean("json", {
    description: "Print one JSON document instead of the tables: every median and each target's verdict"
  })
}

const bench = Command.make(
  "bench",
  Flag.options(benchFlags),
  ({ json, ...options }) =>
    json
      ? JsonOutput.reporting((report: (result: Bench.BenchResult) => Effect.Effect<void>) => Bench.run(options, report))
      : Bench.run(options)
).pipe(
  Command.withDescription(
    "End-to-end benchmark: the transport's Effect and Promise APIs against a plain node:net client, tcp-base " +
      "and the seed's Python clients, through a Netty echo peer and TransportServer.echo in child processes"
  )
)

const demoFlags = {
  host,
  port: Flag.optional(peerPort("Port of an external echo server; without it one is started here")),
  quick: Flag.boolean("quick", { description: "Small counts and a short outage" }),
  maxMessageSize
}

const demo = Command.make(
  "demo",
  Flag.options(demoFlags),
  (options) => Effect.asVoid(Demo.run(options))
).pipe(
  Command.withDescription(
    "Echo frames through the transport, restart the server to show reconnection, and summarize"
  )
)

const nameServer = Flag.withDefault(
  Flag.text("namesrv", {
    description: "The NameServer, host:port, or several joined by ';' (as Java's namesrvAddr)"
  }),
  "127.0.0.1:9876"
)

const topicFlag = (description: string) => Flag.text("topic", { description, alias: "t" })

const json = (description: string) => Flag.boolean("json", { description })

const produceFlags = {
  nameServer,
  topic: topicFlag("The topic to send to (a broker that creates topics on first send creates it)"),
  group: Flag.withDefault(
    Flag.text("group", { description: "The producer group", alias: "g" }),
    "DEFAULT_PRODUCER"
  ),
  tags: Flag.optional(Flag.text("tags", { description: "The messages' tag" })),
  keys: Flag.optional(Flag.text("keys", { description: "The messages' keys, comma-separated (k1,k2)" })),
  count: Flag.optional(Flag.integer("count", {
    description: "Messages to send. Default: 1; with --body @-, every line of standard input (at most --count)",
    alias: "c",
    min: 1
  })),
  size: Flag.optional(Flag.integer("size", {
    description: "Bytes of each body: the message's number, then '.' filler. Not with --body; without either " +
      "the bodies are 'message 1', 'message 2', …",
    alias: "s",
    min: 1,
    max: 4 * 1024 * 1024
  })),
  body: Flag.optional(Flag.text("body", {
    description: "Each message's body: text (UTF-8), @path for a file's bytes, or @- for one message per line " +
      "of standard input (@@ for a literal @)"
  })),
  orderedKey: Flag.optional(Flag.text("ordered-key", {
    description: "Send every message to the queue this key picks (Java's SelectMessageQueueByHash), one at a " +
      "time: in order for a consumer of that queue"
  })),
  timeout: Flag.withDefault(
    Flag.seconds("timeout", { description: "Seconds one send may take, all its attempts included" }),
    Produce.defaultTimeoutSeconds
  ),
  json: json(
    "Print JSON lines instead: one per stored message (status, msgId, offsetMsgId, queue, queueOffset), then " +
      "{\"summary\": …}"
  )
}

const produce = Command.make(
  "produce",
  Flag.options(produceFlags),
  ({ body, count, keys, orderedKey, size, tags, timeout, ...options }) =>
    Effect.asVoid(Produce.run({
      ...options,
      tags: Option.getOrUndefined(tags),
      keys: Option.match(keys, {
        onNone: () => undefined,
        onSome: (text) => text.split(",").map((key) => key.trim()).filter((key) => key.length > 0)
      }),
      count: Option.getOrUndefined(count),
      size: Option.getOrUndefined(size),
      body: Option.getOrUndefined(body),
      orderedKey: Option.getOrUndefined(orderedKey),
      timeout: Duration.seconds(timeout)
    }))
).pipe(
  Command.withDescription(
    "Send messages to a topic through a RocketMQ NameServer; prints each one's status, msgId, queue and offset"
  )
)

/** A duration: seconds, or a number with ms, s, m or h. */
const durationFlag = (name: string, config: { readonly description: string }): Flag.Flag<string> => {
  const flag = Flag.text(name, config)
  return {
    ...flag,
    options: Options.withPseudoName(flag.options, "duration"),
    check: (value) =>
      Consume.parseDuration(value) === undefined
        ? `must be a positive duration (30, 30s, 500ms, 2m), got '${value}'`
        : undefined
  }
}

const consumeFlags = {
  nameServer,
  topic: topicFlag("The topic to consume"),
  group: Flag.text("group", {
    description: "The consumer group: its members share the topic's queues, and it keeps the committed offsets",
    alias: "g"
  }),
  tags: Flag.withDefault(
    Flag.text("tags", { description: "Only messages with these tags: one, or several joined by || (\"a || b\")" }),
    "*"
  ),
  count: Flag.optional(Flag.integer("count", {
    description: "Stop after this many messages",
    alias: "c",
    min: 1
  })),
  from: Flag.withDefault(
    Flag.choice("from", ["first", "last"], {
      description: "Where a queue the group has no committed offset for starts: its first message, or only " +
        "messages stored from now on"
    }),
    "last"
  ),
  timeout: Flag.optional(durationFlag("timeout", {
    description: "Stop after this long: seconds, or with a unit (500ms, 30s, 2m); exit code 4 if --count " +
      "messages have not come by then"
  })),
  json: json(
    "Print JSON lines instead: one per message (msgId, queue, offset, tags, keys, properties, body as text and " +
      "base64), then {\"summary\": …}"
  )
}

const consume = Command.make(
  "consume",
  Flag.options(consumeFlags),
  ({ count, timeout, ...options }) =>
    Effect.asVoid(Consume.run({
      ...options,
      count: Option.getOrUndefined(count),
      timeout: Option.getOrUndefined(Option.flatMapNullable(timeout, Consume.parseDuration))
    }))
).pipe(
  Command.withDescription(
    "Join a consumer group on a topic and print each message, acknowledging it; stops after --count, at " +
      "--timeout or at Ctrl-C, committing the offsets"
  )
)

/** What the command line check knows of each command: the same flags. */
const program: CommandLine.ProgramSpec = {
  name,
  commands: [
    { name: "echo-server", flags: Object.values(echoServerFlags) },
    { name: "send", flags: Object.values(sendFlags) },
    { name: "ping", flags: Object.values(pingFlags) },
    { name: "bench", flags: Object.values(benchFlags) },
    { name: "demo", flags: Object.values(demoFlags) },
    { name: "produce", flags: Object.values(produceFlags) },
    { name: "consume", flags: Object.values(consumeFlags) }
  ]
}

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
    Command.withDescription(
      "A TCP transport for length-prefixed frames (RocketMQ remoting): tools and benchmarks; and a RocketMQ " +
        "producer and consumer"
    ),
    Command.withSubcommands([echoServer, send, ping, bench, demo, produce, consume])
  )

const cli = Command.run(command, { name, version })

const usage = (line: string): Effect.Effect<number> =>
  Effect.as(Console.error(`${name}: ${line}`), Failure.ExitCode.Usage as number)

/**
 * What to do before @effect/cli runs the command line: print a usage problem as one line (first the command
 * line check, then @effect/cli's own parse, done here once more so that its error becomes one line instead of
 * the text it prints), print the help `--help` asked for in this CLI's words, or nothing (`undefined`).
 */
const preflight = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const problem = CommandLine.check(program, args)
    if (problem !== undefined) return { _tag: "Usage", line: problem } as const
    const parsed = yield* Effect.either(Descriptor.parse(command.descriptor, [name, ...args], CliConfig.defaultConfig))
    const subcommand = CommandLine.commandOf(program, args)
    if (Either.isLeft(parsed)) return { _tag: "Usage", line: CommandLine.describe(parsed.left, subcommand) } as const
    const directive = parsed.right
    if (Directive.isUserDefined(directive) && directive.leftover.length > 0) {
      const line = `${subcommand === undefined ? "" : `${subcommand.name}: `}unexpected argument ` +
        `'${directive.leftover[0]}'`
      return { _tag: "Usage", line } as const
    }
    if (Directive.isBuiltIn(directive) && BuiltInOptions.isShowHelp(directive.option)) {
      return { _tag: "Help", text: Help.render(directive.option, { name, version }, CliConfig.defaultConfig) } as const
    }
    return undefined
  })

/** The transport's logs, when `--log-level` lets them through: on standard error, colored only where allowed. */
const logger = Logger.prettyLogger({ colors: Color.enabled(process.stderr), stderr: true })

/**
 * Runs a command line (`process.argv`: runtime and script first) and succeeds with the exit code.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  preflight(argv.slice(2)).pipe(
    Effect.flatMap((found) =>
      found === undefined
        ? Effect.as(cli(argv), Failure.ExitCode.Success as number)
        : found._tag === "Usage"
        ? usage(found.line)
        : Effect.as(Console.log(found.text), Failure.ExitCode.Success as number)
    ),
    Effect.catchAll((error) => {
      // Not expected after `usageProblem`; @effect/cli has printed what it found.
      if (ValidationError.isValidationError(error)) return Effect.succeed(Failure.ExitCode.Usage as number)
      const { exitCode, line } = Failure.describe(error)
      return Effect.as(Console.error(`${name}: ${line.split("\n")[0]}`), exitCode as number)
    }),
    Effect.catchAllDefect((defect) =>
      Effect.as(Console.error(`${name}: internal error: ${String(defect)}`), Failure.ExitCode.Failure as number)
    ),
    // A one-shot command reports its failure in its own line: the transport's warning about giving up on
    // reconnecting would say it twice. Below `--log-level` (which @effect/cli applies inside), so the flag wins.
    Logger.withMinimumLogLevel(LogLevel.Error),
    Effect.locallyWith(
      FiberRef.currentLoggers,
      (loggers) =>
        loggers.pipe(
          HashSet.remove(Logger.defaultLogger),
          HashSet.remove(Logger.prettyLoggerDefault),
          HashSet.add(logger)
        )
    ),
    (effect) => Effect.consoleWith((console) => Effect.withConsole(effect, Color.plainConsole(console))),
    Effect.provide(NodeContext.layer)
  )
