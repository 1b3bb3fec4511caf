/**
 * Apache RocketMQ's own Java client (rocketmq-client 5.3.3) as a peer for the client's tests: a producer or a
 * push consumer in a JVM of its own (`interop/java-client/ClientPeer.java`), driven by JSON lines on stdin and
 * answering with JSON lines on stdout.
 *
 * - `availability`: java, javac and mvn, the classpath of `interop/java-client/pom.xml` (resolved once and
 *   cached under `build/java/java-client/`, see `JavaRemoting.mavenClasspath`) and `ClientPeer` compiled there.
 *   Missing skips the tests outside CI (`Prerequisites.skipReason`); a javac failure is a bug here and fails.
 * - `startProducer` / `startConsumer`: scoped; the JVM gets a temporary user.home (the client's log goes to
 *   `<home>/logs/rocketmq_client.log`, never to stdout). The scope's finalizer closes stdin (the peer shuts its
 *   client down and exits), then SIGTERM, then SIGKILL; the JVM is also killed if the test process dies first.
 *   `kill` is a SIGKILL now (a crash: no unregistering, no offset persisted); `shutdown` is the client's own
 *   `shutdown()` (offsets persisted, unregistered), then exit 0.
 * - `benchConsume`: one JVM draining a topic from its first offset, for the benchmarks.
 *
 * Every message the consumer is handed is one `JavaMessage`, in `messages` (a queue, each once) and in
 * `received()` (all so far).
 */
import * as ChildPeer from "@rocketmq-effect/test-kit/ChildPeer"
import { type Availability, available, missing } from "@rocketmq-effect/test-kit/Prerequisites"
import * as Prerequisites from "@rocketmq-effect/test-kit/Prerequisites"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as JavaRemoting from "../../remoting/test/JavaRemoting.js"

/** `packages/client/`. */
export const packageDir = fileURLToPath(new URL("../", import.meta.url))

/** This package's `interop/` and `build/java/`. */
export const javaProject: JavaRemoting.JavaProject = JavaRemoting.javaProject(packageDir)

const POM_DIR = "java-client"
const MAIN_CLASS = "ClientPeer"

// ---- errors -----------------------------------------------------------------------------------------------

/** The peer could not start, answered `{"ok":false}`, did not answer in time, or exited. */
export class JavaClientError extends Data.TaggedError("JavaClientError")<{
  readonly reason: string
  /** The response code of Java's MQBrokerException / MQClientException, when the peer reported one. */
  readonly code?: number | undefined
  /** The Java exception's class, when the peer reported a failed command. */
  readonly errorClass?: string | undefined
}> {
  override get message(): string {
    return this.reason
  }
}

// ---- availability -----------------------------------------------------------------------------------------

/**
 * The classpath to run `ClientPeer` with (its classes first): Missing when java, javac or mvn is absent or
 * Maven cannot resolve; fails when javac fails (a bug, locally too). Checked once per test file.
 */
export const availability: Effect.Effect<Availability<string>, JavaClientError> = Effect.runSync(
  Effect.cached(Effect.gen(function*() {
    const classpath = yield* JavaRemoting.classpathAvailability(POM_DIR, javaProject)
    if (classpath._tag === "Missing") return missing<string>(classpath.reason)
    const classes = yield* JavaRemoting.compileJava(POM_DIR, MAIN_CLASS, classpath.value, javaProject).pipe(
      Effect.mapError((error) => new JavaClientError({ reason: `compiling ${MAIN_CLASS}.java: ${error.reason}` }))
    )
    return available([classes, classpath.value].join(Path.delimiter))
  }))
)

/** The classpath; in CI (where tests are not skipped) a missing prerequisite fails with its reason. */
export const requireClasspath: Effect.Effect<string, JavaClientError> = Effect.flatMap(
  availability,
  (value) =>
    Prerequisites.requireAvailable(
      value,
      (reason) => new JavaClientError({ reason: `Java prerequisite missing with CI=true: ${reason}` })
    )
)

// ---- models -----------------------------------------------------------------------------------------------

/** A `MessageQueue` as Java names it. */
export interface QueueRef {
  readonly topic: string
  readonly brokerName: string
  readonly queueId: number
}

/** Java's `SendResult`. For a batch, `msgId` is the batch's ids joined with commas. */
export interface SendResult {
  readonly status: "SEND_OK" | "FLUSH_DISK_TIMEOUT" | "FLUSH_SLAVE_TIMEOUT" | "SLAVE_NOT_AVAILABLE"
  readonly msgId: string
  readonly offsetMsgId: string
  readonly queue: QueueRef
  readonly queueOffset: number
}

/** One message for Java's producer: a `Message` built with these setters. */
export interface OutgoingMessage {
  /** Bytes, or text sent as UTF-8. */
  readonly body: Uint8Array | string
  readonly tags?: string | undefined
  /** `setKeys(Collection)`: joined with spaces. */
  readonly keys?: ReadonlyArray<string> | undefined
  /** `putUserProperty` each (Java refuses reserved names: the send then fails). */
  readonly properties?: Readonly<Record<string, string>> | undefined
  /** `setDelayTimeLevel`. */
  readonly delayLevel?: number | undefined
  /** `setDeliverTimeMs` (epoch ms). */
  readonly deliverAt?: number | undefined
  /** `setDelayTimeMs`. */
  readonly delayMs?: number | undefined
  readonly flag?: number | undefined
  readonly waitStoreMsgOK?: boolean | undefined
}

/** A message as Java's push consumer hands it to its listener (`MessageExt`), with what the listener answered. */
export interface JavaMessage {
  /** `getMsgId()`: UNIQ_KEY, or the offsetMsgId when there is none. */
  readonly msgId: string
  readonly offsetMsgId: string
  /** After Java's retry rename: the original topic for a message from `%RETRY%<group>`. */
  readonly topic: string
  readonly tags: string | undefined
  /** KEYS split on spaces; empty when absent. */
  readonly keys: ReadonlyArray<string>
  /** Inflated when it was stored compressed. */
  readonly body: Uint8Array
  readonly reconsumeTimes: number
  readonly queueId: number
  readonly queueOffset: number
  readonly brokerName: string
  readonly bornTimestamp: number
  readonly storeTimestamp: number
  readonly commitLogOffset: number
  readonly sysFlag: number
  readonly bodyCRC: number
  readonly storeSize: number
  readonly flag: number
  /** `ip:port` (`[v6]:port`). */
  readonly bornHost: string
  readonly storeHost: string
  /** Every property, as Java's `getProperties()` holds it. */
  readonly properties: Readonly<Record<string, string>>
  /** What the listener returned for it (`failNext` makes it `RECONSUME_LATER`). */
  readonly consumeResult: "CONSUME_SUCCESS" | "RECONSUME_LATER"
  /** When the line reached this process (`Date.now()`). */
  readonly receivedAt: number
}

// ---- options ----------------------------------------------------------------------------------------------

/** How the JVM runs. */
export interface JvmOptions {
  /** Replaces the default JVM flags (heap, GC, C1 only). The logging and home flags are always added. */
  readonly jvmOptions?: ReadonlyArray<string> | undefined
  /** How long the peer may take to print its ready line. Default 90 s. */
  readonly readyTimeout?: Duration.DurationInput | undefined
  /** The client's own log level (`rocketmq.log.level`), in `<home>/logs/rocketmq_client.log`. Default WARN. */
  readonly logLevel?: "ERROR" | "WARN" | "INFO" | "DEBUG" | undefined
  /** `ClientConfig.instanceName`. Default: unique per JVM. */
  readonly instanceName?: string | undefined
  /**
   * Java's periods, ms, shortened so that a test need not wait for them: `pollNameServerInterval` (route
   * refresh, 30000), `heartbeatBrokerInterval` (30000), `persistConsumerOffsetInterval` (5000), and
   * `rebalanceInterval` (the `rocketmq.client.rebalance.waitInterval` property, 20000). Default: Java's.
   */
  readonly pollNameServerInterval?: number | undefined
  readonly heartbeatBrokerInterval?: number | undefined
  readonly persistConsumerOffsetInterval?: number | undefined
  readonly rebalanceInterval?: number | undefined
}

export interface ProducerOptions extends JvmOptions {
  /** `compressMsgBodyOverHowmuch`. Java's default: 4096. */
  readonly compressOver?: number | undefined
  /** `sendMsgTimeout`, ms. Java's default: 3000. */
  readonly sendMsgTimeout?: number | undefined
  /** `retryTimesWhenSendFailed`. Java's default: 2. */
  readonly retryTimes?: number | undefined
  readonly maxMessageSize?: number | undefined
}

export interface ConsumerOptions extends JvmOptions {
  /** `consumeFromWhere`. Default FIRST_OFFSET (Java's own default is LAST_OFFSET). */
  readonly from?: "FIRST_OFFSET" | "LAST_OFFSET" | "TIMESTAMP" | undefined
  /** `consumeTimestamp` for TIMESTAMP, `yyyyMMddHHmmss`. */
  readonly timestamp?: string | undefined
  readonly maxReconsumeTimes?: number | undefined
  /** The expression as a tag expression (default) or an SQL92 selector. */
  readonly expressionType?: "TAG" | "SQL92" | undefined
  /** Default CLUSTERING. */
  readonly messageModel?: "CLUSTERING" | "BROADCASTING" | undefined
  /** `consumeMessageBatchMaxSize`. Default 1. */
  readonly batch?: number | undefined
  readonly pullBatchSize?: number | undefined
  /** consumeThreadMin = consumeThreadMax. */
  readonly consumeThreads?: number | undefined
}

// ---- the peer process -------------------------------------------------------------------------------------

type Line = Readonly<Record<string, unknown>>

const DEFAULT_JVM = ["-Xms64m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]

const keepHome = process.env.ROCKETMQ_TEST_KEEP_HOME === "true"

const tailOfFile = (file: string, lines = 30): string => {
  try {
    return Fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n")
  } catch {
    return `(no ${file})`
  }
}

/** `key=value` arguments for the options that are set. */
const optionArgs = (entries: Readonly<Record<string, string | number | undefined>>): Array<string> =>
  Object.entries(entries).flatMap(([key, value]) => value === undefined ? [] : [`${key}=${value}`])

/** The `JvmOptions` every role passes to `ClientPeer`. */
const clientConfigArgs = (options: JvmOptions): Array<string> =>
  optionArgs({
    instanceName: options.instanceName,
    pollNameServerInterval: options.pollNameServerInterval,
    heartbeatBrokerInterval: options.heartbeatBrokerInterval,
    persistConsumerOffsetInterval: options.persistConsumerOffsetInterval,
    rebalanceInterval: options.rebalanceInterval
  })

/** What every role has: the process, its ready line, commands with answers. */
interface Peer {
  readonly peer: ChildPeer.ChildPeer
  readonly pid: number
  readonly home: string
  readonly ready: Line
  readonly command: (
    op: string,
    fields?: Readonly<Record<string, unknown>>,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<Line, JavaClientError>
  /** Stdout lines that were not JSON (there should be none). */
  readonly noise: () => ReadonlyArray<string>
  readonly describe: (what: string) => string
}

/** Starts `ClientPeer nameServer ...args` in the scope and waits for its ready line. */
const startPeer = (
  name: string,
  nameServer: string,
  args: ReadonlyArray<string>,
  options: JvmOptions,
  onEvent: (line: Line) => void
): Effect.Effect<Peer, JavaClientError, Scope.Scope> =>
  Effect.gen(function*() {
    const classpath = yield* requireClasspath
    const home = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "rocketmq-effect-java-client-"))),
      (dir) =>
        Effect.sync(() => {
          if (keepHome) console.warn(`JavaClient: kept ${dir} (ROCKETMQ_TEST_KEEP_HOME=true)`)
          else Fs.rmSync(dir, { recursive: true, force: true })
        })
    )
    const logs = Path.join(home, "logs")
    const env: NodeJS.ProcessEnv = { ...process.env }
    delete env.NAMESRV_ADDR
    delete env.ROCKETMQ_SERIALIZE_TYPE
    const jvm = [
      ...(options.jvmOptions ?? DEFAULT_JVM),
      "-Dfile.encoding=UTF-8",
      `-Duser.home=${home}`,
      // rocketmq-client 5.x logs through its shaded logback, configured by rmq.client.logback.xml: a file under
      // rocketmq.log.root, and a console appender that writes only with mq.consoleAppender.enabled=true.
      "-Drmq.logback.configurationFile=rmq.client.logback.xml",
      `-Drocketmq.log.root=${logs}`,
      `-Drocketmq.log.level=${options.logLevel ?? "WARN"}`,
      "-Dmq.consoleAppender.enabled=false",
      "-Dlogback.statusListenerClass=org.apache.rocketmq.logging.ch.qos.logback.core.status.NopStatusListener",
      "-cp",
      classpath,
      MAIN_CLASS,
      nameServer,
      ...args
    ]
    const peer = yield* ChildPeer.start("java", jvm, {
      name,
      env,
      watched: true,
      maxLines: 200,
      maxStderr: 256 * 1024,
      grace: "5 seconds"
    })

    const pending = new Map<number, Deferred.Deferred<Line, JavaClientError>>()
    const readyDeferred = yield* Deferred.make<Line, JavaClientError>()
    const noise: Array<string> = []
    const describe = (what: string) =>
      `${name} ${what}; stderr: ${peer.stderr().trim().slice(-4000)}\n--- ${
        Path.join(logs, "rocketmq_client.log")
      } ---\n${tailOfFile(Path.join(logs, "rocketmq_client.log"))}`

    let partial = ""
    const onLine = (text: string) => {
      if (text.trim().length === 0) return
      let line: Line
      try {
        line = JSON.parse(text) as Line
      } catch {
        noise.push(text)
        return
      }
      if (line.event === "ready") Deferred.unsafeDone(readyDeferred, Effect.succeed(line))
      else if (line.event === "failed") {
        Deferred.unsafeDone(
          readyDeferred,
          Effect.fail(new JavaClientError({ reason: describe(`failed: ${line.error}`) }))
        )
      } else if (typeof line.event === "string") onEvent(line)
      else if (typeof line.id === "number") {
        const deferred = pending.get(line.id)
        pending.delete(line.id)
        if (deferred !== undefined) Deferred.unsafeDone(deferred, Effect.succeed(line))
      } else noise.push(text)
    }
    peer.child.stdout!.on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n")
      partial = parts.pop()!
      for (const part of parts) onLine(part)
    })
    peer.child.on("close", (code, signal) => {
      if (partial !== "") onLine(partial)
      partial = ""
      const exited = () => new JavaClientError({ reason: describe(`exited (code ${code}, signal ${signal})`) })
      Deferred.unsafeDone(readyDeferred, Effect.fail(exited()))
      for (const deferred of pending.values()) Deferred.unsafeDone(deferred, Effect.fail(exited()))
      pending.clear()
    })

    const readyTimeout = Duration.decode(options.readyTimeout ?? "90 seconds")
    const readyLine = yield* Deferred.await(readyDeferred).pipe(
      Effect.timeoutFail({
        duration: readyTimeout,
        onTimeout: () =>
          new JavaClientError({
            reason: describe(`did not print its ready line within ${Duration.format(readyTimeout)}`)
          })
      })
    )

    let nextId = 1
    const command = (
      op: string,
      fields: Readonly<Record<string, unknown>> = {},
      timeout: Duration.DurationInput = "30 seconds"
    ): Effect.Effect<Line, JavaClientError> =>
      Effect.gen(function*() {
        if (peer.hasExited()) return yield* new JavaClientError({ reason: describe(`has exited; cannot ${op}`) })
        const id = nextId++
        const deferred = yield* Deferred.make<Line, JavaClientError>()
        pending.set(id, deferred)
        peer.child.stdin!.write(`${JSON.stringify({ ...fields, op, id })}\n`)
        const duration = Duration.decode(timeout)
        const answer = yield* Deferred.await(deferred).pipe(
          Effect.timeoutFail({
            duration,
            onTimeout: () =>
              new JavaClientError({ reason: describe(`did not answer ${op} within ${Duration.format(duration)}`) })
          }),
          Effect.ensuring(Effect.sync(() => pending.delete(id)))
        )
        if (answer.ok !== true) {
          return yield* new JavaClientError({
            reason: `${name}: ${op} failed: ${String(answer.error)}`,
            code: typeof answer.code === "number" ? answer.code : undefined,
            errorClass: typeof answer.errorClass === "string" ? answer.errorClass : undefined
          })
        }
        return answer
      })

    return {
      peer,
      pid: peer.child.pid!,
      home,
      ready: readyLine,
      command,
      noise: () => noise,
      describe
    }
  })

/** What both roles offer. */
export interface JavaPeer {
  readonly pid: number
  /** `MQClientInstance.getClientId()`: `ip@instanceName`. */
  readonly clientId: string
  /** The JVM's temporary user.home (its log is `logs/rocketmq_client.log` under it). */
  readonly home: string
  readonly process: ChildPeer.ChildPeer
  /** The client's `shutdown()`, then the JVM exits 0 (waited for, up to 30 s). */
  readonly shutdown: Effect.Effect<void, JavaClientError>
  /** SIGKILL, and waits until the JVM is gone. */
  readonly kill: Effect.Effect<void>
  /** Stdout lines that were not JSON: there should be none. */
  readonly noise: () => ReadonlyArray<string>
}

const shutdownOf = (peer: Peer): Effect.Effect<void, JavaClientError> =>
  Effect.gen(function*() {
    yield* peer.command("shutdown", {}, "30 seconds")
    if (!(yield* peer.peer.exitsWithin("30 seconds"))) {
      return yield* new JavaClientError({ reason: peer.describe("did not exit within 30 s of its shutdown") })
    }
    const code = yield* peer.peer.exited
    if (code !== 0) return yield* new JavaClientError({ reason: peer.describe(`exited with ${code} after shutdown`) })
  })

const javaPeer = (peer: Peer): JavaPeer => ({
  pid: peer.pid,
  clientId: String(peer.ready.clientId),
  home: peer.home,
  process: peer.peer,
  shutdown: shutdownOf(peer),
  kill: ChildPeer.kill(peer.peer),
  noise: peer.noise
})

const toBase64 = (body: Uint8Array | string): string =>
  typeof body === "string"
    ? Buffer.from(body, "utf8").toString("base64")
    : Buffer.from(body.buffer, body.byteOffset, body.length).toString("base64")

const messageFields = (message: OutgoingMessage): Record<string, unknown> => {
  const fields: Record<string, unknown> = { body: toBase64(message.body) }
  if (message.tags !== undefined) fields.tags = message.tags
  if (message.keys !== undefined) fields.keys = message.keys
  if (message.properties !== undefined) fields.properties = message.properties
  if (message.delayLevel !== undefined) fields.delayLevel = message.delayLevel
  if (message.deliverAt !== undefined) fields.deliverAt = message.deliverAt
  if (message.delayMs !== undefined) fields.delayMs = message.delayMs
  if (message.flag !== undefined) fields.flag = message.flag
  if (message.waitStoreMsgOK !== undefined) fields.waitStoreMsgOK = message.waitStoreMsgOK
  return fields
}

const queueRef = (value: unknown): QueueRef => {
  const queue = value as Record<string, unknown>
  return { topic: String(queue.topic), brokerName: String(queue.brokerName), queueId: Number(queue.queueId) }
}

const queueRefs = (value: unknown): ReadonlyArray<QueueRef> => (value as ReadonlyArray<unknown>).map(queueRef)

const sendResult = (answer: Line): SendResult => ({
  status: answer.status as SendResult["status"],
  msgId: String(answer.msgId),
  offsetMsgId: String(answer.offsetMsgId),
  queue: queueRef(answer.queue),
  queueOffset: Number(answer.queueOffset)
})

// ---- producer ---------------------------------------------------------------------------------------------

/** Java's `DefaultMQProducer`, started. */
export interface JavaProducer extends JavaPeer {
  /** `send(msg)` (round-robin queue selection), or `send(msg, mq)` with `queue`. */
  readonly send: (
    topic: string,
    message: OutgoingMessage,
    options?: { readonly queue?: { readonly brokerName: string; readonly queueId: number } }
  ) => Effect.Effect<SendResult, JavaClientError>
  /** `send(Collection<Message>)`: one batch. */
  readonly sendBatch: (
    topic: string,
    messages: ReadonlyArray<OutgoingMessage>
  ) => Effect.Effect<SendResult, JavaClientError>
  /** `send(msg, new SelectMessageQueueByHash(), key)`. */
  readonly sendOrdered: (
    topic: string,
    key: string,
    message: OutgoingMessage
  ) => Effect.Effect<SendResult, JavaClientError>
  /** The queue `SelectMessageQueueByHash` picks for `key` over `fetchPublishMessageQueues(topic)`. */
  readonly queueFor: (topic: string, key: string) => Effect.Effect<QueueRef, JavaClientError>
  /** `fetchPublishMessageQueues(topic)`, in Java's order. */
  readonly publishQueues: (topic: string) => Effect.Effect<ReadonlyArray<QueueRef>, JavaClientError>
}

/** Starts Java's producer in `group` for the scope. */
export const startProducer = (
  nameServer: string,
  group: string,
  options: ProducerOptions = {}
): Effect.Effect<JavaProducer, JavaClientError, Scope.Scope> =>
  Effect.map(
    startPeer(
      `Java producer ${group}`,
      nameServer,
      [
        "producer",
        group,
        ...clientConfigArgs(options),
        ...optionArgs({
          compressOver: options.compressOver,
          sendMsgTimeout: options.sendMsgTimeout,
          retryTimes: options.retryTimes,
          maxMessageSize: options.maxMessageSize
        })
      ],
      options,
      () => {}
    ),
    (peer): JavaProducer => ({
      ...javaPeer(peer),
      send: (topic, message, sendOptions) =>
        Effect.map(
          peer.command("send", {
            topic,
            ...messageFields(message),
            ...(sendOptions?.queue === undefined ? {} : { queue: sendOptions.queue })
          }),
          sendResult
        ),
      sendBatch: (topic, messages) =>
        Effect.map(peer.command("sendBatch", { topic, messages: messages.map(messageFields) }), sendResult),
      sendOrdered: (topic, key, message) =>
        Effect.map(peer.command("sendOrdered", { topic, key, ...messageFields(message) }), sendResult),
      queueFor: (topic, key) =>
        Effect.map(peer.command("queueFor", { topic, key }), (answer) => queueRef(answer.queue)),
      publishQueues: (topic) =>
        Effect.map(peer.command("publishQueues", { topic }), (answer) => queueRefs(answer.queues))
    })
  )

// ---- consumer ---------------------------------------------------------------------------------------------

/** Java's `DefaultMQPushConsumer` with a concurrent listener, started. */
export interface JavaConsumer extends JavaPeer {
  readonly group: string
  readonly topic: string
  /** Every message the listener was handed, each once, in the order the JVM printed them. */
  readonly messages: Queue.Dequeue<JavaMessage>
  /** All messages so far (independent of what was taken from `messages`). */
  readonly received: () => ReadonlyArray<JavaMessage>
  /** Waits until `received()` holds at least `count` messages; fails after `timeout` (default 60 s). */
  readonly awaitReceived: (
    count: number,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<ReadonlyArray<JavaMessage>, JavaClientError>
  /** The queues of `topic` (default: the subscribed one) in Java's process-queue table, in MessageQueue order. */
  readonly assignment: (topic?: string) => Effect.Effect<ReadonlyArray<QueueRef>, JavaClientError>
  /** Polls `assignment` every 200 ms until `check` accepts it; fails after `timeout` (default 60 s). */
  readonly awaitAssignment: (
    check: (queues: ReadonlyArray<QueueRef>) => boolean,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<ReadonlyArray<QueueRef>, JavaClientError>
  /** The next `count` consume calls return RECONSUME_LATER (`delayLevelWhenNextConsume` = `delayLevel` if given). */
  readonly failNext: (count: number, delayLevel?: number) => Effect.Effect<void, JavaClientError>
  /** Asks the JVM for its client id (the same as `clientId`). */
  readonly queryClientId: Effect.Effect<string, JavaClientError>
}

const javaMessage = (line: Line): JavaMessage => ({
  msgId: String(line.msgId),
  offsetMsgId: String(line.offsetMsgId),
  topic: String(line.topic),
  tags: typeof line.tags === "string" ? line.tags : undefined,
  keys: (line.keys as ReadonlyArray<string> | undefined) ?? [],
  body: new Uint8Array(Buffer.from(String(line.body), "base64")),
  reconsumeTimes: Number(line.reconsumeTimes),
  queueId: Number(line.queueId),
  queueOffset: Number(line.queueOffset),
  brokerName: String(line.brokerName),
  bornTimestamp: Number(line.bornTimestamp),
  storeTimestamp: Number(line.storeTimestamp),
  commitLogOffset: Number(line.commitLogOffset),
  sysFlag: Number(line.sysFlag),
  bodyCRC: Number(line.bodyCRC),
  storeSize: Number(line.storeSize),
  flag: Number(line.flag),
  bornHost: String(line.bornHost),
  storeHost: String(line.storeHost),
  properties: (line.properties as Readonly<Record<string, string>> | undefined) ?? {},
  consumeResult: line.consumeResult === "RECONSUME_LATER" ? "RECONSUME_LATER" : "CONSUME_SUCCESS",
  receivedAt: Date.now()
})

/** Starts Java's push consumer in `group`, subscribed to `topic` with `expression`, for the scope. */
export const startConsumer = (
  nameServer: string,
  group: string,
  topic: string,
  expression: string,
  options: ConsumerOptions = {}
): Effect.Effect<JavaConsumer, JavaClientError, Scope.Scope> =>
  Effect.gen(function*() {
    const messages = yield* Queue.unbounded<JavaMessage>()
    const received: Array<JavaMessage> = []
    const listeners = new Set<() => void>()
    const peer = yield* startPeer(
      `Java consumer ${group} ${topic}`,
      nameServer,
      [
        "consumer",
        group,
        topic,
        expression,
        ...clientConfigArgs(options),
        ...optionArgs({
          from: options.from ?? "FIRST_OFFSET",
          timestamp: options.timestamp,
          maxReconsumeTimes: options.maxReconsumeTimes,
          expressionType: options.expressionType,
          messageModel: options.messageModel,
          batch: options.batch,
          pullBatchSize: options.pullBatchSize,
          consumeThreads: options.consumeThreads
        })
      ],
      options,
      (line) => {
        if (line.event !== "message") return
        const message = javaMessage(line)
        received.push(message)
        Queue.unsafeOffer(messages, message)
        for (const listener of Array.from(listeners)) listener()
      }
    )

    const awaitReceived = (count: number, timeout: Duration.DurationInput = "60 seconds") => {
      const duration = Duration.decode(timeout)
      return Effect.async<ReadonlyArray<JavaMessage>>((resume) => {
        const check = () => {
          if (received.length < count) return
          listeners.delete(check)
          resume(Effect.succeed(received.slice()))
        }
        listeners.add(check)
        check()
        return Effect.sync(() => listeners.delete(check))
      }).pipe(
        Effect.timeoutFail({
          duration,
          onTimeout: () =>
            new JavaClientError({
              reason: peer.describe(
                `received ${received.length} of ${count} messages within ${Duration.format(duration)}`
              )
            })
        })
      )
    }

    const assignment = (of?: string) =>
      Effect.map(
        peer.command("assignment", of === undefined ? {} : { topic: of }),
        (answer) => queueRefs(answer.queues)
      )

    const awaitAssignment = (
      check: (queues: ReadonlyArray<QueueRef>) => boolean,
      timeout: Duration.DurationInput = "60 seconds"
    ) => {
      const duration = Duration.decode(timeout)
      let last: ReadonlyArray<QueueRef> = []
      const poll: Effect.Effect<ReadonlyArray<QueueRef>, JavaClientError> = Effect.flatMap(
        assignment(),
        (queues) => {
          last = queues
          return check(queues) ? Effect.succeed(queues) : Effect.zipRight(Effect.sleep("200 millis"), poll)
        }
      )
      return poll.pipe(
        Effect.timeoutFail({
          duration,
          onTimeout: () =>
            new JavaClientError({
              reason: `${group}/${topic}: Java's assignment did not settle within ${Duration.format(duration)}; ` +
                `last: ${JSON.stringify(last)}`
            })
        })
      )
    }

    return {
      ...javaPeer(peer),
      group,
      topic,
      messages,
      received: () => received,
      awaitReceived,
      assignment,
      awaitAssignment,
      failNext: (count: number, delayLevel?: number) =>
        Effect.asVoid(peer.command("failNext", delayLevel === undefined ? { count } : { count, delayLevel })),
      queryClientId: Effect.map(peer.command("clientId"), (answer) => String(answer.clientId))
    } satisfies JavaConsumer
  })

// ---- bench ------------------------------------------------------------------------------------------------

/** What `benchConsume` measured: from just before `consumer.start()` to the `count`th message. */
export interface BenchConsumeResult {
  readonly count: number
  readonly elapsedMs: number
  /** From before `start()` to the first message: start, rebalance, first pull. */
  readonly firstMessageMs: number | undefined
  /** The JVM's CPU time over `elapsedMs` (`OperatingSystemMXBean.getProcessCpuTime`). */
  readonly cpuMs: number
  /** The JVM's CPU time since it started. */
  readonly processCpuMs: number
}

/**
 * Runs Java's push consumer in `group` over `topic` from its first offset until it has been handed `count`
 * messages, and returns what it measured. The JVM runs with full JIT unless `jvmOptions` says otherwise.
 */
export const benchConsume = (
  nameServer: string,
  group: string,
  topic: string,
  count: number,
  options: JvmOptions & {
    readonly batch?: number
    readonly pullBatchSize?: number
    readonly consumeThreads?: number
    readonly timeout?: Duration.DurationInput
  } = {}
): Effect.Effect<BenchConsumeResult, JavaClientError> =>
  Effect.scoped(Effect.gen(function*() {
    const timeout = Duration.decode(options.timeout ?? "10 minutes")
    const done = yield* Deferred.make<Line>()
    const peer = yield* startPeer(
      `Java bench consumer ${group} ${topic}`,
      nameServer,
      [
        "bench-consume",
        group,
        topic,
        String(count),
        ...clientConfigArgs(options),
        ...optionArgs({
          batch: options.batch,
          pullBatchSize: options.pullBatchSize,
          consumeThreads: options.consumeThreads,
          timeoutSeconds: Math.ceil(Duration.toSeconds(timeout))
        })
      ],
      { ...options, jvmOptions: options.jvmOptions ?? ["-Xms256m", "-Xmx512m"] },
      (line) => {
        if (line.event === "done") Deferred.unsafeDone(done, Effect.succeed(line))
      }
    )
    const line = yield* Deferred.await(done).pipe(
      Effect.raceFirst(Effect.flatMap(
        peer.peer.exited,
        (code) => Effect.fail(new JavaClientError({ reason: peer.describe(`exited with ${code} before it was done`) }))
      )),
      Effect.timeoutFail({
        duration: Duration.sum(timeout, Duration.seconds(30)),
        onTimeout: () => new JavaClientError({ reason: peer.describe("was not done in time") })
      })
    )
    if (line.ok !== true) {
      return yield* new JavaClientError({ reason: peer.describe(`drained only ${line.count} of ${count} messages`) })
    }
    return {
      count: Number(line.count),
      elapsedMs: Number(line.elapsedMs),
      firstMessageMs: typeof line.firstMessageMs === "number" ? line.firstMessageMs : undefined,
      cpuMs: Number(line.cpuMs),
      processCpuMs: Number(line.processCpuMs)
    }
  }))
