/**
 * Latency statistics and the number formats the commands print.
 *
 * @since 0.1.0
 */

/**
 * A summary of latency samples, in milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface LatencySummary {
  readonly count: number
  readonly min: number
  readonly max: number
  readonly mean: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
}

/**
 * The `p`-th percentile (0–100) of sorted samples, nearest rank.
 *
 * @since 0.1.0
 * @category statistics
 */
export const percentile = (sorted: ArrayLike<number>, p: number): number => {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

/**
 * Summarizes samples (in any order; they are not modified).
 *
 * @since 0.1.0
 * @category statistics
 */
export const summarize = (samples: ArrayLike<number>): LatencySummary => {
  const sorted = Float64Array.from(samples).sort()
  let total = 0
  for (let i = 0; i < sorted.length; i++) total += sorted[i]!
  return {
    count: sorted.length,
    min: sorted.length === 0 ? NaN : sorted[0]!,
    max: sorted.length === 0 ? NaN : sorted[sorted.length - 1]!,
    mean: sorted.length === 0 ? NaN : total / sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99)
  }
}

/**
 * The median of a few values (the middle one, or the mean of the two middle ones).
 *
 * @since 0.1.0
 * @category statistics
 */
export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/**
 * A duration given in milliseconds, in the unit that keeps it readable: `85 µs`, `1.25 ms`, `2.40 s`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatMillis = (ms: number): string => {
  if (!Number.isFinite(ms)) return "-"
  if (ms < 1) return `${Math.round(ms * 1000)} µs`
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms`
  return `${(ms / 1000).toFixed(2)} s`
}

/**
 * A byte count with a binary unit: `512 B`, `1.0 KiB`, `3.2 MiB`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatBytes = (bytes: number): string => {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(2)} GiB`
}

/**
 * An integer with thousands separators: `200,000`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatCount = (n: number): string => Math.round(n).toLocaleString("en-US")

/**
 * The latency line `ping` and `demo` print.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatLatency = (summary: LatencySummary): string =>
  `min ${formatMillis(summary.min)}  p50 ${formatMillis(summary.p50)}  p90 ${formatMillis(summary.p90)}  ` +
  `p99 ${formatMillis(summary.p99)}  max ${formatMillis(summary.max)}  mean ${formatMillis(summary.mean)}`
