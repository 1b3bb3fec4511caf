// A TypeScript consumer, type-checked (not run) under strict settings with NodeNext and with Bundler
// resolution: the packages' declarations must hold up under what careful projects use. The consumer test
// also checks it as `app.cts` (NodeNext only), a CommonJS module reaching the `require` conditions.
import type { ClientError, Message } from "@rocketmq-effect/client"
import { Consumer, NodeClient, Producer } from "@rocketmq-effect/client"
import { RemotingClient, RemotingCode, RemotingCommand, RemotingError, RemotingPool } from "@rocketmq-effect/remoting"
import { ConnectionState, Framing, TestConnector, Transport, TransportError } from "@rocketmq-effect/transport"
import { NodeConnector, NodeTransport, TransportServer } from "@rocketmq-effect/transport-node"
import type * as TransportClient from "@rocketmq-effect/transport/TransportClient"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import { Duration, Effect, Layer, Schedule, Stream } from "effect"

export const program: Effect.Effect<
  string,
  TransportError.TimeoutError | TransportError.ConnectionError,
  Transport.Transport
> = Effect.gen(function*() {
  const transport = yield* Transport.Transport
  yield* transport.awaitConnected
  yield* transport.send(new TextEncoder().encode("hello"))
  const reply: Uint8Array = yield* transport.recvPkg({ timeout: "3 seconds" })
  return new TextDecoder().decode(reply)
}).pipe(
  Effect.catchTag("ConnectionClosedError", (e) => Effect.succeed(e.message)),
  Effect.catchTag("FrameTooLargeError", (e) => Effect.succeed(`${e.size} > ${e.maxSize}`))
)

export const plainLayer: Layer.Layer<
  Transport.Transport | NodeTransport.NodeTransport,
  TransportError.ConfigurationError
> = NodeTransport.layer({ host: "127.0.0.1", port: 10911, retryInterval: "1 second", maxRetries: 5 })

export const configLayer = Effect.map(
  TransportConfig.make({ host: "127.0.0.1", port: 10911 }),
  (config) => NodeTransport.layer(config, { reconnectSchedule: Schedule.spaced(Duration.seconds(1)) })
)

export const states: Stream.Stream<string, never, Transport.Transport> = Stream.unwrap(
  Effect.map(Transport.Transport, (transport) => transport.changes.pipe(Stream.map(ConnectionState.format)))
)

export const frames = Stream.make(new Uint8Array([0, 0, 0, 1, 7])).pipe(Framing.decode({ maxMessageSize: 1024 }))

export const testLayer = Effect.map(TestConnector.make, ([connector]) => connector)

export const server = TransportServer.make({ port: 0 })

export const connector = NodeConnector.layer

export const client: () => Promise<TransportClient.TransportClient> = () =>
  NodeTransport.makeClient({ host: "127.0.0.1", port: 10911 })

export const isError = (u: unknown): boolean => TransportError.isTransportError(u)

export const remotingLayer = RemotingClient.layerTransport({ host: "127.0.0.1", port: 9876 }).pipe(
  Layer.provide(NodeConnector.layer)
)

export const clusterInfo: Effect.Effect<Uint8Array, unknown, RemotingClient.RemotingClient> = Effect.gen(function*() {
  const client = yield* RemotingClient.RemotingClient
  const answer = yield* client.invoke(RemotingCommand.request(RemotingCode.RequestCode.GET_BROKER_CLUSTER_INFO))
  return answer.body
})

export const pool = RemotingPool.layer().pipe(Layer.provide(NodeConnector.layer))

export const isRemotingError = (u: unknown): boolean => u instanceof RemotingError.RemotingError

export const produce: Effect.Effect<
  Producer.SendResult,
  ClientError.ProducerError | Message.MessageError,
  Producer.Producer
> = Effect.flatMap(
  Producer.Producer,
  (producer) => producer.send({ topic: "orders", body: new TextEncoder().encode("paid"), tags: "paid", keys: ["42"] })
)

export const producerLayer: Layer.Layer<Producer.Producer, TransportError.ConfigurationError> = Producer.layer({
  nameServer: "127.0.0.1:9876"
}).pipe(Layer.provide(NodeClient.layer))

export const consume: Effect.Effect<never, ClientError.ConsumerError, Consumer.Consumer> = Effect.flatMap(
  Consumer.Consumer,
  (consumer) => consumer.run((message) => Effect.log(message.msgId, message.queueOffset), { concurrency: 4 })
)
