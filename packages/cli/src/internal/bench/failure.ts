/**
 * How the bench fails: one `CliError` (exit code 1) whose reason says it is the bench's.
 *
 * @internal
 */
import { CliError, ExitCode } from "../../Failure.js"

/** @internal */
export const benchError = (reason: string) => new CliError({ reason: `bench: ${reason}`, exitCode: ExitCode.Failure })
