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

/** The path of a `Given` entry (`--key /x.pem` → `/x.pem`). */
const pathOf = (given: string | undefined): string | undefined =>
  given === undefined || !given.includes(" ") ? undefined : given.slice(given.indexOf(" ") + 1)

/**
 * OpenSSL's reasons in words: a key that is not the certificate's, PEM of the wrong kind. `undefined` leaves
 * Node's own first line.
 */
const inWords = (field: string, rule: string, given: Given): string | undefined => {
  if (field === "key" && rule.includes("key values mismatch")) {
    return `is not --cert's key: it does not match the certificate in ${pathOf(given.cert) ?? "--cert"}`
  }
  if (rule.includes("DECODER routines::unsupported") || rule.includes("no start line")) {
    if (field === "key") return "holds no PEM private key"
    if (field === "cert") return "holds no PEM certificate"
  }
  return undefined
}

/**
 * `TlsConfig.make`'s `ConfigurationError` as a usage error naming the flag and its file: `--key /x.pem is not
 * --cert's key: …`. Reasons the CLI does not know are Node's, kept to their first line.
 *
 * @since 0.2.0
 */
export const usageError = (error: ConfigurationError, given: Given): CliError => {
  const issue = error.issues?.[0] ?? error
  const flag = given[issue.field as keyof Given] ?? "the TLS options"
  const rule = inWords(issue.field, issue.rule, given) ?? issue.rule.split("\n")[0]!.trim()
  return new CliError({ reason: `${flag} ${rule}`, exitCode: ExitCode.Usage })
}

/** PEM of an encrypted private key: PKCS #8 (`ENCRYPTED PRIVATE KEY`) or OpenSSL's legacy headers. */
const isEncrypted = (pem: string): boolean =>
  pem.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----") || pem.includes("Proc-Type: 4,ENCRYPTED")

/**
 * A usage error when the key of `--key` is encrypted: the CLI asks for no passphrase, and OpenSSL's own
 * word for it is `bad decrypt`.
 *
 * @since 0.3.0
 */
export const checkKey = (key: string | undefined, given: Given): Effect.Effect<void, CliError> => {
  if (key === undefined || !isEncrypted(key)) return Effect.void
  const path = pathOf(given.key) ?? "KEY"
  return Effect.fail(
    new CliError({
      reason: `${given.key ?? "--key"} is encrypted: decrypt it with \`openssl pkey -in ${path} -out ${path}.plain\` ` +
        "and give that file",
      exitCode: ExitCode.Usage
    })
  )
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
  Effect.zipRight(
    checkKey(typeof input.key === "string" ? input.key : undefined, given),
    Effect.mapError(TlsConfig.make(input), (error) => usageError(error, given))
  )
