/**
 * What the send bench leaves for the targets table `pnpm bench` ends with (`scripts/bench-targets.mjs`): its
 * targets with their medians, as JSON in the results directory (`RMQ_BENCH_RESULTS_DIR`, by default
 * `<repository>/bench-results`). The layout is the one `packages/cli/src/Bench.ts` writes for the transport.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** How a figure is judged: against an anchor's figure (a ratio) or a number. */
export type Bound =
  | { readonly kind: "atLeast"; readonly times: number }
  | { readonly kind: "atMost"; readonly times: number }
  | { readonly kind: "atMostValue"; readonly limit: number }

/** One target: the figure, the anchor it is compared with or shown beside, the bound; null when not measured. */
export interface TargetResult {
  readonly target: string
  readonly value: number | null
  readonly unit: string
  readonly anchor: { readonly name: string; readonly value: number | null } | null
  readonly bound: Bound
  /** Why the figure is missing. */
  readonly note?: string | undefined
}

/** One bench's file. */
export interface BenchResults {
  readonly bench: string
  /** Small counts: the table says "not judged". */
  readonly quick: boolean
  readonly runs: number
  readonly finishedAt: string
  readonly targets: ReadonlyArray<TargetResult>
}

/** The middle value (the mean of the two middle ones for an even count). */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export const resultsDir = (): string =>
  process.env.RMQ_BENCH_RESULTS_DIR ?? fileURLToPath(new URL("../../../bench-results", import.meta.url))

/** Writes `<resultsDir>/<bench>.json`; returns the file. */
export const writeResults = (results: BenchResults): string => {
  const dir = resultsDir()
  Fs.mkdirSync(dir, { recursive: true })
  const file = Path.join(dir, `${results.bench}.json`)
  Fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`)
  return file
}
