// The same program as a plain CommonJS module: the packages come in through require().
"use strict"
const { Framing, Transport } = require("@rocketmq-effect/transport")
const TransportConfig = require("@rocketmq-effect/transport/TransportConfig")
const { NodeConnector, NodeTransport, TransportServer } = require("@rocketmq-effect/transport-node")
const { RemotingClient, RemotingCode, RemotingCodec, RemotingCommand } = require("@rocketmq-effect/remoting")
const { NodeClient, Producer } = require("@rocketmq-effect/client")
const { Effect, Stream } = require("effect")
const roundTrips = require("./roundTrips.cjs")

roundTrips({
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
}, "cjs")
  .then((result) => console.log(JSON.stringify(result)))
