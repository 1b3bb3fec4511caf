import * as Socket from "@effect/platform/Socket"
import type { Connection, ConnectorService } from "@rocketmq-effect/transport/Connector"
import type { TransportService } from "@rocketmq-effect/transport/Transport"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

/**
 * Ends the connection a transport has open now, as a read failure whose cause is `cause`; the transport then
 * drops it and reconnects as its schedule says. Returns whether there was a connection to end.
 *
 * @internal
 */
export type Drop = (cause: unknown) => boolean

/**
 * A connector whose current connection can be ended from outside, and the function that ends it.
 *
 * The transport has no operation that drops its connection and reconnects (`stop` is for good), so a client
 * that must drop a connection (a frame that is not a command, a peer that went silent) makes its transport
 * over this wrapper. Each wrapped connection reads through the inner one until `drop` ends it: from then on
 * its chunks are ignored and the transport sees the read fail once, with the given cause. Whichever read path
 * the transport uses (`read`, or `socket.run`) is wrapped; writes are the inner connection's.
 *
 * Invariant: `current` is the last connection handed out whose scope is still open.
 *
 * @internal
 */
export const makeDroppable = (
  inner: ConnectorService
): { readonly connector: ConnectorService; readonly drop: Drop } => {
  let current: ((cause: unknown) => void) | undefined = undefined

  const connect: ConnectorService["connect"] = (config) =>
    Effect.gen(function*() {
      const connection = yield* inner.connect(config)
      // `ended`: killed, or released; `killedBy`: the cause, once killed.
      let ended = false
      let killedBy: { readonly cause: unknown } | undefined = undefined
      let endRead: ((cause: unknown) => void) | undefined = undefined
      const killed = Deferred.unsafeMake<void, Socket.SocketError>(yield* Effect.fiberId)
      const kill = (cause: unknown) => {
        if (ended) return
        ended = true
        killedBy = { cause }
        Deferred.unsafeDone(killed, Exit.fail(new Socket.SocketGenericError({ reason: "Read", cause })))
        if (endRead !== undefined) endRead(cause)
      }
      current = kill
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          ended = true
          if (current === kill) current = undefined
        })
      )

      const innerRead = connection.read
      const read: Connection["read"] = innerRead === undefined
        ? undefined
        : (onChunk, onEnd) => {
          let done = false
          const end = (error: unknown) => {
            if (done) return
            done = true
            onEnd(error)
          }
          endRead = end
          innerRead((chunk) => {
            if (!done) onChunk(chunk)
          }, end)
          if (killedBy !== undefined) end(killedBy.cause)
        }

      const socket: Socket.Socket = Socket.Socket.of({
        [Socket.TypeId]: Socket.TypeId,
        run: (handler, options) =>
          Effect.raceFirst(
            connection.socket.run((chunk) => ended ? undefined : handler(chunk), options),
            Deferred.await(killed)
          ),
        runRaw: (handler, options) =>
          Effect.raceFirst(
            connection.socket.runRaw((chunk) => ended ? undefined : handler(chunk), options),
            Deferred.await(killed)
          ),
        writer: connection.socket.writer
      })

      const wrapped: Connection = {
        remoteAddress: connection.remoteAddress,
        socket,
        pause: connection.pause,
        resume: connection.resume,
        ...(connection.write === undefined ? {} : { write: connection.write }),
        ...(read === undefined ? {} : { read })
      }
      return wrapped
    })

  return {
    connector: { connect },
    drop: (cause) => {
      const kill = current
      if (kill === undefined) return false
      kill(cause)
      return true
    }
  }
}

/**
 * The transports made over a droppable connector, with the function that drops their connection. A client over
 * one of them can drop its connection; over any other transport it cannot.
 *
 * @internal
 */
export const droppers = new WeakMap<TransportService, Drop>()
