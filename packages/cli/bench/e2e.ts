/**
 * The end-to-end benchmark, as `pnpm bench` runs it: `rmq-transport bench` with this script's arguments
 * (`--runs N`, `--quick`, `--only <workload>`, `--client <client>`, `--server netty|transport-server|all`,
 * `--profile <dir>`, `--verbose`). See `src/Bench.ts`.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import { main } from "../src/Cli.js"

NodeRuntime.runMain(
  Effect.map(main([process.argv[0]!, process.argv[1]!, "bench", ...process.argv.slice(2)]), (code) => {
    process.exit(code)
  })
)
