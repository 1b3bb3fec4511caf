/**
 * A child process the tests talk to (a Java or Python peer, a broker, a script): its output as lines, a wait
 * for a line or for its exit, and a stop that really ends it.
 *
 * The stop runs in a scope's finalizer, which is uninterruptible: there `Effect.timeout` cannot interrupt a wait
 * for the exit, so it would wait however long the process takes, and a SIGKILL behind it would never be sent.
 * The waits with a deadline (`exitsWithin`) are therefore Node timers that resume the fiber themselves.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"

/** A child that exited (or could not start) before printing the line a test waited for. */
export class ChildPeerError extends Data.TaggedError("ChildPeerError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** A running child process, its output as lines. */
export interface ChildPeer {
  readonly child: ChildProcess
  /** What the child is, in messages: `Options.name`, or its command line, shortened. */
  readonly name: string
  /** When it was started (`Date.now()`). */
  readonly startedAt: number
  /** Stdout lines so far (with `stderrLines`, stderr's too, prefixed `[stderr] `). */
  readonly lines: () => ReadonlyArray<string>
  /** Stderr so far (the first `maxStderr` characters). */
  readonly stderr: () => string
  /** Why the process could not be started, when it could not. */
  readonly spawnError: () => Error | undefined
  /** The first line, so far or to come, that `match` accepts; fails if the process exits before one. */
  readonly awaitLine: (match: (line: string) => boolean) => Effect.Effect<string, ChildPeerError>
  /** The exit code (null when killed by a signal or never started), once the process has exited. */
  readonly exited: Effect.Effect<number | null>
  /** Whether the process exits within `duration`: a timer, so it ends in finalizers too. */
  readonly exitsWithin: (duration: Duration.DurationInput) => Effect.Effect<boolean>
  readonly hasExited: () => boolean
}

/** How a child is started and stopped. */
export interface Options {
  /** What the child is, in messages. Default: its command line, shortened. */
  readonly name?: string
  /** Stdin as a pipe (closed to ask the child to exit) or ignored. Default: `"pipe"`. */
  readonly stdin?: "pipe" | "ignore"
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
  /** Written to stdin, which is then closed. */
  readonly input?: string
  /** How much of stderr is kept. Default: 64 KiB. */
  readonly maxStderr?: number
  /** Keeps stderr's lines in `lines`, prefixed `[stderr] `. Default: `false`. */
  readonly stderrLines?: boolean
  /** Keeps only the last this many lines. Default: all. */
  readonly maxLines?: number
  /**
   * Kills the child with SIGKILL when the test process exits, and from a watching shell if it dies without
   * running its exit handlers. Default: `false`.
   */
  readonly watched?: boolean
  /** How long `stop` waits after closing stdin, then after SIGTERM, before the next step. Default: 2 s. */
  readonly grace?: Duration.DurationInput
}

const MAX_STDERR = 64 * 1024

/** A command line for messages, its long parts shortened. */
export const describeCommand = (command: string, args: ReadonlyArray<string>): string =>
  [command, ...args].map((part) => part.length > 80 ? `${part.slice(0, 77)}...` : part).join(" ")

/** The children started `watched` and not yet seen exiting: killed when the test process exits. */
const watchedChildren = new Set<ChildProcess>()
let exitHookInstalled = false
const installExitHook = () => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once("exit", () => {
    for (const child of watchedChildren) child.kill("SIGKILL")
  })
}

/**
 * A shell that kills `pid` with SIGKILL if this process dies first (even by SIGKILL, when no exit handler
 * runs); it ends by itself once `pid` has exited.
 */
export const watchdog = (pid: number): void => {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do kill -0 ${pid} 2>/dev/null || exit 0; sleep 1; done; ` +
    `kill -9 ${pid} 2>/dev/null`
  try {
    spawn("sh", ["-c", script], { stdio: "ignore", detached: true }).unref()
  } catch {
    // Without sh the exit handler still covers every ordinary exit.
  }
}

/** Spawns `command`, owned by no scope: the caller stops it (see `start` for one the scope stops). */
export const spawnPeer = (command: string, args: ReadonlyArray<string>, options: Options = {}): ChildPeer => {
  const child = spawn(command, args, {
    stdio: [options.stdin ?? "pipe", "pipe", "pipe"],
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd })
  })
  if (options.watched === true) {
    installExitHook()
    watchedChildren.add(child)
    if (child.pid !== undefined) watchdog(child.pid)
  }
  const name = options.name ?? describeCommand(command, args)
  const lines: Array<string> = []
  const partial = { stdout: "", stderr: "" }
  let stderr = ""
  let exit: { readonly code: number | null; readonly error?: Error } | undefined
  const listeners = new Set<() => void>()
  const notify = () => {
    for (const listener of Array.from(listeners)) listener()
  }
  const onLines = (stream: "stdout" | "stderr") => (text: string) => {
    const parts = (partial[stream] + text).split("\n")
    partial[stream] = parts.pop()!
    for (const part of parts) lines.push(stream === "stderr" ? `[stderr] ${part.trimEnd()}` : part.trimEnd())
    if (options.maxLines !== undefined && lines.length > options.maxLines) {
      lines.splice(0, lines.length - options.maxLines)
    }
    notify()
  }
  child.stdout!.setEncoding("utf8")
  child.stdout!.on("data", onLines("stdout"))
  child.stderr!.setEncoding("utf8")
  const stderrLines = options.stderrLines === true ? onLines("stderr") : undefined
  child.stderr!.on("data", (text: string) => {
    // Enough to say why a child failed; a chatty one cannot grow it without bound.
    if (stderr.length < (options.maxStderr ?? MAX_STDERR)) stderr += text
    stderrLines?.(text)
  })
  // A child that exits early makes writes to its stdin fail; the exit is what gets reported.
  child.stdin?.on("error", () => {})
  if (options.input !== undefined) child.stdin?.end(options.input)
  child.on("error", (error) => {
    watchedChildren.delete(child)
    exit = { code: null, error }
    notify()
  })
  child.on("close", (code) => {
    watchedChildren.delete(child)
    // The last line, when the output does not end with a newline.
    if (partial.stdout !== "") onLines("stdout")("\n")
    if (partial.stderr !== "") stderrLines?.("\n")
    exit = { code }
    notify()
  })

  /** Resumes with `poll`'s value once it has one, or with `undefined` after `ms` (never, without `ms`). */
  const waitFor = <A>(poll: () => A | undefined, ms?: number): Effect.Effect<A | undefined> =>
    Effect.async<A | undefined>((resume) => {
      const check = () => {
        const value = poll()
        if (value !== undefined) {
          clearTimeout(timer)
          listeners.delete(check)
          resume(Effect.succeed(value))
        }
      }
      const timer = ms === undefined ? undefined : setTimeout(() => {
        listeners.delete(check)
        resume(Effect.succeed(undefined))
      }, ms)
      listeners.add(check)
      check()
      return Effect.sync(() => {
        clearTimeout(timer)
        listeners.delete(check)
      })
    })

  const awaitLine = (match: (line: string) => boolean) =>
    waitFor((): { line: string } | { exited: true } | undefined => {
      const line = lines.find(match)
      if (line !== undefined) return { line }
      return exit !== undefined ? { exited: true } : undefined
    }).pipe(Effect.flatMap((found) =>
      found !== undefined && "line" in found
        ? Effect.succeed(found.line)
        : Effect.fail(
          new ChildPeerError({
            reason: `${name} ${
              exit?.error !== undefined ? `could not start: ${exit.error.message}` : `exited with ${exit?.code}`
            } before printing the expected line; stdout: ${JSON.stringify(lines)}, stderr: ${stderr.trim()}`
          })
        )
    ))

  return {
    child,
    name,
    startedAt: Date.now(),
    lines: () => lines,
    stderr: () => stderr,
    spawnError: () => exit?.error,
    awaitLine,
    exited: Effect.map(waitFor(() => exit), (e) => e!.code),
    exitsWithin: (duration) =>
      Effect.map(waitFor(() => exit, Duration.toMillis(Duration.decode(duration))), (e) => e !== undefined),
    hasExited: () => exit !== undefined
  }
}

/**
 * Stops `peer` and waits until it is gone: closes its stdin (peers exit on that), sends SIGTERM after
 * `grace`, SIGKILL after another `grace`, then waits up to 10 seconds for the exit. Safe in finalizers.
 */
export const stop = (peer: ChildPeer, grace: Duration.DurationInput = "2 seconds"): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (peer.hasExited()) return
    if (peer.child.stdin !== null) {
      peer.child.stdin.end()
      if (yield* peer.exitsWithin(grace)) return
    }
    peer.child.kill("SIGTERM")
    if (yield* peer.exitsWithin(grace)) return
    peer.child.kill("SIGKILL")
    yield* peer.exitsWithin("10 seconds")
  })

/** SIGKILL, then waits (up to 10 s) until the process is gone and its stdio closed. */
export const kill = (peer: ChildPeer): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (peer.hasExited()) return
    peer.child.kill("SIGKILL")
    yield* peer.exitsWithin("10 seconds")
  })

/** Starts `command` in the scope; the scope's finalizer stops it (see `stop`). */
export const start = (
  command: string,
  args: ReadonlyArray<string>,
  options: Options = {}
): Effect.Effect<ChildPeer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => spawnPeer(command, args, options)),
    (peer) => stop(peer, options.grace)
  )

/**
 * Runs `command` to its exit, stdin closed (after `input`), and returns its exit code (null when a signal ended
 * it) with the finished peer. Fails only when it cannot start or outlives `timeout` (it is then stopped).
 */
export const exitCode = (
  command: string,
  args: ReadonlyArray<string>,
  options: Options & { readonly timeout?: Duration.DurationInput } = {}
): Effect.Effect<{ readonly code: number | null; readonly peer: ChildPeer }, ChildPeerError> =>
  Effect.scoped(Effect.gen(function*() {
    const peer = yield* start(command, args, options)
    peer.child.stdin?.end()
    if (options.timeout !== undefined && !(yield* peer.exitsWithin(options.timeout))) {
      return yield* new ChildPeerError({
        reason: `${peer.name} did not finish within ${Duration.format(Duration.decode(options.timeout))}; ` +
          `stderr: ${peer.stderr().trim()}`
      })
    }
    const code = yield* peer.exited
    const spawnError = peer.spawnError()
    if (spawnError !== undefined) {
      return yield* new ChildPeerError({ reason: `${peer.name} could not start: ${spawnError.message}` })
    }
    return { code, peer }
  }))

/** Runs `command` to completion; fails with its output unless it exits with 0. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: Options & { readonly timeout?: Duration.DurationInput } = {}
): Effect.Effect<ChildPeer, ChildPeerError> =>
  Effect.gen(function*() {
    const { code, peer } = yield* exitCode(command, args, options)
    if (code !== 0) {
      return yield* new ChildPeerError({
        reason: `${peer.name} exited with ${code}; stdout: ${
          JSON.stringify(peer.lines())
        }, stderr: ${peer.stderr().trim()}`
      })
    }
    return peer
  })
