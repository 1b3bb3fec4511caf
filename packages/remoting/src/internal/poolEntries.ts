import { formatAddress } from "@rocketmq-effect/transport/TransportConfig"
import { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import type { ConnectionClosedError } from "@rocketmq-effect/transport/TransportError"
import * as Deferred from "effect/Deferred"
import * as Either from "effect/Either"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import type { RemotingClientService } from "../RemotingClient.js"
import { RemotingPoolError } from "../RemotingError.js"

/**
 * One address of the pool: its client (once made) and who is using it.
 *
 * @internal
 */
export interface Entry {
  readonly address: string
  readonly host: string
  readonly port: number
  /** Holds the address's transport and client; closing it closes both. */
  readonly scope: Scope.CloseableScope
  readonly client: Deferred.Deferred<RemotingClientService, ConfigurationError | ConnectionClosedError>
  /** The client, once made. */
  ready: RemotingClientService | undefined
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
 * The pool's addresses and who uses them: which to make, which to close.
 *
 * Invariants:
 * - `entries` holds at most one entry per address (keyed by the address as `formatAddress` spells it), so at
 *   most one transport, and one connect in flight, per address. An entry goes in, with its client still being
 *   made, in the same synchronous step as the lookup that missed: concurrent first callers find it and wait on
 *   the same `client`.
 * - An entry leaves `entries` before its scope is closed, and only when no call uses it (`active === 0`): taken
 *   as idle, evicted, or because making its client failed. A caller increments `active` in the same step as
 *   its lookup, so a closed client never serves a call; a later call makes a new one.
 * - `entries.size <= maxAddresses`.
 *
 * @internal
 */
export class PoolEntries {
  private readonly entries = new Map<string, Entry>()

  constructor(
    private readonly maxAddresses: number,
    /** A new entry's scope. */
    private readonly newScope: () => Scope.CloseableScope
  ) {}

  get addresses(): ReadonlyArray<string> {
    return Array.from(this.entries.keys())
  }

  /**
   * The entry of an address, and whether it is new (its client is to be made) and the entry evicted to make
   * room for it (to be closed). A caller using the entry has counted itself in `active` on return.
   */
  acquire(
    given: string,
    now: number
  ): Either.Either<
    { readonly entry: Entry; readonly created: boolean; readonly evicted: Entry | undefined },
    ConfigurationError | RemotingPoolError
  > {
    let entry = this.entries.get(given)
    let created = false
    let evicted: Entry | undefined = undefined
    if (entry === undefined) {
      const parsed = parseAddress(given)
      if (parsed === undefined) {
        return Either.left(new ConfigurationError({ field: "address", rule: "must be host:port", value: given }))
      }
      const address = formatAddress(parsed.host, parsed.port)
      entry = this.entries.get(address)
      if (entry === undefined) {
        if (this.entries.size >= this.maxAddresses) {
          evicted = this.leastRecentlyUsedIdle()
          if (evicted === undefined) {
            return Either.left(
              new RemotingPoolError({ reason: "TooManyAddresses", address, maxAddresses: this.maxAddresses })
            )
          }
          this.entries.delete(evicted.address)
        }
        entry = {
          address,
          host: parsed.host,
          port: parsed.port,
          scope: this.newScope(),
          client: Deferred.unsafeMake(FiberId.none),
          ready: undefined,
          active: 0,
          lastUsed: now
        }
        this.entries.set(address, entry)
        created = true
      }
    }
    entry.active++
    return Either.right({ entry, created, evicted })
  }

  /** A call using `entry` ended. */
  release(entry: Entry, now: number): void {
    entry.active--
    entry.lastUsed = now
  }

  /** Making the client of `entry` failed: it goes, if it is still the entry of its address. */
  failed(entry: Entry): void {
    if (this.entries.get(entry.address) === entry) this.entries.delete(entry.address)
  }

  /**
   * Takes out the entries unused since `now - idleMillis`; returns them (to be closed) and when the next one
   * expires if nothing uses it meanwhile.
   */
  takeIdle(now: number, idleMillis: number): { readonly idle: ReadonlyArray<Entry>; readonly next: number } {
    const idle: Array<Entry> = []
    let next = now + idleMillis
    for (const entry of Array.from(this.entries.values())) {
      if (entry.ready === undefined || entry.active > 0) continue
      const expires = entry.lastUsed + idleMillis
      if (expires > now) {
        next = Math.min(next, expires)
        continue
      }
      this.entries.delete(entry.address)
      idle.push(entry)
    }
    return { idle, next }
  }

  /** Forgets every entry: the pool is closing, and its scope closes theirs. */
  clear(): void {
    this.entries.clear()
  }

  /** The least recently used address no call is using, if any. */
  private leastRecentlyUsedIdle(): Entry | undefined {
    let found: Entry | undefined = undefined
    for (const entry of this.entries.values()) {
      if (entry.ready === undefined || entry.active > 0) continue
      if (found === undefined || entry.lastUsed < found.lastUsed) found = entry
    }
    return found
  }
}
