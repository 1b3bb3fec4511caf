import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { Block } from "./ReadmeBlocks.js"
import { describeBlock, makeWorkspace, readBlocks, withPort } from "./ReadmeBlocks.js"

const markdown = [
  "# Title",
  "",
  "```sh",
  "pnpm install",
  "```",
  "",
  "## Using it",
  "",
  "### A program",
  "",
  "```ts",
  "import { Effect } from \"effect\"",
  "",
  "const port: number = \"10911\"",
  "Effect.runSync(Effect.log(port, 10911))",
  "```",
  "",
  "````text",
  "```ts",
  "not code",
  "```",
  "````",
  ""
].join("\n")

const workspace = makeWorkspace()
afterAll(() => workspace.remove())

const block = (code: string): Block => ({ heading: "A block", lang: "ts", code, line: 1 })

describe("ReadmeBlocks", () => {
  it("reads each fenced block with its language, heading and first line", () => {
    const blocks = readBlocks(markdown)
    assert.deepStrictEqual(blocks.map(({ heading, lang, line }) => ({ heading, lang, line })), [
      { heading: "Title", lang: "sh", line: 4 },
      { heading: "A program", lang: "ts", line: 12 },
      { heading: "A program", lang: "text", line: 19 }
    ])
    assert.strictEqual(blocks[2]?.code, "```ts\nnot code\n```\n")
  })

  it("refuses a block that is never closed", () => {
    assert.throws(() => readBlocks("# A\n\n```ts\nconst a = 1\n"), /README.md:3: code block never closed/)
  })

  it("replaces every occurrence of README's port, and nothing else", () => {
    const [, program] = readBlocks(markdown)
    assert.isDefined(program)
    assert.strictEqual(
      withPort(program!, 4242).code,
      "import { Effect } from \"effect\"\n\nconst port: number = \"4242\"\nEffect.runSync(Effect.log(port, 4242))\n"
    )
  })

  it("reports a block's type errors at their README line, naming the heading", () => {
    const blocks = readBlocks(markdown)
    const program = blocks[1]!
    const diagnostics = workspace.typeCheck([{ block: program, path: workspace.write(program) }])
    assert.deepStrictEqual(diagnostics.map((diagnostic) => diagnostic.message), [
      "README.md:14:7 (\"A program\") TS2322: Type 'string' is not assignable to type 'number'."
    ])
    assert.strictEqual(describeBlock(program), "README.md:12 (\"A program\")")
  }, 60_000)

  it("type-checks with noUncheckedIndexedAccess", () => {
    const indexed = block("const first: string = [\"a\"][0]\n")
    const diagnostics = workspace.typeCheck([{ block: indexed, path: workspace.write(indexed) }])
    assert.strictEqual(diagnostics.length, 1)
    assert.match(diagnostics[0]!.message, /TS2322: Type 'string \| undefined' is not assignable to type 'string'/)
  }, 60_000)

  it.live("runs a block and reports its exit code and output", () =>
    Effect.gen(function*() {
      const path = workspace.write(block("console.log(\"out\")\nconsole.error(\"err\")\nprocess.exitCode = 3\n"))
      const result = yield* workspace.run(path, 20_000)
      assert.deepStrictEqual(result, { exitCode: 3, signal: null, stdout: "out\n", stderr: "err\n" })
    }), 30_000)

  it.live("fails a block that does not finish in time", () =>
    Effect.gen(function*() {
      const path = workspace.write(block("setInterval(() => {}, 1000)\n"))
      const error = yield* Effect.flip(workspace.run(path, 2_000))
      assert.match(error.message, /did not finish within 2000 ms/)
    }), 30_000)
})
