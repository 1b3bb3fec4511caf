// Builds every package into its dist/, as Effect's own packages ship:
//   dist/esm  ES modules with source maps            (tsc -b tsconfig.build.json)
//   dist/dts  declarations with declaration maps      (tsc, same run)
//   dist/cjs  CommonJS twins, file for file, with source maps (esbuild)
// Source maps point at src/, which is shipped beside dist/.
import { execFileSync } from "node:child_process"
import * as esbuild from "esbuild"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "..")

// Modules that only make sense as ES modules (top-level await, an executable's entry) get no CommonJS twin.
const packages = [
  { dir: "packages/transport", esmOnly: [] },
  { dir: "packages/transport-node", esmOnly: [] },
  { dir: "packages/cli", esmOnly: ["bin.ts"] },
  { dir: "packages/remoting", esmOnly: [] },
  { dir: "packages/client", esmOnly: [] }
]

// `--if-stale` (each package's `prepack`): nothing to do when every package has a build newer than its sources,
// so that `pnpm pack:all`, which builds once, does not build again per package, while a bare `pnpm pack` of a
// package never ships a tarball without dist/.
const newestSource = (dir) => {
  let newest = 0
  for (const file of Fs.readdirSync(Path.join(root, dir, "src"), { recursive: true, encoding: "utf8" })) {
    newest = Math.max(newest, Fs.statSync(Path.join(root, dir, "src", file)).mtimeMs)
  }
  for (const file of ["package.json", "tsconfig.build.json"]) {
    newest = Math.max(newest, Fs.statSync(Path.join(root, dir, file)).mtimeMs)
  }
  return newest
}
const builtAt = (dir) => {
  try {
    return Fs.statSync(Path.join(root, dir, "dist", "cjs", "package.json")).mtimeMs
  } catch {
    return 0
  }
}
if (process.argv.includes("--if-stale") && packages.every(({ dir }) => builtAt(dir) >= newestSource(dir))) {
  process.exit(0)
}

// A stale build-info file would make tsc skip emitting into a dist/ that was removed: start clean.
for (const { dir } of packages) {
  Fs.rmSync(Path.join(root, dir, "dist"), { recursive: true, force: true })
  Fs.rmSync(Path.join(root, dir, "build", "tsconfig.build.tsbuildinfo"), { force: true })
}
try {
  execFileSync(process.execPath, [Path.join(root, "node_modules/typescript/bin/tsc"), "-b", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit"
  })
} catch {
  // tsc has printed its diagnostics.
  process.exit(1)
}

const options = {
  format: "cjs",
  platform: "node",
  target: "node20",
  sourcemap: true,
  sourcesContent: false,
  logLevel: "warning"
}

for (const { dir, esmOnly } of packages) {
  const src = Path.join(root, dir, "src")
  const dist = Path.join(root, dir, "dist")
  const sources = Fs.readdirSync(src, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts") && !esmOnly.includes(file))
    .map((file) => Path.join(src, file))
  const usesImportMeta = (file) => Fs.readFileSync(file, "utf8").includes("import.meta")
  const common = { ...options, outbase: src, outdir: Path.join(dist, "cjs") }
  await esbuild.build({ ...common, entryPoints: sources.filter((file) => !usesImportMeta(file)) })
  // `import.meta.url` and `import.meta.resolve` have CommonJS equivalents; the modules that locate files
  // beside themselves get them.
  const locating = sources.filter(usesImportMeta)
  if (locating.length > 0) {
    await esbuild.build({
      ...common,
      entryPoints: locating,
      banner: {
        js: [
          "const __import_meta_url = require(\"node:url\").pathToFileURL(__filename).href;",
          "const __import_meta_resolve = (s) => require(\"node:url\").pathToFileURL(require.resolve(s)).href;"
        ].join("\n")
      },
      define: { "import.meta.url": "__import_meta_url", "import.meta.resolve": "__import_meta_resolve" }
    })
  }
  // The packages are "type": "module". The CommonJS files, and the declarations (read by `require` and `import`
  // consumers alike, as Effect's are), say otherwise for their folders.
  Fs.writeFileSync(Path.join(dist, "cjs", "package.json"), JSON.stringify({ type: "commonjs" }) + "\n")
  Fs.writeFileSync(Path.join(dist, "dts", "package.json"), JSON.stringify({ type: "commonjs" }) + "\n")
}
