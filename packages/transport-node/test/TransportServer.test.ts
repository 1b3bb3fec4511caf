import { assert, describe, it } from "@effect/vitest"
import { KiB, MiB, pattern } from "@rocketmq-effect/test-kit/Bytes"
import { eventually } from "@rocketmq-effect/test-kit/Eventually"
import * as TransportServer from "@rocketmq-effect/transport-node/TransportServer"
import * as Framing from "@rocketmq-effect/transport/Framing"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { connectFramed, connectPlain } from "./PlainPeers.js"

const echoServer = (options: TransportServer.ServerOptions = {}) =>
  Effect.gen(function*() {
    const server = yield* TransportServer.make(options)
    yield* server.serve(TransportServer.echo)
    return server
  })

const awaitConnectionCount = (server: TransportServer.TransportServer, expected: number) =>
  server.connectionCount.pipe(
    Effect.repeat({ until: (n) => n === expected, schedule: Schedule.spaced("5 millis") }),
    Effect.timeout("5 seconds")
  )

describe("TransportServer", () => {
  it.scopedLive("binds 127.0.0.1 on a free port by default", () =>
    Effect.gen(function*() {
      const server = yield* TransportServer.make()
      assert.strictEqual(server.address.host, "127.0.0.1")
      assert.isAbove(server.address.port, 0)
      assert.strictEqual(yield* server.connectionCount, 0)
    }), 10_000)

  it.scopedLive("a listen failure is a TransportServerError", () =>
    Effect.gen(function*() {
      const first = yield* TransportServer.make()
      const error = yield* TransportServer.make({ port: first.address.port }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "TransportServerError")
      assert.strictEqual(error.address, `127.0.0.1:${first.address.port}`)
      assert.match(error.message, /could not listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/)
    }), 10_000)

  it.scopedLive(
    "a port Node refuses outright is a TransportServerError too, not a thrown RangeError",
    () =>
      Effect.gen(function*() {
        const error = yield* TransportServer.make({ port: 70000 }).pipe(Effect.flip)
        assert.strictEqual(error._tag, "TransportServerError")
        assert.strictEqual(error.address, "127.0.0.1:70000")
        assert.match(error.message, /could not listen on 127\.0\.0\.1:70000: .*70000/)
      }),
    10_000
  )

  it.scopedLive("echoes frames of 0 B, 1 B, 64 KiB and 1 MiB", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const client = yield* connectFramed(server.address.port)
      for (const [i, size] of [0, 1, 64 * KiB, MiB].entries()) {
        const payload = pattern(size, i)
        client.send(payload)
        const echoed = yield* client.next.pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(echoed.length, size)
        assert.isTrue(Buffer.from(echoed).equals(payload), `payload of ${size} bytes`)
      }
    }), 10_000)

  it.scopedLive("echoes many pipelined frames in order", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const client = yield* connectFramed(server.address.port)
      const count = 20_000
      const sizeOf = (i: number) => (i * 7919) % 3000
      for (let i = 0; i < count; i++) client.send(pattern(sizeOf(i), i))
      for (let i = 0; i < count; i++) {
        const echoed = yield* client.next.pipe(Effect.timeout("5 seconds"))
        if (!Buffer.from(echoed).equals(pattern(sizeOf(i), i))) assert.fail(`frame ${i} differs`)
      }
    }), 20_000)

  it.scopedLive(
    "a garbage length closes only that connection, and the handler sees what was sent",
    () =>
      Effect.gen(function*() {
        const server = yield* TransportServer.make()
        const failures = yield* Deferred.make<unknown>()
        yield* server.serve((connection) =>
          TransportServer.echo(connection).pipe(Effect.tapError((error) => Deferred.succeed(failures, error)))
        )
        const good = yield* connectFramed(server.address.port)
        const bad = yield* connectFramed(server.address.port)
        good.send(pattern(10))
        yield* good.next.pipe(Effect.timeout("5 seconds"))

        bad.socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        yield* bad.closed.pipe(Effect.timeout("5 seconds"))
        const error = yield* Deferred.await(failures).pipe(Effect.timeout("5 seconds"))
        assert.instanceOf(error, Error)
        assert.strictEqual((error as { _tag?: string })._tag, "FrameTooLargeError")
        assert.match((error as Error).message, /HTTP\/2/)

        good.send(pattern(100, 1))
        const echoed = yield* good.next.pipe(Effect.timeout("5 seconds"))
        assert.isTrue(Buffer.from(echoed).equals(pattern(100, 1)))
        yield* awaitConnectionCount(server, 1)
      }),
    10_000
  )

  it.scopedLive(
    "frames fails with a truncated-frame error when the peer closes inside a frame",
    () =>
      Effect.gen(function*() {
        const server = yield* TransportServer.make()
        const result = yield* Deferred.make<Exit.Exit<ReadonlyArray<Uint8Array>, unknown>>()
        yield* server.serve((connection) =>
          Stream.runCollect(connection.frames).pipe(
            Effect.map((chunk) => Array.from(chunk)),
            Effect.exit,
            Effect.flatMap((exit) => Deferred.succeed(result, exit))
          )
        )
        const socket = yield* connectPlain(server.address.port)
        socket.end(
          Buffer.concat([Framing.encodeHeader(2), Buffer.from("ok"), Framing.encodeHeader(10), Buffer.from("abc")])
        )
        const exit = yield* Deferred.await(result).pipe(Effect.timeout("5 seconds"))
        assert.isTrue(Exit.isFailure(exit))
        const error = yield* Effect.flip(exit)
        assert.strictEqual((error as { _tag?: string })._tag, "TruncatedFrameError")
        assert.deepInclude(error as object, { part: "body", expected: 10, received: 3 })
      }),
    10_000
  )

  it.scopedLive(
    "frames ends cleanly when the peer closes between frames; replies still reach a half-closed peer",
    () =>
      Effect.gen(function*() {
        const server = yield* echoServer()
        const client = yield* connectFramed(server.address.port)
        client.send(pattern(5))
        client.send(pattern(6))
        client.socket.end()
        assert.strictEqual((yield* client.next.pipe(Effect.timeout("5 seconds"))).length, 5)
        assert.strictEqual((yield* client.next.pipe(Effect.timeout("5 seconds"))).length, 6)
        const closed = yield* client.closed.pipe(Effect.timeout("5 seconds"))
        assert.isFalse(closed.hadError)
      }),
    10_000
  )

  it.scopedLive("closeConnections drops every client and keeps listening", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const a = yield* connectFramed(server.address.port)
      const b = yield* connectFramed(server.address.port)
      yield* awaitConnectionCount(server, 2)
      yield* server.closeConnections()
      assert.strictEqual(yield* server.connectionCount, 0)
      const closedA = yield* a.closed.pipe(Effect.timeout("5 seconds"))
      yield* b.closed.pipe(Effect.timeout("5 seconds"))
      assert.isFalse(closedA.hadError)

      const c = yield* connectFramed(server.address.port)
      c.send(pattern(3))
      assert.strictEqual((yield* c.next.pipe(Effect.timeout("5 seconds"))).length, 3)
      yield* server.closeConnections({ reset: true })
      const closedC = yield* c.closed.pipe(Effect.timeout("5 seconds"))
      assert.isTrue(closedC.hadError)
      assert.strictEqual((closedC.error as NodeJS.ErrnoException | undefined)?.code, "ECONNRESET")
    }), 10_000)

  it.scopedLive("closing the scope stops listening and closes connections", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* echoServer().pipe(Scope.extend(scope))
      const client = yield* connectFramed(server.address.port)
      client.send(pattern(1))
      yield* client.next.pipe(Effect.timeout("5 seconds"))
      yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("5 seconds"))
      yield* client.closed.pipe(Effect.timeout("5 seconds"))
      const error = yield* connectPlain(server.address.port).pipe(Effect.flip, Effect.timeout("5 seconds"))
      assert.strictEqual((error as NodeJS.ErrnoException).code, "ECONNREFUSED")
    }), 10_000)

  it.scopedLive(
    "a flooding client is held back by TCP: the inbound budget bounds what the server buffers",
    () =>
      Effect.gen(function*() {
        const server = yield* TransportServer.make({ inboundBufferBytes: MiB })
        const gate = yield* Deferred.make<void>()
        let received = 0
        yield* server.serve((connection) =>
          Deferred.await(gate).pipe(
            Effect.zipRight(Stream.runForEach(connection.frames, (frame) =>
              Effect.sync(() => {
                received += frame.length
              })))
          )
        )
        const client = yield* connectFramed(server.address.port)
        // 64 MiB: far more than the loopback's kernel buffers (a few MiB each way) plus the server's budget.
        const frameSize = 64 * KiB
        const frames = 1024
        const payload = pattern(frameSize)
        let flushed = false
        for (let i = 0; i < frames - 1; i++) client.send(payload)
        const last = Framing.encode(payload, { maxMessageSize: MiB })
        assert.isTrue(last._tag === "Right")
        if (last._tag === "Right") client.socket.write(last.right, () => (flushed = true))

        yield* Effect.sleep("500 millis")
        // An unbounded reader would have taken all 64 MiB in this time.
        assert.isFalse(flushed)
        assert.strictEqual(received, 0)
        assert.isAbove(client.socket.writableLength, 32 * MiB)

        yield* Deferred.succeed(gate, undefined)
        yield* eventually(Effect.sync(() => received === frames * frameSize)).pipe(Effect.timeout("10 seconds"))
        yield* eventually(Effect.sync(() => flushed)).pipe(Effect.timeout("5 seconds"))
      }),
    20_000
  )

  it.scopedLive("a handler's failure closes only its own connection", () =>
    Effect.gen(function*() {
      const server = yield* TransportServer.make()
      yield* server.serve((connection) =>
        Stream.runForEach(
          connection.frames,
          (frame): Effect.Effect<void, unknown> => frame.length === 13 ? Effect.fail("unlucky") : connection.send(frame)
        )
      )
      const a = yield* connectFramed(server.address.port)
      const b = yield* connectFramed(server.address.port)
      a.send(pattern(13))
      yield* a.closed.pipe(Effect.timeout("5 seconds"))
      b.send(pattern(12))
      assert.strictEqual((yield* b.next.pipe(Effect.timeout("5 seconds"))).length, 12)
    }), 10_000)

  it.scopedLive("send refuses a payload over maxMessageSize; output writes raw bytes", () =>
    Effect.gen(function*() {
      const server = yield* TransportServer.make({ maxMessageSize: 16 })
      const result = yield* Deferred.make<unknown>()
      yield* server.serve((connection) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(connection.send(new Uint8Array(17)))
          const batchError = yield* Effect.flip(connection.sendAll([new Uint8Array(1), new Uint8Array(17)]))
          yield* connection.output(new Uint8Array([0, 0, 0, 2, 104]))
          yield* connection.output(new Uint8Array([105]))
          yield* Deferred.succeed(result, [error, batchError])
          yield* Stream.runDrain(connection.frames)
        })
      )
      const client = yield* connectFramed(server.address.port)
      const [error, batchError] = (yield* Deferred.await(result).pipe(Effect.timeout("5 seconds"))) as Array<
        { _tag: string; size: number; maxSize: number }
      >
      assert.deepInclude(error, { _tag: "FrameTooLargeError", size: 17, maxSize: 16 })
      assert.deepInclude(batchError, { _tag: "FrameTooLargeError", size: 17, maxSize: 16 })
      // The refused batch wrote nothing: the first frame the client sees is the raw one.
      const frame = yield* client.next.pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(Buffer.from(frame).toString(), "hi")
    }), 10_000)
})
