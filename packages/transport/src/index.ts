/**
 * @since 0.1.0
 */
export * as ConnectionState from "./ConnectionState.js"

/**
 * @since 0.1.0
 */
export * as Connector from "./Connector.js"

/**
 * @since 0.3.0
 */
export * as Deadlines from "./Deadlines.js"

/**
 * @since 0.1.0
 */
export * as Framing from "./Framing.js"

/**
 * @since 0.1.0
 */
export * as TestConnector from "./TestConnector.js"

/**
 * @since 0.1.0
 */
export * as Transport from "./Transport.js"

/**
 * @since 0.1.0
 */
export * as TransportClient from "./TransportClient.js"

/**
 * @since 0.1.0
 */
export * as TransportConfig from "./TransportConfig.js"

/**
 * @since 0.1.0
 */
export * as TransportError from "./TransportError.js"
