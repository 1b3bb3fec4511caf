import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Zlib from "node:zlib"
import * as Compression from "../src/Compression.js"
import * as NodeCompression from "../src/NodeCompression.js"

// Deterministic, compressible bytes.
const pattern = (size: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: size }, (_, i) => ((i % 97) * 31 + seed + (i >> 8)) & 0xff)
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

const hasZstd = typeof (Zlib as unknown as { zstdCompressSync?: unknown }).zstdCompressSync === "function"

describe("Compression", () => {
  it("sysFlag bits as Java's MessageSysFlag and CompressionType define them", () => {
    assert.strictEqual(Compression.sysFlagOf("zlib"), 0x301)
    assert.strictEqual(Compression.sysFlagOf("lz4"), 0x101)
    assert.strictEqual(Compression.sysFlagOf("zstd"), 0x201)
    assert.strictEqual(Compression.typeOfSysFlag(0x301), "zlib")
    // type 0: 4.x producers, Go and ali-ons set only the compressed bit
    assert.strictEqual(Compression.typeOfSysFlag(0x1), "zlib")
    assert.strictEqual(Compression.typeOfSysFlag(0x1 | 0x10 | 0x20), "zlib")
    assert.strictEqual(Compression.typeOfSysFlag(0x101), "lz4")
    assert.strictEqual(Compression.typeOfSysFlag(0x201), "zstd")
    // not compressed, whatever the type bits say
    assert.strictEqual(Compression.typeOfSysFlag(0x300), undefined)
    assert.strictEqual(Compression.typeOfSysFlag(0), undefined)
    // a type number Java does not define
    assert.strictEqual(Compression.typeOfSysFlag(0x501), undefined)
    assert.strictEqual(Compression.typeNumberOfSysFlag(0x501), 5)
  })

  it.effect("NodeCompression: zlib round trip, readable by node:zlib's inflate (Java's Inflater format)", () =>
    Effect.gen(function*() {
      const compression = yield* Compression.Compression
      const body = pattern(10_000, 7)
      const compressed = yield* compression.compress(body, "zlib", 5)
      assert.isBelow(compressed.length, body.length)
      assert.strictEqual(compressed[0], 0x78) // zlib header
      assert.isTrue(sameBytes(new Uint8Array(Zlib.inflateSync(compressed)), body))
      const inflated = yield* compression.decompress(Zlib.deflateSync(body, { level: 9 }), "zlib")
      assert.isTrue(sameBytes(inflated, body))
    }).pipe(Effect.provide(NodeCompression.layer)))

  it.effect("NodeCompression: corrupt zlib is Corrupt; LZ4 is Unsupported; ZSTD by Node version", () =>
    Effect.gen(function*() {
      const compression = yield* Compression.Compression
      const corrupt = yield* Effect.flip(compression.decompress(new Uint8Array([1, 2, 3, 4, 5]), "zlib"))
      assert.strictEqual(corrupt.reason, "Corrupt")
      assert.strictEqual(corrupt.type, "zlib")
      assert.match(corrupt.message, /not valid zlib/)
      const lz4 = yield* Effect.flip(compression.decompress(new Uint8Array([1]), "lz4"))
      assert.strictEqual(lz4.reason, "Unsupported")
      assert.strictEqual(
        (yield* Effect.flip(compression.compress(new Uint8Array([1]), "lz4", 1))).reason,
        "Unsupported"
      )
      if (hasZstd) {
        const body = pattern(5000, 3)
        const compressed = yield* compression.compress(body, "zstd", 3)
        assert.isTrue(sameBytes(yield* compression.decompress(compressed, "zstd"), body))
      } else {
        const zstd = yield* Effect.flip(compression.decompress(new Uint8Array([1]), "zstd"))
        assert.strictEqual(zstd.reason, "Unsupported")
      }
    }).pipe(Effect.provide(NodeCompression.layer)))
})
