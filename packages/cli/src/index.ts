/**
 * @since 0.1.0
 */
export * as Bench from "./Bench.js"

/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"

/**
 * @since 0.1.0
 */
export * as ConnectionOptions from "./ConnectionOptions.js"

/**
 * @since 0.3.0
 */
export * as Consume from "./Consume.js"

/**
 * @since 0.1.0
 */
export * as Demo from "./Demo.js"

/**
 * @since 0.1.0
 */
export * as EchoServer from "./EchoServer.js"

/**
 * @since 0.1.0
 */
export * as Failure from "./Failure.js"

/**
 * @since 0.1.0
 */
export * as Ping from "./Ping.js"

/**
 * @since 0.3.0
 */
export * as Produce from "./Produce.js"

/**
 * @since 0.1.0
 */
export * as Progress from "./Progress.js"

/**
 * @since 0.1.0
 */
export * as Send from "./Send.js"

/**
 * @since 0.1.0
 */
export * as Stats from "./Stats.js"
