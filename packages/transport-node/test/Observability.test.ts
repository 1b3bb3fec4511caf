/**
 * README's observability recipe, read from README.md and run against a real echo server: the transport's
 * connection attempts reach an OpenTelemetry span processor through `@effect/opentelemetry`, and its metrics
 * count them under the address.
 */
import { afterAll, assert, describe, it, vi } from "@effect/vitest"
import * as Transport from "@rocketmq-effect/transport/Transport"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { pathToFileURL } from "node:url"
import { blocksUnder, describeBlock, makeWorkspace, readBlocks, typeScriptLanguages, withPort } from "./ReadmeBlocks.js"
import { echoServer } from "./TcpFixtures.js"

const workspace = makeWorkspace()
afterAll(() => workspace.remove())

describe("Observability", () => {
  it.live("README's recipe exports a rocketmq.transport.connect span with the address", () =>
    Effect.gen(function*() {
      const recipes = blocksUnder(readBlocks(), "Observability").filter((block) => typeScriptLanguages.has(block.lang))
      assert.strictEqual(recipes.length, 1, "one TypeScript block under README's Observability heading")
      const recipe = recipes[0]!
      const server = yield* echoServer()
      const address = `127.0.0.1:${server.address.port}`
      const path = workspace.write(withPort(recipe, server.address.port), "observability")

      // The recipe prints the spans it read from its in-memory exporter.
      const printed: Array<unknown> = []
      const log = vi.spyOn(console, "log").mockImplementation((...values: Array<unknown>) => {
        printed.push(...values)
      })
      yield* Effect.promise(() => import(pathToFileURL(path).href)).pipe(
        Effect.ensuring(Effect.sync(() => log.mockRestore()))
      )

      assert.deepStrictEqual(
        printed.filter(Array.isArray),
        [[{ name: "rocketmq.transport.connect", attributes: { address } }]],
        `${describeBlock(recipe)} printed ${JSON.stringify(printed)}`
      )
      const attempts = yield* Metric.value(
        Metric.tagged(Transport.metrics.connectAttempts, "address", address)
      )
      assert.strictEqual(attempts.count, 1)
    }).pipe(Effect.scoped), 30_000)
})
