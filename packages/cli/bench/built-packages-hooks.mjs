// The resolve hook of built-packages.mjs: a module of a workspace package's src/ becomes the same module in its
// dist/esm/. `pnpm build` writes dist/esm; Bench.ts checks that it is newer than the sources.
const SOURCE = /^(file:\/\/.*\/packages\/[^/]+\/)src\/(.*)\.ts$/

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context)
  const match = SOURCE.exec(resolved.url)
  return match === null ? resolved : { ...resolved, url: `${match[1]}dist/esm/${match[2]}.js`, format: "module" }
}
