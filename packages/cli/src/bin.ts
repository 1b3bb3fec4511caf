#!/usr/bin/env node
/**
 * The `rmq-transport` executable. Installed, it runs as built JavaScript (`dist/esm/bin.js`); inside the
 * repository `bin/rmq-transport.mjs` loads it from its source through tsx.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import { main } from "./Cli.js"
import { ExitCode } from "./Failure.js"

NodeRuntime.runMain(main(process.argv), {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    // `main` succeeds with the exit code; only an interruption (Ctrl-C) ends it otherwise.
    const code = Exit.isSuccess(exit)
      ? (exit.value as number)
      : Cause.isInterruptedOnly(exit.cause)
      ? ExitCode.Interrupted
      : ExitCode.Failure
    // Exit even when the code is 0: a command is done when `main` is, whatever handles are left.
    process.exitCode = code
    onExit(code)
    process.exit(code)
  }
})
