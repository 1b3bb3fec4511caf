// Generates each package's API docs (packages/*/docs) from its JSDoc with @effect/docgen, which also
// type-checks and runs every @example. Prints one line per package, or docgen's whole output when it fails.
// In CI it also fails when the regenerated docs differ from the checked-in ones: they would be stale.
import { spawnSync } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "..")
const docgen = Path.join(root, "node_modules", "@effect", "docgen", "bin.cjs")

const packages = ["packages/transport", "packages/transport-node", "packages/cli", "packages/remoting", "packages/client"]

for (const dir of packages) {
  const started = Date.now()
  const result = spawnSync(process.execPath, [docgen], { cwd: Path.join(root, dir), encoding: "utf8" })
  if (result.status !== 0) {
    process.stderr.write(`${result.stdout}${result.stderr}\ndocgen failed in ${dir}\n`)
    process.exit(1)
  }
  console.log(`docgen ${dir}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

const ci = process.env.CI
if (ci !== undefined && ci !== "" && ci !== "false") {
  // Each docs folder by name: a pathspec like `packages/*/docs` matches no file below those folders.
  const docs = packages.map((dir) => `${dir}/docs`)
  const status = spawnSync("git", ["status", "--porcelain", "--", ...docs], { cwd: root, encoding: "utf8" })
  if (status.stdout.trim() !== "") {
    console.error(`the API docs are stale: run pnpm docgen and commit packages/*/docs\n${status.stdout}`)
    process.exit(1)
  }
}
