import type { ConnectorService } from "@rocketmq-effect/transport/Connector"
import { Connector } from "@rocketmq-effect/transport/Connector"
import type * as Transport from "@rocketmq-effect/transport/Transport"
import type { TransportConfigInput } from "@rocketmq-effect/transport/TransportConfig"
import { formatAddress } from "@rocketmq-effect/transport/TransportConfig"
import { ConfigurationError, ConnectionClosedError } from "@rocketmq-effect/transport/TransportError"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as RemotingClient from "../RemotingClient.js"
import type { PoolError, RemotingPoolError, RemotingPoolService, TypeId } from "../RemotingPool.js"

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
  readonly typeId: TypeId
  readonly tooMany: (address: string, maxAddresses: number) => RemotingPoolError
}

/** One address: its client (once made) and who is using it. */
interface Entry {
  readonly address: string
  /** Holds the address's transport and client; closing it closes both. */
  readonly scope: Scope.CloseableScope
  readonly client: Deferred.Deferred<RemotingClient.RemotingClientService, ConfigurationError | ConnectionClosedError>
  ready: boolean
  /** Calls using the client now. */
  active: number
  /** When the last call using it ended (or when it was made). */
  lastUsed: number
}

/**
 * `host:port` (an IPv6 host in brackets, or not), as host and port; undefined when it is not one.
 *
 * @internal
 */
export const parseAddress = (address: string): { readonly host: string; readonly port: number } | undefined => {
  const colon = address.lastIndexOf(":")
  if (colon <= 0) return undefined
  const portText = address.slice(colon + 1)
  if (!/^\d{1,5}$/.test(portText)) return undefined
  let host = address.slice(0, colon)
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1)
  if (host.length === 0 || /[\s[\]]/.test(host)) return undefined
  return { host, port: Number(portText) }
}

/**
 * Clients by address.
 *
 * Invariants:
 * - `entries` holds at most one entry per address (keyed by the address as `formatAddress` spells it), so at
 *   most one transport, and one connect in flight, per address. An entry goes in, with its client still being
 *   made, in the same synchronous step as the lookup that missed: concurrent first callers find it and wait on
 *   the same `client`.
 * - An entry leaves `entries` before its scope is closed, and only when no call uses it (`active === 0`): by
 *   the idle sweep, by eviction, or because making its client failed. A caller increments `active` in the same
 *   step as its lookup, so a closed client never serves a call; a later call makes a new one.
 * - `entries.size <= maxAddresses`.
 *
 * @internal
 */
export const make = (settings: Settings): Effect.Effect<RemotingPoolService, never, Connector | Scope.Scope> =>
  Effect.gen(function*() {
    const connector: ConnectorService = yield* Connector
    const poolScope = yield* Effect.scope
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const entries = new Map<string, Entry>()
    let closed = false
    const fibers = yield* FiberSet.make<void, never>()
    const runFork = yield* FiberSet.runtime(fibers)<never>()

    const closeEntry = (entry: Entry, why: string): Effect.Effect<void> =>
      Effect.logDebug(`closing the connection to ${entry.address}: ${why}`).pipe(
        Effect.annotateLogs({ module: "RemotingPool", address: entry.address }),
        Effect.zipRight(Scope.close(entry.scope, Exit.void))
      )

    const build = (entry: Entry, host: string, port: number): Effect.Effect<void> =>
      Effect.gen(function*() {
        const address = entry.address
        const transport = yield* RemotingClient.makeTransport(
          settings.transport(address, host, port),
          settings.transportOptions(address)
        ).pipe(Effect.provideService(Connector, connector), Scope.extend(entry.scope))
        const client = yield* RemotingClient.make({ ...settings.client(address), transport }).pipe(
          Scope.extend(entry.scope)
        )
        entry.ready = true
        yield* Deferred.succeed(entry.client, client)
      }).pipe(
        Effect.onExit((exit) => {
          if (Exit.isSuccess(exit)) return Effect.void
          if (entries.get(entry.address) === entry) entries.delete(entry.address)
          const error: ConfigurationError | ConnectionClosedError = Option.getOrElse(
            Cause.failureOption(exit.cause),
            () => new ConnectionClosedError({ address: entry.address, operation: "invoke" })
          )
          return Effect.zipRight(Deferred.fail(entry.client, error), Scope.close(entry.scope, exit))
        }),
        Effect.ignore
      )

    /** The least recently used address no call is using, if any. */
    const leastRecentlyUsedIdle = (): Entry | undefined => {
      let found: Entry | undefined = undefined
      for (const entry of entries.values()) {
        if (!entry.ready || entry.active > 0) continue
        if (found === undefined || entry.lastUsed < found.lastUsed) found = entry
      }
      return found
    }

    /** The entry of an address, made (and its client started) if there is none. */
    const lookup = (given: string): Either.Either<Entry, PoolError> => {
      const known = entries.get(given)
      if (known !== undefined) return Either.right(known)
      const parsed = parseAddress(given)
      if (parsed === undefined) {
        return Either.left(new ConfigurationError({ field: "address", rule: "must be host:port", value: given }))
      }
      const address = formatAddress(parsed.host, parsed.port)
      const existing = entries.get(address)
      if (existing !== undefined) return Either.right(existing)
      if (entries.size >= settings.maxAddresses) {
        const evicted = leastRecentlyUsedIdle()
        if (evicted === undefined) return Either.left(settings.tooMany(address, settings.maxAddresses))
        entries.delete(evicted.address)
        runFork(closeEntry(evicted, `the pool is at its maxAddresses (${settings.maxAddresses})`))
      }
      const entry: Entry = {
        address,
        scope: Effect.runSync(Scope.fork(poolScope, ExecutionStrategy.sequential)),
        client: Deferred.unsafeMake(FiberId.none),
        ready: false,
        active: 0,
        lastUsed: now()
      }
      entries.set(address, entry)
      runFork(build(entry, parsed.host, parsed.port))
      return Either.right(entry)
    }

    const use = <A, E, R>(
      address: string,
      f: (client: RemotingClient.RemotingClientService) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | PoolError, R> =>
      Effect.suspend((): Effect.Effect<A, E | PoolError, R> => {
        if (closed) return Effect.fail(new ConnectionClosedError({ address, operation: "invoke" }))
        const entry = lookup(address)
        if (Either.isLeft(entry)) return Effect.fail(entry.left)
        const held = entry.right
        held.active++
        return Deferred.await(held.client).pipe(
          Effect.flatMap(f),
          Effect.ensuring(Effect.sync(() => {
            held.active--
            held.lastUsed = now()
          }))
        )
      })

    // Closes each address idle for `closeIdleAfter`, at that moment: it sleeps until the earliest such moment.
    // An address that becomes idle later expires later than the planned wake-up, so nothing needs to wake it.
    const idleMillis = Duration.toMillis(settings.closeIdleAfter)
    const sweep = Effect.gen(function*() {
      while (true) {
        const at = now()
        let next = at + idleMillis
        for (const entry of Array.from(entries.values())) {
          if (!entry.ready || entry.active > 0) continue
          const expires = entry.lastUsed + idleMillis
          if (expires > at) {
            next = Math.min(next, expires)
            continue
          }
          entries.delete(entry.address)
          yield* closeEntry(entry, `idle for ${Duration.format(settings.closeIdleAfter)}`)
        }
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
      [settings.typeId]: settings.typeId,
      use,
      invoke: (address, request, options) => use(address, (client) => client.invoke(request, options)),
      invokeSuccess: (address, request, options) => use(address, (client) => client.invokeSuccess(request, options)),
      invokeOneway: (address, request, options) => use(address, (client) => client.invokeOneway(request, options)),
      addresses: Effect.sync(() => Array.from(entries.keys()))
    }
  })
