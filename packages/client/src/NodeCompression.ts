/**
 * The `Compression` service over `node:zlib`.
 *
 * - zlib: `deflateSync` / `inflateSync` (zlib-wrapped deflate, what Java's `Deflater`/`Inflater` read and write).
 * - zstd: `zstdCompressSync` / `zstdDecompressSync` when this Node has them (22.15+, 23.8+); `Unsupported`
 *   otherwise.
 * - lz4: `Unsupported` (Node has no LZ4). Provide your own `Compression` layer to read LZ4 bodies.
 *
 * The calls are synchronous: bodies are at most a few MiB, and Java's client compresses on the caller's thread too.
 *
 * @since 0.3.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Zlib from "node:zlib"
import type { CompressionService, CompressionType } from "./Compression.js"
import { Compression, CompressionError } from "./Compression.js"

interface ZstdFunctions {
  readonly zstdCompressSync?: (bytes: Uint8Array, options?: { readonly params?: Record<number, number> }) => Buffer
  readonly zstdDecompressSync?: (bytes: Uint8Array) => Buffer
}

const zstd = Zlib as unknown as ZstdFunctions
const zstdLevelParam = (Zlib.constants as unknown as Record<string, number | undefined>)["ZSTD_c_compressionLevel"]

const unsupported = (type: CompressionType) => Effect.fail(new CompressionError({ reason: "Unsupported", type }))

const asBytes = (buffer: Buffer): Uint8Array => new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)

/**
 * The service itself, for callers that build their own layer around it.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make: CompressionService = {
  compress: (bytes, type, level) => {
    switch (type) {
      case "zlib":
        return Effect.try({
          try: () => asBytes(Zlib.deflateSync(bytes, { level })),
          catch: (cause) => new CompressionError({ reason: "Failed", type, cause })
        })
      case "zstd": {
        const compress = zstd.zstdCompressSync
        if (compress === undefined) return unsupported(type)
        return Effect.try({
          try: () =>
            asBytes(compress(bytes, zstdLevelParam === undefined ? {} : { params: { [zstdLevelParam]: level } })),
          catch: (cause) => new CompressionError({ reason: "Failed", type, cause })
        })
      }
      case "lz4":
        return unsupported(type)
    }
  },
  decompress: (bytes, type) => {
    switch (type) {
      case "zlib":
        return Effect.try({
          try: () => asBytes(Zlib.inflateSync(bytes)),
          catch: (cause) => new CompressionError({ reason: "Corrupt", type, cause })
        })
      case "zstd": {
        const decompress = zstd.zstdDecompressSync
        if (decompress === undefined) return unsupported(type)
        return Effect.try({
          try: () => asBytes(decompress(bytes)),
          catch: (cause) => new CompressionError({ reason: "Corrupt", type, cause })
        })
      }
      case "lz4":
        return unsupported(type)
    }
  }
}

/**
 * `Compression` over `node:zlib`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<Compression> = Layer.succeed(Compression, make)
