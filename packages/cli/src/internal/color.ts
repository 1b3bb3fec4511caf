/**
 * Whether the CLI may write terminal escape sequences: only to a terminal, and not when `NO_COLOR` is set
 * (to anything but the empty string, as https://no-color.org asks).
 *
 * @since 0.1.0
 */
import type * as Console from "effect/Console"

/** An environment: `process.env` unless given. */
type Env = Readonly<Record<string, string | undefined>>

/**
 * `false` when the user asked for no color with `NO_COLOR`.
 *
 * @since 0.1.0
 */
export const allowed = (env: Env = process.env): boolean => env.NO_COLOR === undefined || env.NO_COLOR === ""

/**
 * Escape sequences may go to `stream`: it is a terminal, and `NO_COLOR` is not set.
 *
 * @since 0.1.0
 */
export const enabled = (stream: { readonly isTTY?: boolean | undefined }, env: Env = process.env): boolean =>
  stream.isTTY === true && allowed(env)

// CSI sequences (`ESC [ … final`), which is all the help renderer and the pretty logger write.
// eslint-disable-next-line no-control-regex
const csi = /\x1b\[[0-?]*[ -/]*[@-~]/g

/**
 * `text` without escape sequences.
 *
 * @since 0.1.0
 */
export const strip = (text: string): string => text.replace(csi, "")

const stripAll = (args: ReadonlyArray<unknown>): ReadonlyArray<unknown> =>
  args.map((arg) => (typeof arg === "string" ? strip(arg) : arg))

/**
 * `console` with escape sequences removed from what `log` writes (unless standard output may have them)
 * and from what `error` writes (unless standard error may). @effect/cli renders its help with colors
 * whatever the output is; this is what keeps a pipe, a file and `NO_COLOR` plain.
 *
 * @since 0.1.0
 */
export const plainConsole = (
  console: Console.Console,
  streams: {
    readonly stdout: { readonly isTTY?: boolean | undefined }
    readonly stderr: { readonly isTTY?: boolean | undefined }
  } = process
): Console.Console => {
  const stdout = enabled(streams.stdout)
  const stderr = enabled(streams.stderr)
  return {
    ...console,
    log: stdout ? console.log : (...args) => console.log(...stripAll(args)),
    info: stdout ? console.info : (...args) => console.info(...stripAll(args)),
    error: stderr ? console.error : (...args) => console.error(...stripAll(args)),
    warn: stderr ? console.warn : (...args) => console.warn(...stripAll(args))
  }
}
