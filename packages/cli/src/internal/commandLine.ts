/**
 * A check of the command line before @effect/cli parses it, for the mistakes its own messages report badly:
 * a bad value (`'abc' is not a integer`, without the flag), an unknown flag (taken for the positional
 * argument, so the next word is blamed), a flag without its value, a missing required flag, and a built-in
 * flag (`--help`, `--log-level`) after other words, where @effect/cli takes it for the message. What it finds
 * is one line that names the flag; whatever passes is left to @effect/cli, whose errors `describe` turns
 * into one line too.
 *
 * @since 0.1.0
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import type * as ValidationError from "@effect/cli/ValidationError"
import * as Color from "./color.js"
import type * as Flag from "./flag.js"

/**
 * A command's name and its flags.
 *
 * @since 0.1.0
 */
export interface CommandSpec {
  readonly name: string
  readonly flags: ReadonlyArray<Flag.Any>
}

/**
 * @since 0.1.0
 */
export interface ProgramSpec {
  readonly name: string
  readonly commands: ReadonlyArray<CommandSpec>
}

/** @effect/cli's built-in flags that print something instead of running the command. */
const requests = new Set(["--help", "-h", "--version", "--wizard", "--completions"])

const logLevels = ["all", "trace", "debug", "info", "warning", "error", "fatal", "none"]

/** @effect/cli's `--log-level`, which every command takes. */
const logLevel: Flag.Any = {
  names: ["--log-level"],
  takesValue: true,
  required: false,
  repeatable: false,
  check: (value) => (logLevels.includes(value) ? undefined : `must be one of ${logLevels.join(", ")}; got '${value}'`)
}

const nameOf = (token: string): string => {
  const equals = token.startsWith("--") ? token.indexOf("=") : -1
  return equals === -1 ? token : token.slice(0, equals)
}

/** The tokens that are up to @effect/cli's flag parsing: those before a `--`. */
const flagTokens = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const end = args.indexOf("--")
  return end === -1 ? args : args.slice(0, end)
}

const isFlag = (token: string): boolean => token.startsWith("-") && token !== "-"

const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)
      )
    }
    previous = current
  }
  return previous[b.length]!
}

const unknownFlag = (program: ProgramSpec, command: CommandSpec | undefined, name: string): string => {
  const names = [...(command?.flags ?? []), logLevel].map((flag) => flag.names[0]!)
  const closest = names
    .map((candidate) => ({ candidate, distance: distance(name, candidate) }))
    .filter((c) => c.distance <= 2)
    .sort((a, b) => a.distance - b.distance)[0]
  const where = command === undefined ? "" : ` for ${command.name}`
  const hint = closest === undefined
    ? `see ${program.name}${command === undefined ? "" : ` ${command.name}`} --help`
    : `did you mean ${closest.candidate}?`
  return `unknown flag ${name}${where}; ${hint}`
}

/**
 * The command a command line runs (its first word that names one), if any.
 *
 * @since 0.1.0
 */
export const commandOf = (program: ProgramSpec, args: ReadonlyArray<string>): CommandSpec | undefined => {
  const names = new Set(program.commands.map((command) => command.name))
  const name = flagTokens(args).find((token) => names.has(token))
  return program.commands.find((command) => command.name === name)
}

/**
 * The first problem with a command line (the arguments after the runtime and the script), as one line that
 * names the flag; `undefined` when there is none this check knows of.
 *
 * @since 0.1.0
 */
export const check = (program: ProgramSpec, args: ReadonlyArray<string>): string | undefined => {
  const tokens = flagTokens(args)
  let command: CommandSpec | undefined
  let seen = new Set<Flag.Any>()
  // @effect/cli takes its built-in flags only before any other word of the command.
  let leading = true
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    if (!isFlag(token)) {
      if (command === undefined) {
        command = program.commands.find((c) => c.name === token)
        if (command === undefined) {
          return `unknown command '${token}'; the commands are ${program.commands.map((c) => c.name).join(", ")}`
        }
        seen = new Set()
        leading = true
      } else {
        // A positional argument, which @effect/cli counts.
        leading = false
      }
      continue
    }
    const name = nameOf(token)
    const builtIn = requests.has(name) || name === logLevel.names[0]
    if (builtIn && command !== undefined && !leading) {
      const example = name === logLevel.names[0] ? `${name} debug …` : name
      return `${name} must come right after ${command.name}, as in ${program.name} ${command.name} ${example}`
    }
    // Help, version, completions: @effect/cli prints them, whatever else the line says.
    if (requests.has(name)) return undefined
    const flag = builtIn ? logLevel : command?.flags.find((f) => f.names.includes(name))
    if (flag === undefined) return unknownFlag(program, command, name)
    leading = leading && builtIn
    if (seen.has(flag) && !flag.repeatable) return `${flag.names[0]} is given more than once`
    seen.add(flag)
    let value: string | undefined
    if (name !== token) {
      value = token.slice(name.length + 1)
    } else if (flag.takesValue) {
      const next = tokens[i + 1]
      // A value may start with one dash (`--timeout -1`, to be told it is out of range), not with two.
      if (next === undefined || next.startsWith("--")) return `${name} needs a value`
      value = next
      i++
    }
    const broken = value === undefined ? undefined : flag.check(value)
    if (broken !== undefined) return `${name} ${broken}`
  }
  if (command === undefined) return undefined
  const missing = command.flags.find((flag) => flag.required && !seen.has(flag))
  return missing === undefined ? undefined : `${missing.names[0]} is required for ${command.name}`
}

/**
 * One line for an error @effect/cli found (a missing or extra argument): its first line of text, after the
 * command's name.
 *
 * @since 0.1.0
 */
export const describe = (error: ValidationError.ValidationError, command: CommandSpec | undefined): string => {
  const text = Color.strip(HelpDoc.toAnsiText(error.error))
    .split("\n")
    .map((line) => line.trim())
    .find((line) => line.length > 0) ?? "invalid command line"
  return `${command === undefined ? "" : `${command.name}: `}${text.charAt(0).toLowerCase()}${text.slice(1)}`
}
