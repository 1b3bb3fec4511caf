/**
 * Apache RocketMQ 5.3.3's own message codecs as a test oracle: `interop/java-codec/CodecVectors.java`, compiled
 * with javac against the classpath of `interop/java-codec/pom.xml` (resolved with
 * `mvn dependency:build-classpath`, cached under `build/java/java-codec/` keyed by the pom's SHA-256) and run
 * once per call with all commands on stdin.
 *
 * Prerequisites (java, javac, mvn, and Maven able to resolve) are checked once per test file: outside CI a
 * missing one skips the tests with the reason printed; with `CI=true` the tests run and fail with the reason
 * (the rule of test-kit's Prerequisites, which this package cannot import yet).
 */
import { spawnSync } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const packageDir = fileURLToPath(new URL("../", import.meta.url))
const codecDir = Path.join(packageDir, "interop", "java-codec")
const buildDir = Path.join(packageDir, "build", "java", "java-codec")

export const isCI = process.env.CI === "true"

export type Availability =
  | { readonly _tag: "Available"; readonly classpath: string }
  | { readonly _tag: "Missing"; readonly reason: string }

const run = (command: string, args: ReadonlyArray<string>, input = "", timeout = 120_000) =>
  spawnSync(command, args, { input, timeout, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, cwd: packageDir })

const tail = (text: string | undefined) => (text ?? "").trimEnd().split("\n").slice(-15).join("\n")

const runs = (command: string, args: ReadonlyArray<string>) => {
  const result = spawnSync(command, args, { stdio: "ignore", timeout: 30_000 })
  return result.error === undefined && result.status === 0
}

const mtime = (path: string) => {
  try {
    return Fs.statSync(path).mtimeMs
  } catch {
    return -1
  }
}

const classpathOf = (): string | { readonly missing: string } => {
  const pom = Path.join(codecDir, "pom.xml")
  const cacheFile = Path.join(buildDir, "classpath.json")
  const pomSha256 = Crypto.createHash("sha256").update(Fs.readFileSync(pom)).digest("hex")
  try {
    const cache = JSON.parse(Fs.readFileSync(cacheFile, "utf8")) as { pomSha256: string; classpath: string }
    if (cache.pomSha256 === pomSha256 && cache.classpath.split(Path.delimiter).every((jar) => Fs.existsSync(jar))) {
      return cache.classpath
    }
  } catch {
    // no usable cache: resolve
  }
  Fs.mkdirSync(buildDir, { recursive: true })
  const outputFile = Path.join(buildDir, `classpath.${process.pid}.txt`)
  const mvn = run(
    "mvn",
    [
      "-q",
      "-B",
      "-Dstyle.color=never",
      "-f",
      pom,
      "dependency:build-classpath",
      `-Dmdep.outputFile=${outputFile}`
    ],
    "",
    600_000
  )
  if (mvn.status !== 0) return { missing: `Maven could not resolve ${pom}: ${tail(mvn.stdout)} ${tail(mvn.stderr)}` }
  const classpath = Fs.readFileSync(outputFile, "utf8").trim()
  Fs.rmSync(outputFile, { force: true })
  const temporary = `${cacheFile}.${process.pid}.tmp`
  Fs.writeFileSync(temporary, JSON.stringify({ pomSha256, classpath }))
  Fs.renameSync(temporary, cacheFile)
  return classpath
}

/** Compiles CodecVectors.java into build/java/java-codec/classes unless the class there is up to date. */
const compile = (classpath: string): string => {
  const source = Path.join(codecDir, "CodecVectors.java")
  const classesDir = Path.join(buildDir, "classes")
  const upToDate = mtime(Path.join(classesDir, "CodecVectors.class")) >=
    Math.max(mtime(source), mtime(Path.join(buildDir, "classpath.json")))
  if (upToDate) return classesDir
  const fresh = Path.join(buildDir, `classes.${process.pid}.${Date.now()}`)
  const javac = run("javac", ["-nowarn", "-encoding", "UTF-8", "-cp", classpath, "-d", fresh, source])
  if (javac.status !== 0) {
    Fs.rmSync(fresh, { recursive: true, force: true })
    // not a missing prerequisite but a bug here: thrown, so it fails locally too
    throw new Error(`javac CodecVectors.java failed: ${tail(javac.stdout)} ${tail(javac.stderr)}`)
  }
  Fs.rmSync(classesDir, { recursive: true, force: true })
  try {
    Fs.renameSync(fresh, classesDir)
  } catch {
    Fs.rmSync(fresh, { recursive: true, force: true })
  }
  return classesDir
}

/** The tools, the classpath and the compiled oracle, or why they are missing. */
export const availability = (): Availability => {
  const absent = (["java", "javac", "mvn"] as const).filter((tool) =>
    !runs(tool, tool === "mvn" ? ["-v"] : ["-version"])
  )
  if (absent.length > 0) {
    return {
      _tag: "Missing",
      reason: `not on the PATH: ${absent.join(", ")} (apt-get install default-jdk-headless maven)`
    }
  }
  const classpath = classpathOf()
  if (typeof classpath !== "string") return { _tag: "Missing", reason: classpath.missing }
  return { _tag: "Available", classpath: [compile(classpath), classpath].join(Path.delimiter) }
}

/** Why the tests are skipped (outside CI, when something is missing); undefined when they run. */
export const skipReason = (available: Availability): string | undefined =>
  available._tag === "Missing" && !isCI ? available.reason : undefined

/**
 * Runs the oracle over `commands` (each a list of tab-separated fields) in one JVM; one answer line per command.
 */
export const runCommands = (
  available: Availability,
  commands: ReadonlyArray<ReadonlyArray<string | number | bigint | boolean>>
): Array<string> => {
  if (available._tag === "Missing") throw new Error(`Java prerequisite missing: ${available.reason}`)
  const input = commands.map((fields) => fields.join("\t")).join("\n") + "\n"
  const java = spawnSync("java", [
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Dfile.encoding=UTF-8",
    "-cp",
    available.classpath,
    "CodecVectors"
  ], { input, timeout: 120_000, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
  if (java.status !== 0) throw new Error(`CodecVectors exited with ${java.status}: ${tail(java.stderr)}`)
  // one line per command, empty answers included
  const lines = java.stdout.split("\n")
  if (lines[lines.length - 1] === "") lines.pop()
  if (lines.length !== commands.length) {
    throw new Error(`CodecVectors: ${commands.length} commands, ${lines.length} answers; ${tail(java.stderr)}`)
  }
  return lines
}

/** Hex of a string's UTF-16 code units (so lone surrogates reach Java unchanged). */
export const utf16Hex = (text: string): string => {
  let out = ""
  for (let i = 0; i < text.length; i++) out += text.charCodeAt(i).toString(16).padStart(4, "0")
  return out
}

export const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex")
export const utf8Hex = (text: string): string => Buffer.from(text, "utf8").toString("hex")
export const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "hex"))
