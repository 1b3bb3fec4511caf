import { assert, describe, it } from "@effect/vitest"
import * as RemotingCode from "../src/RemotingCode.js"

describe("RemotingCode", () => {
  it("has RocketMQ's request, server request and response codes", () => {
    assert.strictEqual(RemotingCode.RequestCode.SEND_MESSAGE, 10)
    assert.strictEqual(RemotingCode.RequestCode.SEND_MESSAGE_V2, 310)
    assert.strictEqual(RemotingCode.RequestCode.GET_ROUTEINFO_BY_TOPIC, 105)
    assert.strictEqual(RemotingCode.RequestCode.GET_BROKER_CLUSTER_INFO, 106)
    assert.strictEqual(RemotingCode.RequestCode.CHECK_TRANSACTION_STATE, 39)
    assert.strictEqual(RemotingCode.RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, 40)
    assert.strictEqual(RemotingCode.RequestCode.GET_CONSUMER_RUNNING_INFO, 307)
    assert.strictEqual(RemotingCode.RequestCode.POP_MESSAGE, 200050)
    assert.strictEqual(RemotingCode.ResponseCode.SUCCESS, 0)
    assert.strictEqual(RemotingCode.ResponseCode.REQUEST_CODE_NOT_SUPPORTED, 3)
    assert.strictEqual(RemotingCode.ResponseCode.PULL_NOT_FOUND, 19)
    assert.strictEqual(RemotingCode.ResponseCode.GO_AWAY, 1500)
    assert.strictEqual(RemotingCode.RequestCode.GET_CONSUMER_LIST_BY_GROUP, 38)
    assert.strictEqual(RemotingCode.RequestCode.END_TRANSACTION, 37)
    assert.strictEqual(RemotingCode.RequestCode.CONSUMER_SEND_MSG_BACK, 36)
    assert.strictEqual(RemotingCode.RequestCode.LOCK_BATCH_MQ, 41)
    assert.strictEqual(RemotingCode.RequestCode.QUERY_ASSIGNMENT, 400)
    assert.strictEqual(RemotingCode.RequestCode.CHANGE_MESSAGE_INVISIBLETIME, 200053)
    assert.strictEqual(RemotingCode.RequestCode.BATCH_ACK_MESSAGE, 200151)
    // Every code the Java client (5.3.3) refers to, the server → client ones included.
    assert.strictEqual(Object.keys(RemotingCode.RequestCode).length, 119)
    assert.strictEqual(Object.keys(RemotingCode.ResponseCode).length, 12)
  })

  it("names codes", () => {
    assert.strictEqual(RemotingCode.requestCodeName(105), "GET_ROUTEINFO_BY_TOPIC")
    assert.strictEqual(RemotingCode.requestCodeName(38), "GET_CONSUMER_LIST_BY_GROUP")
    assert.strictEqual(RemotingCode.requestCodeName(3001), "AUTH_CREATE_USER")
    assert.strictEqual(RemotingCode.responseCodeName(17), "TOPIC_NOT_EXIST")
    assert.isUndefined(RemotingCode.requestCodeName(99999))
    // One name per code: no two entries share a value.
    const values = Object.values(RemotingCode.RequestCode)
    assert.strictEqual(new Set(values).size, values.length)
  })

  it("maps language codes and names both ways", () => {
    const names = [
      "JAVA",
      "CPP",
      "DOTNET",
      "PYTHON",
      "DELPHI",
      "ERLANG",
      "RUBY",
      "OTHER",
      "HTTP",
      "GO",
      "PHP",
      "OMS",
      "RUST",
      "NODE_JS"
    ] as const
    names.forEach((name, code) => {
      assert.strictEqual(RemotingCode.LanguageCode[name], code)
      assert.strictEqual(RemotingCode.languageName(code), name)
      assert.strictEqual(RemotingCode.languageFromName(name), code)
    })
    assert.strictEqual(RemotingCode.languageFromName("node_js"), 13)
    assert.isUndefined(RemotingCode.languageFromName("KOTLIN"))
    assert.isUndefined(RemotingCode.languageFromName("toString"))
    for (const code of [-1, 14, 1.5, Number.NaN, 255]) assert.isUndefined(RemotingCode.languageName(code))
  })

  it("has the MQVersion ordinals and the defaults", () => {
    assert.strictEqual(RemotingCode.MQVersion.V3_4_9, 121)
    assert.strictEqual(RemotingCode.MQVersion.V4_5_2, 317)
    assert.strictEqual(RemotingCode.MQVersion.V4_9_4, 401)
    assert.strictEqual(RemotingCode.MQVersion.V5_0_0, 413)
    assert.strictEqual(RemotingCode.MQVersion.V5_3_1, 475)
    assert.strictEqual(RemotingCode.MQVersion.V5_3_3, 479)
    assert.strictEqual(RemotingCode.defaultVersion, 479)
    assert.strictEqual(RemotingCode.defaultLanguage, RemotingCode.LanguageCode.OTHER)
  })
})
