/**
 * Where the time goes in a `node --cpu-prof` profile (as written by `rmq-transport bench --profile <dir>`):
 * self time per function, and total (inclusive) time for the functions of this repository.
 *
 * tsx compiles each TypeScript file to a single line, so a profile's positions in this repository's files
 * are all on line 1. They are mapped back to the source lines through the source maps in tsx's cache
 * (`$TMPDIR/tsx-<uid>`), taking for each file the newest compilation older than the profile.
 *
 * Usage: `tsx bench/profile-summary.ts <file.cpuprofile> [--top N]`
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}

interface CallFrameWithColumn extends CallFrame {
  readonly columnNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const args = process.argv.slice(2)
const file = args.find((arg) => !arg.startsWith("--"))
if (file === undefined) {
  console.error("usage: tsx bench/profile-summary.ts <file.cpuprofile> [--top N]")
  process.exit(2)
}
const topAt = args.indexOf("--top")
const top = topAt >= 0 ? Number(args[topAt + 1]) : 25

const profile = JSON.parse(Fs.readFileSync(file, "utf8")) as Profile
const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const parent = new Map<number, number>()
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)

// ---- source maps of tsx's cache ---------------------------------------------------------------------------

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/** Generated column → original line (0-based), for generated line 0 of a single-source map. */
const decodeFirstLine = (mappings: string): Array<readonly [number, number]> => {
  const out: Array<readonly [number, number]> = []
  const line = mappings.split(";")[0] ?? ""
  let column = 0
  let sourceLine = 0
  for (const segment of line.split(",")) {
    if (segment === "") continue
    const values: Array<number> = []
    let value = 0
    let shift = 0
    for (const char of segment) {
      const digit = BASE64.indexOf(char)
      value += (digit & 31) << shift
      if (digit & 32) {
        shift += 5
      } else {
        values.push(value & 1 ? -(value >>> 1) : value >>> 1)
        value = 0
        shift = 0
      }
    }
    column += values[0] ?? 0
    if (values.length >= 4) sourceLine += values[2]!
    out.push([column, sourceLine])
  }
  return out
}

const profileTime = Fs.statSync(file).mtimeMs
const maps = new Map<string, Array<readonly [number, number]>>()
const cacheDir = Path.join(Os.tmpdir(), `tsx-${process.getuid?.() ?? 0}`)
const newest = new Map<string, number>()
for (const entry of Fs.existsSync(cacheDir) ? Fs.readdirSync(cacheDir) : []) {
  const path = Path.join(cacheDir, entry)
  const stat = Fs.statSync(path)
  if (stat.mtimeMs > profileTime) continue
  try {
    const cached = JSON.parse(Fs.readFileSync(path, "utf8")) as {
      readonly map?: { readonly sources?: ReadonlyArray<string>; readonly mappings?: string }
    }
    const source = cached.map?.sources?.[0]
    if (source === undefined || cached.map?.mappings === undefined || !source.includes("/packages/")) continue
    if ((newest.get(source) ?? -1) > stat.mtimeMs) continue
    newest.set(source, stat.mtimeMs)
    maps.set(source, decodeFirstLine(cached.map.mappings))
  } catch {
    // Not a compilation entry.
  }
}

/** The source line (1-based) of a position in a tsx-compiled file, when its map is known. */
const sourceLine = (frame: CallFrameWithColumn): number | undefined => {
  if (!frame.url.startsWith("file://") || frame.lineNumber !== 0) return undefined
  const segments = maps.get(fileURLToPath(frame.url))
  if (segments === undefined) return undefined
  let low = 0
  let high = segments.length - 1
  let found: number | undefined
  while (low <= high) {
    const middle = (low + high) >> 1
    if (segments[middle]![0] <= frame.columnNumber) {
      found = segments[middle]![1]
      low = middle + 1
    } else {
      high = middle - 1
    }
  }
  return found === undefined ? undefined : found + 1
}

// ---- the summary --------------------------------------------------------------------------------------------

const shortUrl = (url: string) => {
  const pnpm = url.lastIndexOf("node_modules/")
  if (pnpm >= 0) return url.slice(pnpm + "node_modules/".length)
  const packages = url.indexOf("/packages/")
  return packages >= 0 ? url.slice(packages + 1) : url.replace(/^file:\/\//, "")
}
const keyOf = (frame: CallFrame) =>
  `${frame.functionName || "(anonymous)"}  ${shortUrl(frame.url)}${
    frame.url === "" ? "" : `:${sourceLine(frame as CallFrameWithColumn) ?? frame.lineNumber + 1}`
  }`

const self = new Map<string, number>()
const inclusive = new Map<string, number>()
let total = 0
for (let i = 0; i < profile.samples.length; i++) {
  const delta = profile.timeDeltas[i] ?? 0
  total += delta
  const leaf = byId.get(profile.samples[i]!)!
  const leafKey = keyOf(leaf.callFrame)
  self.set(leafKey, (self.get(leafKey) ?? 0) + delta)
  // Each function once per sample, however deep its recursion.
  const seen = new Set<string>()
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
    const frame = byId.get(id)!.callFrame
    if (!frame.url.includes("/packages/")) continue
    const key = keyOf(frame)
    if (seen.has(key)) continue
    seen.add(key)
    inclusive.set(key, (inclusive.get(key) ?? 0) + delta)
  }
}

const print = (title: string, table: Map<string, number>) => {
  console.log(title)
  const rows = [...table.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
  for (const [key, micros] of rows) {
    console.log(
      `${((100 * micros) / total).toFixed(1).padStart(6)}%  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${key}`
    )
  }
  console.log("")
}

/** Coarse areas, so that time spread over many small runtime functions still adds up somewhere. */
const areaOf = (frame: CallFrame): string => {
  const name = frame.functionName
  const url = frame.url
  if (url === "") {
    if (name === "(garbage collector)" || name === "(idle)" || name === "(program)") return name
    return "native (syscalls, buffers, timers)"
  }
  if (url.includes("/packages/transport/src/")) return "packages/transport"
  if (url.includes("/packages/transport-node/src/")) return "packages/transport-node"
  if (url.includes("/packages/cli/")) return "packages/cli (bench harness)"
  if (url.includes("/effect/dist/") || url.includes("/effect/src/")) {
    return "effect (fiber runtime, scheduler, data types)"
  }
  if (url.includes("@effect/platform")) return "@effect/platform (NodeSocket)"
  if (url.includes("/tsx/") || url.includes("modules/esm") || url.includes("modules/cjs")) {
    return "module loading (tsx, startup)"
  }
  if (url.startsWith("node:")) return "node internals (net, streams, timers)"
  return "other"
}

const areas = new Map<string, number>()
for (let i = 0; i < profile.samples.length; i++) {
  const area = areaOf(byId.get(profile.samples[i]!)!.callFrame)
  areas.set(area, (areas.get(area) ?? 0) + (profile.timeDeltas[i] ?? 0))
}

console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled\n`)
print("self time by area", areas)
print("self time", self)
print("total time, functions of this repository", inclusive)
