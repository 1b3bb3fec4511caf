/**
 * A progress indicator for long runs, on standard error so that standard output keeps only results.
 *
 * On a terminal it is one line redrawn in place (at most ten times a second) and erased when done; anywhere
 * else (a pipe, a CI log) it prints a plain line at most every few seconds, and nothing for a run shorter
 * than that. With `NO_COLOR` set it redraws with carriage returns and spaces only, no escape sequences.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Color from "./internal/color.js"
import { formatCount } from "./Stats.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  /** Counts `n` more units done (1 unless given). Cheap enough for a hot loop. */
  readonly advance: (n?: number) => void
  /** Replaces the label, for runs made of steps. */
  readonly relabel: (label: string) => void
  /** Erases the line (on a terminal). Idempotent. */
  readonly finish: () => void
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ProgressOptions {
  /** Where to draw; standard error unless given. */
  readonly stream?: NodeJS.WritableStream & { readonly isTTY?: boolean | undefined } | undefined
  /** Redraw in place (a terminal) or print sparse lines; from `stream.isTTY` unless given. */
  readonly interactive?: boolean | undefined
  /** Erase the line with an escape sequence when interactive; unless given, when `NO_COLOR` is not set. */
  readonly ansi?: boolean | undefined
  /** Milliseconds between plain lines when not interactive. 10000 unless given. */
  readonly lineEveryMillis?: number | undefined
}

const REDRAW_MILLIS = 100
const BAR_WIDTH = 24

/**
 * A progress indicator for `total` units of work.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (label: string, total: number, options: ProgressOptions = {}): Progress => {
  const stream = options.stream ?? process.stderr
  const interactive = options.interactive ?? (stream.isTTY === true)
  const ansi = options.ansi ?? Color.allowed()
  const lineEvery = options.lineEveryMillis ?? 10_000
  const started = performance.now()
  let current = label
  let done = 0
  let lastDraw = interactive ? -Infinity : started
  let drawn = false
  /** The longest line drawn, which spaces must cover where there is no escape sequence to erase it. */
  let width = 0
  let finished = false

  const describe = () => {
    const ratio = total > 0 ? Math.min(1, done / total) : 0
    return `${current} ${Math.floor(ratio * 100)}% (${formatCount(done)}/${formatCount(total)})`
  }

  const draw = (now: number) => {
    lastDraw = now
    if (interactive) {
      const ratio = total > 0 ? Math.min(1, done / total) : 0
      const filled = Math.round(ratio * BAR_WIDTH)
      const line = `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${describe()}`
      stream.write(ansi ? `\r\x1b[2K${line}` : `\r${line.padEnd(width)}`)
      width = Math.max(width, line.length)
      drawn = true
    } else {
      stream.write(`${describe()}, ${((now - started) / 1000).toFixed(1)} s\n`)
    }
  }

  return {
    advance: (n = 1) => {
      if (finished) return
      done += n
      const now = performance.now()
      if (now - lastDraw >= (interactive ? REDRAW_MILLIS : lineEvery)) draw(now)
    },
    relabel: (label) => {
      current = label
      if (interactive && !finished) draw(performance.now())
    },
    finish: () => {
      if (finished) return
      finished = true
      if (drawn) stream.write(ansi ? "\r\x1b[2K" : `\r${" ".repeat(width)}\r`)
    }
  }
}

/**
 * `make` for the current scope: the line is erased when the scope closes, however it closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const scoped = (
  label: string,
  total: number,
  options?: ProgressOptions
): Effect.Effect<Progress, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.sync(() => make(label, total, options)), (progress) => Effect.sync(progress.finish))
