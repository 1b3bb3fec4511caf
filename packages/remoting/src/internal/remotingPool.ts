import type { ConnectorService } from "@rocketmq-effect/transport/Connector"
import { Connector } from "@rocketmq-effect/transport/Connector"
import type * as Transport from "@rocketmq-effect/transport/Transport"
import type { TransportConfigInput } from "@rocketmq-effect/transport/TransportConfig"
import type { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import { ConnectionClosedError } from "@rocketmq-effect/transport/TransportError"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as RemotingClient from "../RemotingClient.js"
import type * as RemotingPool from "../RemotingPool.js"
import type { PoolError, RemotingPoolService } from "../RemotingPool.js"
import type { Entry } from "./poolEntries.js"
import { PoolEntries } from "./poolEntries.js"

/** @internal */
export const TypeId: RemotingPool.TypeId = Symbol.for("@rocketmq-effect/remoting/RemotingPool") as RemotingPool.TypeId

/**
 * The pool's options with defaults applied.
 *
 * @internal
 */
export interface Settings {
  readonly transport: (address: string, host: string, port: number) => Partial<TransportConfigInput>
  readonly transportOptions: (address: string) => Transport.Options | undefined
  readonly client: (address: string) => Omit<RemotingClient.Options, "transport"> | undefined
  readonly closeIdleAfter: Duration.Duration
  readonly maxAddresses: number
}

/**
 * Clients by address: the entries (`PoolEntries`), the making of an address's transport and client, the calls
 * that use them, and the sweep that closes idle addresses.
 *
 * Fibers, in the pool's scope: one making each new address's client, one closing each evicted address, and the
 * idle sweep (when `closeIdleAfter` is finite).
 *
 * @internal
 */
export const make = (settings: Settings): Effect.Effect<RemotingPoolService, never, Connector | Scope.Scope> =>
  Effect.gen(function*() {
    const connector: ConnectorService = yield* Connector
    const poolScope = yield* Effect.scope
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const entries = new PoolEntries(
      settings.maxAddresses,
      () => Effect.runSync(Scope.fork(poolScope, ExecutionStrategy.sequential))
    )
    let closed = false
    const fibers = yield* FiberSet.make<void, never>()
    const runFork = yield* FiberSet.runtime(fibers)<never>()

    const closeEntry = (entry: Entry, why: string): Effect.Effect<void> =>
      Effect.logDebug(`closing the connection to ${entry.address}: ${why}`).pipe(
        Effect.annotateLogs({ module: "RemotingPool", address: entry.address }),
        Effect.zipRight(Scope.close(entry.scope, Exit.void))
      )

    const build = (entry: Entry): Effect.Effect<void> =>
      Effect.gen(function*() {
        const address = entry.address
        const transport = yield* RemotingClient.makeTransport(
          settings.transport(address, entry.host, entry.port),
          settings.transportOptions(address)
        ).pipe(Effect.provideService(Connector, connector), Scope.extend(entry.scope))
        const client = yield* RemotingClient.make({ ...settings.client(address), transport }).pipe(
          Scope.extend(entry.scope)
        )
        entry.ready = client
        yield* Deferred.succeed(entry.client, client)
      }).pipe(
        Effect.onExit((exit) => {
          if (Exit.isSuccess(exit)) return Effect.void
          entries.failed(entry)
          const error: ConfigurationError | ConnectionClosedError = Option.getOrElse(
            Cause.failureOption(exit.cause),
            () => new ConnectionClosedError({ address: entry.address, operation: "invoke" })
          )
          return Effect.zipRight(Deferred.fail(entry.client, error), Scope.close(entry.scope, exit))
        }),
        Effect.ignore
      )

    const use = <A, E, R>(
      address: string,
      f: (client: RemotingClient.RemotingClientService) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | PoolError, R> =>
      Effect.suspend((): Effect.Effect<A, E | PoolError, R> => {
        if (closed) return Effect.fail(new ConnectionClosedError({ address, operation: "invoke" }))
        const acquired = entries.acquire(address, now())
        if (Either.isLeft(acquired)) return Effect.fail(acquired.left)
        const { created, entry, evicted } = acquired.right
        if (evicted !== undefined) {
          runFork(closeEntry(evicted, `the pool is at its maxAddresses (${settings.maxAddresses})`))
        }
        if (created) runFork(build(entry))
        const ready = entry.ready
        return (ready !== undefined ? f(ready) : Effect.flatMap(Deferred.await(entry.client), f)).pipe(
          Effect.ensuring(Effect.sync(() => entries.release(entry, now())))
        )
      })

    // Closes each address idle for `closeIdleAfter`, at that moment: it sleeps until the earliest such moment.
    // An address that becomes idle later expires later than the planned wake-up, so nothing needs to wake it.
    const idleMillis = Duration.toMillis(settings.closeIdleAfter)
    const sweep = Effect.gen(function*() {
      while (true) {
        const { idle, next } = entries.takeIdle(now(), idleMillis)
        for (const entry of idle) yield* closeEntry(entry, `idle for ${Duration.format(settings.closeIdleAfter)}`)
        yield* Effect.sleep(Duration.millis(Math.max(0, next - now())))
      }
    })
    if (Duration.isFinite(settings.closeIdleAfter)) yield* Effect.forkScoped(sweep)

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        entries.clear()
      })
    )

    return {
      [TypeId]: TypeId,
      use,
      invoke: (address, request, options) => use(address, (client) => client.invoke(request, options)),
      invokeSuccess: (address, request, options) => use(address, (client) => client.invokeSuccess(request, options)),
      invokeOneway: (address, request, options) => use(address, (client) => client.invokeOneway(request, options)),
      addresses: Effect.sync(() => entries.addresses)
    }
  })
