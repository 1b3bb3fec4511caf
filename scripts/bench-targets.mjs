// The one targets table of `pnpm bench`: every bench of the repository writes its targets' medians as JSON into
// bench-results/ (packages/cli/src/Bench.ts: transport.json; packages/remoting/bench/send.bench.ts:
// remoting.json; packages/client/bench/client.bench.ts: client.json), and this script judges them all in one
// place.
//
//   node scripts/bench-targets.mjs                 the table of what bench-results/ holds
//   node scripts/bench-targets.mjs --run [args]    empties bench-results/, runs every package's bench script
//                                                  (pnpm -r --sequential --if-present bench [args]), then the
//                                                  table; exits with the benches' status
//
// Verdicts: met / MISSED with the ratio, "not measured" when a bench skipped a figure (no Java, a mode not
// asked for) or wrote nothing, "not judged" for a quick run (--quick: counts too small to judge).
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "..")
const dir = process.env.RMQ_BENCH_RESULTS_DIR ?? Path.join(root, "bench-results")
/** The benches that write results, in the order of the table. */
const benches = ["transport", "remoting", "client"]

const formatNumber = (value) =>
  Math.abs(value) >= 1000
    ? Math.round(value).toLocaleString("en-US")
    : value.toLocaleString("en-US", { maximumFractionDigits: Math.abs(value) >= 100 ? 0 : 1 })

const figure = (value, unit) => value === null || value === undefined ? "-" : `${formatNumber(value)} ${unit}`

const boundText = (target) => {
  const { bound } = target
  switch (bound.kind) {
    case "atLeast":
      return `≥ ${bound.times}× anchor`
    case "atMost":
      return `≤ ${bound.times}× anchor`
    case "atMostValue":
      return `≤ ${formatNumber(bound.limit)} ${target.unit}`
  }
  return "?"
}

const ratioOf = (target) => {
  const anchor = target.anchor?.value
  return target.value === null || anchor === null || anchor === undefined || anchor <= 0
    ? undefined
    : target.value / anchor
}

const verdict = (target, quick) => {
  if (target.value === null) return "not measured"
  if (quick) return "not judged"
  const ratio = ratioOf(target)
  switch (target.bound.kind) {
    case "atLeast":
    case "atMost":
      if (ratio === undefined) return `no ${target.anchor?.name ?? "anchor"}`
      return (target.bound.kind === "atLeast" ? ratio >= target.bound.times : ratio <= target.bound.times)
        ? "met"
        : "MISSED"
    case "atMostValue":
      return target.value <= target.bound.limit ? "met" : "MISSED"
  }
  return "?"
}

const render = (table) => {
  const widths = table[0].map((_, column) => Math.max(...table.map((row) => row[column].length)))
  const lines = table.map((row) =>
    row.map((cell, column) => column === 0 || column === 2 || column >= 4 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))
      .join("  ").trimEnd()
  )
  lines.splice(1, 0, widths.map((width) => "-".repeat(width)).join("  "))
  return lines
}

export const printTable = () => {
  const table = [["target", "value", "anchor", "ratio", "bound", "verdict"]]
  const notes = []
  for (const bench of benches) {
    const file = Path.join(dir, `${bench}.json`)
    let results
    try {
      results = JSON.parse(Fs.readFileSync(file, "utf8"))
    } catch {
      table.push([`${bench}: no results`, "-", "-", "-", "-", "not measured"])
      notes.push(`${bench}: nothing in ${Path.relative(process.cwd(), file)} (its bench did not run, or failed)`)
      continue
    }
    notes.push(
      `${bench}: ${results.runs} run${results.runs === 1 ? "" : "s"}${results.quick ? ", quick" : ""}, ` +
        `finished ${results.finishedAt}`
    )
    for (const target of results.targets) {
      const ratio = ratioOf(target)
      table.push([
        target.target,
        figure(target.value, target.unit),
        target.anchor === null ? "-" : `${target.anchor.name} ${figure(target.anchor.value, target.unit)}`,
        ratio === undefined ? "-" : `${ratio.toFixed(2)}×`,
        boundText(target),
        verdict(target, results.quick)
      ])
      const note = `${bench}: ${target.note}`
      if (target.value === null && target.note !== undefined && !notes.includes(note)) notes.push(note)
    }
  }
  console.log("")
  console.log("targets (medians; ratio = value / anchor):")
  for (const line of render(table)) console.log(line)
  console.log("")
  for (const note of notes) console.log(`  ${note}`)
}

if (process.argv[2] === "--run") {
  Fs.rmSync(dir, { recursive: true, force: true })
  const benched = spawnSync("pnpm", ["-r", "--sequential", "--if-present", "bench", ...process.argv.slice(3)], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, RMQ_BENCH_RESULTS_DIR: dir }
  })
  printTable()
  process.exit(benched.status ?? 1)
} else {
  printTable()
}
