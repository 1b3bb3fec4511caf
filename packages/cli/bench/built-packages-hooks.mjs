// The resolve hook of built-packages.mjs: a module of a workspace package's src/ becomes the same module in its
// dist/esm/. `pnpm build` writes dist/esm; Bench.ts checks that it is newer than the sources. A private package
// (the test kit) is never built, so it stays on its sources.
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"

const SOURCE = /^(file:\/\/.*\/packages\/[^/]+\/)src\/(.*)\.ts$/

const privatePackages = new Map()
const isPrivate = (packageUrl) => {
  let known = privatePackages.get(packageUrl)
  if (known === undefined) {
    const manifest = JSON.parse(Fs.readFileSync(fileURLToPath(new URL("package.json", packageUrl)), "utf8"))
    known = manifest.private === true
    privatePackages.set(packageUrl, known)
  }
  return known
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context)
  const match = SOURCE.exec(resolved.url)
  return match === null || isPrivate(match[1])
    ? resolved
    : { ...resolved, url: `${match[1]}dist/esm/${match[2]}.js`, format: "module" }
}
