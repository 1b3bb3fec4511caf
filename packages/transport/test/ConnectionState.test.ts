import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ConnectionState from "../src/ConnectionState.js"
import * as TransportError from "../src/TransportError.js"

const cause = new TransportError.ConnectionError({ reason: "Connect", address: "h:1" })

const states: Record<ConnectionState.ConnectionState["_tag"], ConnectionState.ConnectionState> = {
  Disconnected: ConnectionState.Disconnected({
    attempts: 2,
    cause: Option.none(),
    retryIn: Option.none(),
    exhausted: false,
    generation: 3
  }),
  Connecting: ConnectionState.Connecting({ attempt: 3, address: "h:1", generation: 3 }),
  Connected: ConnectionState.Connected({ generation: 4, address: "10.0.0.1:1" }),
  Closed: ConnectionState.Closed({ generation: 4 })
}

const events: Record<ConnectionState.Event["_tag"], ConnectionState.Event> = {
  Connect: ConnectionState.Event.Connect({ address: "h:1" }),
  ConnectSuccess: ConnectionState.Event.ConnectSuccess({ address: "10.0.0.1:1" }),
  Disconnect: ConnectionState.Event.Disconnect({ cause, retryIn: Option.none(), exhausted: false }),
  Close: ConnectionState.Event.Close()
}

// The seed's diagram: the state each legal (state, event) pair leads to; every other pair is illegal.
const table: Record<string, Record<string, string | undefined>> = {
  Disconnected: { Connect: "Connecting", ConnectSuccess: undefined, Disconnect: undefined, Close: "Closed" },
  Connecting: { Connect: undefined, ConnectSuccess: "Connected", Disconnect: "Disconnected", Close: "Closed" },
  Connected: { Connect: undefined, ConnectSuccess: undefined, Disconnect: "Disconnected", Close: "Closed" },
  Closed: { Connect: undefined, ConnectSuccess: undefined, Disconnect: undefined, Close: undefined }
}

describe("ConnectionState", () => {
  it("covers all 16 (state, event) pairs of the seed's diagram", () => {
    let checked = 0
    for (const [stateTag, row] of Object.entries(table)) {
      for (const [eventTag, expected] of Object.entries(row)) {
        const result = ConnectionState.transition(
          states[stateTag as keyof typeof states],
          events[eventTag as keyof typeof events]
        )
        if (expected === undefined) {
          assert.isTrue(Either.isLeft(result), `${stateTag} + ${eventTag} must be illegal`)
          const error = Either.getLeft(result).pipe(Option.getOrThrow)
          assert.strictEqual(error._tag, "InvalidStateTransitionError")
          assert.strictEqual(error.state, stateTag)
          assert.strictEqual(error.event, eventTag)
          assert.include(error.message, stateTag)
          assert.include(error.message, eventTag)
        } else {
          assert.isTrue(Either.isRight(result), `${stateTag} + ${eventTag} must be legal`)
          assert.strictEqual(Either.getOrThrow(result)._tag, expected)
        }
        checked++
      }
    }
    assert.strictEqual(checked, 16)
  })

  it("carries attempts, causes and generations through a lifecycle", () => {
    const step = (s: ConnectionState.ConnectionState, e: ConnectionState.Event) =>
      Either.getOrThrow(ConnectionState.transition(s, e))
    let s = ConnectionState.initial
    assert.deepStrictEqual(
      s,
      ConnectionState.Disconnected({
        attempts: 0,
        cause: Option.none(),
        retryIn: Option.none(),
        exhausted: false,
        generation: 0
      })
    )
    s = step(s, events.Connect)
    assert.deepStrictEqual(s, ConnectionState.Connecting({ attempt: 1, address: "h:1", generation: 0 }))
    s = step(s, events.Disconnect)
    assert.deepStrictEqual(
      s,
      ConnectionState.Disconnected({
        attempts: 1,
        cause: Option.some(cause),
        retryIn: Option.none(),
        exhausted: false,
        generation: 0
      })
    )
    s = step(s, events.Connect)
    assert.strictEqual(s._tag === "Connecting" && s.attempt, 2)
    s = step(s, events.ConnectSuccess)
    assert.deepStrictEqual(s, ConnectionState.Connected({ generation: 1, address: "10.0.0.1:1" }))
    assert.isTrue(ConnectionState.isConnected(s))
    s = step(s, ConnectionState.Event.Disconnect({ cause, retryIn: Option.none(), exhausted: false }))
    // After a connection was up the attempt count starts over.
    assert.deepStrictEqual(
      s,
      ConnectionState.Disconnected({
        attempts: 0,
        cause: Option.some(cause),
        retryIn: Option.none(),
        exhausted: false,
        generation: 1
      })
    )
    s = step(step(s, events.Connect), events.ConnectSuccess)
    assert.strictEqual(s._tag === "Connected" && s.generation, 2)
    s = step(s, events.Close)
    assert.isTrue(ConnectionState.isClosed(s))
    assert.strictEqual(s.generation, 2)
  })

  it("formats states for people", () => {
    assert.strictEqual(ConnectionState.format(states.Connected), "connected to 10.0.0.1:1 (generation 4)")
    assert.strictEqual(ConnectionState.format(states.Connecting), "connecting to h:1 (attempt 3)")
    assert.strictEqual(
      ConnectionState.format(
        ConnectionState.Disconnected({
          attempts: 1,
          cause: Option.some(cause),
          retryIn: Option.none(),
          exhausted: true,
          generation: 0
        })
      ),
      "disconnected after 1 failed attempt (could not connect to h:1), retries exhausted"
    )
    assert.strictEqual(ConnectionState.format(states.Closed), "closed")
  })
})
