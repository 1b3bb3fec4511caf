import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import type { RemotingJsonError } from "../src/RemotingError.js"
import * as RouteData from "../src/RouteData.js"

// Java 5.3.3 `TopicRouteData.encode()` (fastjson defaults: bare broker ids), and the standard form a NameServer
// sends to clients of version >= V4_9_4 (`BrowserCompatible`, `QuoteFieldNames`, `MapSortField`).
const routeFastjson =
  `{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"},"brokerName":"broker-a",` +
  `"cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":` +
  `"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
const routeStandard =
  `{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911","1":"127.0.0.1:10921"},"brokerName":"broker-a",` +
  `"cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":` +
  `"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
const clusterInfo = `{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"broker-a",` +
  `"cluster":"DefaultCluster","enableActingMaster":false}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}`

const brokerA: RouteData.BrokerData = {
  cluster: "DefaultCluster",
  brokerName: "broker-a",
  brokerAddrs: new Map([[0, "127.0.0.1:10911"], [1, "127.0.0.1:10921"]]),
  enableActingMaster: false
}

const schemaError = <A>(result: Either.Either<A, RemotingJsonError>): RemotingJsonError => {
  if (Either.isRight(result)) assert.fail("expected a RemotingJsonError")
  return result.left
}

describe("RouteData", () => {
  describe("decodeTopicRouteData", () => {
    it("reads the fastjson form and the standard form alike", () => {
      const expected: RouteData.TopicRouteData = {
        queueDatas: [{ brokerName: "broker-a", readQueueNums: 4, writeQueueNums: 4, perm: 6, topicSysFlag: 0 }],
        brokerDatas: [brokerA],
        filterServerTable: new Map()
      }
      assert.deepStrictEqual(Either.getOrThrow(RouteData.decodeTopicRouteData(routeFastjson)), expected)
      assert.deepStrictEqual(Either.getOrThrow(RouteData.decodeTopicRouteData(routeStandard)), expected)
      assert.deepStrictEqual(
        Either.getOrThrow(RouteData.decodeTopicRouteData(new TextEncoder().encode(routeFastjson))),
        expected
      )
    })

    it("finds the master", () => {
      const route = Either.getOrThrow(RouteData.decodeTopicRouteData(routeFastjson))
      assert.strictEqual(RouteData.masterAddress(route.brokerDatas[0]!), "127.0.0.1:10911")
      const slaveOnly = { ...brokerA, brokerAddrs: new Map([[1, "x"]]) }
      assert.isUndefined(RouteData.masterAddress(slaveOnly))
    })

    it("is lenient as Java is: unknown keys ignored, missing or null ones defaulted", () => {
      const route = Either.getOrThrow(RouteData.decodeTopicRouteData(
        `{"orderTopicConf":"broker-a:4","future":{"x":[1]},"queueDatas":[{"brokerName":"b","readQueueNums":1,` +
          `"writeQueueNums":2,"perm":4,"extra":true}],"brokerDatas":[{"cluster":"c","brokerName":"b",` +
          `"brokerAddrs":{},"zoneName":null,"enableActingMaster":null}],"filterServerTable":null,` +
          `"topicQueueMappingByBroker":{"b":{"bname":"b"}}}`
      ))
      assert.deepStrictEqual(route, {
        orderTopicConf: "broker-a:4",
        queueDatas: [{ brokerName: "b", readQueueNums: 1, writeQueueNums: 2, perm: 4, topicSysFlag: 0 }],
        brokerDatas: [{ cluster: "c", brokerName: "b", brokerAddrs: new Map(), enableActingMaster: false }],
        filterServerTable: new Map(),
        topicQueueMappingByBroker: { b: { bname: "b" } }
      })
      assert.deepStrictEqual(Either.getOrThrow(RouteData.decodeTopicRouteData(`{}`)), {
        queueDatas: [],
        brokerDatas: [],
        filterServerTable: new Map()
      })
    })

    it("keeps a zone name and filter servers", () => {
      const route = Either.getOrThrow(RouteData.decodeTopicRouteData(
        `{"brokerDatas":[{"cluster":"c","brokerName":"b","brokerAddrs":{3:"h:1"},"zoneName":"z"}],` +
          `"filterServerTable":{"h:1":["f:1","f:2"]}}`
      ))
      assert.strictEqual(route.brokerDatas[0]!.zoneName, "z")
      assert.deepStrictEqual(Array.from(route.brokerDatas[0]!.brokerAddrs), [[3, "h:1"]])
      assert.deepStrictEqual(Array.from(route.filterServerTable), [["h:1", ["f:1", "f:2"]]])
    })

    it("refuses a body of the wrong shape, naming what is wrong", () => {
      const missing = schemaError(RouteData.decodeTopicRouteData(`{"queueDatas":[{"brokerName":"b"}]}`))
      assert.strictEqual(missing.reason, "Schema")
      assert.strictEqual(missing.what, "TopicRouteData")
      assert.include(missing.message, "TopicRouteData does not have the expected shape")
      assert.include(missing.message, "readQueueNums")
      const badId = schemaError(
        RouteData.decodeTopicRouteData(`{"brokerDatas":[{"cluster":"c","brokerName":"b","brokerAddrs":{x:"h"}}]}`)
      )
      assert.strictEqual(badId.reason, "Schema")
      assert.include(badId.message, "BrokerId")
      const notObject = schemaError(RouteData.decodeTopicRouteData(`[]`))
      assert.strictEqual(notObject.reason, "Schema")
    })

    it("refuses malformed text with the position", () => {
      const error = schemaError(RouteData.decodeTopicRouteData(`{"queueDatas":[}`))
      assert.strictEqual(error.reason, "Malformed")
      assert.strictEqual(error.position, 15)
      assert.include(error.message, "TopicRouteData does not parse at position 15")
    })
  })

  describe("decodeClusterInfo", () => {
    it("reads the cluster info a NameServer sends", () => {
      const info = Either.getOrThrow(RouteData.decodeClusterInfo(clusterInfo))
      assert.deepStrictEqual(info, {
        brokerAddrTable: new Map([["broker-a", { ...brokerA, brokerAddrs: new Map([[0, "127.0.0.1:10911"]]) }]]),
        clusterAddrTable: new Map([["DefaultCluster", ["broker-a"]]])
      })
    })

    it("reads an empty NameServer's answer", () => {
      assert.deepStrictEqual(
        Either.getOrThrow(RouteData.decodeClusterInfo(`{"brokerAddrTable":{},"clusterAddrTable":{}}`)),
        {
          brokerAddrTable: new Map(),
          clusterAddrTable: new Map()
        }
      )
    })

    it("keeps broker names that are object keys JavaScript treats specially", () => {
      const info = Either.getOrThrow(RouteData.decodeClusterInfo(
        `{"brokerAddrTable":{"__proto__":{"cluster":"c","brokerName":"__proto__","brokerAddrs":{0:"h:1"}}},` +
          `"clusterAddrTable":{"c":["__proto__"]}}`
      ))
      assert.strictEqual(info.brokerAddrTable.get("__proto__")?.brokerName, "__proto__")
    })
  })
})
