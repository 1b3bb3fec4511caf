/**
 * README.md's code blocks as modules, read from README.md itself so that a block cannot drift from what is
 * tested: extracted with the heading they sit under, written to a scratch directory outside the repository,
 * type-checked with the repository's compiler options, and run.
 *
 * The scratch directory gets a `node_modules` that links the workspace root's packages and the workspace's own
 * (`@rocketmq-effect/transport`, `@rocketmq-effect/transport-node`), and a `tsconfig.json` extending
 * `tsconfig.base.json` whose `paths` map `@rocketmq-effect/*` to the workspace sources. A block resolves its
 * imports as a user's module would.
 */
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import ts from "typescript"

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

export const readmePath = Path.join(repoRoot, "README.md")

/**
 * The port README's examples connect to (on 127.0.0.1). A test runs an example against its own server by
 * replacing every occurrence of this number in the block with that server's port, and nothing else.
 */
export const README_PORT = 10911

/** Languages of blocks that are neither type-checked nor run: shell sessions and plain text. */
export const exemptLanguages: ReadonlySet<string> = new Set(["sh", "text"])

/** Languages of blocks that are type-checked. */
export const typeScriptLanguages: ReadonlySet<string> = new Set(["ts", "typescript"])

export interface Block {
  /** The nearest heading above the block, without its `#`s. */
  readonly heading: string
  readonly lang: string
  readonly code: string
  /** The 1-based line of README.md where the block's first line of code is. */
  readonly line: number
}

/** The fenced code blocks of a Markdown text, each with the heading it sits under. */
export const readBlocks = (markdown: string = Fs.readFileSync(readmePath, "utf8")): ReadonlyArray<Block> => {
  const lines = markdown.split("\n")
  const blocks: Array<Block> = []
  let heading = "(top)"
  let open: { readonly lang: string; readonly line: number; readonly fence: string } | undefined
  let body: Array<string> = []
  lines.forEach((text, index) => {
    if (open !== undefined) {
      if (text.trimEnd() === open.fence) {
        blocks.push({ heading, lang: open.lang, code: body.join("\n") + "\n", line: open.line })
        open = undefined
      } else {
        body.push(text)
      }
      return
    }
    const fence = /^(`{3,})\s*([\w-]*)/.exec(text)
    if (fence !== null) {
      open = { lang: fence[2] ?? "", line: index + 2, fence: fence[1] ?? "```" }
      body = []
      return
    }
    const title = /^#{1,6}\s+(.*)$/.exec(text)
    if (title !== null) heading = (title[1] ?? "").trim()
  })
  if (open !== undefined) throw new Error(`README.md:${open.line - 1}: code block never closed`)
  return blocks
}

/** The blocks under `heading`. */
export const blocksUnder = (blocks: ReadonlyArray<Block>, heading: string): ReadonlyArray<Block> =>
  blocks.filter((block) => block.heading === heading)

/** Whether a block connects to README's example address and so can be run against a test server. */
export const connectsToReadmePort = (block: Block): boolean => block.code.includes(String(README_PORT))

/** The block with README's example port replaced by `port` (the one documented substitution). */
export const withPort = (block: Block, port: number): Block => ({
  ...block,
  code: block.code.replaceAll(String(README_PORT), String(port))
})

/** How a block is named in failures: where it is and what it is under. */
export const describeBlock = (block: Block): string => `README.md:${block.line} ("${block.heading}")`

/** One diagnostic of a block, located in README.md. */
export interface BlockDiagnostic {
  readonly block: Block
  readonly message: string
}

export interface Workspace {
  readonly dir: string
  /** Writes `block` as a module; returns its absolute path. */
  readonly write: (block: Block, name?: string) => string
  /** Type-checks the given modules together (one program); returns their diagnostics, located in README.md. */
  readonly typeCheck: (
    modules: ReadonlyArray<{ readonly block: Block; readonly path: string }>
  ) => ReadonlyArray<BlockDiagnostic>
  /** Runs a module with tsx in a child process; fails when it does not exit in time (the child is killed). */
  readonly run: (path: string, timeout: number) => Effect.Effect<RunResult, Error>
  readonly remove: () => void
}

export interface RunResult {
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

const workspacePackages: Record<string, string> = {
  "@rocketmq-effect/transport": "packages/transport",
  "@rocketmq-effect/transport-node": "packages/transport-node",
  "@rocketmq-effect/remoting": "packages/remoting",
  "@rocketmq-effect/client": "packages/client"
}

// The `node_modules` of the scratch directory: the workspace root's packages, and the workspace's own.
const linkModules = (dir: string): void => {
  const modules = Path.join(dir, "node_modules")
  const rootModules = Path.join(repoRoot, "node_modules")
  Fs.mkdirSync(Path.join(modules, "@rocketmq-effect"), { recursive: true })
  for (const entry of Fs.readdirSync(rootModules)) {
    if (entry.startsWith(".") || entry === "@rocketmq-effect") continue
    Fs.symlinkSync(Path.join(rootModules, entry), Path.join(modules, entry))
  }
  for (const [name, location] of Object.entries(workspacePackages)) {
    Fs.symlinkSync(Path.join(repoRoot, location), Path.join(modules, name))
  }
}

const tsconfigOf = () => {
  const paths: Record<string, Array<string>> = {}
  for (const [name, location] of Object.entries(workspacePackages)) {
    paths[name] = [Path.join(repoRoot, location, "src/index.ts")]
    paths[`${name}/*`] = [Path.join(repoRoot, location, "src/*.ts")]
  }
  return {
    extends: Path.join(repoRoot, "tsconfig.base.json"),
    compilerOptions: {
      noUncheckedIndexedAccess: true,
      // README blocks name intermediate results to show them.
      noUnusedLocals: false,
      noUnusedParameters: false,
      composite: false,
      incremental: false,
      declaration: false,
      declarationMap: false,
      emitDeclarationOnly: false,
      noEmit: true,
      paths
    },
    include: ["*.ts"]
  }
}

const formatDiagnostic = (diagnostic: ts.Diagnostic, block: Block): string => {
  const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")
  if (diagnostic.file === undefined || diagnostic.start === undefined) return `TS${diagnostic.code}: ${text}`
  const { character, line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start)
  return `README.md:${block.line + line}:${character + 1} ("${block.heading}") TS${diagnostic.code}: ${text}`
}

// tsx as a loader in the child itself (its CLI would run the module in a grandchild that a kill would orphan).
const tsxLoader = pathToFileURL(Path.join(repoRoot, "node_modules/tsx/dist/loader.mjs")).href

/** A scratch directory in the system's temporary directory. */
export const makeWorkspace = (): Workspace => {
  const dir = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "rocketmq-effect-readme-")))
  Fs.writeFileSync(Path.join(dir, "package.json"), JSON.stringify({ type: "module", private: true }))
  Fs.writeFileSync(Path.join(dir, "tsconfig.json"), JSON.stringify(tsconfigOf(), null, 2))
  linkModules(dir)
  let written = 0

  const write = (block: Block, name = `block-${++written}-line-${block.line}`): string => {
    const path = Path.join(dir, `${name}.ts`)
    Fs.writeFileSync(path, block.code)
    return path
  }

  const typeCheck: Workspace["typeCheck"] = (modules) => {
    const configErrors: Array<ts.Diagnostic> = []
    const parsed = ts.getParsedCommandLineOfConfigFile(Path.join(dir, "tsconfig.json"), undefined, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => configErrors.push(diagnostic)
    })
    if (parsed === undefined || configErrors.length > 0 || parsed.errors.length > 0) {
      const errors = [...configErrors, ...(parsed?.errors ?? [])]
      throw new Error(`the scratch tsconfig.json is invalid: ${errors.map((e) => e.messageText).join("; ")}`)
    }
    const program = ts.createProgram({ rootNames: modules.map((module) => module.path), options: parsed.options })
    const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]
    if (global.length > 0) {
      throw new Error(global.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")).join("\n"))
    }
    // Only the blocks' own diagnostics: the workspace sources are type-checked by `pnpm check`.
    return modules.flatMap(({ block, path }) => {
      const sourceFile = program.getSourceFile(path)
      if (sourceFile === undefined) return [{ block, message: `${describeBlock(block)}: not part of the program` }]
      return [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)].map(
        (diagnostic) => ({ block, message: formatDiagnostic(diagnostic, block) })
      )
    })
  }

  const run = (path: string, timeout: number): Effect.Effect<RunResult, Error> =>
    Effect.async<RunResult, Error>((resume) => {
      const child = ChildProcess.spawn(process.execPath, ["--import", tsxLoader, path], {
        cwd: dir,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, NODE_OPTIONS: "", TSX_TSCONFIG_PATH: Path.join(dir, "tsconfig.json") }
      })
      let stdout = ""
      let stderr = ""
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
      child.once("error", (error) => resume(Effect.fail(error)))
      child.once("close", (exitCode, signal) => resume(Effect.succeed({ exitCode, signal, stdout, stderr })))
      return Effect.sync(() => {
        child.kill("SIGKILL")
      })
    }).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new Error(`${Path.basename(path)} did not finish within ${timeout} ms`)
      })
    )

  const remove = () => Fs.rmSync(dir, { recursive: true, force: true })

  return { dir, write, typeCheck, run, remove }
}
