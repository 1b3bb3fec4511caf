/**
 * The client on Node: `layer` provides what `Producer.layer` and `Consumer.layer` need (TCP connections
 * through `NodeConnector`, zlib through `NodeCompression`, the host's address and process id), and
 * `makeProducer` / `makeConsumer` are the Promise API for code that does not use Effect.
 *
 * The only module of the package that imports Node's own modules (with `NodeCompression`); the rest runs
 * wherever Effect does, given those services.
 *
 * @example
 * ```ts
 * import { NodeClient } from "@rocketmq-effect/client"
 *
 * export const main = async () => {
 *   const producer = await NodeClient.makeProducer({ nameServer: "127.0.0.1:9876" })
 *   const consumer = await NodeClient.makeConsumer({
 *     nameServer: "127.0.0.1:9876",
 *     group: "billing",
 *     subscriptions: { orders: "*" }
 *   })
 *   consumer.run(async (message) => console.log(message.msgId, new TextDecoder().decode(message.body)))
 *   await producer.send({ topic: "orders", body: new TextEncoder().encode("order 42 paid"), tags: "paid" })
 *   await producer.close()
 *   await consumer.close()
 * }
 * ```
 *
 * @since 0.3.0
 */
import { NodeConnector } from "@rocketmq-effect/transport-node"
import type { Connector } from "@rocketmq-effect/transport/Connector"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import * as Os from "node:os"
import * as ClientHost from "./ClientHost.js"
import type { Compression } from "./Compression.js"
import type * as Consumer from "./Consumer.js"
import * as ConsumerModule from "./Consumer.js"
import type * as Message from "./Message.js"
import type * as MessageQueue from "./MessageQueue.js"
import * as NodeCompression from "./NodeCompression.js"
import type * as Producer from "./Producer.js"
import * as ProducerModule from "./Producer.js"
import type * as StoredMessage from "./StoredMessage.js"

/**
 * This machine's address as Java's `RemotingUtil.getLocalAddress` prefers it: the first IPv4 address that is
 * not loopback, else the first IPv6 one, else 127.0.0.1.
 *
 * @since 0.3.0
 * @category constructors
 */
export const localAddress = (): string => {
  const all = Object.values(Os.networkInterfaces()).flatMap((list) => list ?? []).filter((info) => !info.internal)
  return all.find((info) => info.family === "IPv4")?.address ?? all.find((info) => info.family === "IPv6")?.address ??
    "127.0.0.1"
}

/**
 * This process as a `ClientHost`: `localAddress()` and `process.pid`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerHost: Layer.Layer<ClientHost.ClientHost> = Layer.sync(
  ClientHost.ClientHost,
  () => ClientHost.make({ ip: localAddress(), pid: process.pid })
)

/**
 * Everything a producer or consumer needs on Node: `NodeConnector.layer`, `NodeCompression.layer`, `layerHost`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<Connector | Compression | ClientHost.ClientHost> = Layer.mergeAll(
  NodeConnector.layer,
  NodeCompression.layer,
  layerHost
)

// ---- the Promise API ------------------------------------------------------------------------------------

/**
 * Options of the Promise clients' runtime.
 *
 * @since 0.3.0
 * @category models
 */
export interface RuntimeOptions {
  /** The least severe log level printed (to standard error). Default `Info`. */
  readonly logLevel?: LogLevel.Literal | undefined
}

/**
 * A producer for code without Effect. Its methods reject with the same tagged errors as `Producer`
 * (`ProducerError`, `MessageError`): match on `_tag` and `reason`.
 *
 * @since 0.3.0
 * @category models
 */
export interface ProducerClient extends AsyncDisposable {
  readonly clientId: string
  readonly send: (message: Message.Message, options?: Producer.SendOptions) => Promise<Producer.SendResult>
  readonly sendOneway: (message: Message.Message, options?: Producer.SendOptions) => Promise<void>
  readonly sendBatch: (
    messages: ReadonlyArray<Message.Message>,
    options?: Producer.SendOptions
  ) => Promise<Producer.SendResult>
  readonly sendOrdered: (
    message: Message.Message,
    shardingKey: string,
    options?: Producer.SendOptions
  ) => Promise<Producer.SendResult>
  readonly publishQueues: (topic: string) => Promise<ReadonlyArray<MessageQueue.MessageQueue>>
  /** Lets running sends finish, unregisters, closes the connections. */
  readonly close: () => Promise<void>
}

/**
 * A consumer for code without Effect.
 *
 * @since 0.3.0
 * @category models
 */
export interface ConsumerClient extends AsyncDisposable {
  readonly clientId: string
  /**
   * Calls `handler` for every message, `concurrency` at a time: a fulfilled promise acknowledges the message,
   * a rejected one sends it back to come again later. Resolves when the consumer closes; rejects if it cannot
   * consume (another `run` is going on).
   */
  readonly run: (
    handler: (message: StoredMessage.ReceivedMessage) => Promise<unknown>,
    options?: Consumer.RunOptions
  ) => Promise<void>
  /** The queues this member owns now. */
  readonly assignment: () => Promise<ReadonlyArray<MessageQueue.MessageQueue>>
  /** Stops pulling, lets handlers finish within the grace period, commits, unregisters, closes. */
  readonly close: () => Promise<void>
}

const standardError = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.stringLogger))

const makeRuntime = (options: RuntimeOptions | undefined) => {
  const level = options?.logLevel === undefined ? undefined : LogLevel.fromLiteral(options.logLevel)
  const atLevel = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const logged = Effect.provide(effect, standardError)
    return level === undefined ? logged : Logger.withMinimumLogLevel(logged, level)
  }
  const settle = <A, E>(exit: Exit.Exit<A, E>): A => {
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  }
  const scope = Effect.runSync(Scope.make())
  const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromiseExit(atLevel(effect)).then(settle)
  const acquire = async <A, E>(
    make: Effect.Effect<A, E, Scope.Scope | Connector | Compression | ClientHost.ClientHost>
  ): Promise<A> => {
    const exit = await Effect.runPromiseExit(atLevel(Scope.extend(Effect.provide(make, layer), scope)))
    if (Exit.isFailure(exit)) await Effect.runPromise(Scope.close(scope, exit))
    return settle(exit)
  }
  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= Effect.runPromise(atLevel(Scope.close(scope, Exit.void)))
    return closing
  }
  return { run, acquire, close, atLevel }
}

/**
 * Makes a producer with its own connections. Rejects with a `ConfigurationError` for bad options.
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeProducer = async (
  options: Producer.Options,
  runtime?: RuntimeOptions
): Promise<ProducerClient> => {
  const { acquire, close, run } = makeRuntime(runtime)
  const producer = await acquire(ProducerModule.make(options))
  return {
    clientId: producer.clientId,
    send: (message, sendOptions) => run(producer.send(message, sendOptions)),
    sendOneway: (message, sendOptions) => run(producer.sendOneway(message, sendOptions)),
    sendBatch: (messages, sendOptions) => run(producer.sendBatch(messages, sendOptions)),
    sendOrdered: (message, key, sendOptions) => run(producer.sendOrdered(message, key, sendOptions)),
    publishQueues: (topic) => run(producer.publishQueues(topic)),
    close,
    [Symbol.asyncDispose]: close
  }
}

/**
 * Makes a consumer with its own connections: it joins its group at once. Rejects with a
 * `ConfigurationError` for bad options.
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeConsumer = async (
  options: Consumer.Options,
  runtime?: RuntimeOptions
): Promise<ConsumerClient> => {
  const { acquire, atLevel, close: closeScope, run } = makeRuntime(runtime)
  const consumer = await acquire(ConsumerModule.make(options))
  const running = new Set<Fiber.RuntimeFiber<never, unknown>>()
  const close = async () => {
    await closeScope()
    await Promise.all([...running].map((fiber) => Effect.runPromise(Fiber.await(fiber))))
  }
  return {
    clientId: consumer.clientId,
    run: (handler, runOptions) => {
      const fiber = Effect.runFork(atLevel(consumer.run(
        (message) => Effect.tryPromise({ try: () => handler(message), catch: (error) => error }),
        runOptions
      )))
      running.add(fiber)
      return Effect.runPromise(Fiber.await(fiber)).then((exit) => {
        running.delete(fiber)
        if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) throw Cause.squash(exit.cause)
      })
    },
    assignment: () => run(consumer.assignment.get),
    close: async () => {
      for (const fiber of running) Effect.runFork(Fiber.interrupt(fiber))
      await close()
    },
    [Symbol.asyncDispose]: close
  }
}
