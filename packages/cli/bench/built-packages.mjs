// Loads the workspace packages from their built JavaScript (dist/esm) rather than their TypeScript sources.
// The benchmark's child processes run with it (`node --import`), so that they measure what is published: a
// TypeScript loader transpiles with names kept (esbuild's keepNames), which gives every named function an own
// `name` property and, on an idle transport, kilobytes of heap that the built code does not have.
import { register } from "node:module"

register("./built-packages-hooks.mjs", import.meta.url)
