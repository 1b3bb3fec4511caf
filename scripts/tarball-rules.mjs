// What a published tarball may hold and what its manifest must say, as a pure function so that the consumer
// test can also show it rejecting bad packages.

const allowedTop = new Set(["package.json", "README.md", "LICENSE", "CHANGELOG.md"])
const required = ["package.json", "README.md", "LICENSE", "CHANGELOG.md", "dist/esm/index.js", "dist/cjs/index.js", "dist/dts/index.d.ts"]

/**
 * @param {{ manifest: any, entries: ReadonlyArray<string>, modules: ReadonlyArray<string> }} input
 *   the packed package.json, the tarball's entries (as `tar -t` lists them), and the public module names
 * @returns {Array<string>} every problem found; empty when the tarball is fit to publish
 */
export const checkTarball = ({ manifest, entries, modules }) => {
  const problems = []
  const files = new Set(entries.map((entry) => entry.replace(/^package\//, "")))
  for (const file of files) {
    const top = file.split("/")[0]
    if (!allowedTop.has(file) && top !== "dist" && top !== "src") problems.push(`ships ${file}`)
  }
  for (const file of required) if (!files.has(file)) problems.push(`lacks ${file}`)

  const has = (target) => files.has(target.replace(/^\.\//, ""))
  const entryPoint = (where, target, kind) => {
    if (typeof target !== "string") return problems.push(`${where} is not a path`)
    if (!target.startsWith("./dist/")) problems.push(`${where} points outside dist/: ${target}`)
    if (kind === "types" ? !target.endsWith(".d.ts") : !target.endsWith(".js")) {
      problems.push(`${where} is not ${kind === "types" ? "a declaration" : "JavaScript"}: ${target}`)
    }
    if (!has(target)) problems.push(`${where} names a file the tarball lacks: ${target}`)
  }

  for (const field of ["main", "module"]) entryPoint(field, manifest[field], "js")
  entryPoint("types", manifest.types, "types")
  for (const [name, target] of Object.entries(manifest.bin ?? {})) entryPoint(`bin ${name}`, target, "js")

  const exports = manifest.exports ?? {}
  if (exports["./internal/*"] !== null) problems.push(`exports does not block ./internal/*`)
  for (const [subpath, conditions] of Object.entries(exports)) {
    if (subpath === "./package.json" || subpath === "./internal/*") continue
    if (conditions === null || typeof conditions !== "object") {
      problems.push(`exports ${subpath} has no conditions: ${JSON.stringify(conditions)}`)
      continue
    }
    if (Object.keys(conditions)[0] !== "types") problems.push(`exports ${subpath}: types is not the first condition`)
    for (const kind of ["types", "import", "require"]) {
      if (!(kind in conditions)) problems.push(`exports ${subpath} has no ${kind}`)
      else entryPoint(`exports ${subpath} ${kind}`, conditions[kind], kind === "types" ? "types" : "js")
    }
  }
  for (const name of ["."].concat(modules.map((module) => `./${module}`))) {
    if (!(name in exports)) problems.push(`exports lacks ${name}`)
  }

  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [name, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith("workspace:")) problems.push(`${field} ${name} is ${range}`)
    }
  }
  for (const field of ["repository", "keywords", "engines", "sideEffects", "license"]) {
    if (manifest[field] === undefined) problems.push(`manifest lacks ${field}`)
  }
  if (manifest.private === true) problems.push("manifest is private")
  return problems
}
