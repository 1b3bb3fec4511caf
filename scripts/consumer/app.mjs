// A plain Node ES module using the installed packages through `import`. Prints one line of JSON; a healthy
// run prints nothing else.
import { Framing, Transport } from "@rocketmq-effect/transport"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import { NodeConnector, NodeTransport, TransportServer } from "@rocketmq-effect/transport-node"
import { RemotingClient, RemotingCode, RemotingCodec, RemotingCommand } from "@rocketmq-effect/remoting"
import { NodeClient, Producer } from "@rocketmq-effect/client"
import { Effect, Stream } from "effect"
import roundTrips from "./roundTrips.cjs"

const result = await roundTrips({
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
}, "esm")
console.log(JSON.stringify(result))
