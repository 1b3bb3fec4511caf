import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Framing from "../src/Framing.js"
import { concat } from "../src/internal/bytes.js"
import * as TransportError from "../src/TransportError.js"

const options: Framing.FramingOptions = { maxMessageSize: 1024 * 1024 }

const bytes = (...values: Array<number>) => new Uint8Array(values)

const fill = (length: number, seed: number) => {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

const frameAll = (payloads: ReadonlyArray<Uint8Array>): Uint8Array =>
  concat(payloads.map((payload) => Either.getOrThrow(Framing.encode(payload, options))))

// Cuts `data` into consecutive pieces whose sizes cycle through `sizes`.
const split = (data: Uint8Array, sizes: ReadonlyArray<number>): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let offset = 0
  let i = 0
  while (offset < data.length) {
    const size = sizes.length === 0 ? data.length : Math.max(1, sizes[i++ % sizes.length]!)
    out.push(data.subarray(offset, offset + size))
    offset += size
  }
  return out
}

// Drains every ready frame; the last element is the error if one was returned.
const drain = (decoder: Framing.Decoder): Array<Uint8Array | TransportError.FrameTooLargeError> => {
  const out: Array<Uint8Array | TransportError.FrameTooLargeError> = []
  for (let next = decoder.nextFrame(); next !== undefined; next = decoder.nextFrame()) {
    out.push(next)
    if (!(next instanceof Uint8Array)) break
  }
  return out
}

const decodeWithDecoder = (chunks: ReadonlyArray<Uint8Array>, opts: Framing.FramingOptions = options) => {
  const decoder = Framing.makeDecoder(opts)
  const frames: Array<Uint8Array | TransportError.FrameTooLargeError> = []
  for (const chunk of chunks) {
    decoder.push(chunk)
    frames.push(...drain(decoder))
  }
  return { frames, end: decoder.end(), decoder }
}

const decodeWithStream = (chunks: ReadonlyArray<Uint8Array>, opts: Framing.FramingOptions = options, batch = 1) =>
  Stream.fromIterable(chunks).pipe(
    Stream.rechunk(batch),
    Framing.decode(opts),
    Stream.runCollect,
    Effect.map(Chunk.toArray)
  )

const assertFrames = (actual: ReadonlyArray<unknown>, expected: ReadonlyArray<Uint8Array>) => {
  assert.strictEqual(actual.length, expected.length)
  for (let i = 0; i < expected.length; i++) {
    const frame = actual[i]
    assert.instanceOf(frame, Uint8Array)
    assert.deepStrictEqual(Array.from(frame as Uint8Array), Array.from(expected[i]!))
  }
}

const payloadArbitrary = FastCheck.oneof(
  { weight: 12, arbitrary: FastCheck.uint8Array({ maxLength: 64 }) },
  { weight: 6, arbitrary: FastCheck.uint8Array({ maxLength: 3000 }) },
  { weight: 1, arbitrary: FastCheck.integer({ min: 3000, max: 70_000 }).map((n) => fill(n, n)) }
)

const cutsArbitrary = FastCheck.array(
  FastCheck.oneof(FastCheck.integer({ min: 1, max: 8 }), FastCheck.integer({ min: 1, max: 5000 })),
  { maxLength: 20 }
)

describe("Framing", () => {
  describe("encode", () => {
    it("writes a big-endian length then the payload into one new buffer", () => {
      const payload = bytes(1, 2, 3)
      const frame = Either.getOrThrow(Framing.encode(payload, options))
      assert.deepStrictEqual(Array.from(frame), [0, 0, 0, 3, 1, 2, 3])
      assert.notStrictEqual(frame.buffer, payload.buffer)
      assert.deepStrictEqual(Array.from(Framing.encodeHeader(0x01020304)), [1, 2, 3, 4])
      assert.deepStrictEqual(Array.from(Framing.encodeHeader(Framing.MAX_FRAME_LENGTH)), [255, 255, 255, 255])
      assert.deepStrictEqual(Array.from(Either.getOrThrow(Framing.encode(new Uint8Array(0), options))), [0, 0, 0, 0])
    })

    it("refuses a payload over the limit", () => {
      const result = Framing.encode(new Uint8Array(11), { maxMessageSize: 10 })
      assert.isTrue(Either.isLeft(result))
      const error = Either.getLeft(result).pipe(Option.getOrThrow)
      assert.strictEqual(error._tag, "FrameTooLargeError")
      assert.strictEqual(error.direction, "outbound")
      assert.strictEqual(error.size, 11)
      assert.strictEqual(error.maxSize, 10)
      assert.isTrue(Either.isRight(Framing.encode(new Uint8Array(10), { maxMessageSize: 10 })))
    })

    it.effect("encodeStream frames each batch into one buffer and fails on an oversize payload", () =>
      Effect.gen(function*() {
        const payloads = [bytes(1), bytes(), bytes(2, 3)]
        const out = yield* Stream.fromIterable(payloads).pipe(
          Framing.encodeStream(options),
          Stream.runCollect,
          Effect.map(Chunk.toArray)
        )
        assert.strictEqual(out.length, 1)
        assert.deepStrictEqual(Array.from(out[0]!), [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 2, 2, 3])

        const emitted: Array<Uint8Array> = []
        const error = yield* Stream.fromIterable([bytes(1), new Uint8Array(5), bytes(2)]).pipe(
          Framing.encodeStream({ maxMessageSize: 4 }),
          Stream.runForEach((chunk) => Effect.sync(() => emitted.push(chunk))),
          Effect.flip
        )
        assert.strictEqual(error._tag, "FrameTooLargeError")
        assert.strictEqual(error.size, 5)
        // The frames before the refused payload still went out, whole.
        assert.deepStrictEqual(Array.from(concat(emitted)), [0, 0, 0, 1, 1])
      }))
  })

  describe("Decoder", () => {
    const payloads = [fill(5, 1), bytes(), fill(300, 2), bytes(7), bytes(), fill(70, 3)]
    const data = frameAll(payloads)

    it("headError reports a bogus length as soon as its bytes arrive, without consuming anything", () => {
      const decoder = Framing.makeDecoder({ maxMessageSize: 16 })
      decoder.push(bytes(0, 0, 0, 2, 9, 9))
      assert.isUndefined(decoder.headError())
      decoder.push(bytes(0x50, 0x52))
      // The good frame is still ahead of the bad length: nothing to report yet.
      assert.isUndefined(decoder.headError())
      assert.deepStrictEqual(decoder.nextFrame(), bytes(9, 9))
      // Two of the four length bytes are not enough to judge.
      assert.isUndefined(decoder.headError())
      decoder.push(bytes(0x49, 0x20))
      const error = decoder.headError()
      assert.strictEqual(error?._tag, "FrameTooLargeError")
      assert.strictEqual(error?.size, 0x50524920)
      assert.deepStrictEqual(error?.header, bytes(0x50, 0x52, 0x49, 0x20))
      assert.strictEqual(decoder.buffered, 4)
      assert.strictEqual(decoder.nextFrame(), error)
    })

    it("decodes a header split across chunks at every position", () => {
      for (let cut = 1; cut < data.length; cut++) {
        const { end, frames } = decodeWithDecoder([data.subarray(0, cut), data.subarray(cut)])
        assertFrames(frames, payloads)
        assert.isUndefined(end)
      }
      // Three pieces around each header byte, so a header can straddle three chunks.
      for (let cut = 1; cut + 2 < data.length; cut++) {
        const chunks = [data.subarray(0, cut), data.subarray(cut, cut + 1), data.subarray(cut + 1, cut + 2)]
        const { frames } = decodeWithDecoder([...chunks, data.subarray(cut + 2)])
        assertFrames(frames, payloads)
      }
    })

    it("decodes many frames in one chunk", () => {
      const many = Array.from({ length: 1000 }, (_, i) => fill(i % 17, i))
      const { end, frames } = decodeWithDecoder([frameAll(many)])
      assertFrames(frames, many)
      assert.isUndefined(end)
    })

    it("decodes one byte per chunk, empty frames included", () => {
      const { decoder, end, frames } = decodeWithDecoder(split(data, [1]))
      assertFrames(frames, payloads)
      assert.isUndefined(end)
      assert.strictEqual(decoder.buffered, 0)
    })

    it("keeps order while many small chunks are queued and consumed", () => {
      const many = Array.from({ length: 300 }, (_, i) => fill(i % 23, i))
      const data = frameAll(many)
      const decoder = Framing.makeDecoder(options)
      // Queue thousands of one-byte chunks before reading, so consumed chunks pile up at the queue head.
      for (const chunk of split(data, [1])) decoder.push(chunk)
      assert.strictEqual(decoder.buffered, data.length)
      assertFrames(drain(decoder), many)
      assert.strictEqual(decoder.buffered, 0)
      assert.isUndefined(decoder.end())
    })

    it("keeps payloads copied across chunks intact while later ones are decoded", () => {
      const many = Array.from({ length: 120 }, (_, i) => fill(500 + i * 40, i))
      // Chunks of 7 bytes make every payload span chunks, so each is copied; all are checked at the end.
      const { end, frames } = decodeWithDecoder(split(frameAll(many), [7]))
      assertFrames(frames, many)
      assert.isUndefined(end)
    })

    it("returns an empty array for a zero-length frame, distinct from needing more bytes", () => {
      const decoder = Framing.makeDecoder(options)
      decoder.push(bytes(0, 0, 0, 0, 0, 0))
      const empty = decoder.nextFrame()
      assert.instanceOf(empty, Uint8Array)
      assert.strictEqual((empty as Uint8Array).length, 0)
      assert.isUndefined(decoder.nextFrame())
      assert.strictEqual(decoder.buffered, 2)
    })

    it("returns a view of the chunk when the payload lies in one chunk, a single exact copy otherwise", () => {
      const chunk = frameAll([fill(10, 1), fill(20, 2)])
      const decoder = Framing.makeDecoder(options)
      decoder.push(chunk.subarray(0, 20))
      const first = decoder.nextFrame() as Uint8Array
      assert.strictEqual(first.buffer, chunk.buffer)
      assert.strictEqual(first.byteOffset, 4)
      assert.strictEqual(first.length, 10)
      assert.isUndefined(decoder.nextFrame())
      decoder.push(chunk.subarray(20))
      const second = decoder.nextFrame() as Uint8Array
      assert.notStrictEqual(second.buffer, chunk.buffer)
      assert.strictEqual(second.byteLength, 20)
      assert.deepStrictEqual(Array.from(second), Array.from(fill(20, 2)))
      // A large spanning payload gets a buffer of its own, exactly sized.
      const large = frameAll([fill(5000, 3)])
      decoder.push(large.subarray(0, 2500))
      decoder.push(large.subarray(2500))
      const third = decoder.nextFrame() as Uint8Array
      assert.strictEqual(third.buffer.byteLength, 5000)
      assert.deepStrictEqual(Array.from(third), Array.from(fill(5000, 3)))
    })

    it("hands out plain Uint8Arrays even when fed Node Buffers", () => {
      const data = Buffer.from(frameAll([fill(10, 1), fill(10, 2), fill(6000, 3)]))
      const { frames } = decodeWithDecoder([data.subarray(0, 20), data.subarray(20, 3000), data.subarray(3000)])
      assertFrames(frames, [fill(10, 1), fill(10, 2), fill(6000, 3)])
      for (const frame of frames) assert.strictEqual(Object.getPrototypeOf(frame), Uint8Array.prototype)
    })

    it("consumes nothing of a partially buffered frame", () => {
      const frame = frameAll([fill(100, 9)])
      const decoder = Framing.makeDecoder(options)
      decoder.push(frame.subarray(0, 2))
      assert.isUndefined(decoder.nextFrame())
      assert.strictEqual(decoder.buffered, 2)
      assert.strictEqual(decoder.neededBytes(), 2)
      decoder.push(frame.subarray(2, 50))
      assert.isUndefined(decoder.nextFrame())
      assert.isUndefined(decoder.nextFrame())
      assert.strictEqual(decoder.buffered, 50)
      assert.strictEqual(decoder.neededBytes(), 54)
      decoder.push(frame.subarray(50))
      assert.strictEqual(decoder.neededBytes(), 0)
      assert.deepStrictEqual(Array.from(decoder.nextFrame() as Uint8Array), Array.from(fill(100, 9)))
      assert.strictEqual(decoder.buffered, 0)
      assert.strictEqual(decoder.neededBytes(), 4)
    })

    it("interleaves raw reads with frames", () => {
      const data = concat([bytes(9, 8, 7), frameAll([fill(6, 1)]), bytes(1, 2), frameAll([bytes()]), bytes(5)])
      for (const sizes of [[data.length], [1], [2], [3, 5], [7]]) {
        const decoder = Framing.makeDecoder(options)
        for (const chunk of split(data, sizes)) decoder.push(chunk)
        assert.isUndefined(decoder.takeExactly(data.length + 1))
        assert.deepStrictEqual(Array.from(decoder.takeExactly(0)!), [])
        assert.deepStrictEqual(Array.from(decoder.takeExactly(3)!), [9, 8, 7])
        assert.deepStrictEqual(Array.from(decoder.nextFrame() as Uint8Array), Array.from(fill(6, 1)))
        assert.deepStrictEqual(Array.from(decoder.takeExactly(2)!), [1, 2])
        assert.deepStrictEqual(Array.from(decoder.nextFrame() as Uint8Array), [])
        assert.isUndefined(decoder.nextFrame())
        assert.strictEqual(decoder.buffered, 1)
        assert.deepStrictEqual(Array.from(decoder.takeExactly(1)!), [5])
        assert.strictEqual(decoder.buffered, 0)
        assert.isUndefined(decoder.end())
      }
    })

    it("rejects a length over the limit as soon as the header is in, and stays failed", () => {
      const decoder = Framing.makeDecoder({ maxMessageSize: 1000 })
      decoder.push(bytes(0xff, 0xff))
      assert.isUndefined(decoder.nextFrame())
      // Only the four length bytes are buffered: the error comes before anything is allocated for 4 GiB.
      decoder.push(bytes(0xff, 0xff))
      const error = decoder.nextFrame()
      assert.instanceOf(error, TransportError.FrameTooLargeError)
      const tooLarge = error as TransportError.FrameTooLargeError
      assert.strictEqual(tooLarge.direction, "inbound")
      assert.strictEqual(tooLarge.size, 0xFFFFFFFF)
      assert.strictEqual(tooLarge.maxSize, 1000)
      assert.deepStrictEqual(Array.from(tooLarge.header!), [0xff, 0xff, 0xff, 0xff])
      assert.include(tooLarge.message, "4294967295")
      assert.include(tooLarge.message, "1000")
      decoder.push(bytes(0, 0, 0, 0))
      assert.strictEqual(decoder.nextFrame(), error)
      assert.strictEqual(decoder.neededBytes(), 0)
    })

    it("accepts a frame of exactly the limit", () => {
      const { frames } = decodeWithDecoder([frameAll([fill(1000, 1)])], { maxMessageSize: 1000 })
      assertFrames(frames, [fill(1000, 1)])
      const over = decodeWithDecoder([frameAll([fill(1001, 1)])], { maxMessageSize: 1000 })
      assert.instanceOf(over.frames[0], TransportError.FrameTooLargeError)
    })

    it("reports an end inside a header or a body", () => {
      const inHeader = decodeWithDecoder([bytes(0), bytes(0, 0, 0, 0, 0)])
      assert.strictEqual(inHeader.frames.length, 1)
      assert.deepStrictEqual(
        inHeader.end,
        new TransportError.TruncatedFrameError({ part: "header", expected: 4, received: 2 })
      )
      const inBody = decodeWithDecoder([bytes(0, 0, 0, 10, 1), bytes(2, 3)])
      assert.deepStrictEqual(
        inBody.end,
        new TransportError.TruncatedFrameError({ part: "body", expected: 10, received: 3 })
      )
      const atHeader = decodeWithDecoder([bytes(0, 0, 0, 10)])
      assert.deepStrictEqual(
        atHeader.end,
        new TransportError.TruncatedFrameError({ part: "body", expected: 10, received: 0 })
      )
    })

    it.prop("gives back any frame sequence under any chunking", {
      payloads: FastCheck.array(payloadArbitrary, { maxLength: 40 }),
      cuts: cutsArbitrary
    }, ({ cuts, payloads }) => {
      const { decoder, end, frames } = decodeWithDecoder(split(frameAll(payloads), cuts))
      assertFrames(frames, payloads)
      assert.isUndefined(end)
      assert.strictEqual(decoder.buffered, 0)
    }, { fastCheck: { numRuns: 200 } })
  })

  describe("decode", () => {
    it.effect("decodes frames across chunks and batches", () =>
      Effect.gen(function*() {
        const payloads = [fill(5, 1), bytes(), fill(3000, 2), bytes(7)]
        const data = frameAll(payloads)
        for (const batch of [1, 3, 100]) {
          assertFrames(yield* decodeWithStream(split(data, [1, 2, 3, 700]), options, batch), payloads)
        }
      }))

    it.effect("fails at end of stream inside a header or a body", () =>
      Effect.gen(function*() {
        const inHeader = yield* Effect.flip(decodeWithStream([bytes(0, 0, 0, 1, 9), bytes(0, 0)]))
        assert.deepStrictEqual(
          inHeader,
          new TransportError.TruncatedFrameError({ part: "header", expected: 4, received: 2 })
        )
        const inBody = yield* Effect.flip(decodeWithStream([bytes(0, 0, 0, 10, 1, 2), bytes(3)]))
        assert.deepStrictEqual(
          inBody,
          new TransportError.TruncatedFrameError({ part: "body", expected: 10, received: 3 })
        )
        assertFrames(yield* decodeWithStream([]), [])
      }))

    it.effect("fails with FrameTooLargeError on a length over the limit after the frames before it", () =>
      Effect.gen(function*() {
        const emitted: Array<Uint8Array> = []
        const error = yield* Stream.fromIterable([frameAll([bytes(1, 2)]), bytes(0x50, 0x52, 0x49, 0x20)]).pipe(
          Stream.rechunk(2),
          Framing.decode({ maxMessageSize: 64 }),
          Stream.runForEach((frame) => Effect.sync(() => emitted.push(frame))),
          Effect.flip
        )
        assert.strictEqual(emitted.length, 1)
        assert.instanceOf(error, TransportError.FrameTooLargeError)
        assert.strictEqual((error as TransportError.FrameTooLargeError).size, 0x50524920)
        assert.include(error.message, "HTTP/2")
      }))

    it.effect("rejects an over-limit frame even when it lies whole inside one chunk", () =>
      Effect.gen(function*() {
        const data = frameAll([fill(10, 1), fill(1001, 2), fill(10, 3)])
        const emitted: Array<Uint8Array> = []
        const error = yield* Stream.make(data).pipe(
          Framing.decode({ maxMessageSize: 1000 }),
          Stream.runForEach((frame) => Effect.sync(() => emitted.push(frame))),
          Effect.flip
        )
        assertFrames(emitted, [fill(10, 1)])
        assert.strictEqual(error._tag, "FrameTooLargeError")
        assert.strictEqual((error as TransportError.FrameTooLargeError).size, 1001)
        assert.deepStrictEqual(Array.from((error as TransportError.FrameTooLargeError).header!), [0, 0, 3, 0xe9])
      }))

    it.effect("passes upstream failures through", () =>
      Effect.gen(function*() {
        const error = yield* Stream.fail("boom" as const).pipe(Framing.decode(options), Stream.runCollect, Effect.flip)
        assert.strictEqual(error, "boom")
      }))

    it.prop("decode(encode(frames)) gives the frames back under any chunking and batching", {
      payloads: FastCheck.array(payloadArbitrary, { maxLength: 40 }),
      cuts: cutsArbitrary,
      batch: FastCheck.integer({ min: 1, max: 10 })
    }, ({ batch, cuts, payloads }) => {
      const encoded = Effect.runSync(
        Stream.fromIterable(payloads).pipe(Framing.encodeStream(options), Stream.runCollect, Effect.map(Chunk.toArray))
      )
      const frames = Effect.runSync(decodeWithStream(split(concat(encoded), cuts), options, batch))
      assertFrames(frames, payloads)
    }, { fastCheck: { numRuns: 200 } })

    it.prop("turns arbitrary bytes into frames or a typed error, never a defect", {
      // Plausible frames (small lengths, some over the limit) mixed with junk, so every branch is reached.
      data: FastCheck.array(
        FastCheck.oneof(
          FastCheck.uint8Array({ maxLength: 40 }),
          FastCheck.integer({ min: 0, max: 400 }).chain((length) =>
            FastCheck.uint8Array({ maxLength: 420 }).map((body) => concat([Framing.encodeHeader(length), body]))
          )
        ),
        { maxLength: 8 }
      ).map(concat),
      cuts: cutsArbitrary,
      max: FastCheck.integer({ min: 0, max: 300 }),
      batch: FastCheck.integer({ min: 1, max: 5 })
    }, ({ batch, cuts, data, max }) => {
      const emitted: Array<Uint8Array> = []
      const exit = Effect.runSyncExit(
        Stream.fromIterable(split(data, cuts)).pipe(
          Stream.rechunk(batch),
          Framing.decode({ maxMessageSize: max }),
          Stream.runForEach((frame) => Effect.sync(() => emitted.push(frame)))
        )
      )
      // A straightforward reading of the same bytes says what must come out.
      const expected: Array<Uint8Array> = []
      let offset = 0
      let failure: string | undefined
      for (;;) {
        if (data.length - offset < 4) {
          if (offset < data.length) failure = "TruncatedFrameError"
          break
        }
        const length = new DataView(data.buffer, data.byteOffset + offset).getUint32(0)
        if (length > max) {
          failure = "FrameTooLargeError"
          break
        }
        if (data.length - offset - 4 < length) {
          failure = "TruncatedFrameError"
          break
        }
        expected.push(data.subarray(offset + 4, offset + 4 + length))
        offset += 4 + length
      }
      // Every frame before an error still comes out.
      assertFrames(emitted, expected)
      if (Exit.isSuccess(exit)) {
        assert.isUndefined(failure)
      } else {
        assert.isFalse(Cause.isDie(exit.cause))
        const error = Cause.failureOption(exit.cause).pipe(Option.getOrThrow)
        assert.isTrue(TransportError.isFrameError(error))
        assert.strictEqual(error._tag, failure)
      }
    }, { fastCheck: { numRuns: 300 } })
  })

  describe("sinks", () => {
    it.scoped("exactly reads a raw prefix, then the rest decodes as frames", () =>
      Effect.gen(function*() {
        const payloads = [fill(10, 1), bytes(), fill(100, 2)]
        const data = concat([fill(8, 7), frameAll(payloads)])
        for (const sizes of [[data.length], [1], [3], [5, 9], [8]]) {
          const [prefix, rest] = yield* Stream.peel(Stream.fromIterable(split(data, sizes)), Framing.exactly(8))
          assert.deepStrictEqual(Array.from(prefix), Array.from(fill(8, 7)))
          assertFrames(
            yield* rest.pipe(Framing.decode(options), Stream.runCollect, Effect.map(Chunk.toArray)),
            payloads
          )
        }
      }))

    it.scoped("frame takes one frame and leaves the rest", () =>
      Effect.gen(function*() {
        const payloads = [fill(10, 1), fill(20, 2), bytes()]
        const [first, rest] = yield* Stream.peel(
          Stream.fromIterable(split(frameAll(payloads), [7])),
          Framing.frame(options)
        )
        assert.deepStrictEqual(Array.from(first), Array.from(payloads[0]!))
        assertFrames(
          yield* rest.pipe(Framing.decode(options), Stream.runCollect, Effect.map(Chunk.toArray)),
          payloads.slice(1)
        )
      }))

    it.effect("fail with typed errors when the stream ends early", () =>
      Effect.gen(function*() {
        const short = yield* Stream.make(bytes(1, 2, 3)).pipe(Stream.run(Framing.exactly(8)), Effect.flip)
        assert.deepStrictEqual(
          short,
          new TransportError.TruncatedFrameError({ part: "bytes", expected: 8, received: 3 })
        )
        assert.deepStrictEqual(Array.from(yield* Stream.empty.pipe(Stream.run(Framing.exactly(0)))), [])
        const none = yield* Stream.empty.pipe(Stream.run(Framing.frame(options)), Effect.flip)
        assert.deepStrictEqual(
          none,
          new TransportError.TruncatedFrameError({ part: "header", expected: 4, received: 0 })
        )
        const cut = yield* Stream.make(bytes(0, 0, 0, 5, 1)).pipe(Stream.run(Framing.frame(options)), Effect.flip)
        assert.deepStrictEqual(cut, new TransportError.TruncatedFrameError({ part: "body", expected: 5, received: 1 }))
        const big = yield* Stream.make(bytes(1, 0, 0, 0)).pipe(
          Stream.run(Framing.frame({ maxMessageSize: 10 })),
          Effect.flip
        )
        assert.strictEqual(big._tag, "FrameTooLargeError")
      }))
  })
})
