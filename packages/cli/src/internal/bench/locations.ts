/**
 * Where the code of the bench's child processes is.
 *
 * The child processes (workers, the TransportServer echo peer) always run the built ES modules under plain
 * node: what is published is what is measured. Installed, they are in this package's dist/esm. Run from the
 * sources (inside the repository), they are the packages' dist/esm, which `pnpm build` writes, loaded with a
 * hook that resolves the workspace packages to dist/esm as well. The Python clients are shipped in src/ either
 * way.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { CliError } from "../../Failure.js"
import { benchError } from "./failure.js"

const here = Path.dirname(fileURLToPath(import.meta.url))
const fromSources = import.meta.url.endsWith(".ts")
// This file is src/internal/bench/locations.ts, or dist/{esm,cjs}/internal/bench/locations.js installed.
const packageDir = fromSources ? Path.join(here, "..", "..", "..") : Path.join(here, "..", "..", "..", "..")
const builtDir = Path.join(packageDir, "dist", "esm")
const packagesDir = Path.join(packageDir, "..")

/** The bench worker, built. @internal */
export const workerPath = Path.join(builtDir, "internal", "benchWorker.js")

/** The CLI's entry, built (the TransportServer echo peer is its `echo-server`). @internal */
export const binPath = Path.join(builtDir, "bin.js")

/** The seed's Python clients and their protocol. @internal */
export const peersDir = Path.join(packageDir, "src", "internal", "peers")

/** The node flags that load the workspace packages from dist/esm, when run from the sources. @internal */
export const loader = (): Array<string> =>
  fromSources ? ["--import", pathToFileURL(Path.join(packageDir, "bench", "built-packages.mjs")).href] : []

/**
 * The interop tests' Netty peer, beside this package in the repository; not part of the installed packages.
 *
 * @internal
 */
export const nettySource = Path.join(packagesDir, "transport-node", "interop", "netty", "NettyEchoPeer.java")

const newestFileUnder = (dir: string, extension: string): number => {
  let newest = 0
  for (const entry of Fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(extension)) {
      newest = Math.max(newest, Fs.statSync(Path.join(entry.parentPath, entry.name)).mtimeMs)
    }
  }
  return newest
}

/**
 * From the sources, the built packages must exist and be newer than every source they are built from.
 *
 * @internal
 */
export const checkBuilt: Effect.Effect<void, CliError> = Effect.suspend(() => {
  if (!fromSources) return Effect.void
  for (const name of ["transport", "transport-node", "cli"]) {
    const src = Path.join(packagesDir, name, "src")
    const dist = Path.join(packagesDir, name, "dist", "esm")
    if (!Fs.existsSync(dist) || newestFileUnder(dist, ".js") < newestFileUnder(src, ".ts")) {
      return Effect.fail(benchError(`packages/${name}/dist is missing or older than its sources: run pnpm build`))
    }
  }
  return Effect.void
})
