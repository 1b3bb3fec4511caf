import { assert, describe, it } from "@effect/vitest"
import * as Stats from "../src/Stats.js"

describe("Stats", () => {
  it("percentiles are nearest rank", () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i)
    const summary = Stats.summarize(samples)
    assert.deepStrictEqual(
      { min: summary.min, p50: summary.p50, p90: summary.p90, p99: summary.p99, max: summary.max },
      { min: 1, p50: 50, p90: 90, p99: 99, max: 100 }
    )
    assert.strictEqual(summary.mean, 50.5)
    assert.strictEqual(Stats.summarize([7]).p99, 7)
  })

  it("medians of odd and even counts", () => {
    assert.strictEqual(Stats.median([3, 1, 2]), 2)
    assert.strictEqual(Stats.median([4, 1, 3, 2]), 2.5)
  })

  it("formats pick a readable unit", () => {
    assert.strictEqual(Stats.formatMillis(0.0853), "85 µs")
    assert.strictEqual(Stats.formatMillis(1.254), "1.25 ms")
    assert.strictEqual(Stats.formatMillis(2400), "2.40 s")
    assert.strictEqual(Stats.formatBytes(512), "512 B")
    assert.strictEqual(Stats.formatBytes(1536), "1.5 KiB")
    assert.strictEqual(Stats.formatCount(200000), "200,000")
  })
})
