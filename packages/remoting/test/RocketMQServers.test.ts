/**
 * Smoke test of `RocketMQServers`: a real RocketMQ 5.3.3 NameServer and Broker start, the NameServer lists the
 * broker in a raw GET_BROKER_CLUSTER_INFO answer, and both JVMs are gone after release.
 *
 * Needs java, javac, mvn and Maven Central (or a warm ~/.m2): skipped with the reason outside CI when absent,
 * failed with `CI=true`.
 */
import { assert, describe, it } from "@effect/vitest"
import { MiB } from "@rocketmq-effect/test-kit/Bytes"
import * as Prerequisites from "@rocketmq-effect/test-kit/Prerequisites"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as JavaRemoting from "./JavaRemoting.js"
import * as RocketMQServers from "./RocketMQServers.js"

const servers = await Effect.runPromise(RocketMQServers.availability)
const skip = Prerequisites.skipReason(servers)
if (skip !== undefined) console.warn(`RocketMQServers: skipping (CI would fail these tests): ${skip}`)

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe(Prerequisites.suiteName("RocketMQ 5.3.3 NameServer and Broker", servers), () => {
  it.live.skipIf(skip)("start, list the broker in GET_BROKER_CLUSTER_INFO, and stop", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const started = Date.now()
      const running = yield* RocketMQServers.start({ brokerName: "broker-smoke", clusterName: "SmokeCluster" }).pipe(
        Scope.extend(scope),
        Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
      )
      const startMs = Date.now() - started

      assert.match(running.nameServer, /^127\.0\.0\.1:\d+$/)
      assert.strictEqual(running.broker, `127.0.0.1:${running.brokerPort}`)
      assert.strictEqual(running.brokerPort, running.nameServerPort + 1)

      const answer = yield* RocketMQServers.brokerClusterInfo(running.nameServer)
      // A SUCCESS response (flag 1) to our opaque, in JSON; the body in RocketMQ's unquoted-integer-key JSON.
      const header = JSON.parse(answer.header) as Record<string, unknown>
      assert.deepInclude(header, { code: 0, flag: 1, opaque: 1, serializeTypeCurrentRPC: "JSON" })
      assert.include(answer.body, `"clusterAddrTable":{"SmokeCluster":["broker-smoke"]}`)
      assert.include(answer.body, `"brokerAddrs":{0:"${running.broker}"}`)
      assert.isTrue(RocketMQServers.listsBroker(answer.body, "broker-smoke"))

      // The broker answers too (any answer: it only has to be a RocketMQ server on that port).
      const fromBroker = yield* RocketMQServers.brokerClusterInfo(running.broker)
      assert.include(fromBroker.header, `"opaque":1`)

      const nsRss = RocketMQServers.rssBytes(running.nameServerPid)
      const brokerRss = RocketMQServers.rssBytes(running.brokerPid)
      const stopping = Date.now()
      yield* Scope.close(scope, Exit.void)
      const stopMs = Date.now() - stopping
      console.log(
        `RocketMQServers: NameServer booted in ${running.nameServerBootMs} ms, broker in ${running.brokerBootMs} ms, ` +
          `listed ${running.registrationMs} ms after its boot line (start ${startMs} ms in all, stop ${stopMs} ms); ` +
          `RSS NameServer ${nsRss === undefined ? "?" : Math.round(nsRss / MiB)} MiB, broker ${
            brokerRss === undefined ? "?" : Math.round(brokerRss / MiB)
          } MiB; Maven resolution this run: ${
            JavaRemoting.mavenTimings.has("rocketmq-servers")
              ? `${JavaRemoting.mavenTimings.get("rocketmq-servers")} ms`
              : "cached"
          }`
      )

      assert.isFalse(alive(running.nameServerPid), "the NameServer is still running")
      assert.isFalse(alive(running.brokerPid), "the broker is still running")
      if (process.env.ROCKETMQ_TEST_KEEP_HOME !== "true") {
        assert.isFalse(Fs.existsSync(running.home), "the temporary home is still there")
      }
    }), 300_000)
})
