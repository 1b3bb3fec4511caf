// The consumer test: what users install is what is checked. Packs every package as it would be published,
// checks each tarball's files and manifest, installs the tarballs with npm into a project outside the
// workspace (registry dependencies only), and there runs plain `node` ESM and CommonJS programs, type-checks a
// strict TypeScript consumer with NodeNext and Bundler resolution, and runs the installed CLI.
// Run after `pnpm build` (`pnpm consumer` does both).
import * as assert from "node:assert/strict"
import { execFileSync, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { after, before, describe, it } from "node:test"
import { fileURLToPath } from "node:url"
import { packAll, packageDirs, peerDependencies } from "./pack-all.mjs"
import { checkTarball } from "./tarball-rules.mjs"

const root = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "..")
const fixtures = Path.join(root, "scripts", "consumer")
const rootManifest = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8"))
// The registry dependencies a user adds beside ours: the peers `pnpm pack:all` tells them to install, and what a
// TypeScript consumer adds, at the versions the workspace pins.
const registryDependencies = [
  ...peerDependencies,
  ...["typescript", "@types/node"].map((name) => `${name}@${rootManifest.devDependencies[name]}`)
]

const run = (command, args, options = {}) => {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 120_000, ...options })
  if (result.error) throw result.error
  return result
}
const expectSuccess = (result, what) =>
  assert.equal(result.status, 0, `${what} exited ${result.status}\n${result.stdout}\n${result.stderr}`)

let work
let project
const tarballs = []

before(() => {
  work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "rocketmq-effect-consumer-"))
  // As `pnpm pack:all` packs them; the build is `pnpm consumer`'s (or `pnpm test`'s) own step.
  tarballs.push(...packAll(Path.join(work, "tarballs"), { build: false }))
  project = Path.join(work, "project")
  Fs.mkdirSync(project)
  Fs.writeFileSync(
    Path.join(project, "package.json"),
    JSON.stringify({ name: "rocketmq-effect-consumer", private: true, type: "module" }, null, 2)
  )
  for (const file of Fs.readdirSync(fixtures)) Fs.copyFileSync(Path.join(fixtures, file), Path.join(project, file))
  // The same consumer as a CommonJS module: its imports then resolve through the `require` conditions.
  Fs.copyFileSync(Path.join(fixtures, "app.ts"), Path.join(project, "app.cts"))
  const install = run(
    "npm",
    ["install", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs.map((t) => t.file), ...registryDependencies],
    { cwd: project, timeout: 300_000 }
  )
  expectSuccess(install, "npm install")
})

after(() => {
  if (work !== undefined && process.env.KEEP_CONSUMER === undefined) Fs.rmSync(work, { recursive: true, force: true })
})

describe("tarballs", () => {
  for (const dir of packageDirs) {
    it(`${dir} holds only dist/, src/, README.md, LICENSE, CHANGELOG.md, with built entry points that have types`, () => {
      const { file } = tarballs.find((t) => t.dir === dir)
      const entries = execFileSync("tar", ["-tzf", file], { encoding: "utf8" }).trim().split("\n")
      const manifest = JSON.parse(execFileSync("tar", ["-xzOf", file, "package/package.json"], { encoding: "utf8" }))
      const modules = Fs.readdirSync(Path.join(root, dir, "src"))
        .filter((name) => name.endsWith(".ts") && name !== "index.ts" && name !== "bin.ts")
        .map((name) => name.slice(0, -3))
      const problems = checkTarball({ manifest, entries, modules })
      assert.deepEqual(problems, [], `${Path.basename(file)}:\n  ${problems.join("\n  ")}`)
      const size = Fs.statSync(file).size
      console.log(`# ${Path.basename(file)}: ${(size / 1024).toFixed(1)} KiB, ${entries.length} files`)
    })
  }
})

describe("pnpm pack:all", () => {
  it("packs every package into the folder given and prints the one line that installs them with the Effect peers", () => {
    const destination = Path.join(work, "pack-all")
    const result = run(process.execPath, [Path.join(root, "scripts", "pack-all.mjs"), destination, "--no-build"], {
      cwd: root
    })
    expectSuccess(result, "pack-all")
    const line = result.stdout.split("\n").find((l) => l.startsWith("npm install "))
    assert.ok(line !== undefined, result.stdout)
    const words = line.split(" ").slice(2)
    const packed = Fs.readdirSync(destination).filter((name) => name.endsWith(".tgz")).sort()
    assert.deepEqual(words.filter((word) => word.endsWith(".tgz")).map((file) => Path.basename(file)).sort(), packed)
    assert.equal(packed.length, packageDirs.length)
    assert.deepEqual(words.filter((word) => !word.endsWith(".tgz")), peerDependencies)
    assert.ok(peerDependencies.includes(`effect@${rootManifest.devDependencies.effect}`))
  })
})

describe("installed packages", () => {
  const expected = (format) => ({
    format,
    effect: ["one", "two", "three"],
    promise: ["one", "two", "three"],
    remoting: { code: 0, body: "remoting" },
    client: { status: "SEND_OK", queueOffset: "7", msgIdLength: 32, body: "client" },
    framedBytes: 9
  })

  for (const [program, format] of [["app.mjs", "esm"], ["app.cjs", "cjs"]]) {
    it(`node ${program} round-trips through the Effect and Promise APIs and prints nothing else`, () => {
      const result = run(process.execPath, [program], { cwd: project, timeout: 60_000 })
      expectSuccess(result, `node ${program}`)
      assert.deepEqual(JSON.parse(result.stdout), expected(format))
      assert.equal(result.stdout.trim().split("\n").length, 1, `only the program's own line:\n${result.stdout}`)
      assert.equal(result.stderr, "", "nothing on stderr")
    })
  }

  for (const resolution of ["nodenext", "bundler"]) {
    it(`a strict TypeScript consumer type-checks with moduleResolution ${resolution}`, () => {
      const result = run(process.execPath, ["node_modules/typescript/bin/tsc", "-p", `tsconfig.${resolution}.json`], {
        cwd: project
      })
      expectSuccess(result, `tsc -p tsconfig.${resolution}.json`)
    })
  }

  it("npx rmq-transport --help lists the commands", () => {
    const result = run("npx", ["--no-install", "rmq-transport", "--help"], { cwd: project })
    expectSuccess(result, "rmq-transport --help")
    for (const command of ["echo-server", "send", "ping", "bench", "demo"]) assert.match(result.stdout, new RegExp(command))
  })

  it("npx rmq-transport bench --quick runs its echo server and workers from the installed JavaScript", () => {
    const result = run("npx", ["--no-install", "rmq-transport", "bench", "--quick", "--runs", "1", "--only", "ping-pong"], {
      cwd: project
    })
    expectSuccess(result, "rmq-transport bench --quick")
    assert.match(result.stdout, /Effect API/)
  })

  it("npx rmq-transport ping round-trips against its in-process echo server", () => {
    const result = run("npx", ["--no-install", "rmq-transport", "ping", "--count", "50"], { cwd: project })
    expectSuccess(result, "rmq-transport ping")
    assert.match(result.stdout, /p50/)
  })
})
