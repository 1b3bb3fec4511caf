/**
 * The PEM files the TLS flags name: read by the CLI, checked by `TlsConfig.make`, and every problem reported
 * as a usage error (exit code 2) that names the flag and the path.
 *
 * @since 0.2.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { TlsConfig } from "@rocketmq-effect/transport-node"
import type { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Effect from "effect/Effect"
import { CliError, ExitCode, unreadableReason } from "../Failure.js"

/**
 * A file's PEM text, or a `CliError` naming `flag` and the path (`cannot read --ca /x.pem: no such file`).
 *
 * @since 0.2.0
 */
export const read = (flag: string, path: string): Effect.Effect<string, CliError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(path)).pipe(
    Effect.mapError((error) =>
      new CliError({ reason: `cannot read ${flag} ${path}: ${unreadableReason(error)}`, exitCode: ExitCode.Usage })
    )
  )

/**
 * The file read for `flag`, or `undefined` when the flag was not given.
 *
 * @since 0.2.0
 */
export const readOptional = (
  flag: string,
  path: string | undefined
): Effect.Effect<string | undefined, CliError, FileSystem.FileSystem> =>
  path === undefined ? Effect.succeed(undefined) : read(flag, path)

/**
 * How each `TlsConfig` field was given on the command line: the flag, with its value where it has one.
 *
 * @since 0.2.0
 */
export type Given = Partial<Record<"ca" | "cert" | "key" | "serverName", string>>

/**
 * `TlsConfig.make`'s `ConfigurationError` as a usage error naming the flag and its file: `--key /x.pem is not
 * usable: …key values mismatch`. Node's reason is kept to its first line.
 *
 * @since 0.2.0
 */
export const usageError = (error: ConfigurationError, given: Given): CliError => {
  const issue = error.issues?.[0] ?? error
  const flag = given[issue.field as keyof Given] ?? "the TLS options"
  return new CliError({ reason: `${flag} ${issue.rule.split("\n")[0]!.trim()}`, exitCode: ExitCode.Usage })
}

/**
 * `TlsConfig.make`, its errors in the command line's words.
 *
 * @since 0.2.0
 */
export const make = (
  input: TlsConfig.TlsConfigInput,
  given: Given
): Effect.Effect<TlsConfig.TlsConfig, CliError> =>
  Effect.mapError(TlsConfig.make(input), (error) => usageError(error, given))
