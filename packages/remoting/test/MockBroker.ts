/**
 * Fixtures of the client's tests: a mock broker over a real `TransportServer` on 127.0.0.1 port 0 (frames
 * decoded with the codec, answered by a script), and the same peer over `TestConnector` for `TestClock` tests.
 */
import * as Live from "@rocketmq-effect/test-kit/Live"
import * as TransportServer from "@rocketmq-effect/transport-node/TransportServer"
import type * as TestConnector from "@rocketmq-effect/transport/TestConnector"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { ResponseCode } from "../src/RemotingCode.js"
import * as RemotingCodec from "../src/RemotingCodec.js"
import type { RemotingCommand, SerializeType } from "../src/RemotingCommand.js"
import { response } from "../src/RemotingCommand.js"

/** A test over real sockets in real time, in a scope, with logs below Error silenced. */
export const live = Live.make({ timeout: 20_000 })

/** A frame from a client, decoded, with the serialize type it came in. */
export interface Received {
  readonly command: RemotingCommand
  readonly serializeType: SerializeType
  readonly connection: MockConnection
}

/** One accepted connection of the mock broker. */
export interface MockConnection {
  /** 1 for the first accepted connection, 2 for the next, … */
  readonly id: number
  /** Writes a command, in `serializeType` (default JSON). */
  readonly send: (command: RemotingCommand, serializeType?: SerializeType) => Effect.Effect<void>
  /** Writes a frame with this payload, whatever it is. */
  readonly sendPayload: (payload: Uint8Array) => Effect.Effect<void>
  /** Every frame from the client on this connection, decoded, in order. */
  readonly received: Queue.Queue<Received>
  readonly closed: Effect.Effect<void>
}

/** How the broker answers one request: a response, or `undefined` for none (the test answers, or nobody). */
export type Script = (request: Received) => Effect.Effect<RemotingCommand | undefined>

/** Answers every non-oneway request SUCCESS, echoing its extFields and body. */
export const echoScript: Script = ({ command }) =>
  Effect.succeed(
    (command.flag & 2) !== 0 ? undefined : response(command, ResponseCode.SUCCESS, {
      ...(command.extFields === undefined ? {} : { extFields: command.extFields }),
      body: command.body
    })
  )

export interface MockBroker {
  readonly address: string
  readonly port: number
  readonly server: TransportServer.TransportServer
  /** Connections in the order they were accepted. */
  readonly accepted: Queue.Queue<MockConnection>
  /** How many were accepted so far. */
  readonly acceptedCount: Effect.Effect<number>
  /** Every frame from any client, decoded, in order of arrival per connection. */
  readonly received: Queue.Queue<Received>
  /** Frames that were not commands. */
  readonly undecodable: Effect.Effect<number>
}

/**
 * A mock broker on 127.0.0.1, port 0: each connection's frames are decoded, put in `received`, and answered by
 * `script` (each in its own fiber, so a slow answer does not hold up the next), in the request's serialize type
 * unless `answerIn` says otherwise.
 */
export const makeBroker = (
  script: Script = echoScript,
  options: { readonly answerIn?: SerializeType } = {}
): Effect.Effect<MockBroker, never, Scope.Scope> =>
  Effect.gen(function*() {
    const server = yield* TransportServer.make({ port: 0, maxMessageSize: 16 * 1024 * 1024 }).pipe(Effect.orDie)
    const accepted = yield* Queue.unbounded<MockConnection>()
    const received = yield* Queue.unbounded<Received>()
    let ids = 0
    let bad = 0
    yield* server.serve((connection) =>
      Effect.gen(function*() {
        const closed = yield* Deferred.make<void>()
        const own = yield* Queue.unbounded<Received>()
        const mock: MockConnection = {
          id: ++ids,
          send: (command, serializeType = "JSON") =>
            Effect.flatMap(
              Effect.orDie(RemotingCodec.encode(command, serializeType)),
              (payload) => connection.send(payload).pipe(Effect.ignore)
            ),
          sendPayload: (payload) => connection.send(payload).pipe(Effect.ignore),
          received: own,
          closed: Deferred.await(closed)
        }
        yield* Queue.offer(accepted, mock)
        yield* connection.frames.pipe(
          Stream.runForEach((payload) =>
            Effect.gen(function*() {
              const decoded = RemotingCodec.decode(payload)
              if (Either.isLeft(decoded)) {
                bad++
                return
              }
              const serializeType = Either.getOrThrow(RemotingCodec.serializeTypeOf(payload))
              const frame: Received = { command: decoded.right, serializeType, connection: mock }
              yield* Queue.offer(own, frame)
              yield* Queue.offer(received, frame)
              if ((decoded.right.flag & 1) !== 0) return
              yield* script(frame).pipe(
                Effect.flatMap((answer) =>
                  answer === undefined ? Effect.void : mock.send(answer, options.answerIn ?? serializeType)
                ),
                Effect.forkDaemon
              )
            })
          ),
          Effect.ignore
        )
        yield* Deferred.succeed(closed, undefined)
      })
    )
    return {
      address: `127.0.0.1:${server.address.port}`,
      port: server.address.port,
      server,
      accepted,
      acceptedCount: Effect.sync(() => ids),
      received,
      undecodable: Effect.sync(() => bad)
    }
  })

/** The same peer over a `TestConnector` connection: the client's next frame, decoded. */
export const takeCommand = (connection: TestConnector.PeerConnection): Effect.Effect<RemotingCommand> =>
  Effect.map(connection.takeFrame, (payload) => Either.getOrThrow(RemotingCodec.decode(payload)))

/** Writes `command` to the client over a `TestConnector` connection. */
export const pushCommand = (
  connection: TestConnector.PeerConnection,
  command: RemotingCommand,
  serializeType: SerializeType = "JSON"
): Effect.Effect<void> => connection.pushFrame(Either.getOrThrow(RemotingCodec.encode(command, serializeType)))

/** Answers every request on a `TestConnector` connection SUCCESS, echoing the body, until it closes. */
export const echoPeer = (connection: TestConnector.PeerConnection): Effect.Effect<never> =>
  Effect.forever(
    Effect.flatMap(
      takeCommand(connection),
      (command) =>
        (command.flag & 2) !== 0
          ? Effect.void
          : pushCommand(connection, response(command, ResponseCode.SUCCESS, { body: command.body }))
    )
  )
