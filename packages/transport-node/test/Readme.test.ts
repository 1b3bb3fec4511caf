/**
 * Every code block of README.md, read from README.md itself (see ReadmeBlocks.ts):
 * - `ts` blocks are type-checked together, with the repository's strict options;
 * - blocks that connect to 127.0.0.1:10911 are run with tsx in a child process against a real echo server,
 *   with 10911 replaced by the server's port: each must send it a frame and exit 0 in time (a block with
 *   `tls: {` gets a TLS server that requires a client certificate, and test certificates beside it);
 * - blocks written as tests (importing `@effect/vitest`) are run here, by vitest;
 * - `sh` and `text` blocks are exempt, and a block in any other language (or none) is an error.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as TransportServer from "@rocketmq-effect/transport-node/TransportServer"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import type { Block, BlockDiagnostic } from "./ReadmeBlocks.js"
import {
  connectsToReadmePort,
  describeBlock,
  exemptLanguages,
  makeWorkspace,
  readBlocks,
  README_PORT,
  typeScriptLanguages,
  withPort
} from "./ReadmeBlocks.js"
import { makeCertificatesSync } from "./TlsCertificates.js"

const RUN_TIMEOUT_MILLIS = 30_000

const blocks = readBlocks()
const typeScriptBlocks = blocks.filter((block) => typeScriptLanguages.has(block.lang))
const isVitestBlock = (block: Block) => /from "(@effect\/)?vitest"/.test(block.code)
const usesTcp = (block: Block) => block.code.includes("NodeTransport.")
const usesTls = (block: Block) => /\btls: \{/.test(block.code)

const tlsFiles = (dir: string) =>
  Effect.sync(() => {
    const certs = makeCertificatesSync(Path.join(dir, "certificates"))
    Fs.copyFileSync(certs.caFile, Path.join(dir, "ca.pem"))
    Fs.copyFileSync(certs.client.certFile, Path.join(dir, "client.pem"))
    Fs.copyFileSync(certs.client.keyFile, Path.join(dir, "client.key"))
    return { cert: certs.server.cert, key: certs.server.key, ca: certs.ca }
  })

const workspace = makeWorkspace()
afterAll(() => workspace.remove())

// One program for all blocks, built by the first test that needs it.
let diagnostics: ReadonlyArray<BlockDiagnostic> | undefined
const diagnosticsOf = (block: Block): ReadonlyArray<string> => {
  diagnostics ??= workspace.typeCheck(typeScriptBlocks.map((block) => ({ block, path: workspace.write(block) })))
  return diagnostics.filter((diagnostic) => diagnostic.block === block).map((diagnostic) => diagnostic.message)
}

describe("README", () => {
  it("has TypeScript blocks to check", () => {
    assert.isAbove(typeScriptBlocks.length, 0)
  })

  it("has only blocks that are type-checked or exempt (sh, text)", () => {
    const unchecked = blocks.filter((block) => !typeScriptLanguages.has(block.lang) && !exemptLanguages.has(block.lang))
    assert.deepStrictEqual(unchecked.map((block) => `${describeBlock(block)} is \`\`\`${block.lang}`), [])
  })

  it(`runs every block that connects over TCP: each connects to 127.0.0.1:${README_PORT}`, () => {
    const notRunnable = typeScriptBlocks.filter((block) => usesTcp(block) && !connectsToReadmePort(block))
    assert.deepStrictEqual(notRunnable.map(describeBlock), [])
  })

  for (const block of typeScriptBlocks) {
    it(`type-checks ${describeBlock(block)}`, () => {
      assert.deepStrictEqual(diagnosticsOf(block), [])
    }, 60_000)
  }

  for (const block of typeScriptBlocks.filter(connectsToReadmePort)) {
    it.live(`runs ${describeBlock(block)} against an echo server`, () =>
      Effect.gen(function*() {
        const received: Array<Uint8Array> = []
        // A block that connects over TLS finds the test CA and a client identity in its working directory
        // (ca.pem, client.pem, client.key), and a server that requires that client certificate.
        const tls = usesTls(block) ? yield* tlsFiles(workspace.dir) : undefined
        const server = yield* TransportServer.make({
          port: 0,
          tls: tls === undefined ? undefined : { ...tls, requestCert: true }
        })
        yield* server.serve((connection) =>
          connection.frames.pipe(
            Stream.runForEach((payload) => {
              received.push(payload)
              return connection.send(payload)
            })
          )
        )
        const path = workspace.write(withPort(block, server.address.port))
        const result = yield* workspace.run(path, RUN_TIMEOUT_MILLIS)
        const output = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`
        assert.strictEqual(
          result.exitCode,
          0,
          `${describeBlock(block)} exited with ${result.exitCode ?? result.signal}\n${output}`
        )
        assert.isAbove(received.length, 0, `${describeBlock(block)} sent the echo server nothing\n${output}`)
      }).pipe(Effect.scoped), RUN_TIMEOUT_MILLIS + 10_000)
  }

  for (const block of typeScriptBlocks.filter(isVitestBlock)) {
    describe(describeBlock(block), async () => {
      await import(pathToFileURL(workspace.write(block)).href)
    })
  }
})
