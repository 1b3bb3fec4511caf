/**
 * The engine behind `Framing.makeDecoder`, `decodeChannel` and the sinks: a queue of received chunks read
 * in place, and the small-copy slab.
 *
 * Invariants of `DecoderImpl`: `buffered` counts the unread bytes of `chunks[head..]`; while it is not zero,
 * `chunks[head]` has unread bytes and `offset` is the first of them (a chunk read to its end is dropped at
 * once); `failure`, once set, never changes.
 *
 * @internal
 */
import type { Decoder } from "../Framing.js"
import { FrameTooLargeError, TruncatedFrameError } from "../TransportError.js"

/** @internal */
export const HEADER_SIZE = 4

const EMPTY = new Uint8Array(0)

// Reads the big-endian length at `offset`; callers have checked that four bytes are there.
const readLength = (bytes: Uint8Array, offset: number): number =>
  (bytes[offset]! << 24 | bytes[offset + 1]! << 16 | bytes[offset + 2]! << 8 | bytes[offset + 3]!) >>> 0

// Chunks are dropped from the queue head by advancing an index; the array is reset or compacted only when
// that is cheap relative to the work already done, so consuming stays linear however many chunks pass.
const COMPACT_THRESHOLD = 1024

/** @internal */
export class DecoderImpl implements Decoder {
  buffered = 0
  private chunks: Array<Uint8Array> = []
  private head = 0
  private offset = 0
  private failure: FrameTooLargeError | undefined = undefined
  private slab: Uint8Array | undefined = undefined
  private slabOffset = 0
  private readonly limit: number

  constructor(limit: number) {
    this.limit = limit
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.buffered += chunk.length
  }

  nextFrame(): Uint8Array | FrameTooLargeError | undefined {
    if (this.failure !== undefined) return this.failure
    const buffered = this.buffered
    if (buffered < HEADER_SIZE) return undefined
    const chunk = this.chunks[this.head]!
    const offset = this.offset
    const available = chunk.length - offset
    const length = available >= HEADER_SIZE
      ? readLength(chunk, offset)
      : this.peekSplitHeader()
    if (length > this.limit) return this.poison(length)
    const total = HEADER_SIZE + length
    if (buffered < total) return undefined
    this.buffered = buffered - total
    if (available >= total) {
      const end = offset + total
      if (end === chunk.length) this.dropHead()
      else this.offset = end
      return view(chunk, offset + HEADER_SIZE, length)
    }
    this.skip(HEADER_SIZE)
    return this.copyOut(length)
  }

  /**
   * Appends every frame that is ready to `out`, returning the error if a length is over the limit. The
   * stream transformation uses it so the frames lying inside one chunk come out of a loop over locals.
   */
  drainInto(out: Array<Uint8Array>): FrameTooLargeError | undefined {
    const limit = this.limit
    for (;;) {
      if (this.failure !== undefined) return this.failure
      if (this.buffered < HEADER_SIZE) return undefined
      const chunk = this.chunks[this.head]!
      const size = chunk.length
      const start = this.offset
      const buffer = chunk.buffer
      const base = chunk.byteOffset
      let offset = start
      while (size - offset >= HEADER_SIZE) {
        const length = readLength(chunk, offset)
        const end = offset + HEADER_SIZE + length
        if (length > limit || end > size) break
        out.push(new Uint8Array(buffer, base + offset + HEADER_SIZE, length))
        offset = end
      }
      if (offset !== start) {
        this.buffered -= offset - start
        if (offset === size) this.dropHead()
        else this.offset = offset
      }
      // What is left is a frame that spans chunks, an incomplete one, or an error: the general path decides.
      const next = this.nextFrame()
      if (next === undefined) return undefined
      if (!(next instanceof Uint8Array)) return next
      out.push(next)
    }
  }

  takeExactly(n: number): Uint8Array | undefined {
    if (n === 0) return EMPTY
    // A fractional or negative count would desynchronise `buffered` from the views handed out.
    if (!(n > 0 && Number.isSafeInteger(n)) || this.buffered < n) return undefined
    this.buffered -= n
    const chunk = this.chunks[this.head]!
    const offset = this.offset
    if (chunk.length - offset >= n) {
      const end = offset + n
      if (end === chunk.length) this.dropHead()
      else this.offset = end
      return view(chunk, offset, n)
    }
    return this.copyOut(n)
  }

  neededBytes(): number {
    if (this.failure !== undefined) return 0
    if (this.buffered < HEADER_SIZE) return HEADER_SIZE - this.buffered
    const length = this.peekHeader()
    if (length > this.limit) return 0
    const missing = HEADER_SIZE + length - this.buffered
    return missing > 0 ? missing : 0
  }

  headError(): FrameTooLargeError | undefined {
    if (this.failure !== undefined) return this.failure
    if (this.buffered < HEADER_SIZE) return undefined
    const length = this.peekHeader()
    return length > this.limit ? this.poison(length) : undefined
  }

  end(): TruncatedFrameError | undefined {
    const buffered = this.buffered
    if (buffered === 0) return undefined
    if (buffered < HEADER_SIZE) {
      return new TruncatedFrameError({ part: "header", expected: HEADER_SIZE, received: buffered })
    }
    const length = this.peekHeader()
    if (HEADER_SIZE + length <= buffered) return undefined
    return new TruncatedFrameError({ part: "body", expected: length, received: buffered - HEADER_SIZE })
  }

  /** Hands back every buffered byte as views, in order, leaving the decoder empty. */
  drain(): Array<Uint8Array> {
    const out: Array<Uint8Array> = []
    for (let i = this.head; i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!
      out.push(i === this.head && this.offset > 0 ? view(chunk, this.offset, chunk.length - this.offset) : chunk)
    }
    this.chunks = []
    this.head = 0
    this.offset = 0
    this.buffered = 0
    return out
  }

  private peekHeader(): number {
    const chunk = this.chunks[this.head]!
    const o = this.offset
    return chunk.length - o >= HEADER_SIZE
      ? readLength(chunk, o)
      : this.peekSplitHeader()
  }

  // Only reached when the four length bytes straddle chunks; the caller has checked they are buffered.
  private peekSplitHeader(): number {
    const h = this.headerBytes()
    return readLength(h, 0)
  }

  private headerBytes(): Uint8Array {
    const header = new Uint8Array(HEADER_SIZE)
    let index = this.head
    let offset = this.offset
    for (let read = 0; read < HEADER_SIZE; read++) {
      let chunk = this.chunks[index]!
      while (offset >= chunk.length) {
        chunk = this.chunks[++index]!
        offset = 0
      }
      header[read] = chunk[offset++]!
    }
    return header
  }

  private poison(length: number): FrameTooLargeError {
    this.failure = new FrameTooLargeError({
      direction: "inbound",
      size: length,
      maxSize: this.limit,
      header: this.headerBytes()
    })
    return this.failure
  }

  private skip(n: number): void {
    while (n > 0) {
      const chunk = this.chunks[this.head]!
      const available = chunk.length - this.offset
      if (available > n) {
        this.offset += n
        return
      }
      n -= available
      this.dropHead()
    }
  }

  // Copies `n` bytes that span chunks into one new buffer; `buffered` was already reduced.
  private copyOut(n: number): Uint8Array {
    const out = n <= SLAB_COPY_MAX ? this.carve(n) : allocate(n)
    let written = 0
    while (written < n) {
      const chunk = this.chunks[this.head]!
      const offset = this.offset
      const available = chunk.length - offset
      const wanted = n - written
      if (available > wanted) {
        out.set(view(chunk, offset, wanted), written)
        this.offset = offset + wanted
        return out
      }
      out.set(offset === 0 ? chunk : view(chunk, offset, available), written)
      written += available
      this.dropHead()
    }
    return out
  }

  // Small copies share a slab that belongs to this decoder, so they cost a view rather than a buffer each
  // (the buffer allocation would cost more than the copy).
  private carve(n: number): Uint8Array {
    let slab = this.slab
    if (slab === undefined || slab.length - this.slabOffset < n) {
      slab = this.slab = allocate(SLAB_SIZE)
      this.slabOffset = 0
    }
    const start = this.slabOffset
    this.slabOffset = start + n
    return view(slab, start, n)
  }

  private dropHead(): void {
    const chunks = this.chunks
    // Release the reference so the consumed chunk can be collected while views of it are not held.
    chunks[this.head] = EMPTY
    this.offset = 0
    if (++this.head === chunks.length) {
      chunks.length = 0
      this.head = 0
    } else if (this.head >= COMPACT_THRESHOLD && this.head * 2 >= chunks.length) {
      this.chunks = chunks.slice(this.head)
      this.head = 0
    }
  }
}

// Payload views are plain `Uint8Array`s built directly on the chunk's memory: on Node, `subarray` of a
// `Buffer` goes through `Buffer`'s own constructor and costs two to three times as much, which is most of
// the per-frame cost for small frames.
const view = (chunk: Uint8Array, start: number, length: number): Uint8Array =>
  new Uint8Array(chunk.buffer, chunk.byteOffset + start, length)

// A slab is small enough that a frame kept long pins little memory, and holds at least eight copies.
const SLAB_SIZE = 32 * 1024
const SLAB_COPY_MAX = 4 * 1024

// Copies of spanning payloads are overwritten in full at once, so zero-filling them first is wasted work;
// on Node, `Buffer.allocUnsafeSlow` skips it (and never hands out a slice of a shared pool).
export const allocate: (size: number) => Uint8Array = (() => {
  const NodeBuffer = (globalThis as { readonly Buffer?: { readonly allocUnsafeSlow?: unknown } }).Buffer
  if (NodeBuffer !== undefined && typeof NodeBuffer.allocUnsafeSlow === "function") {
    const allocUnsafeSlow = NodeBuffer.allocUnsafeSlow as (size: number) => Uint8Array
    return (size) => new Uint8Array(allocUnsafeSlow(size).buffer, 0, size)
  }
  return (size) => new Uint8Array(size)
})()
