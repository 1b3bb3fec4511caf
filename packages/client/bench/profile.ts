/**
 * CPU profiles of parts of the client bench (`--profile <dir>`): the V8 sampling profiler of this process
 * through `node:inspector`, started and stopped around one measurement, written as `<name>.cpuprofile` (open it
 * in Chrome's DevTools), and summarised as the functions with the most self time.
 */
import * as Fs from "node:fs"
import { Session } from "node:inspector/promises"
import * as Path from "node:path"

interface ProfileNode {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** Starts profiling; `stop` writes the profile to `<dir>/<name>.cpuprofile` and returns the file. */
export const start = async (): Promise<{ readonly stop: (dir: string, name: string) => Promise<string> }> => {
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.setSamplingInterval", { interval: 200 })
  await session.post("Profiler.start")
  return {
    stop: async (dir, name) => {
      const { profile } = await session.post("Profiler.stop")
      session.disconnect()
      Fs.mkdirSync(dir, { recursive: true })
      const file = Path.join(dir, `${name}.cpuprofile`)
      Fs.writeFileSync(file, JSON.stringify(profile))
      return file
    }
  }
}

/** Where a function is: its package and file (`remoting/dist/esm/RemotingClient.js`), or node's module. */
const place = (url: string, line: number): string => {
  if (url === "") return ""
  const packages = /\/packages\/([^/]+)\/(.*)$/.exec(url)
  if (packages !== null) return `${packages[1]}/${packages[2]}:${line + 1}`
  const modules = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url)
  if (modules !== null) return `${modules[1]}/${modules[2]}:${line + 1}`
  return `${url.replace(/^node:/, "node:")}:${line + 1}`
}

/** The `top` functions by self time, with their share of all samples, and the shares by package. */
export const summary = (file: string, top = 25): ReadonlyArray<string> => {
  const profile = JSON.parse(Fs.readFileSync(file, "utf8")) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfTime = new Map<number, number>()
  let total = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0
    selfTime.set(profile.samples[i]!, (selfTime.get(profile.samples[i]!) ?? 0) + delta)
    total += delta
  }
  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  for (const [id, time] of selfTime) {
    const frame = byId.get(id)!.callFrame
    const name = frame.functionName === "" ? "(anonymous)" : frame.functionName
    const where = place(frame.url, frame.lineNumber)
    const key = where === "" ? name : `${name}  ${where}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + time)
    const pkg = frame.url === ""
      ? name.startsWith("(") ? name : "(native)"
      : /\/packages\/([^/]+)\//.exec(frame.url)?.[1] ??
        /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\//.exec(frame.url)?.[1] ??
        (frame.url.startsWith("node:") ? "node internals" : frame.url)
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + time)
  }
  const percent = (time: number) => `${(100 * time / total).toFixed(1).padStart(5)} %`
  const lines = [`${Path.basename(file)}: ${(total / 1000).toFixed(0)} ms sampled`, "  self time by package:"]
  for (const [pkg, time] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 10)) {
    lines.push(`    ${percent(time)}  ${pkg}`)
  }
  lines.push(`  top ${top} functions by self time:`)
  for (const [key, time] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`    ${percent(time)}  ${key}`)
  }
  return lines
}
