/**
 * Message body compression as a service, so the codecs stay platform-agnostic: the decoder inflates through
 * `Compression`, and a platform layer (`NodeCompression.layer` on Node) provides it.
 *
 * RocketMQ says how a body is compressed in the message's `sysFlag`: bit `0x1` marks it compressed and bits
 * `0x700` name the algorithm (`(sysFlag & 0x700) >> 8`: 1 LZ4 frame, 2 ZSTD frame, 3 ZLIB). Type 0 also means
 * ZLIB: 4.x producers, Go and ali-ons set only `0x1` (Java `CompressionType.findByValue`).
 *
 * @since 0.3.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"

/**
 * The algorithms RocketMQ's Java client knows (`CompressionType`).
 *
 * @since 0.3.0
 * @category models
 */
export type CompressionType = "zlib" | "lz4" | "zstd"

/**
 * A body could not be compressed or decompressed.
 *
 * - `Unsupported`: this platform's layer has no codec for `type` (LZ4 everywhere on Node, ZSTD before Node 22.15).
 * - `Corrupt`: the bytes are not a valid `type` stream.
 * - `Failed`: the codec failed otherwise (see `cause`).
 *
 * @since 0.3.0
 * @category errors
 */
export class CompressionError extends Data.TaggedError("CompressionError")<{
  readonly reason: "Unsupported" | "Corrupt" | "Failed"
  readonly type: CompressionType
  readonly cause?: unknown
}> {
  override get message(): string {
    const cause = this.cause instanceof Error ? `: ${this.cause.message}` : ""
    switch (this.reason) {
      case "Unsupported":
        return `${this.type} compression is not supported by this platform's Compression layer`
      case "Corrupt":
        return `the body is not valid ${this.type} data${cause}`
      case "Failed":
        return `${this.type} compression failed${cause}`
    }
  }
}

/**
 * What a `Compression` layer provides. `level` follows the algorithm's own scale (Java compresses with 5).
 *
 * @since 0.3.0
 * @category models
 */
export interface CompressionService {
  readonly compress: (
    bytes: Uint8Array,
    type: CompressionType,
    level: number
  ) => Effect.Effect<Uint8Array, CompressionError>
  readonly decompress: (bytes: Uint8Array, type: CompressionType) => Effect.Effect<Uint8Array, CompressionError>
}

/**
 * @since 0.3.0
 * @category tags
 */
export class Compression
  extends Context.Tag("@rocketmq-effect/client/Compression")<Compression, CompressionService>()
{}

/**
 * The `sysFlag` bit that marks a body compressed (`MessageSysFlag.COMPRESSED_FLAG`).
 *
 * @since 0.3.0
 * @category constants
 */
export const COMPRESSED_FLAG = 0x1

/**
 * The `sysFlag` bits that hold the compression type (`MessageSysFlag.COMPRESSION_TYPE_COMPARATOR`).
 *
 * @since 0.3.0
 * @category constants
 */
export const COMPRESSION_TYPE_MASK = 0x700

/**
 * Java's number of each type (`CompressionType.getValue`).
 *
 * @since 0.3.0
 * @category constants
 */
export const typeNumber: { readonly [T in CompressionType]: number } = { lz4: 1, zstd: 2, zlib: 3 }

/**
 * The `sysFlag` bits a Java producer sets for a body compressed with `type`: `0x1 | typeNumber << 8`
 * (zlib → `0x301`).
 *
 * @since 0.3.0
 * @category combinators
 */
export const sysFlagOf = (type: CompressionType): number => COMPRESSED_FLAG | (typeNumber[type] << 8)

/**
 * The compression type number a `sysFlag` names (`(sysFlag & 0x700) >> 8`), whether or not the body is
 * compressed.
 *
 * @since 0.3.0
 * @category combinators
 */
export const typeNumberOfSysFlag = (sysFlag: number): number => (sysFlag & COMPRESSION_TYPE_MASK) >> 8

/**
 * The type of a compressed body: `undefined` when `sysFlag` does not have the compressed bit, and also when it
 * names a type number Java does not know (4 to 7); tell those apart with `sysFlag & COMPRESSED_FLAG`.
 *
 * @since 0.3.0
 * @category combinators
 */
export const typeOfSysFlag = (sysFlag: number): CompressionType | undefined => {
  if ((sysFlag & COMPRESSED_FLAG) === 0) return undefined
  switch (typeNumberOfSysFlag(sysFlag)) {
    case 0:
    case 3:
      return "zlib"
    case 1:
      return "lz4"
    case 2:
      return "zstd"
    default:
      return undefined
  }
}
