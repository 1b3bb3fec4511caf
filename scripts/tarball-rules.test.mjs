// The tarball rules reject what they are meant to: shown on manifests and file lists built to be wrong.
import * as assert from "node:assert/strict"
import { describe, it } from "node:test"
import { checkTarball } from "./tarball-rules.mjs"

const entry = (name) => ({
  types: `./dist/dts/${name}.d.ts`,
  import: `./dist/esm/${name}.js`,
  require: `./dist/cjs/${name}.js`
})
const good = () => ({
  manifest: {
    name: "@rocketmq-effect/example",
    license: "MIT",
    repository: { type: "git", url: "git+https://example.invalid/x.git" },
    keywords: ["effect"],
    engines: { node: ">=20" },
    sideEffects: [],
    main: "./dist/cjs/index.js",
    module: "./dist/esm/index.js",
    types: "./dist/dts/index.d.ts",
    exports: { "./package.json": "./package.json", ".": entry("index"), "./Thing": entry("Thing"), "./internal/*": null },
    peerDependencies: { effect: "^3.22.4" }
  },
  entries: [
    "package.json",
    "README.md",
    "LICENSE",
    "CHANGELOG.md",
    ...["index", "Thing"].flatMap((name) => [`dist/esm/${name}.js`, `dist/cjs/${name}.js`, `dist/dts/${name}.d.ts`]),
    "src/index.ts",
    "src/Thing.ts"
  ].map((file) => `package/${file}`),
  modules: ["Thing"]
})

describe("tarball rules", () => {
  it("accept a package built as it should be", () => assert.deepEqual(checkTarball(good()), []))

  it("reject .ts entry points", () => {
    const input = good()
    input.manifest.exports["."] = "./src/index.ts"
    input.manifest.main = "./src/index.ts"
    const problems = checkTarball(input)
    assert.ok(problems.some((p) => p.includes("main points outside dist/: ./src/index.ts")), problems.join("\n"))
    assert.ok(problems.some((p) => p.includes("exports . has no conditions")), problems.join("\n"))
  })

  it("reject a tarball missing a needed file", () => {
    const input = good()
    input.entries = input.entries.filter((entry) => entry !== "package/LICENSE" && entry !== "package/dist/cjs/Thing.js")
    const problems = checkTarball(input)
    assert.ok(problems.includes("lacks LICENSE"), problems.join("\n"))
    assert.ok(problems.some((p) => p.includes("exports ./Thing require names a file the tarball lacks")), problems.join("\n"))
  })

  it("reject an export without types, and a public module without an export", () => {
    const input = good()
    delete input.manifest.exports["./Thing"].types
    input.modules = ["Thing", "Other"]
    const problems = checkTarball(input)
    assert.ok(problems.includes("exports ./Thing has no types"), problems.join("\n"))
    assert.ok(problems.includes("exports lacks ./Other"), problems.join("\n"))
  })

  it("reject tests, configs and workspace ranges shipped by mistake", () => {
    const input = good()
    input.entries.push("package/test/Thing.test.ts", "package/tsconfig.json")
    input.manifest.peerDependencies["@rocketmq-effect/transport"] = "workspace:^"
    const problems = checkTarball(input)
    assert.ok(problems.includes("ships test/Thing.test.ts"), problems.join("\n"))
    assert.ok(problems.includes("ships tsconfig.json"), problems.join("\n"))
    assert.ok(problems.includes("peerDependencies @rocketmq-effect/transport is workspace:^"), problems.join("\n"))
  })
})
