import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"

/**
 * The transport's metrics, as `Transport.metrics` defines them.
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
 * The metrics as one transport updates them, tagged with its address once.
 *
 * The counters on the hot paths (bytes and frames, per chunk and per batch) are updated through `count*`:
 * the base counter with one label array per transport, which the counter's hook cache finds by identity.
 * A `Metric.tagged` counter would join its tags into a new array, and look its hook up again, on every
 * update. The rare updates (attempts, reconnects, the state gauge) stay Effects, so they also carry the
 * metric labels of the fiber that runs the transport.
 *
 * @internal
 */
export interface Meters {
  readonly countFramesIn: (frames: number) => void
  readonly countFramesOut: (frames: number) => void
  readonly countBytesIn: (bytes: number) => void
  readonly countBytesOut: (bytes: number) => void
  readonly connectAttempts: Metric.Metric.Counter<number>
  readonly reconnects: Metric.Metric.Counter<number>
  readonly state: Metric.Metric.Gauge<number>
}

/**
 * Meters are shared by the transports of one address: an idle transport should not carry seven metric objects
 * of its own. Kept as long as the `Metrics` are, as Effect's metric registry keeps each address's counters.
 */
const cache = new WeakMap<Metrics, Map<string, Meters>>()

/** @internal */
export const tagged = (metrics: Metrics, address: string): Meters => {
  let byAddress = cache.get(metrics)
  if (byAddress === undefined) {
    byAddress = new Map()
    cache.set(metrics, byAddress)
  }
  let meters = byAddress.get(address)
  if (meters === undefined) {
    meters = make(metrics, address)
    byAddress.set(address, meters)
  }
  return meters
}

const make = (metrics: Metrics, address: string): Meters => {
  const tags: ReadonlyArray<MetricLabel.MetricLabel> = [MetricLabel.make("address", address)]
  return {
    countFramesIn: (frames) => metrics.framesIn.unsafeUpdate(frames, tags),
    countFramesOut: (frames) => metrics.framesOut.unsafeUpdate(frames, tags),
    countBytesIn: (bytes) => metrics.bytesIn.unsafeUpdate(bytes, tags),
    countBytesOut: (bytes) => metrics.bytesOut.unsafeUpdate(bytes, tags),
    connectAttempts: Metric.taggedWithLabels(metrics.connectAttempts, tags),
    reconnects: Metric.taggedWithLabels(metrics.reconnects, tags),
    state: Metric.taggedWithLabels(metrics.state, tags)
  }
}
