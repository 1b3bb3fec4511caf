/**
 * The connection's state machine, as the seed draws it:
 *
 * ```text
 * Disconnected --Connect--> Connecting --ConnectSuccess--> Connected
 *      ^                        |                              |
 *      +<------Disconnect-------+<---------Disconnect----------+
 *      |
 *      +--Close--> Closed (final; also reached from Connecting and Connected)
 * ```
 *
 * States are a tagged union that carries what a watcher wants to know: the attempt count and the last cause
 * while disconnected, the generation and remote address while connected. `transition` is a pure function of
 * (state, event); an event the diagram has no edge for is an `InvalidStateTransitionError`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { retryText } from "./internal/retryText.js"
import type { TransportError } from "./TransportError.js"
import { InvalidStateTransitionError } from "./TransportError.js"

/**
 * - `Disconnected`: no connection. `attempts` counts the consecutive failed attempts since the last
 *   connection that was up (0 after a connection drops), `cause` is why the last attempt or connection
 *   ended, `retryIn` is when the reconnect schedule makes the next attempt (none while stopped or given up),
 *   `exhausted` is true when the schedule gave up, and `generation` is the generation of the last connection
 *   that was up (0 before the first).
 * - `Connecting`: attempt number `attempt` (from 1) to `address` is under way.
 * - `Connected`: connection number `generation` (from 1, one more for every connection that comes up) to
 *   `address`.
 * - `Closed`: final; the transport takes no more work.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectionState = Data.TaggedEnum<{
  Disconnected: {
    readonly attempts: number
    readonly cause: Option.Option<TransportError>
    readonly retryIn: Option.Option<Duration.Duration>
    readonly exhausted: boolean
    readonly generation: number
  }
  Connecting: {
    readonly attempt: number
    readonly address: string
    readonly generation: number
  }
  Connected: {
    readonly generation: number
    readonly address: string
  }
  Closed: {
    readonly generation: number
  }
}>

/**
 * Constructors, `$is` and `$match` for the states.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ConnectionState = Data.taggedEnum<ConnectionState>()

/**
 * @since 0.1.0
 * @category constructors
 */
export const { Closed, Connected, Connecting, Disconnected } = ConnectionState

/**
 * The `Connected` state (what `awaitConnected` gives).
 *
 * @since 0.3.0
 * @category models
 */
export type Connected = Data.TaggedEnum.Value<ConnectionState, "Connected">

/**
 * The state before anything happened.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial: ConnectionState = Disconnected({
  attempts: 0,
  cause: Option.none(),
  retryIn: Option.none(),
  exhausted: false,
  generation: 0
})

/**
 * The seed's events: `connect`, `connect_success`, `disconnect`, `close`.
 *
 * @since 0.1.0
 * @category models
 */
export type Event = Data.TaggedEnum<{
  /** Start an attempt to `address`. */
  Connect: { readonly address: string }
  /** The attempt succeeded; `address` is the remote end actually reached. */
  ConnectSuccess: { readonly address: string }
  /**
   * The attempt failed or the connection dropped. `retryIn`: when the next attempt is due; `exhausted`: the
   * schedule will not try again.
   */
  Disconnect: {
    readonly cause: TransportError
    readonly retryIn: Option.Option<Duration.Duration>
    readonly exhausted: boolean
  }
  /** Close for good. */
  Close: {}
}>

/**
 * Constructors, `$is` and `$match` for the events.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Event = Data.taggedEnum<Event>()

const invalid = (state: ConnectionState, event: Event) =>
  Either.left(new InvalidStateTransitionError({ state: state._tag, event: event._tag }))

/**
 * Applies an event to a state: the seed's transition table as a pure function.
 *
 * @since 0.1.0
 * @category transitions
 */
export const transition = (
  state: ConnectionState,
  event: Event
): Either.Either<ConnectionState, InvalidStateTransitionError> => {
  switch (event._tag) {
    case "Connect":
      return state._tag === "Disconnected"
        ? Either.right(Connecting({
          attempt: state.attempts + 1,
          address: event.address,
          generation: state.generation
        }))
        : invalid(state, event)
    case "ConnectSuccess":
      return state._tag === "Connecting"
        ? Either.right(Connected({ generation: state.generation + 1, address: event.address }))
        : invalid(state, event)
    case "Disconnect":
      switch (state._tag) {
        case "Connecting":
          return Either.right(Disconnected({
            attempts: state.attempt,
            cause: Option.some(event.cause),
            retryIn: event.retryIn,
            exhausted: event.exhausted,
            generation: state.generation
          }))
        case "Connected":
          return Either.right(Disconnected({
            attempts: 0,
            cause: Option.some(event.cause),
            retryIn: event.retryIn,
            exhausted: event.exhausted,
            generation: state.generation
          }))
        default:
          return invalid(state, event)
      }
    case "Close":
      return state._tag === "Closed"
        ? invalid(state, event)
        : Either.right(Closed({ generation: state.generation }))
  }
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isConnected = (state: ConnectionState): state is Connected => state._tag === "Connected"

/**
 * @since 0.1.0
 * @category guards
 */
export const isClosed = (state: ConnectionState): state is ConnectionState & { readonly _tag: "Closed" } =>
  state._tag === "Closed"

/**
 * A one-line description for logs and CLIs.
 *
 * @since 0.1.0
 * @category utils
 */
export const format = (state: ConnectionState): string =>
  ConnectionState.$match(state, {
    Disconnected: (s) =>
      `disconnected${s.attempts > 0 ? ` after ${s.attempts} failed attempt${s.attempts === 1 ? "" : "s"}` : ""}${
        Option.match(s.cause, { onNone: () => "", onSome: (cause) => ` (${cause.message})` })
      }${s.exhausted ? ", retries exhausted" : ""}${
        Option.match(s.retryIn, {
          onNone: () => "",
          onSome: (delay) => `, ${retryText(delay)}`
        })
      }`,
    Connecting: (s) => `connecting to ${s.address} (attempt ${s.attempt})`,
    Connected: (s) => `connected to ${s.address} (generation ${s.generation})`,
    Closed: () => "closed"
  })
