/**
 * What a test needs from the machine (java, javac, mvn, Netty's jars, root, …) and what it does when something
 * is missing: outside CI the tests are skipped with the reason printed; with `CI=true` they run and fail with
 * the reason, so that a CI image that lost a tool cannot pass by skipping.
 */
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** CI sets `CI=true`; there a missing prerequisite fails the tests instead of skipping them. */
export const isCI = process.env.CI === "true"

/** A prerequisite check: either what the tests need, or why they cannot run. */
export type Availability<A> =
  | { readonly _tag: "Available"; readonly value: A }
  | { readonly _tag: "Missing"; readonly reason: string }

export const available = <A>(value: A): Availability<A> => ({ _tag: "Available", value })
export const missing = <A>(reason: string): Availability<A> => ({ _tag: "Missing", reason })

/** What a test does about an absent prerequisite: nothing when present, skip locally, fail in CI. */
export const skipReason = <A>(availability: Availability<A>): string | undefined =>
  availability._tag === "Missing" && !isCI ? availability.reason : undefined

/** A suite name that says when and why the suite is skipped (or will fail, in CI). */
export const suiteName = (name: string, availability: Availability<unknown>): string =>
  availability._tag === "Available"
    ? name
    : `${name} [${isCI ? "FAILS, CI=true" : "skipped"}: ${availability.reason}]`

/** The value of an available prerequisite; `onMissing`'s failure (in CI, where tests are not skipped) otherwise. */
export const requireAvailable = <A, E>(
  availability: Availability<A>,
  onMissing: (reason: string) => E
): Effect.Effect<A, E> =>
  availability._tag === "Available" ? Effect.succeed(availability.value) : Effect.fail(onMissing(availability.reason))

/** Whether `command args` runs and exits with 0 (within 30 seconds). */
export const commandRuns = (command: string, args: ReadonlyArray<string>): boolean => {
  const result = spawnSync(command, args, { stdio: "ignore", timeout: 30_000 })
  return result.error === undefined && result.status === 0
}

/** The Java tools a test can need, with how they are installed. */
export type JavaTool = "java" | "javac" | "mvn"

const toolCheck: Record<JavaTool, { readonly args: ReadonlyArray<string>; readonly install: string }> = {
  java: { args: ["-version"], install: "apt-get install default-jdk-headless" },
  javac: { args: ["-version"], install: "apt-get install default-jdk-headless" },
  mvn: { args: ["-v"], install: "apt-get install maven" }
}

const toolChecked = new Map<JavaTool, boolean>()

/** The tools of `tools` that do not run here, each with how to install it (checked once per process). */
export const absentJavaTools = (tools: ReadonlyArray<JavaTool>): ReadonlyArray<string> =>
  tools.filter((tool) => {
    let runs = toolChecked.get(tool)
    if (runs === undefined) {
      runs = commandRuns(tool, toolCheck[tool].args)
      toolChecked.set(tool, runs)
    }
    return !runs
  }).map((tool) => `${tool} (${toolCheck[tool].install})`)

/** Where Debian's `libnetty-java` puts its jars. */
export const NETTY_JAR_DIR = "/usr/share/java"

/**
 * The Netty modules a peer needs (`netty-handler` for its `SslHandler`). Debian's `netty-all.jar` is an empty
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

/** javac, java and Netty's jars; the value is the Netty classpath. */
export const netty = (): Availability<string> => {
  const absent = [...absentJavaTools(["javac", "java"])]
  const jars = NETTY_JARS.map((name) => Path.join(NETTY_JAR_DIR, `${name}.jar`))
  const absentJars = jars.filter((jar) => !Fs.existsSync(jar))
  if (absentJars.length > 0) absent.push(`${absentJars.join(", ")} (apt-get install libnetty-java)`)
  return absent.length === 0 ? available(jars.join(Path.delimiter)) : missing(`not found: ${absent.join("; ")}`)
}

/** java, javac and mvn on the PATH. */
export const javaTools = (): Availability<void> => {
  const absent = absentJavaTools(["java", "javac", "mvn"])
  return absent.length === 0 ? available(undefined) : missing(`not found: ${absent.join("; ")}`)
}
