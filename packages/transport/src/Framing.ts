/**
 * Length-prefixed framing, as RocketMQ puts messages on the wire:
 *
 * ```text
 * | length: uint32 big-endian | payload: length bytes |
 * ```
 *
 * The length counts the payload only. This module offers the codec at three levels:
 *
 * - `encode` / `encodeHeader` / `encodeStream` for the outbound side;
 * - `makeDecoder`, a synchronous, mutable decoder that a socket reader drives directly (no allocation per
 *   frame beyond the payload view);
 * - `decode` / `decodeChannel`, the same decoder as a stream transformation, and the sinks `exactly` and
 *   `frame` for reading a raw prefix or a single frame off a stream with `Stream.peel`.
 *
 * Inbound lengths are checked against `maxMessageSize` as soon as the four length bytes are there, so a
 * peer speaking another protocol on the port, or a hostile length, never makes us allocate.
 *
 * @since 0.1.0
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Either from "effect/Either"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { allocate, DecoderImpl, HEADER_SIZE as HEADER } from "./internal/decoder.js"
import { FrameTooLargeError, TruncatedFrameError } from "./TransportError.js"
import type { FrameError } from "./TransportError.js"

/**
 * The size of the length prefix in bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const HEADER_SIZE: 4 = HEADER

/**
 * The largest payload length the prefix can express.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_FRAME_LENGTH = 0xFFFFFFFF

/**
 * @since 0.1.0
 * @category models
 */
export interface FramingOptions {
  /** The largest payload, in bytes, accepted inbound or produced outbound. */
  readonly maxMessageSize: number
}

// A limit above what the prefix can express (or a nonsensical one) must not let a length through that the
// header cannot carry, so every check runs against the clamped value.
const limitOf = (options: FramingOptions): number => {
  const max = options.maxMessageSize
  return max >= 0 && max <= MAX_FRAME_LENGTH ? Math.floor(max) : max > MAX_FRAME_LENGTH ? MAX_FRAME_LENGTH : 0
}

// ---------------------------------------------------------------------------------------------------------
// encoding
// ---------------------------------------------------------------------------------------------------------

/**
 * The four length bytes for a payload of `length` bytes. `length` is taken modulo 2^32; callers that
 * accept lengths from outside check them first (as `encode` does).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeHeader = (length: number): Uint8Array => {
  const header = new Uint8Array(HEADER_SIZE)
  writeHeader(header, 0, length)
  return header
}

/**
 * Writes the four length bytes for a payload of `length` bytes into `target` at `offset`: for callers that
 * lay out several frames' headers in one buffer.
 *
 * @since 0.1.0
 * @category encoding
 */
export const writeHeader = (target: Uint8Array, offset: number, length: number): void => {
  target[offset] = length >>> 24
  target[offset + 1] = length >>> 16
  target[offset + 2] = length >>> 8
  target[offset + 3] = length
}

const outboundTooLarge = (size: number, limit: number) =>
  new FrameTooLargeError({ direction: "outbound", size, maxSize: limit })

/**
 * Frames one payload into a new buffer (header followed by payload). A payload over `maxMessageSize` is
 * refused before any byte is produced.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (
  payload: Uint8Array,
  options: FramingOptions
): Either.Either<Uint8Array, FrameTooLargeError> => {
  const limit = limitOf(options)
  if (payload.length > limit) return Either.left(outboundTooLarge(payload.length, limit))
  const frame = allocate(HEADER_SIZE + payload.length)
  writeHeader(frame, 0, payload.length)
  frame.set(payload, HEADER_SIZE)
  return Either.right(frame)
}

/**
 * Frames several payloads, in order, into one new buffer, so that they can go out in one write. If any
 * payload is over `maxMessageSize` nothing is produced.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeAll = (
  payloads: Iterable<Uint8Array>,
  options: FramingOptions
): Either.Either<Uint8Array, FrameTooLargeError> => {
  const limit = limitOf(options)
  const list = Array.isArray(payloads) ? payloads as ReadonlyArray<Uint8Array> : Array.from(payloads)
  let size = 0
  for (const payload of list) {
    if (payload.length > limit) return Either.left(outboundTooLarge(payload.length, limit))
    size += HEADER_SIZE + payload.length
  }
  return Either.right(pack(list, list.length, size))
}

// Frames the first `count` payloads into one buffer of `size` bytes (their frames' total), already checked.
const pack = (payloads: ReadonlyArray<Uint8Array>, count: number, size: number): Uint8Array => {
  const out = allocate(size)
  let offset = 0
  for (let i = 0; i < count; i++) {
    const payload = payloads[i]!
    writeHeader(out, offset, payload.length)
    out.set(payload, offset + HEADER_SIZE)
    offset += HEADER_SIZE + payload.length
  }
  return out
}

/**
 * Frames payloads as a channel. Each input chunk becomes one buffer holding all its frames, so a socket
 * writer issues one write per batch. A payload over the limit fails the channel; the frames before it in
 * the same chunk are still emitted, so what went out is always a whole number of frames.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeChannel = <IE = never, Done = unknown>(
  options: FramingOptions
): Channel.Channel<Chunk.Chunk<Uint8Array>, Chunk.Chunk<Uint8Array>, IE | FrameTooLargeError, IE, Done, Done> => {
  const limit = limitOf(options)
  const loop: Channel.Channel<
    Chunk.Chunk<Uint8Array>,
    Chunk.Chunk<Uint8Array>,
    IE | FrameTooLargeError,
    IE,
    Done,
    Done
  > = Channel.readWithCause({
    onInput: (input: Chunk.Chunk<Uint8Array>) => {
      const payloads = Chunk.toReadonlyArray(input)
      let count = 0
      let total = 0
      let failure: FrameTooLargeError | undefined
      for (; count < payloads.length; count++) {
        const size = payloads[count]!.length
        if (size > limit) {
          failure = outboundTooLarge(size, limit)
          break
        }
        total += HEADER_SIZE + size
      }
      const next = failure === undefined ? loop : Channel.fail(failure)
      return count > 0 ? Channel.zipRight(Channel.write(Chunk.of(pack(payloads, count, total))), next) : next
    },
    onFailure: Channel.failCause,
    onDone: Channel.succeed
  })
  return loop
}

/**
 * Frames a stream of payloads into a stream of bytes, failing with `FrameTooLargeError` on a payload over
 * the limit.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeStream =
  (options: FramingOptions) =>
  <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | FrameTooLargeError, R> =>
    Stream.pipeThroughChannel(self, encodeChannel<E, unknown>(options))

// ---------------------------------------------------------------------------------------------------------
// decoding
// ---------------------------------------------------------------------------------------------------------

/**
 * An incremental frame decoder over an ordered sequence of byte chunks. It is synchronous and mutable so a
 * socket reader can drive it without allocating per frame; `decode` wraps it as a stream transformation.
 *
 * Nothing is consumed until a whole frame is buffered, so a reader that gives up waiting (a receive
 * timeout) leaves the stream aligned for the next attempt.
 *
 * @since 0.1.0
 * @category decoding
 */
export interface Decoder {
  /** Appends received bytes. The chunk is kept, not copied: do not reuse its memory afterwards. */
  push(chunk: Uint8Array): void
  /**
   * The next payload, `undefined` when more bytes are needed, or a `FrameTooLargeError` when the length
   * prefix is over the limit. After that error the decoder is poisoned and keeps returning it, since the
   * stream can no longer be aligned. Payloads are plain `Uint8Array`s, whatever was pushed (a Node
   * `Buffer` too). A payload inside one received chunk is a view of it; one spanning chunks is copied once,
   * into its own buffer, or, up to 4 KiB, into a 32 KiB slab shared only with other payloads of this
   * decoder. Either way, read a payload through its `byteOffset` and `length`.
   */
  nextFrame(): Uint8Array | FrameTooLargeError | undefined
  /**
   * Exactly `n` raw bytes, ignoring framing, or `undefined` when fewer are buffered (or `n` is not a
   * non-negative integer). Works alongside `nextFrame` on the same byte sequence.
   */
  takeExactly(n: number): Uint8Array | undefined
  /** How many more bytes the next frame needs (0 when a frame or an error is ready). */
  neededBytes(): number
  /**
   * The error `nextFrame` will return once it reaches the next frame, without consuming anything: lets a
   * reader reject a bogus length prefix as soon as its four bytes arrive, even while nobody receives.
   */
  headError(): FrameTooLargeError | undefined
  /** Bytes held. */
  readonly buffered: number
  /**
   * What to report at end of stream, once `nextFrame` returned `undefined`: a `TruncatedFrameError` if
   * the bytes of an incomplete frame remain, `undefined` when nothing is left.
   */
  end(): TruncatedFrameError | undefined
}

/**
 * Creates a decoder that accepts payloads of up to `maxMessageSize` bytes.
 *
 * @example
 * ```ts
 * import { Framing } from "@rocketmq-effect/transport"
 *
 * const decoder = Framing.makeDecoder({ maxMessageSize: 4 * 1024 * 1024 })
 * decoder.push(new Uint8Array([0, 0, 0, 2, 104]))
 * assert.strictEqual(decoder.nextFrame(), undefined) // one payload byte is missing, nothing was consumed
 * decoder.push(new Uint8Array([105]))
 * assert.deepStrictEqual(decoder.nextFrame(), new Uint8Array([104, 105]))
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const makeDecoder = (options: FramingOptions): Decoder => new DecoderImpl(limitOf(options))

// A batch's frames go out together, but a large batch is cut into several outputs: frames held until
// the end of a big batch outlive the young generation and make the collector copy them, which cost more
// than the decoding itself (and copies of large payloads would pile up in memory).
const FLUSH_FRAMES = 1024
const FLUSH_BYTES = 1024 * 1024

/**
 * The decoder as a channel: each input chunk batch yields one output chunk with the frames it completed
 * (very large batches yield several). Fails with `FrameTooLargeError` on a length over the limit (after
 * emitting the frames before it) and with `TruncatedFrameError` when the input ends inside a frame.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeChannel = <IE = never, Done = unknown>(
  options: FramingOptions
): Channel.Channel<Chunk.Chunk<Uint8Array>, Chunk.Chunk<Uint8Array>, IE | FrameError, IE, Done, Done> =>
  Channel.suspend(() => {
    type Decoding = Channel.Channel<Chunk.Chunk<Uint8Array>, Chunk.Chunk<Uint8Array>, IE | FrameError, IE, Done, Done>
    const decoder = new DecoderImpl(limitOf(options))
    const decodeFrom = (chunks: ReadonlyArray<Uint8Array>, start: number): Decoding => {
      const frames: Array<Uint8Array> = []
      let bytes = 0
      for (let i = start; i < chunks.length; i++) {
        const chunk = chunks[i]!
        decoder.push(chunk)
        bytes += chunk.length
        const failure = decoder.drainInto(frames)
        if (failure !== undefined) {
          const failed = Channel.fail(failure)
          return frames.length === 0 ? failed : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(frames)), failed)
        }
        if ((frames.length >= FLUSH_FRAMES || bytes >= FLUSH_BYTES) && i + 1 < chunks.length) {
          const next = i + 1
          return Channel.zipRight(
            Channel.write(Chunk.unsafeFromArray(frames)),
            Channel.suspend(() => decodeFrom(chunks, next))
          )
        }
      }
      // Batches that only advance a large frame emit nothing rather than an empty chunk.
      return frames.length === 0 ? loop : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(frames)), loop)
    }
    const loop: Decoding = Channel.readWithCause({
      onInput: (input: Chunk.Chunk<Uint8Array>) => decodeFrom(Chunk.toReadonlyArray(input), 0),
      onFailure: Channel.failCause,
      onDone: (done) => {
        const truncated = decoder.end()
        return truncated === undefined ? Channel.succeed(done) : Channel.fail(truncated)
      }
    })
    return loop
  })

/**
 * Splits a byte stream into frame payloads.
 *
 * @example
 * ```ts
 * import { Framing } from "@rocketmq-effect/transport"
 * import { Stream } from "effect"
 *
 * const payloads = Stream.make(new Uint8Array([0, 0, 0, 1, 42])).pipe(
 *   Framing.decode({ maxMessageSize: 1024 })
 * )
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode =
  (options: FramingOptions) =>
  <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | FrameError, R> =>
    Stream.pipeThroughChannel(self, decodeChannel<E, unknown>(options))

// ---------------------------------------------------------------------------------------------------------
// sinks
// ---------------------------------------------------------------------------------------------------------

// Feeds input into a decoder until `take` yields bytes, then hands the unread bytes (buffered ones first,
// then the rest of the batch) back as leftovers so `Stream.peel` continues exactly after them.
const takeSink = <E, EE>(
  limit: number,
  take: (decoder: DecoderImpl) => Uint8Array | E | undefined,
  atEnd: (decoder: DecoderImpl) => EE
): Sink.Sink<Uint8Array, Uint8Array, Uint8Array, E | EE> =>
  Sink.fromChannel(Channel.suspend(() => {
    const decoder = new DecoderImpl(limit)
    type Taking = Channel.Channel<Chunk.Chunk<Uint8Array>, Chunk.Chunk<Uint8Array>, E | EE, never, Uint8Array, unknown>
    const loop: Taking = Channel.readWithCause({
      onInput: (input: Chunk.Chunk<Uint8Array>): Taking => {
        const chunks = Chunk.toReadonlyArray(input)
        for (let i = 0; i < chunks.length; i++) {
          decoder.push(chunks[i]!)
          const result = take(decoder)
          if (result === undefined) continue
          if (!(result instanceof Uint8Array)) return Channel.fail(result)
          const leftovers = decoder.drain()
          for (let j = i + 1; j < chunks.length; j++) leftovers.push(chunks[j]!)
          const done = Channel.succeed(result)
          return leftovers.length === 0
            ? done
            : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(leftovers)), done)
        }
        return loop
      },
      onFailure: Channel.failCause,
      onDone: (): Taking => {
        // Asking again covers a request that needs no bytes at all (an empty `exactly(0)` stream).
        const result = take(decoder)
        if (result === undefined) return Channel.fail(atEnd(decoder))
        return result instanceof Uint8Array ? Channel.succeed(result) : Channel.fail(result)
      }
    })
    return loop
  }))

/**
 * A sink taking exactly `n` raw bytes (ignoring framing) and leaving the rest of the stream untouched,
 * for a prefix read before frames start. Fails with `TruncatedFrameError` (part `"bytes"`) when the stream
 * ends first.
 *
 * @example
 * ```ts
 * import { Framing } from "@rocketmq-effect/transport"
 * import { Effect, Stream } from "effect"
 *
 * declare const bytes: Stream.Stream<Uint8Array>
 *
 * const program = Effect.gen(function*() {
 *   const [prefix, rest] = yield* Stream.peel(bytes, Framing.exactly(8))
 *   return { prefix, frames: rest.pipe(Framing.decode({ maxMessageSize: 1024 })) }
 * })
 * ```
 *
 * @since 0.1.0
 * @category sinks
 */
export const exactly = (n: number): Sink.Sink<Uint8Array, Uint8Array, Uint8Array, TruncatedFrameError> =>
  takeSink<never, TruncatedFrameError>(
    0,
    (decoder) => decoder.takeExactly(n),
    (decoder) => new TruncatedFrameError({ part: "bytes", expected: n, received: decoder.buffered })
  )

/**
 * A sink taking one frame's payload and leaving the rest of the stream untouched. Fails with
 * `FrameTooLargeError` on a length over the limit and with `TruncatedFrameError` when the stream ends
 * inside (or before) the frame.
 *
 * @since 0.1.0
 * @category sinks
 */
export const frame = (options: FramingOptions): Sink.Sink<Uint8Array, Uint8Array, Uint8Array, FrameError> =>
  takeSink<FrameTooLargeError, TruncatedFrameError>(
    limitOf(options),
    (decoder) => decoder.nextFrame(),
    (decoder) => decoder.end() ?? new TruncatedFrameError({ part: "header", expected: HEADER_SIZE, received: 0 })
  )
