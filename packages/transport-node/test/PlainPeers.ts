/**
 * Plain `node:net` peers for the tests: a raw TCP server for the connector and a framed client (the core's
 * `encode` and decoder, nothing else) for the server, so neither side under test is checked against itself.
 */
import * as Framing from "@rocketmq-effect/transport/Framing"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberId from "effect/FiberId"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"

/** How a socket ended, as its peer saw it. */
export interface Closed {
  readonly hadError: boolean
  readonly error: Error | undefined
}

/** Records how `socket` closes. */
export const trackClose = (socket: Net.Socket): Effect.Effect<Deferred.Deferred<Closed>> =>
  Effect.sync(() => {
    const closed = Deferred.unsafeMake<Closed>(FiberId.none)
    let error: Error | undefined
    socket.on("error", (cause) => {
      error = cause
    })
    socket.once("close", (hadError) => Deferred.unsafeDone(closed, Effect.succeed({ hadError, error })))
    // Already closed before anyone asked: the 'close' event has been and gone.
    if (socket.closed) Deferred.unsafeDone(closed, Effect.succeed({ hadError: socket.errored !== null, error }))
    return closed
  })

export interface PlainServer {
  readonly port: number
  /** Accepted sockets, in order. */
  readonly accepted: Queue.Queue<Net.Socket>
  readonly server: Net.Server
}

/** A raw TCP server on 127.0.0.1, port 0; `onConnection` sees each accepted socket. */
export const listenPlain = (onConnection: (socket: Net.Socket) => void = () => {}) =>
  Effect.gen(function*() {
    const accepted = yield* Queue.unbounded<Net.Socket>()
    const sockets = new Set<Net.Socket>()
    const server = yield* Effect.acquireRelease(
      Effect.async<Net.Server>((resume) => {
        const server = Net.createServer((socket) => {
          socket.on("error", () => {})
          sockets.add(socket)
          socket.once("close", () => sockets.delete(socket))
          Queue.unsafeOffer(accepted, socket)
          onConnection(socket)
        })
        server.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.async<void>((resume) => {
          for (const socket of sockets) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    const port = (server.address() as Net.AddressInfo).port
    return { port, accepted, server } satisfies PlainServer
  })

/** A port that was free a moment ago and has nothing listening on it. */
export const unusedPort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen({ host: "127.0.0.1", port: 0 }, () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Connects a raw socket; fails with Node's error (ECONNREFUSED, …). */
export const connectPlain = (port: number): Effect.Effect<Net.Socket, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Net.Socket, Error>((resume) => {
      const socket = Net.createConnection({ host: "127.0.0.1", port })
      socket.once("error", (cause) => resume(Effect.fail(cause)))
      socket.once("connect", () => resume(Effect.succeed(socket)))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

export interface FramedClient {
  readonly socket: Net.Socket
  /** Frames one payload with the core's `encode` and writes it. */
  readonly send: (payload: Uint8Array) => void
  /** The next inbound payload. */
  readonly next: Effect.Effect<Uint8Array>
  /** Completes when the socket closes. */
  readonly closed: Effect.Effect<Closed>
  /** Resolves once everything written so far has been handed to the kernel. */
  readonly flushed: Effect.Effect<void>
}

/** A plain framed client: core `encode` out, core decoder in. */
export const connectFramed = (
  port: number,
  options: Framing.FramingOptions = { maxMessageSize: 16 * 1024 * 1024 }
): Effect.Effect<FramedClient, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const socket = yield* connectPlain(port)
    const closed = yield* trackClose(socket)
    const frames = yield* Queue.unbounded<Uint8Array>()
    const decoder = Framing.makeDecoder(options)
    socket.on("data", (chunk: Uint8Array) => {
      decoder.push(chunk)
      for (let frame = decoder.nextFrame(); frame !== undefined; frame = decoder.nextFrame()) {
        if (!(frame instanceof Uint8Array)) {
          socket.destroy(frame)
          return
        }
        Queue.unsafeOffer(frames, frame)
      }
    })
    return {
      socket,
      send: (payload) => {
        const frame = Framing.encode(payload, options)
        if (Either.isLeft(frame)) throw frame.left
        socket.write(frame.right)
      },
      next: Queue.take(frames),
      closed: Deferred.await(closed),
      flushed: Effect.async<void>((resume) => {
        socket.write(new Uint8Array(0), () => resume(Effect.void))
      })
    }
  })
