import { assert, describe, it } from "@effect/vitest"
import * as Progress from "../src/Progress.js"

const sink = () => {
  const written: Array<string> = []
  return {
    written,
    stream: { write: (chunk: string) => written.push(chunk) > 0 } as unknown as NodeJS.WritableStream
  }
}

describe("Progress", () => {
  it("on a terminal, one line redrawn in place and erased at the end", () => {
    const { stream, written } = sink()
    const progress = Progress.make("ping", 10, { stream, interactive: true, ansi: true })
    progress.advance()
    progress.finish()
    progress.advance()
    assert.strictEqual(written.length, 2)
    assert.isTrue(written[0]!.startsWith("\r\u001b[2K["))
    assert.isTrue(written[0]!.endsWith("] ping 10% (1/10)"))
    assert.strictEqual(written[1], "\r\x1b[2K")
  })

  it("on a terminal with NO_COLOR, redrawn and erased with carriage returns and spaces only", () => {
    const { stream, written } = sink()
    const progress = Progress.make("ping", 10, { stream, interactive: true, ansi: false })
    progress.relabel("ping, longer label")
    progress.relabel("ping")
    progress.finish()
    assert.strictEqual(written.length, 3)
    for (const chunk of written) assert.notInclude(chunk, "\x1b")
    assert.strictEqual(written[0], "\r[------------------------] ping, longer label 0% (0/10)")
    // A shorter line covers what is left of the longer one.
    assert.strictEqual(written[1], `\r${"[------------------------] ping 0% (0/10)".padEnd(written[0]!.length - 1)}`)
    assert.strictEqual(written[2], `\r${" ".repeat(written[0]!.length - 1)}\r`)
  })

  it("elsewhere, plain lines only every so often, and none for a short run", () => {
    const { stream, written } = sink()
    const short = Progress.make("bench", 3, { stream, interactive: false })
    short.advance(3)
    short.finish()
    assert.deepStrictEqual(written, [])
    const chatty = Progress.make("bench", 3, { stream, interactive: false, lineEveryMillis: 0 })
    chatty.advance()
    assert.strictEqual(written.length, 1)
    assert.match(written[0]!, /^bench 33% \(1\/3\), \d+\.\d s\n$/)
  })
})
