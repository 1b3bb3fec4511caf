import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"

/**
 * The client's metrics, as `RemotingClient.metrics` presents them.
 *
 * @internal
 */
export const metrics = {
  invocations: Metric.counter("rocketmq_remoting_invocations", { description: "Calls by code and outcome" }),
  latency: Metric.histogram(
    "rocketmq_remoting_invoke_latency_ms",
    MetricBoundaries.exponential({ start: 0.5, factor: 2, count: 18 }),
    "Milliseconds from call to outcome"
  ),
  lateResponses: Metric.counter("rocketmq_remoting_late_responses", {
    description: "Responses that matched no pending call"
  }),
  badFrames: Metric.counter("rocketmq_remoting_bad_frames", {
    description: "Inbound frames that were not RemotingCommands"
  }),
  idleDrops: Metric.counter("rocketmq_remoting_idle_drops", {
    description: "Connections dropped because the peer went silent"
  }),
  timeoutDrops: Metric.counter("rocketmq_remoting_timeout_drops", {
    description: "Connections dropped because a call on them timed out (closeOnTimeout)"
  }),
  serverRequests: Metric.counter("rocketmq_remoting_server_requests", {
    description: "Server-initiated requests by code and outcome"
  })
}

/**
 * How a call ended, as the `outcome` label of `invocations` says it.
 *
 * @internal
 */
export type Outcome =
  | "success"
  | "remote_error"
  | "oneway"
  | "timeout"
  | "in_flight_limit"
  | "disconnected"
  | "closed"
  | "invalid_request"
  | "interrupted"
  | "defect"

type Labels = ReadonlyArray<MetricLabel.MetricLabel>

/** The label arrays of one request code, made once. */
interface CodeLabels {
  readonly latency: Labels
  /** By outcome, and for `remote_error` by outcome and response code. */
  readonly outcomes: Map<string, Labels>
}

/**
 * The metrics as one client updates them, with every label array made once and kept.
 *
 * Why: a metric finds its hook by the identity of the label array it is given. An array built per call makes
 * Effect build and hash a new metric key on every update, which costs more than the rest of the call; an array
 * kept per (code, outcome) is found in the hook cache at once.
 *
 * @internal
 */
export class ClientMeters {
  private readonly address: MetricLabel.MetricLabel
  private readonly addressOnly: Labels
  private readonly codes = new Map<number, CodeLabels>()
  private readonly serverRequestLabels = new Map<string, Labels>()

  constructor(address: string) {
    this.address = MetricLabel.make("address", address)
    this.addressOnly = [this.address]
  }

  /** One call ended: its outcome and how long it took. */
  call(code: number, outcome: Outcome, responseCode: number | undefined, millis: number): void {
    const labels = this.labelsOf(code)
    const key = responseCode === undefined ? outcome : `${outcome}:${responseCode}`
    let outcomeLabels = labels.outcomes.get(key)
    if (outcomeLabels === undefined) {
      outcomeLabels = [...labels.latency, MetricLabel.make("outcome", outcome)]
      if (responseCode !== undefined) {
        outcomeLabels = [...outcomeLabels, MetricLabel.make("responseCode", String(responseCode))]
      }
      labels.outcomes.set(key, outcomeLabels)
    }
    metrics.invocations.unsafeUpdate(1, outcomeLabels)
    metrics.latency.unsafeUpdate(millis, labels.latency)
  }

  lateResponse(): void {
    metrics.lateResponses.unsafeUpdate(1, this.addressOnly)
  }

  badFrame(): void {
    metrics.badFrames.unsafeUpdate(1, this.addressOnly)
  }

  idleDrop(): void {
    metrics.idleDrops.unsafeUpdate(1, this.addressOnly)
  }

  timeoutDrop(): void {
    metrics.timeoutDrops.unsafeUpdate(1, this.addressOnly)
  }

  serverRequest(code: number, outcome: "handled" | "failed" | "not_supported" | "busy"): void {
    const key = `${code}:${outcome}`
    let labels = this.serverRequestLabels.get(key)
    if (labels === undefined) {
      labels = [this.address, MetricLabel.make("code", String(code)), MetricLabel.make("outcome", outcome)]
      this.serverRequestLabels.set(key, labels)
    }
    metrics.serverRequests.unsafeUpdate(1, labels)
  }

  private labelsOf(code: number): CodeLabels {
    let labels = this.codes.get(code)
    if (labels === undefined) {
      labels = { latency: [this.address, MetricLabel.make("code", String(code))], outcomes: new Map() }
      this.codes.set(code, labels)
    }
    return labels
  }
}
