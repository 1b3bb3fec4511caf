// The consumer programs' shared body. `app.mjs` hands it the packages as `import` loads them (the ES module
// builds), `app.cjs` as `require` loads them (the CommonJS builds): an echo server, one connection through the
// Effect API, one through the Promise API, one remoting call to a mock broker, one producer send through a mock NameServer and broker, and a frame encoded. Resolves with what the program prints.
"use strict"

const texts = ["one", "two", "three"]
const encoder = new TextEncoder()
const decoder = new TextDecoder()

module.exports = (
  {
    Effect,
    Framing,
    NodeClient,
    NodeConnector,
    NodeTransport,
    RemotingClient,
    RemotingCode,
    RemotingCodec,
    RemotingCommand,
    Producer,
    Stream,
    Transport,
    TransportConfig,
    TransportServer
  },
  format
) => {
  const program = Effect.gen(function*() {
    const server = yield* TransportServer.make({ host: "127.0.0.1", port: 0 })
    yield* server.serve(TransportServer.echo)
    const port = server.address.port

    const viaEffect = yield* Effect.gen(function*() {
      const transport = yield* Transport.Transport
      yield* transport.awaitConnected
      const replies = []
      for (const text of texts) {
        yield* transport.send(encoder.encode(text))
        replies.push(decoder.decode(yield* transport.recvPkg({ timeout: "5 seconds" })))
      }
      return replies
    }).pipe(Effect.provide(NodeTransport.layer({ host: "127.0.0.1", port, maxRetries: 3 })))

    const viaPromise = yield* Effect.promise(async () => {
      const config = await Effect.runPromise(TransportConfig.make({ host: "127.0.0.1", port, maxRetries: 3 }))
      const client = await NodeTransport.makeClient(config)
      try {
        await client.awaitConnected()
        const replies = []
        for (const text of texts) {
          await client.send(encoder.encode(text))
          replies.push(decoder.decode(await client.recvPkg({ timeout: "5 seconds" })))
        }
        return replies
      } finally {
        await client.stop()
      }
    })

    // A mock broker that answers every request SUCCESS with the request's body, and one remoting call to it.
    const broker = yield* TransportServer.make({ host: "127.0.0.1", port: 0 })
    yield* broker.serve((connection) =>
      Stream.runForEach(connection.frames, (payload) =>
        Effect.flatMap(RemotingCodec.decode(payload), (request) => {
          const answer = RemotingCommand.response(request, RemotingCode.ResponseCode.SUCCESS, { body: request.body })
          return Effect.flatMap(RemotingCodec.encode(answer, "JSON"), connection.send)
        }))
    )
    const remoting = yield* Effect.gen(function*() {
      const client = yield* RemotingClient.RemotingClient
      const request = RemotingCommand.request(RemotingCode.RequestCode.GET_BROKER_CLUSTER_INFO, {
        body: encoder.encode("remoting")
      })
      const answer = yield* client.invoke(request, { timeout: "5 seconds" })
      return { code: answer.code, body: decoder.decode(answer.body) }
    }).pipe(
      Effect.provide(RemotingClient.layerTransport({ host: "127.0.0.1", port: broker.address.port, maxRetries: 3 })),
      Effect.provide(NodeConnector.layer)
    )

    // A NameServer and a broker in one mock: a route naming the mock as broker `broker-a` with one queue, and
    // SEND_MESSAGE_V2 stored at offset 7. One producer send through it, from the installed client.
    const cluster = yield* TransportServer.make({ host: "127.0.0.1", port: 0 })
    const clusterAddress = `127.0.0.1:${cluster.address.port}`
    const sent = []
    yield* cluster.serve((connection) =>
      Stream.runForEach(connection.frames, (payload) =>
        Effect.flatMap(RemotingCodec.decode(payload), (request) => {
          const { RequestCode, ResponseCode } = RemotingCode
          let answer
          if (request.code === RequestCode.GET_ROUTEINFO_BY_TOPIC) {
            const route = {
              queueDatas: [{ brokerName: "broker-a", readQueueNums: 1, writeQueueNums: 1, perm: 6, topicSysFlag: 0 }],
              brokerDatas: [{ cluster: "c", brokerName: "broker-a", brokerAddrs: { "0": clusterAddress } }]
            }
            answer = RemotingCommand.response(request, ResponseCode.SUCCESS, { body: encoder.encode(JSON.stringify(route)) })
          } else if (request.code === RequestCode.SEND_MESSAGE_V2) {
            sent.push(decoder.decode(request.body))
            answer = RemotingCommand.response(request, ResponseCode.SUCCESS, {
              extFields: { msgId: "7F00000100002A9F0000000000000000", queueId: "0", queueOffset: "7" }
            })
          } else {
            answer = RemotingCommand.response(request, ResponseCode.SUCCESS)
          }
          return Effect.flatMap(RemotingCodec.encode(answer, "JSON"), connection.send)
        }))
    )
    const client = yield* Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const result = yield* producer.send({ topic: "Installed", body: encoder.encode("client"), tags: "t" })
      return {
        status: result.status,
        queueOffset: String(result.queueOffset),
        msgIdLength: result.msgId.length,
        body: sent[0]
      }
    }).pipe(
      Effect.provide(Producer.layer({ nameServer: clusterAddress })),
      Effect.provide(NodeClient.layer),
      Effect.scoped
    )

    const framed = yield* Framing.encode(encoder.encode("frame"), { maxMessageSize: 1024 })
    return { format, effect: viaEffect, promise: viaPromise, remoting, client, framedBytes: framed.length }
  })
  return Effect.runPromise(Effect.scoped(program))
}
