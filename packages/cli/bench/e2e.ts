/**
 * The end-to-end benchmark, as `pnpm bench` runs it: `rmq-transport bench` with this script's arguments
 * (`--runs N`, `--quick`, `--only <workload>`, `--client <client>`, `--server netty|transport-server|all`,
 * `--profile <dir>`, `--verbose`). See `src/Bench.ts`. Its targets' figures go to `<repository>/bench-results/`
 * (or `RMQ_BENCH_RESULTS_DIR`), where the repository's `pnpm bench` reads them for its one targets table.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import { fileURLToPath } from "node:url"
import { main } from "../src/Cli.js"

process.env.RMQ_BENCH_RESULTS_DIR ??= fileURLToPath(new URL("../../../bench-results", import.meta.url))

NodeRuntime.runMain(
  Effect.map(main([process.argv[0]!, process.argv[1]!, "bench", ...process.argv.slice(2)]), (code) => {
    process.exit(code)
  })
)
