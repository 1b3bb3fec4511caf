/**
 * `--help` for people. @effect/cli's own help heads every option with its type in words ("A user-defined
 * piece of text."), lists `--wizard`, which this CLI does not offer, and starts a subcommand's usage with
 * `$ send`, which is no command anyone can type. This renders the same help document with the type lines
 * dropped, `--wizard` left out, each option's default (or that it is required) said once, the built-in
 * options described in this CLI's words, and usage lines that start with the program's name.
 *
 * @since 0.3.0
 */
import type * as BuiltInOptions from "@effect/cli/BuiltInOptions"
import type * as CliConfig from "@effect/cli/CliConfig"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Span from "@effect/cli/HelpDoc/Span"
import * as Usage from "@effect/cli/Usage"
import * as Arr from "effect/Array"

/** The type lines @effect/cli writes under every option and argument. */
const typeLines = new Set([
  "A true or false value.",
  "A floating point number.",
  "An integer.",
  "A user-defined piece of text.",
  "A file.",
  "A directory.",
  "An existing file.",
  "An existing directory."
])

const optional = "This setting is optional."

/** The built-in options, in this CLI's words; `undefined` leaves an entry out of the help. */
const builtIns: Record<string, ReadonlyArray<string> | undefined> = {
  "--wizard": undefined,
  "--completions": ["Print a completion script for this shell (source it from the shell's startup file)"],
  "--log-level": [
    "Also print the transport's own log lines of this level and above, on standard error",
    "Default: error"
  ],
  "-h, --help": ["Print this help"],
  "--version": ["Print the version of rmq-transport"]
}

const textOf = (span: Span.Span): string => {
  switch (span._tag) {
    case "Text":
      return span.value
    case "URI":
      return span.value
    case "Sequence":
      return textOf(span.left) + textOf(span.right)
    case "Highlight":
    case "Strong":
    case "Weak":
      return textOf(span.value)
  }
}

/** The paragraphs (and anything else) of a block, in order. */
const blocksOf = (doc: HelpDoc.HelpDoc): Array<HelpDoc.HelpDoc> =>
  doc._tag === "Sequence" ? [...blocksOf(doc.left), ...blocksOf(doc.right)] : doc._tag === "Empty" ? [] : [doc]

const paragraphText = (doc: HelpDoc.HelpDoc): string | undefined =>
  doc._tag === "Paragraph" ? textOf(doc.value) : undefined

/** The name an entry is known by: `--log-level` of `--log-level all | trace | …`, `-h, --help` of `(-h, --help)`. */
const entryName = (heading: string): string => {
  const bare = heading.startsWith("(") ? heading.slice(1, heading.indexOf(")")) : heading
  return bare.startsWith("-h, ") ? bare : bare.split(" ")[0]!
}

/** One option's or argument's entry, rewritten; `undefined` to leave it out. */
const entry = (heading: Span.Span, block: HelpDoc.HelpDoc): [Span.Span, HelpDoc.HelpDoc] | undefined => {
  const name = entryName(textOf(heading))
  if (name in builtIns) {
    const lines = builtIns[name]
    return lines === undefined ? undefined : [heading, HelpDoc.blocks(lines.map((line) => HelpDoc.p(line)))]
  }
  const blocks = blocksOf(block)
  const texts = blocks.map(paragraphText)
  const kept = blocks.filter((_, i) => !typeLines.has(texts[i] ?? "") && texts[i] !== optional)
  if (name.startsWith("-")) {
    const saysDefault = texts.some((text) => text?.startsWith("Default: "))
    if (!saysDefault) {
      kept.push(HelpDoc.p(
        texts.includes("A true or false value.")
          ? "Default: off"
          : texts.includes(optional) || texts.some((text) => text?.includes("zero or more times"))
          ? "Optional"
          : "Required"
      ))
    }
  }
  return [heading, HelpDoc.blocks(kept)]
}

const rewrite = (doc: HelpDoc.HelpDoc): HelpDoc.HelpDoc => {
  switch (doc._tag) {
    case "Sequence":
      return HelpDoc.sequence(rewrite(doc.left), rewrite(doc.right))
    case "DescriptionList": {
      const definitions: Array<[Span.Span, HelpDoc.HelpDoc]> = []
      for (const [heading, block] of doc.definitions) {
        const rewritten = entry(heading, block)
        if (rewritten !== undefined) definitions.push(rewritten)
      }
      return Arr.isNonEmptyReadonlyArray(definitions) ? HelpDoc.descriptionList(definitions) : HelpDoc.empty
    }
    case "Enumeration": {
      // The commands of the top-level help: each one's whole usage, padded, then its description. The name
      // and the description say enough; each command's own --help has the rest.
      const definitions = doc.elements.map((element): [Span.Span, HelpDoc.HelpDoc] => {
        const [usage = "", ...rest] = textOf(HelpDoc.getSpan(element)).trim().split(/\s{2,}/)
        return [Span.text(usage.split(" ")[0]!), HelpDoc.p(rest.join(" "))]
      })
      return Arr.isNonEmptyReadonlyArray(definitions) ? HelpDoc.descriptionList(definitions) : HelpDoc.empty
    }
    default:
      return doc
  }
}

/**
 * The help `--help` asked for, as text (with escape sequences, which the CLI's console strips where they may
 * not go): the program's name and version, usage lines that start with `program`, then the command's help,
 * rewritten.
 *
 * @since 0.3.0
 */
export const render = (
  request: BuiltInOptions.ShowHelp,
  program: { readonly name: string; readonly version: string },
  config: CliConfig.CliConfig
): string => {
  const usage = Usage.enumerate(request.usage, config).map((span) => {
    const line = textOf(span)
    return HelpDoc.p(
      `$ ${line === program.name || line.startsWith(`${program.name} `) ? line : `${program.name} ${line}`}`
    )
  })
  return HelpDoc.toAnsiText(HelpDoc.blocks([
    HelpDoc.h1(Span.code(program.name)),
    HelpDoc.p(`${program.name} ${program.version}`),
    HelpDoc.h1("USAGE"),
    ...usage,
    rewrite(request.helpDoc)
  ]))
}
