/**
 * The broker requests the interop tests, the demo and the send benchmark make, built once: topic creation,
 * SEND_MESSAGE_V2 with its one-letter header fields, PULL_MESSAGE with the subscription in the request, and a
 * consumer HEART_BEAT. Free of vitest, so that scripts can import it.
 */
import { RequestCode } from "../src/RemotingCode.js"
import type { RemotingCommand } from "../src/RemotingCommand.js"
import { request } from "../src/RemotingCommand.js"

/** UPDATE_AND_CREATE_TOPIC, sent to a broker: 4 read and 4 write queues, read and write permission. */
export const createTopic = (topic: string): RemotingCommand =>
  request(RequestCode.UPDATE_AND_CREATE_TOPIC, {
    extFields: {
      topic,
      defaultTopic: "TBW102",
      readQueueNums: 4,
      writeQueueNums: 4,
      perm: 6,
      topicFilterType: "SINGLE_TAG",
      topicSysFlag: 0,
      order: false
    }
  })

/** SEND_MESSAGE_V2: the one-letter header fields of `SendMessageRequestHeaderV2`. */
export const sendMessageV2 = (options: {
  readonly producerGroup: string
  readonly topic: string
  readonly brokerName: string
  readonly queueId: number
  /** Already written as `key\u0001value\u0002…` (`StoredMessages.writeProperties`). */
  readonly properties: string
  readonly body: Uint8Array
}): RemotingCommand =>
  request(RequestCode.SEND_MESSAGE_V2, {
    extFields: {
      a: options.producerGroup, // producerGroup
      b: options.topic, // topic
      c: "TBW102", // defaultTopic
      d: 4, // defaultTopicQueueNums
      e: options.queueId, // queueId
      f: 0, // sysFlag
      g: Date.now(), // bornTimestamp
      h: 0, // flag
      i: options.properties, // properties
      j: 0, // reconsumeTimes
      k: false, // unitMode
      m: false, // batch
      n: options.brokerName // brokerName
    },
    body: options.body
  })

/** PULL_MESSAGE with the subscription in the request (sysFlag 4, no heartbeat needed); `suspendMillis` > 0 long-polls. */
export const pullMessage = (
  consumerGroup: string,
  topic: string,
  options: {
    readonly queueId?: number
    readonly queueOffset?: number
    readonly maxMsgNums?: number
    readonly suspendMillis?: number
  } = {}
): RemotingCommand =>
  request(RequestCode.PULL_MESSAGE, {
    extFields: {
      consumerGroup,
      topic,
      queueId: options.queueId ?? 0,
      queueOffset: options.queueOffset ?? 0,
      maxMsgNums: options.maxMsgNums ?? 32,
      sysFlag: (options.suspendMillis ?? 0) > 0 ? 4 | 2 : 4,
      commitOffset: 0,
      suspendTimeoutMillis: options.suspendMillis ?? 0,
      subscription: "*",
      subVersion: 0,
      expressionType: "TAG"
    }
  })

/** HEART_BEAT registering consumer `clientID` in `group`, subscribed to every tag of `topic`. */
export const heartbeat = (clientID: string, group: string, topic: string): RemotingCommand =>
  request(RequestCode.HEART_BEAT, {
    body: new TextEncoder().encode(JSON.stringify({
      clientID,
      producerDataSet: [],
      consumerDataSet: [{
        groupName: group,
        consumeType: "CONSUME_PASSIVELY",
        messageModel: "CLUSTERING",
        consumeFromWhere: "CONSUME_FROM_LAST_OFFSET",
        unitMode: false,
        subscriptionDataSet: [{
          topic,
          subString: "*",
          tagsSet: [],
          codeSet: [],
          subVersion: Date.now(),
          expressionType: "TAG",
          classFilterMode: false
        }]
      }],
      heartbeatFingerprint: 0,
      isWithoutSub: false
    }))
  })
