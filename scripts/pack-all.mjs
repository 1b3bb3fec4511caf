// Builds every package and packs it as it would be published, into one folder, then prints the one command
// that installs them in a project of yours: the way in while the packages are not on npm.
//
//   pnpm pack:all DIR          (node scripts/pack-all.mjs DIR [--no-build])
//
// The consumer test (scripts/consumer-test.mjs) packs through `packAll` too, so what it checks is what this
// command hands out.
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "..")

/** The packages, in the order a user installs them. */
export const packageDirs = ["packages/transport", "packages/transport-node", "packages/remoting", "packages/client", "packages/cli"]

const rootManifest = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8"))

/** The peer dependencies a user installs beside the tarballs, at the versions the packages are built against. */
export const peerDependencies = ["effect", "@effect/platform", "@effect/platform-node"]
  .map((name) => `${name}@${rootManifest.devDependencies[name]}`)

/**
 * Packs every package into `destination` (made if missing), building first unless `build` is false; returns
 * each package's folder and tarball path.
 */
export const packAll = (destination, { build = true } = {}) => {
  Fs.mkdirSync(destination, { recursive: true })
  if (build) execFileSync(process.execPath, [Path.join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" })
  return packageDirs.map((dir) => {
    const out = execFileSync("pnpm", ["pack", "--pack-destination", destination], {
      cwd: Path.join(root, dir),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"]
    })
    const file = out.trim().split("\n").pop().trim()
    return { dir, file: Path.isAbsolute(file) ? file : Path.join(destination, Path.basename(file)) }
  })
}

/** The command that installs `tarballs` and the peer dependencies into the current project. */
export const installCommand = (tarballs) => ["npm install", ...tarballs.map((t) => t.file), ...peerDependencies].join(" ")

if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const destination = args.find((arg) => !arg.startsWith("--"))
  if (destination === undefined) {
    process.stderr.write("usage: pnpm pack:all DIR [--no-build]   (packs every package into DIR)\n")
    process.exit(2)
  }
  const tarballs = packAll(Path.resolve(destination), { build: !args.includes("--no-build") })
  process.stdout.write(
    `\npacked ${tarballs.length} packages into ${Path.resolve(destination)}. In your project, run:\n\n` +
      `${installCommand(tarballs)}\n\n` +
      "(or the same with pnpm add / yarn add). The CLI comes with the cli tarball: npx rmq-transport --help\n"
  )
}
