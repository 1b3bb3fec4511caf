/**
 * Java's `DefaultMQProducer` for the client bench: the remoting package's `ProducerBench`
 * (`packages/remoting/interop/java-producer/ProducerBench.java`, rocketmq-client 5.3.3) in a JVM of its own,
 * sending `new Message(topic, "bench", body)` to one queue with `send(msg, mq)`, and driven by one command a
 * line on stdin (one JSON line back each):
 *
 *   sequential COUNT WARMUP          sync sends, one at a time (with p50 / p99 latency)
 *   inflight COUNT WARMUP WINDOW     async sends, at most WINDOW unanswered (a Semaphore)
 *
 * Scoped: released with `quit`, then SIGKILL after 10 s; a watchdog shell kills the JVM if this process dies
 * first, even by SIGKILL.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as JavaRemoting from "../../remoting/test/JavaRemoting.js"

/** The started JVM. */
export interface JavaProducer {
  readonly pid: number
  /** One command, its answer; fails when the answer has no `elapsedNs` (an error) or does not come in time. */
  readonly command: (line: string, timeoutMs: number) => Effect.Effect<JavaAnswer, Error>
}

/** What ProducerBench answers to `sequential` and `inflight`. */
export interface JavaAnswer {
  readonly count: number
  readonly elapsedMs: number
  readonly p50Us: number | undefined
  readonly p99Us: number | undefined
  readonly errors: number
  readonly lastError: string | undefined
}

/** The classpath to run ProducerBench with (its classes first), or why it cannot run. */
export const classpath: Effect.Effect<
  { readonly _tag: "Available"; readonly value: string } | {
    readonly _tag: "Missing"
    readonly reason: string
  }
> = Effect.gen(function*() {
  const dependencies = yield* JavaRemoting.classpathAvailability("java-producer")
  if (dependencies._tag === "Missing") return { _tag: "Missing", reason: dependencies.reason } as const
  return yield* JavaRemoting.compileJava("java-producer", "ProducerBench", dependencies.value).pipe(
    Effect.map((classes) =>
      ({ _tag: "Available", value: [classes, dependencies.value].join(Path.delimiter) }) as const
    ),
    Effect.catchAll((error) =>
      Effect.succeed({ _tag: "Missing", reason: `javac ProducerBench.java: ${error.reason}` } as const)
    )
  )
})

/** A shell that kills `pid` if this process dies first; it ends by itself after `pid`. */
const watchdog = (pid: number) => {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do kill -0 ${pid} 2>/dev/null || exit 0; sleep 1; done; ` +
    `kill -9 ${pid} 2>/dev/null`
  try {
    spawn("sh", ["-c", script], { stdio: "ignore", detached: true }).unref()
  } catch {
    // The scope's finalizer and the exit handler still cover every ordinary exit.
  }
}

/** Starts ProducerBench for `topic`'s queue `queueId` on `brokerName`, and waits for its ready line. */
export const start = (options: {
  readonly classpath: string
  readonly nameServer: string
  readonly home: string
  readonly topic: string
  readonly brokerName: string
  readonly queueId: number
  readonly bodySize: number
  readonly group: string
  readonly timeoutMs: number
}): Effect.Effect<JavaProducer, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const home = Path.join(options.home, "java-producer")
    Fs.mkdirSync(home, { recursive: true })
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const jvm = spawn("java", [
          "-Xms256m",
          "-Xmx512m",
          `-Duser.home=${home}`,
          "-Drmq.logback.configurationFile=rmq.client.logback.xml",
          `-Drocketmq.log.root=${Path.join(home, "logs")}`,
          "-Drocketmq.log.level=WARN",
          "-Dmq.consoleAppender.enabled=false",
          "-Dlogback.statusListenerClass=org.apache.rocketmq.logging.ch.qos.logback.core.status.NopStatusListener",
          "-cp",
          options.classpath,
          "ProducerBench",
          options.nameServer,
          options.topic,
          options.brokerName,
          String(options.queueId),
          String(options.bodySize),
          options.group,
          String(options.timeoutMs)
        ], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ROCKETMQ_HOME: options.home } })
        if (jvm.pid !== undefined) watchdog(jvm.pid)
        const killAtExit = () => jvm.kill("SIGKILL")
        process.once("exit", killAtExit)
        jvm.once("close", () => process.off("exit", killAtExit))
        return jvm
      }),
      (jvm) =>
        Effect.async<void>((resume) => {
          if (jvm.exitCode !== null || jvm.signalCode !== null) return resume(Effect.void)
          const timer = setTimeout(() => jvm.kill("SIGKILL"), 10_000)
          jvm.once("close", () => {
            clearTimeout(timer)
            resume(Effect.void)
          })
          jvm.stdin!.end("quit\n")
        })
    )
    child.stdin!.on("error", () => {})
    const stderr: Array<string> = []
    child.stderr!.setEncoding("utf8")
    child.stderr!.on("data", (text: string) => {
      stderr.push(...text.split("\n").filter((line) => line.length > 0))
      if (stderr.length > 50) stderr.splice(0, stderr.length - 50)
    })
    const lines: Array<string> = []
    let partial = ""
    let waiter: (() => void) | undefined
    let exited = false
    child.stdout!.setEncoding("utf8")
    child.stdout!.on("data", (text: string) => {
      const parts = (partial + text).split("\n")
      partial = parts.pop()!
      lines.push(...parts.filter((line) => line.trim().length > 0))
      waiter?.()
    })
    const onEnd = () => {
      exited = true
      waiter?.()
    }
    child.on("close", onEnd)
    child.on("error", onEnd)
    const failure = (what: string) => new Error(`the Java producer ${what}; its stderr:\n${stderr.join("\n")}`)
    const nextLine = (timeoutMs: number): Effect.Effect<Record<string, unknown>, Error> =>
      Effect.async<Record<string, unknown>, Error>((resume) => {
        const timer = setTimeout(() => {
          waiter = undefined
          resume(Effect.fail(failure(`did not answer within ${timeoutMs} ms`)))
        }, timeoutMs)
        const check = () => {
          const line = lines.shift()
          if (line === undefined && !exited) return
          clearTimeout(timer)
          waiter = undefined
          if (line === undefined) return resume(Effect.fail(failure(`exited with ${child.exitCode}`)))
          try {
            resume(Effect.succeed(JSON.parse(line) as Record<string, unknown>))
          } catch {
            resume(Effect.fail(failure(`wrote a line that is not JSON: ${line}`)))
          }
        }
        waiter = check
        check()
        return Effect.sync(() => {
          clearTimeout(timer)
          waiter = undefined
        })
      })
    const ready = yield* nextLine(120_000)
    if (ready.ready !== true) return yield* Effect.fail(failure(`did not start: ${JSON.stringify(ready)}`))
    return {
      pid: child.pid!,
      command: (line, timeoutMs) =>
        Effect.suspend(() => {
          child.stdin!.write(`${line}\n`)
          return nextLine(timeoutMs)
        }).pipe(
          Effect.filterOrFail(
            (answer) => typeof answer.elapsedNs === "number",
            (answer) => failure(`answered ${JSON.stringify(answer)}`)
          ),
          Effect.map((answer): JavaAnswer => ({
            count: answer.count as number,
            elapsedMs: (answer.elapsedNs as number) / 1e6,
            p50Us: typeof answer.p50Ns === "number" ? answer.p50Ns / 1000 : undefined,
            p99Us: typeof answer.p99Ns === "number" ? answer.p99Ns / 1000 : undefined,
            errors: answer.errors as number,
            lastError: typeof answer.lastError === "string" ? answer.lastError : undefined
          }))
        )
    }
  })
