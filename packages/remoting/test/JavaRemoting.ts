/**
 * Apache RocketMQ's own Java codec as a test oracle, and the Java tooling the interop tests share.
 *
 * - `mavenClasspath(pomDir)`: the classpath of one of the throwaway poms under `interop/`, resolved with
 *   `mvn dependency:build-classpath` and cached under `build/java/<pom dir>/` (keyed by the pom's SHA-256; the
 *   cache is dropped when a jar it lists has gone). `mavenClasspath`, `classpathAvailability` and
 *   `compileJava` take another package's `interop/` and `build/java/` as an optional last argument
 *   (`javaProject(packageDir)`); without it they use this package's.
 * - `interop/java-codec/RemotingVectors.java` is compiled with javac into `build/java/java-codec/classes/` when
 *   the class is missing or older than the source or the classpath, and run once per call with all lines on
 *   stdin: a JVM starts and encodes a few hundred commands in about 0.5 s here (0.35 s for one), so a
 *   long-lived process would save little and would need its own lifecycle.
 *
 * Prerequisites (java, javac, mvn, and Maven able to resolve) are checked once per test file: outside CI a
 * missing one skips the tests with the reason printed; with `CI=true` the tests run and fail with the reason.
 */
import * as ChildPeer from "@rocketmq-effect/test-kit/ChildPeer"
import { type Availability, available, missing } from "@rocketmq-effect/test-kit/Prerequisites"
import * as Prerequisites from "@rocketmq-effect/test-kit/Prerequisites"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** `packages/remoting/`. */
export const packageDir = fileURLToPath(new URL("../", import.meta.url))

/** The throwaway poms and the Java sources. */
export const interopDir = Path.join(packageDir, "interop")

/** Where resolved classpaths and compiled classes are kept between runs (`build/` is gitignored). */
export const javaBuildDir = Path.join(packageDir, "build", "java")

/** Where a package keeps its throwaway poms and Java sources, and its resolved classpaths and classes. */
export interface JavaProject {
  readonly interopDir: string
  readonly javaBuildDir: string
}

/** The `interop/` and `build/java/` of the package at `dir` (a package's root directory). */
export const javaProject = (dir: string): JavaProject => ({
  interopDir: Path.join(dir, "interop"),
  javaBuildDir: Path.join(dir, "build", "java")
})

/** This package's (`packages/remoting/`): the default of every function taking a `JavaProject`. */
export const remotingProject: JavaProject = { interopDir, javaBuildDir }

// ---- availability -----------------------------------------------------------------------------------------

/** The value of an available prerequisite; a failure (in CI, where the tests are not skipped) otherwise. */
export const requireAvailable = <A>(availability: Availability<A>): Effect.Effect<A, JavaError> =>
  Prerequisites.requireAvailable(
    availability,
    (reason) => new JavaError({ reason: `Java prerequisite missing with CI=true: ${reason}` })
  )

/**
 * @category errors
 */
export class JavaError extends Data.TaggedError("JavaError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** java, javac and mvn on the PATH; the reason lists what is absent. */
export const javaToolsPrerequisites: () => Availability<void> = Prerequisites.javaTools

// ---- processes --------------------------------------------------------------------------------------------

// eslint-disable-next-line no-control-regex
const ansi = /\x1b\[[0-9;]*m/g

/** The last `lines` lines of a tool's output, without colour codes (Maven writes some even with -B). */
const tail = (text: string, lines = 30): string => text.replace(ansi, "").trimEnd().split("\n").slice(-lines).join("\n")

/** The result of a finished process. */
export interface Finished {
  readonly code: number | null
  /** Stdout's lines, joined with newlines. */
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `command` with `input` on its stdin to completion (stopped when interrupted or after `timeoutMs`).
 * Fails only when it cannot be started or times out; the exit code is the caller's business.
 */
export const runProcess = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly input?: string; readonly timeoutMs?: number; readonly cwd?: string } = {}
): Effect.Effect<Finished, JavaError> =>
  ChildPeer.exitCode(command, args, {
    input: options.input ?? "",
    cwd: options.cwd ?? packageDir,
    timeout: Duration.millis(options.timeoutMs ?? 120_000),
    maxStderr: 256 * 1024,
    grace: "1 second"
  }).pipe(
    Effect.map(({ code, peer }) => ({ code, stdout: peer.lines().join("\n"), stderr: peer.stderr() })),
    Effect.mapError((error) => new JavaError({ reason: error.reason }))
  )

/** Like `runProcess`, failing unless the exit code is 0. */
export const runChecked = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly input?: string; readonly timeoutMs?: number; readonly cwd?: string } = {}
): Effect.Effect<Finished, JavaError> =>
  Effect.flatMap(runProcess(command, args, options), (finished) =>
    finished.code === 0
      ? Effect.succeed(finished)
      : Effect.fail(
        new JavaError({
          reason: `${ChildPeer.describeCommand(command, args)} exited with ${finished.code}; stdout: ${
            tail(finished.stdout)
          }; stderr: ${tail(finished.stderr)}`
        })
      ))

// ---- Maven ------------------------------------------------------------------------------------------------

const sha256 = (path: string) => Crypto.createHash("sha256").update(Fs.readFileSync(path)).digest("hex")

interface ClasspathCache {
  readonly pomSha256: string
  readonly classpath: string
}

const readCache = (file: string, pomSha256: string): string | undefined => {
  try {
    const cache = JSON.parse(Fs.readFileSync(file, "utf8")) as ClasspathCache
    if (cache.pomSha256 !== pomSha256 || typeof cache.classpath !== "string") return undefined
    const entries = cache.classpath.split(Path.delimiter)
    return entries.length > 0 && entries.every((entry) => Fs.existsSync(entry)) ? cache.classpath : undefined
  } catch {
    return undefined
  }
}

/** Writes `file` atomically (a temporary file renamed over it), so parallel test files never read half of it. */
export const writeAtomically = (file: string, content: string): void => {
  Fs.mkdirSync(Path.dirname(file), { recursive: true })
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`
  Fs.writeFileSync(temporary, content)
  Fs.renameSync(temporary, file)
}

/** How long the last `mavenClasspath` resolutions took (ms), by pom dir; absent when served from the cache. */
export const mavenTimings = new Map<string, number>()

/**
 * The classpath of `interop/<name>/pom.xml` (of `project`, this package's by default): from the cache when the
 * pom has not changed and every jar is still in the local repository, else from
 * `mvn dependency:build-classpath` (which downloads what is missing).
 */
export const mavenClasspath: (name: string, project?: JavaProject) => Effect.Effect<string, JavaError> = (() => {
  const resolved = new Map<string, Effect.Effect<string, JavaError>>()
  return (name: string, project: JavaProject = remotingProject) => {
    const pom = Path.join(project.interopDir, name, "pom.xml")
    let resolve = resolved.get(pom)
    if (resolve === undefined) {
      resolve = Effect.runSync(Effect.cached(Effect.suspend(() => {
        const cacheFile = Path.join(project.javaBuildDir, name, "classpath.json")
        const pomSha256 = sha256(pom)
        const cached = readCache(cacheFile, pomSha256)
        if (cached !== undefined) return Effect.succeed(cached)
        const outputFile = Path.join(project.javaBuildDir, name, `classpath.${process.pid}.txt`)
        Fs.mkdirSync(Path.dirname(outputFile), { recursive: true })
        const started = Date.now()
        return runChecked("mvn", [
          "-q",
          "-B",
          "-Dstyle.color=never",
          "-f",
          pom,
          "dependency:build-classpath",
          `-Dmdep.outputFile=${outputFile}`
        ], { timeoutMs: 600_000 }).pipe(
          Effect.flatMap(() =>
            Effect.try({
              try: () => {
                const classpath = Fs.readFileSync(outputFile, "utf8").trim()
                Fs.rmSync(outputFile, { force: true })
                if (classpath.length === 0) throw new Error("empty classpath")
                writeAtomically(cacheFile, JSON.stringify({ pomSha256, classpath } satisfies ClasspathCache))
                mavenTimings.set(name, Date.now() - started)
                return classpath
              },
              catch: (error) => new JavaError({ reason: `reading the classpath Maven wrote for ${pom}: ${error}` })
            })
          )
        )
      })))
      resolved.set(pom, resolve)
    }
    return resolve
  }
})()

/**
 * The tools and the classpath of `interop/<name>/pom.xml` (of `project`, this package's by default): Missing
 * when a tool is absent or Maven cannot resolve (no network, no local copy), with the reason.
 */
export const classpathAvailability = (
  name: string,
  project: JavaProject = remotingProject
): Effect.Effect<Availability<string>> => {
  const tools = javaToolsPrerequisites()
  if (tools._tag === "Missing") return Effect.succeed(missing(tools.reason))
  const pom = project === remotingProject
    ? `interop/${name}/pom.xml`
    : Path.join(project.interopDir, name, "pom.xml")
  return mavenClasspath(name, project).pipe(
    Effect.map(available),
    Effect.catchAll((error) => Effect.succeed(missing<string>(`Maven could not resolve ${pom}: ${error.reason}`)))
  )
}

// ---- javac ------------------------------------------------------------------------------------------------

const mtime = (path: string): number => {
  try {
    return Fs.statSync(path).mtimeMs
  } catch {
    return -1
  }
}

/**
 * Compiles `interop/<name>/<mainClass>.java` against `classpath` into `build/java/<name>/classes/` (of
 * `project`, this package's by default) unless the class there is newer than the source and the classpath
 * cache. Compiles into a fresh directory renamed into place, so a parallel run never sees half the classes.
 * Succeeds with the classes directory.
 */
export const compileJava = (
  name: string,
  mainClass: string,
  classpath: string,
  project: JavaProject = remotingProject
): Effect.Effect<string, JavaError> =>
  Effect.suspend(() => {
    const source = Path.join(project.interopDir, name, `${mainClass}.java`)
    const buildDir = Path.join(project.javaBuildDir, name)
    const classesDir = Path.join(buildDir, "classes")
    const classFile = Path.join(classesDir, `${mainClass}.class`)
    const upToDate = mtime(classFile) >= Math.max(mtime(source), mtime(Path.join(buildDir, "classpath.json")))
    if (upToDate) return Effect.succeed(classesDir)
    const fresh = Path.join(buildDir, `classes.${process.pid}.${Date.now()}`)
    return runChecked("javac", ["-nowarn", "-encoding", "UTF-8", "-cp", classpath, "-d", fresh, source], {
      timeoutMs: 120_000
    }).pipe(
      Effect.flatMap(() =>
        Effect.sync(() => {
          Fs.rmSync(classesDir, { recursive: true, force: true })
          try {
            Fs.renameSync(fresh, classesDir)
          } catch {
            // Another test file compiled it at the same moment: theirs is as good as ours.
            Fs.rmSync(fresh, { recursive: true, force: true })
          }
          return classesDir
        })
      ),
      Effect.tapError(() => Effect.sync(() => Fs.rmSync(fresh, { recursive: true, force: true })))
    )
  })

// ---- the codec oracle -------------------------------------------------------------------------------------

/** The compiled oracle: what `java` needs to run it. */
export interface JavaCodec {
  readonly classpath: string
}

/**
 * Tools, classpath and compiled `RemotingVectors`, checked once per test file. A javac failure is not a
 * missing prerequisite but a bug here: it fails, locally too.
 */
export const codecAvailability: Effect.Effect<Availability<JavaCodec>, JavaError> = Effect.runSync(
  Effect.cached(Effect.gen(function*() {
    const classpath = yield* classpathAvailability("java-codec")
    if (classpath._tag === "Missing") return missing<JavaCodec>(classpath.reason)
    const classes = yield* compileJava("java-codec", "RemotingVectors", classpath.value)
    return available<JavaCodec>({ classpath: [classes, classpath.value].join(Path.delimiter) })
  }))
)

/** One command for Java's encoder. `language` is the enum name (`"JAVA"`, `"NODE_JS"`). */
export interface JavaCommand {
  readonly code: number
  readonly language: string
  readonly version: number
  readonly opaque: number
  readonly flag: number
  readonly remark: string | null
  /** Put into a `LinkedHashMap` in this order; `null` leaves `extFields` null. */
  readonly extFields: ReadonlyArray<readonly [string, string]> | null
  readonly body: Uint8Array
}

/**
 * What `cmd.encode()` produced: whole frames, the 4-byte length included. `error` is set when Java threw for
 * one type or both (the other frame may still be there).
 */
export interface JavaEncoded {
  readonly json: Uint8Array | undefined
  readonly rocketmq: Uint8Array | undefined
  readonly error: string | undefined
}

/** What `RemotingCommand.decode` made of a frame; `extFields` sorted by key (null keys first). */
export type JavaDecoded =
  | {
    readonly _tag: "Decoded"
    readonly serializeType: "JSON" | "ROCKETMQ"
    readonly code: number
    /** The enum name; null when the byte names no language (binary headers). */
    readonly language: string | null
    readonly version: number
    readonly opaque: number
    readonly flag: number
    readonly remark: string | null
    /** Java turns a zero-length key or value of a binary header into null. */
    readonly extFields: ReadonlyArray<readonly [string | null, string | null]> | null
    readonly body: Uint8Array
  }
  | { readonly _tag: "Failed"; readonly error: string }

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex")
const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, "hex"))

/**
 * Runs the oracle in `mode` over `lines` (one JSON value each) and returns its output lines parsed. One JVM per
 * call; only the oracle's result lines reach its stdout (anything else Java prints goes to stderr).
 */
export const runVectors = (
  codec: JavaCodec,
  mode: "encode" | "decode",
  lines: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<Record<string, unknown>>, JavaError> =>
  Effect.gen(function*() {
    if (lines.length === 0) return []
    const input = lines.map((line) => JSON.stringify(line)).join("\n") + "\n"
    const finished = yield* runChecked("java", [
      "-Xmx256m",
      "-XX:+UseSerialGC",
      "-XX:TieredStopAtLevel=1",
      "-Dfile.encoding=UTF-8",
      "-cp",
      codec.classpath,
      "RemotingVectors",
      mode
    ], { input, timeoutMs: 120_000 })
    const output = finished.stdout.split("\n").filter((line) => line.length > 0)
    if (output.length !== lines.length) {
      return yield* new JavaError({
        reason: `RemotingVectors ${mode}: ${lines.length} lines in, ${output.length} out; stderr: ${
          tail(finished.stderr)
        }`
      })
    }
    return yield* Effect.try({
      try: () => output.map((line) => JSON.parse(line) as Record<string, unknown>),
      catch: (error) => new JavaError({ reason: `RemotingVectors ${mode} wrote a line that is not JSON: ${error}` })
    })
  })

/** Java's `cmd.encode()` of each command, once with `SerializeType.JSON` and once with `ROCKETMQ`. */
export const encode = (
  codec: JavaCodec,
  commands: ReadonlyArray<JavaCommand>
): Effect.Effect<ReadonlyArray<JavaEncoded>, JavaError> =>
  Effect.map(
    runVectors(
      codec,
      "encode",
      commands.map((command) => ({
        code: command.code,
        language: command.language,
        version: command.version,
        opaque: command.opaque,
        flag: command.flag,
        remark: command.remark,
        extFields: command.extFields,
        bodyHex: toHex(command.body)
      }))
    ),
    (outputs) =>
      outputs.map((output): JavaEncoded => ({
        json: typeof output.jsonHex === "string" ? fromHex(output.jsonHex) : undefined,
        rocketmq: typeof output.rocketmqHex === "string" ? fromHex(output.rocketmqHex) : undefined,
        error: typeof output.error === "string" ? output.error : undefined
      }))
  )

/** Java's `RemotingCommand.decode` of each whole frame (4-byte length included). */
export const decode = (
  codec: JavaCodec,
  frames: ReadonlyArray<Uint8Array>
): Effect.Effect<ReadonlyArray<JavaDecoded>, JavaError> =>
  Effect.map(
    runVectors(codec, "decode", frames.map((frame) => ({ frameHex: toHex(frame) }))),
    (outputs) =>
      outputs.map((output): JavaDecoded => {
        if (typeof output.error === "string") return { _tag: "Failed", error: output.error }
        return {
          _tag: "Decoded",
          serializeType: output.serializeType as "JSON" | "ROCKETMQ",
          code: output.code as number,
          language: output.language as string | null,
          version: output.version as number,
          opaque: output.opaque as number,
          flag: output.flag as number,
          remark: output.remark as string | null,
          extFields: output.extFields as ReadonlyArray<readonly [string | null, string | null]> | null,
          body: fromHex(output.bodyHex as string)
        }
      })
  )

const requireCodec = Effect.flatMap(codecAvailability, requireAvailable)

/** `encode` with the shared oracle, as a Promise. */
export const javaEncode = (commands: ReadonlyArray<JavaCommand>): Promise<ReadonlyArray<JavaEncoded>> =>
  Effect.runPromise(Effect.flatMap(requireCodec, (codec) => encode(codec, commands)))

/** `decode` with the shared oracle, as a Promise. */
export const javaDecode = (frames: ReadonlyArray<Uint8Array>): Promise<ReadonlyArray<JavaDecoded>> =>
  Effect.runPromise(Effect.flatMap(requireCodec, (codec) => decode(codec, frames)))

/** A frame: the 4-byte big-endian length, then `payload`. */
export const frame = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + payload.length)
  new DataView(out.buffer).setUint32(0, payload.length)
  out.set(payload, 4)
  return out
}

/** The payload of a frame: everything after the 4-byte length (which must match). */
export const unframe = (whole: Uint8Array): Uint8Array => {
  const length = new DataView(whole.buffer, whole.byteOffset, whole.length).getUint32(0)
  if (length !== whole.length - 4) throw new Error(`frame length ${length} but ${whole.length - 4} bytes follow`)
  return whole.subarray(4)
}
