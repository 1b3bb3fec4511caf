/**
 * Decoding throughput of `Framing` against a careful hand-written Node decoder.
 *
 * For each frame size, one input is built up front: frames encoded into one buffer, then cut into 64 KiB
 * chunks the way a socket delivers them (boundaries fall anywhere inside frames). Three decoders run over
 * the same chunks, interleaved, several times; the table shows medians.
 *
 *   (a) hand-written: pending chunks concatenated only when a frame spans them, views otherwise
 *   (b) `Framing.makeDecoder` driven by a plain loop
 *   (c) `Framing.decode` over `Stream.fromIterable(chunks)`
 *
 * Usage: `pnpm bench [--runs N] [--quick]`.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import * as Framing from "../src/Framing.js"

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(name)
const option = (name: string, fallback: number) => {
  const at = args.indexOf(name)
  const value = at >= 0 ? Number(args[at + 1]) : NaN
  return Number.isInteger(value) && value > 0 ? value : fallback
}

const quick = flag("--quick")
const runs = option("--runs", quick ? 3 : 5)
const CHUNK_SIZE = 64 * 1024
const MIB = 1024 * 1024
const MIN_MEASUREMENT_MS = quick ? 20 : 200

// A collection between measurements keeps one decoder's garbage from being billed to the next.
v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void

interface Result {
  readonly frames: number
  readonly bytes: number
}

// (a) The baseline: what a careful hand-written decoder does with Node buffers.
const handWritten = (chunks: ReadonlyArray<Buffer>): Result => {
  let frames = 0
  let bytes = 0
  let pending: Array<Buffer> = []
  let pendingLength = 0
  let frameLength = -1 // total bytes of the frame being assembled, -1 while its header is incomplete
  for (const chunk of chunks) {
    let offset = 0
    const size = chunk.length
    // Finish a frame started in earlier chunks, copying only its bytes.
    while (pendingLength > 0 && offset < size) {
      const target = frameLength < 0 ? 4 : frameLength
      const take = Math.min(target - pendingLength, size - offset)
      pending.push(chunk.subarray(offset, offset + take))
      pendingLength += take
      offset += take
      if (pendingLength < target) break
      const joined = Buffer.concat(pending, pendingLength)
      if (frameLength < 0) {
        frameLength = 4 + joined.readUInt32BE(0)
        pending = [joined]
        if (frameLength > 4) continue
      }
      const payload = joined.subarray(4)
      frames++
      bytes += payload.length
      pending = []
      pendingLength = 0
      frameLength = -1
    }
    while (size - offset >= 4) {
      const length = chunk.readUInt32BE(offset)
      if (size - offset - 4 < length) break
      const payload = chunk.subarray(offset + 4, offset + 4 + length)
      frames++
      bytes += payload.length
      offset += 4 + length
    }
    if (offset < size) {
      pending.push(chunk.subarray(offset))
      pendingLength = size - offset
      frameLength = pendingLength >= 4 ? 4 + chunk.readUInt32BE(offset) : -1
    }
  }
  return { frames, bytes }
}

const options: Framing.FramingOptions = { maxMessageSize: 16 * MIB }

// (b) The raw decoder.
const rawDecoder = (chunks: ReadonlyArray<Buffer>): Result => {
  const decoder = Framing.makeDecoder(options)
  let frames = 0
  let bytes = 0
  for (const chunk of chunks) {
    decoder.push(chunk)
    for (let frame = decoder.nextFrame(); frame !== undefined; frame = decoder.nextFrame()) {
      if (!(frame instanceof Uint8Array)) return { frames: -1, bytes }
      frames++
      bytes += frame.length
    }
  }
  return { frames, bytes }
}

// (c) The stream transformation. The consumer returns `Effect.void`: with an `Effect.sync` closure per chunk
// instead, V8 pretenures part of the Effect runtime, every frame then survives into the old generation and
// the run is several times slower at small frames, whatever the decoder does (`--no-allocation-site-pretenuring`
// makes the difference vanish).
const streamDecode = (chunks: ReadonlyArray<Buffer>): Result => {
  let frames = 0
  let bytes = 0
  Effect.runSync(
    Stream.fromIterable(chunks).pipe(
      Framing.decode(options),
      Stream.runForEachChunk((chunk) => {
        const array = Chunk.toReadonlyArray(chunk)
        frames += array.length
        for (let i = 0; i < array.length; i++) bytes += array[i]!.length
        return Effect.void
      })
    )
  )
  return { frames, bytes }
}

const methods = [handWritten, rawDecoder, streamDecode] as const

const buildInput = (frameSize: number, total: number) => {
  const count = Math.max(1, Math.floor(total / (frameSize + 4)))
  const data = Buffer.allocUnsafe(count * (frameSize + 4))
  for (let i = 0, offset = 0; i < count; i++, offset += frameSize + 4) {
    data.writeUInt32BE(frameSize, offset)
    data.fill(i & 0xff, offset + 4, offset + 4 + frameSize)
  }
  const chunks: Array<Buffer> = []
  for (let offset = 0; offset < data.length; offset += CHUNK_SIZE) {
    chunks.push(data.subarray(offset, offset + CHUNK_SIZE))
  }
  return { chunks, count, bytes: data.length }
}

const check = (method: (chunks: ReadonlyArray<Buffer>) => Result, result: Result, count: number, size: number) => {
  if (result.frames !== count || result.bytes !== count * size) {
    console.error(
      `${method.name} decoded ${result.frames} frames of ${result.bytes} bytes, expected ${count} of ${size}`
    )
    process.exit(1)
  }
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const label = (size: number) => size >= MIB ? `${size / MIB} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`
const rate = (n: number) => n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0)
const pad = (text: string, width: number) => text.padStart(width)

const cpus = os.cpus()
console.log(
  `machine: ${cpus[0]?.model ?? "unknown cpu"}, ${cpus.length} cores, node ${process.version}; ` +
    `median of ${runs} runs${quick ? " (quick)" : ""}`
)
console.log(
  "(a) hand-written Node decoder, (b) Framing.makeDecoder loop, (c) Framing.decode stream; b/a, c/a: speed vs (a)"
)
const columns = [7, 8, 13, 7, 13, 7, 5, 13, 7, 5]
const row = (cells: ReadonlyArray<string>) => console.log(cells.map((cell, i) => pad(cell, columns[i]!)).join(" "))
row(["frame", "input", "(a) frames/s", "MB/s", "(b) frames/s", "MB/s", "b/a", "(c) frames/s", "MB/s", "c/a"])

for (const frameSize of [64, 1024, 64 * 1024, MIB]) {
  const total = quick ? 8 * MIB : frameSize < 64 * 1024 ? 64 * MIB : 128 * MIB
  const input = buildInput(frameSize, total)

  // Warm up every method and check it decodes the input right.
  for (const method of methods) {
    for (let i = 0; i < 3; i++) check(method, method(input.chunks), input.count, frameSize)
  }
  // A measurement decodes the input several times over as one long byte stream, the way a connection
  // lives, so each lasts long enough to time and the stream's start-up cost is not billed per pass.
  const start = performance.now()
  handWritten(input.chunks)
  const repetitions = Math.max(1, Math.ceil(MIN_MEASUREMENT_MS / Math.max(performance.now() - start, 0.01)))
  const chunks = Array.from({ length: repetitions }, () => input.chunks).flat()

  const seconds: Array<Array<number>> = methods.map(() => [])
  for (let run = 0; run < runs; run++) {
    // Rotating the order keeps one method from always inheriting the allocator state another left behind.
    for (let k = 0; k < methods.length; k++) {
      const index = (run + k) % methods.length
      const method = methods[index]!
      gc()
      const start = performance.now()
      const result = method(chunks)
      seconds[index]!.push((performance.now() - start) / 1000)
      check(method, result, input.count * repetitions, frameSize)
    }
  }

  const framesPerSecond = seconds.map((s) => (input.count * repetitions) / median(s))
  const megabytesPerSecond = seconds.map((s) => (input.bytes * repetitions) / median(s) / 1e6)
  const ratio = (index: number) => (framesPerSecond[index]! / framesPerSecond[0]!).toFixed(2)
  row([
    label(frameSize),
    `${Math.round(input.bytes / MIB)} MiB`,
    rate(framesPerSecond[0]!),
    megabytesPerSecond[0]!.toFixed(0),
    rate(framesPerSecond[1]!),
    megabytesPerSecond[1]!.toFixed(0),
    ratio(1),
    rate(framesPerSecond[2]!),
    megabytesPerSecond[2]!.toFixed(0),
    ratio(2)
  ])
}
