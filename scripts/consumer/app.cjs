// The same program as a plain CommonJS module: the packages come in through require().
"use strict"
const { Framing, Transport } = require("@rocketmq-effect/transport")
const TransportConfig = require("@rocketmq-effect/transport/TransportConfig")
const { NodeTransport, TransportServer } = require("@rocketmq-effect/transport-node")
const { Effect } = require("effect")
const roundTrips = require("./roundTrips.cjs")

roundTrips({ Effect, Framing, NodeTransport, Transport, TransportConfig, TransportServer }, "cjs")
  .then((result) => console.log(JSON.stringify(result)))
