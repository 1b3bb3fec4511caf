/**
 * What the TestClock tests of the producer and the consumer share: a fake cluster (`FakeCluster`, over the
 * in-memory `TestConnector`), zlib, and a fixed host, around a test body whose scope (its producers and
 * consumers) closes before the cluster's.
 */
import type { Connector } from "@rocketmq-effect/transport/Connector"
import type * as TestConnector from "@rocketmq-effect/transport/TestConnector"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as ClientHost from "../src/ClientHost.js"
import type { Compression } from "../src/Compression.js"
import * as NodeCompression from "../src/NodeCompression.js"
import * as FakeCluster from "./FakeCluster.js"

/** What a test body may use. */
export type Env = FakeCluster.FakeCluster | TestConnector.TestPeer | Connector | Compression | ClientHost.ClientHost

/** `withCluster(options)(body)`, with `defaults` when no options are given. */
export const withClusterOf =
  (defaults: FakeCluster.Options) =>
  (options: FakeCluster.Options = defaults) =>
  <A, E>(body: Effect.Effect<A, E, Env | Scope.Scope>): Effect.Effect<A, E> =>
    body.pipe(
      Effect.scoped,
      Effect.provide(
        Layer.mergeAll(
          FakeCluster.layerTest(options),
          NodeCompression.layer,
          ClientHost.layer({ ip: "10.0.0.1", pid: 4242 })
        )
      )
    )
