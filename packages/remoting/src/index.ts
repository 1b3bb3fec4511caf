/**
 * @since 0.2.0
 */

/**
 * The numbers of the RemotingCommand protocol: request and response codes, language codes and the
 * `MQVersion` ordinals that go in a command's `version`.
 *
 * @since 0.2.0
 */
export * as RemotingCode from "./RemotingCode.js"

/**
 * RemotingCommands to bytes and back: frame payloads with a JSON or ROCKETMQ binary header.
 *
 * @since 0.2.0
 */
export * as RemotingCodec from "./RemotingCodec.js"

/**
 * The RemotingCommand model: requests and responses, their constructors and flags.
 *
 * @since 0.2.0
 */
export * as RemotingCommand from "./RemotingCommand.js"

/**
 * The remoting layer's typed errors.
 *
 * @since 0.2.0
 */
export * as RemotingError from "./RemotingError.js"

/**
 * Reading JSON bodies, fastjson's unquoted map keys included.
 *
 * @since 0.2.0
 */
export * as RemotingJson from "./RemotingJson.js"

/**
 * The schemas and decoders of the routing bodies: topic routes and cluster info.
 *
 * @since 0.2.0
 */
export * as RouteData from "./RouteData.js"

/**
 * One RemotingCommand connection: requests matched to responses by opaque, server requests answered by
 * handlers.
 *
 * @since 0.2.0
 */
export * as RemotingClient from "./RemotingClient.js"

/**
 * Connections to many servers by address, made on first use and closed when idle.
 *
 * @since 0.2.0
 */
export * as RemotingPool from "./RemotingPool.js"
