/**
 * The workloads: their names, and the counts each one runs at, full and `--quick`.
 *
 * @internal
 */
import type { Workload } from "../../Bench.js"

/** @internal */
export const workloads: ReadonlyArray<Workload> = [
  "pipelined",
  "ping-pong",
  "large",
  "connections",
  "idle",
  "tls-pipelined",
  "tls-large"
]

/** The workloads measured against each server's TLS instance. @internal */
export const isTlsWorkload = (workload: Workload): boolean => workload === "tls-pipelined" || workload === "tls-large"

/** @internal */
export interface Plan {
  readonly count: number
  readonly size: number
  readonly window: number
  readonly warmup: number
}

/** @internal */
export interface WorkloadPlan extends Plan {
  readonly workload: Workload
}

/** @internal */
export const MIB = 1024 * 1024

const plans: Record<Workload, { readonly full: Plan; readonly quick: Plan }> = {
  pipelined: {
    full: { count: 200_000, size: 1024, window: 256, warmup: 20_000 },
    quick: { count: 5_000, size: 1024, window: 256, warmup: 1_000 }
  },
  "ping-pong": {
    full: { count: 20_000, size: 128, window: 1, warmup: 5_000 },
    quick: { count: 500, size: 128, window: 1, warmup: 100 }
  },
  large: {
    full: { count: 2_000, size: MIB, window: 8, warmup: 100 },
    quick: { count: 40, size: MIB, window: 8, warmup: 8 }
  },
  connections: {
    full: { count: 1_000, size: 0, window: 0, warmup: 0 },
    quick: { count: 50, size: 0, window: 0, warmup: 0 }
  },
  idle: {
    full: { count: 10_000, size: 0, window: 0, warmup: 0 },
    quick: { count: 500, size: 0, window: 0, warmup: 0 }
  },
  "tls-pipelined": {
    full: { count: 200_000, size: 1024, window: 256, warmup: 20_000 },
    quick: { count: 5_000, size: 1024, window: 256, warmup: 1_000 }
  },
  "tls-large": {
    full: { count: 1_000, size: MIB, window: 8, warmup: 100 },
    quick: { count: 40, size: MIB, window: 8, warmup: 8 }
  }
}

/** A workload's counts, full or `--quick`. @internal */
export const planOf = (workload: Workload, quick: boolean): Plan => quick ? plans[workload].quick : plans[workload].full

/**
 * Unmeasured traffic through each server before its first measurement, so that a JIT-compiled server is warm.
 *
 * @internal
 */
export const serverWarmups: Record<"full" | "quick", ReadonlyArray<WorkloadPlan>> = {
  full: [
    { workload: "pipelined", count: 100_000, size: 1024, window: 256, warmup: 0 },
    { workload: "large", count: 200, size: MIB, window: 8, warmup: 0 },
    // The TLS instance too, when TLS workloads run (skipped otherwise, as they are).
    { workload: "tls-pipelined", count: 100_000, size: 1024, window: 256, warmup: 0 },
    { workload: "tls-large", count: 100, size: MIB, window: 8, warmup: 0 }
  ],
  quick: [{ workload: "pipelined", count: 2_000, size: 1024, window: 256, warmup: 0 }]
}
