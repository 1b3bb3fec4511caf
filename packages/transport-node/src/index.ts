/**
 * @since 0.1.0
 */
export * as NodeConnector from "./NodeConnector.js"

/**
 * @since 0.1.0
 */
export * as NodeTransport from "./NodeTransport.js"

/**
 * @since 0.1.0
 */
export * as TransportServer from "./TransportServer.js"

/**
 * @since 0.2.0
 */
export * as TlsConfig from "./TlsConfig.js"
