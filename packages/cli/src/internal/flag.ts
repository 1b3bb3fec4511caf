/**
 * The CLI's flags, each defined once: the `@effect/cli` option that parses it and shows it in `--help`, and
 * what `commandLine.check` needs to report a bad command line in words that name the flag (its names,
 * whether it takes a value, the rule a value must meet, whether it is required).
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import type * as Option from "effect/Option"

/**
 * @since 0.1.0
 */
export interface Flag<A> {
  readonly options: Options.Options<A>
  /** `--name` first, then any alias (`-c`). */
  readonly names: ReadonlyArray<string>
  /** `false` for a switch (`--hex`). */
  readonly takesValue: boolean
  readonly required: boolean
  readonly repeatable: boolean
  /** The rule `value` breaks, in words that follow the flag's name; `undefined` when it is fine. */
  readonly check: (value: string) => string | undefined
}

/**
 * A flag of any value type, as the command line check sees it.
 *
 * @since 0.1.0
 */
export type Any = Omit<Flag<unknown>, "options">

/**
 * The `@effect/cli` options of a record of flags, for `Command.make`.
 *
 * @since 0.1.0
 */
export const options = <const Flags extends Record<string, Flag<any>>>(
  flags: Flags
): { readonly [K in keyof Flags]: Flags[K] extends Flag<infer A> ? Options.Options<A> : never } =>
  Object.fromEntries(Object.entries(flags).map(([key, flag]) => [key, flag.options])) as any

interface Config {
  readonly description: string
  /** A one-letter alias, without the dash. */
  readonly alias?: string | undefined
}

const make = <A>(
  name: string,
  config: Config,
  base: Options.Options<A>,
  takesValue: boolean,
  check: (value: string) => string | undefined
): Flag<A> => {
  const withAlias = config.alias === undefined ? base : Options.withAlias(base, config.alias)
  return {
    options: Options.withDescription(withAlias, config.description),
    names: config.alias === undefined ? [`--${name}`] : [`--${name}`, `-${config.alias}`],
    takesValue,
    required: takesValue,
    repeatable: false,
    check
  }
}

const quote = (value: string) => `'${value}'`

const integerPattern = /^-?\d+$/

/**
 * An integer from `min` to `max` (no upper bound unless given).
 *
 * @since 0.1.0
 */
export const integer = (
  name: string,
  config: Config & { readonly min: number; readonly max?: number | undefined }
): Flag<number> => {
  const rule = config.max === undefined
    ? `must be an integer of ${config.min} or more`
    : `must be an integer from ${config.min} to ${config.max}`
  return make(name, config, Options.integer(name), true, (value) => {
    const n = Number(value)
    return integerPattern.test(value) && n >= config.min && (config.max === undefined || n <= config.max)
      ? undefined
      : `${rule}, got ${quote(value)}`
  })
}

const numberPattern = /^\+?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i

/**
 * A positive, finite number of seconds (`0.5`, `3`).
 *
 * @since 0.1.0
 */
export const seconds = (name: string, config: Config): Flag<number> =>
  make(name, config, Options.float(name), true, (value) => {
    const n = Number(value)
    return numberPattern.test(value) && Number.isFinite(n) && n > 0
      ? undefined
      : `must be a positive number of seconds, got ${quote(value)}`
  })

/**
 * Any text but the empty string.
 *
 * @since 0.1.0
 */
export const text = (name: string, config: Config): Flag<string> =>
  make(name, config, Options.text(name), true, (value) => (value === "" ? "must not be empty" : undefined))

/**
 * One of `choices`.
 *
 * @since 0.1.0
 */
export const choice = <const C extends ReadonlyArray<string>>(
  name: string,
  choices: C,
  config: Config
): Flag<C[number]> =>
  make(
    name,
    config,
    Options.choice(name, choices),
    true,
    (value) => (choices.includes(value) ? undefined : `must be one of ${choices.join(", ")}; got ${quote(value)}`)
  )

/**
 * A path to a directory (created if missing by whoever uses it).
 *
 * @since 0.1.0
 */
export const directory = (name: string, config: Config): Flag<string> =>
  make(name, config, Options.directory(name), true, (value) => (value === "" ? "must not be empty" : undefined))

/**
 * A path to a file, read by whoever uses it: a file that cannot be read is reported then, with the path (and
 * not by @effect/cli, whose words would not name the flag).
 *
 * @since 0.2.0
 */
export const file = (name: string, config: Config): Flag<string> =>
  make(
    name,
    config,
    Options.text(name).pipe(Options.withPseudoName("file")),
    true,
    (value) => (value === "" ? "must not be empty" : undefined)
  )

/**
 * The words @effect/cli accepts after `--switch=`.
 *
 * @since 0.1.0
 */
export const switchValues: ReadonlyArray<string> = ["true", "1", "y", "yes", "on", "false", "0", "n", "no", "off"]

/**
 * A switch: `--name` turns it on. Never required.
 *
 * @since 0.1.0
 */
export const boolean = (name: string, config: Config): Flag<boolean> => ({
  ...make(
    name,
    config,
    Options.boolean(name),
    false,
    (value) => (switchValues.includes(value.toLowerCase()) ? undefined : `takes no value, got ${quote(value)}`)
  ),
  required: false
})

/**
 * The flag with a default, which `--help` shows: `shown` (the value itself unless given).
 *
 * @since 0.1.0
 */
export const withDefault = <A>(self: Flag<A>, value: A, shown: string = String(value)): Flag<A> => ({
  ...self,
  options: self.options.pipe(Options.withDescription(`Default: ${shown}`), Options.withDefault(value)),
  required: false
})

/**
 * The flag may be left out.
 *
 * @since 0.1.0
 */
export const optional = <A>(self: Flag<A>): Flag<Option.Option<A>> => ({
  ...self,
  options: Options.optional(self.options),
  required: false
})

/**
 * The flag may be given any number of times, none included.
 *
 * @since 0.1.0
 */
export const repeated = <A>(self: Flag<A>): Flag<Array<A>> => ({
  ...self,
  options: Options.repeated(self.options),
  required: false,
  repeatable: true
})
