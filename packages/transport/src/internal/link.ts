import type { ConnectionClosedError, TransportError } from "../TransportError.js"
import { ConnectionError } from "../TransportError.js"
import type { Inbound, Source } from "./inbound.js"
import type { Outbox } from "./outbox.js"

/**
 * The connection that is up: where sends go and where inbound bytes come from.
 *
 * @internal
 */
export interface Live {
  readonly generation: number
  readonly source: Source
  readonly outbox: Outbox<ConnectionError | ConnectionClosedError>
}

/**
 * Which connection is up, for both directions, and whether the transport is closed.
 *
 * Invariants:
 * - `live` is in place before `Connected` is published, so that whoever sees it can use the connection.
 * - When a connection drops, `live` goes first, then everything pending on it fails at once (receives that
 *   waited on it, every send), all before `Disconnected` is published and before the socket is released.
 * - Once `closed`, it stays so, and every operation fails with `ConnectionClosedError`: they look at
 *   `closed` before `live`.
 *
 * @internal
 */
export class Link {
  private current: Live | undefined = undefined
  private isClosed = false

  constructor(private readonly address: string, private readonly inbound: Inbound) {}

  get live(): Live | undefined {
    return this.current
  }

  get closed(): boolean {
    return this.isClosed
  }

  up(live: Live): void {
    this.current = live
    this.inbound.open(live.source)
  }

  down(live: Live, cause: TransportError): void {
    if (this.current === live) this.current = undefined
    this.inbound.end(live.source, cause)
    live.outbox.fail(
      new ConnectionError({ reason: "Disconnected", address: this.address, generation: live.generation, cause })
    )
  }

  /** Closes for good: the live connection's sends fail with `error`, every receive with its own. */
  close(error: ConnectionClosedError): void {
    this.isClosed = true
    const live = this.current
    this.current = undefined
    if (live !== undefined) live.outbox.fail(error)
    this.inbound.close()
  }
}
