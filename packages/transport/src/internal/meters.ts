import * as Metric from "effect/Metric"

/**
 * The transport's metrics, as `Transport.TransportMetrics` defines them.
 *
 * @internal
 */
export interface Metrics {
  readonly framesIn: Metric.Metric.Counter<number>
  readonly framesOut: Metric.Metric.Counter<number>
  readonly bytesIn: Metric.Metric.Counter<number>
  readonly bytesOut: Metric.Metric.Counter<number>
  readonly connectAttempts: Metric.Metric.Counter<number>
  readonly reconnects: Metric.Metric.Counter<number>
  readonly state: Metric.Metric.Gauge<number>
}

/**
 * The metrics as one transport updates them: tagged with its address once, not on every update.
 *
 * @internal
 */
export const tagged = (metrics: Metrics, address: string): Metrics => ({
  framesIn: Metric.tagged(metrics.framesIn, "address", address),
  framesOut: Metric.tagged(metrics.framesOut, "address", address),
  bytesIn: Metric.tagged(metrics.bytesIn, "address", address),
  bytesOut: Metric.tagged(metrics.bytesOut, "address", address),
  connectAttempts: Metric.tagged(metrics.connectAttempts, "address", address),
  reconnects: Metric.tagged(metrics.reconnects, "address", address),
  state: Metric.tagged(metrics.state, "address", address)
})
