/**
 * The version of `@rocketmq-effect/cli`, read from its `package.json` when the CLI starts: the one file that
 * says it, found the same way from `src/` (in the repository) and from `dist/esm/` or `dist/cjs/` (installed),
 * so `--version` cannot drift from what was published.
 *
 * @since 0.2.0
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const packageName = "@rocketmq-effect/cli"

/**
 * The `version` of the nearest `package.json` above this module that is the CLI's own (`dist/cjs/` has a
 * `package.json` of its own, with no name); `"unknown"` if none is found.
 *
 * @since 0.2.0
 */
export const read = (from: string = Path.dirname(fileURLToPath(import.meta.url))): string => {
  for (let dir = from;; dir = Path.dirname(dir)) {
    try {
      const manifest = JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8")) as {
        readonly name?: unknown
        readonly version?: unknown
      }
      if (manifest.name === packageName && typeof manifest.version === "string") return manifest.version
    } catch {
      // No package.json here, or not JSON: keep looking.
    }
    if (Path.dirname(dir) === dir) return "unknown"
  }
}
