import * as Framing from "@rocketmq-effect/transport/Framing"
import { ConnectionError } from "@rocketmq-effect/transport/TransportError"
import type { FrameError, FrameTooLargeError } from "@rocketmq-effect/transport/TransportError"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Net from "node:net"
import type { ServerConnection } from "../TransportServer.js"
import { peerAddress } from "./address.js"

/** @internal */
export interface ConnectionOptions {
  readonly maxMessageSize: number
  readonly inboundBufferBytes: number
}

type InboundError = FrameError | ConnectionError

/**
 * Starts reading an accepted socket (created with `pauseOnConnect`) and returns its framed view.
 *
 * Inbound bytes are decoded synchronously in the 'data' listener into a queue of payloads. The queue is
 * bounded by `inboundBufferBytes` (counting each frame's bytes on the wire, so empty frames count too): over
 * the bound the socket is paused, and the peer's writes back up into TCP; once the consumer has taken the
 * queue below half of the bound, reading resumes. Memory per connection thus stays under about
 * `inboundBufferBytes` plus one partial frame (at most `maxMessageSize`) plus one read chunk.
 *
 * @internal
 */
export const attach = (socket: Net.Socket, options: ConnectionOptions): ServerConnection => {
  const remoteAddress = peerAddress(socket.remoteAddress, socket.remotePort)
  const framing: Framing.FramingOptions = { maxMessageSize: options.maxMessageSize }
  const budget = Math.max(1, options.inboundBufferBytes)
  const resumeBelow = budget / 2
  const decoder = Framing.makeDecoder(framing)

  let queue: Array<Uint8Array> = []
  let queuedBytes = 0
  let paused = false
  let ended = false
  let failure: InboundError | undefined
  let wake: (() => void) | undefined

  const notify = () => {
    const waiting = wake
    if (waiting !== undefined) {
      wake = undefined
      waiting()
    }
  }

  const finish = (error: InboundError | undefined) => {
    if (ended) return
    ended = true
    failure = error
    socket.off("data", onData)
    socket.off("end", onEnd)
    notify()
  }

  function onData(chunk: Uint8Array) {
    decoder.push(chunk)
    for (;;) {
      const frame = decoder.nextFrame()
      if (frame === undefined) break
      if (!(frame instanceof Uint8Array)) {
        // The stream can no longer be aligned; the frames decoded before the bad length are still delivered.
        finish(frame)
        socket.destroy()
        return
      }
      queue.push(frame)
      queuedBytes += Framing.HEADER_SIZE + frame.length
    }
    if (!paused && queuedBytes > budget) {
      paused = true
      socket.pause()
    }
    notify()
  }

  function onEnd() {
    finish(decoder.end())
  }

  socket.on("data", onData)
  socket.on("end", onEnd)
  socket.once("error", (cause) => finish(new ConnectionError({ reason: "Read", address: remoteAddress, cause })))
  // A close without 'end' or 'error' is a local close (`close`, `reset`, `closeConnections`): the stream ends.
  socket.once("close", () => finish(undefined))
  if (socket.destroyed) finish(undefined)
  else socket.resume()

  // Hands over everything queued up to half the budget (at least one frame), so the consumer holds at most
  // that much while the queue refills.
  const takeChunk = (): Chunk.Chunk<Uint8Array> => {
    let count = 0
    let bytes = 0
    while (count < queue.length && (count === 0 || bytes < resumeBelow)) {
      bytes += Framing.HEADER_SIZE + queue[count]!.length
      count++
    }
    let taken: Array<Uint8Array>
    if (count === queue.length) {
      taken = queue
      queue = []
    } else {
      taken = queue.splice(0, count)
    }
    queuedBytes -= bytes
    if (paused && queuedBytes < resumeBelow && !ended) {
      paused = false
      socket.resume()
    }
    return Chunk.unsafeFromArray(taken)
  }

  const pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<InboundError>> = Effect.suspend(() => {
    if (queue.length > 0) return Effect.succeed(takeChunk())
    if (ended) return Effect.fail(failure === undefined ? Option.none() : Option.some(failure))
    return Effect.async<Chunk.Chunk<Uint8Array>, Option.Option<InboundError>>((resume) => {
      wake = () => resume(pull)
      return Effect.sync(() => {
        wake = undefined
      })
    })
  })

  const writeError = (cause: unknown) => new ConnectionError({ reason: "Write", address: remoteAddress, cause })

  const isWritable = () => !socket.destroyed && !socket.writableEnded

  const notWritable = () =>
    Effect.fail(writeError(new Error(socket.destroyed ? "the connection is closed" : "the connection was ended")))

  // Completes on Node's write callback for `last`, which runs once every earlier write has been handed to
  // the kernel too: callbacks run in write order.
  const awaitWrite = (write: (callback: (error?: Error | null) => void) => void) =>
    Effect.async<void, ConnectionError>((resume) => {
      write((error) => resume(error ? Effect.fail(writeError(error)) : Effect.void))
    })

  const send = (payload: Uint8Array): Effect.Effect<void, FrameTooLargeError | ConnectionError> =>
    Effect.suspend((): Effect.Effect<void, FrameTooLargeError | ConnectionError> => {
      const frame = Framing.encode(payload, framing)
      if (Either.isLeft(frame)) return Effect.fail(frame.left)
      if (!isWritable()) return notWritable()
      // One write per frame: Node never splits or reorders writes, so concurrent sends cannot interleave.
      return awaitWrite((callback) => socket.write(frame.right, callback))
    })

  const sendAll = (payloads: Iterable<Uint8Array>): Effect.Effect<void, FrameTooLargeError | ConnectionError> =>
    Effect.suspend((): Effect.Effect<void, FrameTooLargeError | ConnectionError> => {
      const batch = Array.isArray(payloads) ? payloads as ReadonlyArray<Uint8Array> : Array.from(payloads)
      if (batch.length === 0) return Effect.void
      for (const payload of batch) {
        // Checked before anything is written, so a refused batch leaves the stream aligned. `encode` refuses
        // an oversized payload before allocating anything.
        if (payload.length > framing.maxMessageSize) {
          const refused = Framing.encode(payload, framing)
          if (Either.isLeft(refused)) return Effect.fail(refused.left)
        }
      }
      if (!isWritable()) return notWritable()
      return awaitWrite((callback) => {
        // All headers in one allocation; header and payload are written separately so payloads are not
        // copied, and the cork turns the whole batch into one writev. Nothing can run between these
        // synchronous writes, so the batch is never interleaved with another send.
        const headers = new Uint8Array(Framing.HEADER_SIZE * batch.length)
        socket.cork()
        for (let i = 0; i < batch.length; i++) {
          const payload = batch[i]!
          const length = payload.length
          const at = i * Framing.HEADER_SIZE
          Framing.writeHeader(headers, at, length)
          const header = headers.subarray(at, at + Framing.HEADER_SIZE)
          const last = i === batch.length - 1
          if (length === 0) {
            socket.write(header, last ? callback : undefined)
          } else {
            socket.write(header)
            socket.write(payload, last ? callback : undefined)
          }
        }
        socket.uncork()
      })
    })

  const output = (bytes: Uint8Array): Effect.Effect<void, ConnectionError> =>
    Effect.suspend(() => {
      if (!isWritable()) return notWritable()
      return awaitWrite((callback) => socket.write(bytes, callback))
    })

  return {
    remoteAddress,
    frames: Stream.repeatEffectChunkOption(pull),
    send,
    sendAll,
    output,
    close: Effect.sync(() => {
      if (!socket.destroyed) socket.destroySoon()
    }),
    reset: Effect.sync(() => {
      if (!socket.destroyed) socket.resetAndDestroy()
    })
  }
}
