/**
 * RemotingCommands to bytes and back. A command travels as one frame of the transport; this module makes
 * and reads the frame's payload:
 *
 * ```text
 * uint32 BE  headerMark   (serializeType << 24) | headerLength      serializeType: 0 JSON, 1 ROCKETMQ
 * bytes      header       headerLength bytes, JSON or ROCKETMQ binary
 * bytes      body         the rest of the payload (may be empty)
 * ```
 *
 * The transport's `send` adds the 4-byte frame length; `encodeFrame` / `decodeFrame` include it, to compare
 * with Java's `RemotingCommand.encode()`.
 *
 * Both header layouts are byte for byte Java 5.x's: the JSON one as fastjson 1.2 writes it (keys
 * alphabetical, `language` by name, `serializeTypeCurrentRPC`, Java's escaping of strings), the binary
 * one as `RocketMQSerializable` lays it out. extFields go out in the map's order (Java writes a `HashMap`'s
 * order, which a Java peer never depends on). Strings are written as Java writes them: an unpaired surrogate
 * becomes `?`.
 *
 * Decoding reads the serialize type from each payload's mark, since a server answers in its own configured
 * type, not in the request's. Nothing throws: bad input is a `RemotingCodecError` whose `reason` names the
 * broken rule. A decoded body is a view of the payload, not a copy.
 *
 * Zero-length strings in a ROCKETMQ header decode as Java reads them: a zero-length remark is no remark, and
 * an extFields entry whose key or value has zero length is dropped (Java turns it into an unreachable null
 * entry). In JSON an empty remark, key or value stays empty.
 *
 * @since 0.2.0
 */
import * as Framing from "@rocketmq-effect/transport/Framing"
import * as Either from "effect/Either"
import * as BinaryHeader from "./internal/binaryHeader.js"
import { readJsonHeader, writeJsonHeader } from "./internal/jsonHeader.js"
import { utf8Length, writeUtf8 } from "./internal/utf8.js"
import type { RemotingCommand, SerializeType } from "./RemotingCommand.js"
import { RemotingCodecError } from "./RemotingError.js"

/**
 * The serialize type's number in the header mark's top byte.
 *
 * @since 0.2.0
 * @category constants
 */
export const serializeTypeCode: { readonly [K in SerializeType]: number } = { JSON: 0, ROCKETMQ: 1 }

/**
 * The largest header the 24-bit length of the header mark can express: 16 MiB − 1.
 *
 * @since 0.2.0
 * @category constants
 */
export const MAX_HEADER_LENGTH = 0xffffff

const encodeWith = (
  command: RemotingCommand,
  serializeType: SerializeType,
  prefix: 0 | 4
): Either.Either<Uint8Array, RemotingCodecError> => {
  let headerLength: number
  let writeHeader: (target: Uint8Array, view: DataView, offset: number) => void
  if (serializeType === "JSON") {
    const text = writeJsonHeader(command)
    if (text instanceof RemotingCodecError) return Either.left(text)
    headerLength = utf8Length(text)
    writeHeader = (target, _view, offset) => writeUtf8(text, target, offset)
  } else {
    const plan = BinaryHeader.plan(command)
    if (plan instanceof RemotingCodecError) return Either.left(plan)
    headerLength = plan.size
    writeHeader = (target, view, offset) => BinaryHeader.write(command, plan, target, view, offset)
  }
  if (headerLength > MAX_HEADER_LENGTH) {
    return Either.left(new RemotingCodecError({ reason: "HeaderTooLarge", serializeType, value: headerLength }))
  }
  const body = command.body
  const payloadLength = 4 + headerLength + body.length
  if (payloadLength > Framing.MAX_FRAME_LENGTH) {
    return Either.left(
      new RemotingCodecError({
        reason: "ValueOutOfRange",
        serializeType,
        field: "payload length",
        value: payloadLength,
        detail: "the frame's uint32 length"
      })
    )
  }
  const out = new Uint8Array(prefix + payloadLength)
  const view = new DataView(out.buffer)
  if (prefix === 4) view.setUint32(0, payloadLength)
  view.setUint32(prefix, ((serializeTypeCode[serializeType] << 24) | headerLength) >>> 0)
  writeHeader(out, view, prefix + 4)
  if (body.length > 0) out.set(body, prefix + 4 + headerLength)
  return Either.right(out)
}

/**
 * The payload of a frame carrying `command`: header mark, header, body (no frame length; the transport adds
 * it). Fails before producing anything when a field does not fit the chosen layout: a `code` above 32767
 * in `ROCKETMQ` (`POP_MESSAGE` and `ACK_MESSAGE` need `JSON`), a language without a name in `JSON`, a
 * header over 16 MiB − 1.
 *
 * @example
 * ```ts
 * import { RemotingCodec, RemotingCode, RemotingCommand } from "@rocketmq-effect/remoting"
 * import { Either } from "effect"
 *
 * const command = RemotingCommand.request(RemotingCode.RequestCode.GET_BROKER_CLUSTER_INFO, { opaque: 1 })
 * const payload = Either.getOrThrow(RemotingCodec.encode(command, "JSON"))
 * const back = Either.getOrThrow(RemotingCodec.decode(payload))
 * assert.strictEqual(back.code, 106)
 *
 * const pop = RemotingCommand.request(RemotingCode.RequestCode.POP_MESSAGE)
 * assert.strictEqual(Either.isLeft(RemotingCodec.encode(pop, "ROCKETMQ")), true)
 * ```
 *
 * @since 0.2.0
 * @category encoding
 */
export const encode = (
  command: RemotingCommand,
  serializeType: SerializeType
): Either.Either<Uint8Array, RemotingCodecError> => encodeWith(command, serializeType, 0)

/**
 * The whole frame carrying `command`: the 4-byte length followed by the payload `encode` makes; the bytes
 * Java's `RemotingCommand.encode()` produces.
 *
 * @since 0.2.0
 * @category encoding
 */
export const encodeFrame = (
  command: RemotingCommand,
  serializeType: SerializeType
): Either.Either<Uint8Array, RemotingCodecError> => encodeWith(command, serializeType, 4)

const readMark = (payload: Uint8Array): number =>
  ((payload[0]! << 24) | (payload[1]! << 16) | (payload[2]! << 8) | payload[3]!) >>> 0

const typeOfMark = (mark: number): SerializeType | undefined => {
  const type = mark >>> 24
  return type === 0 ? "JSON" : type === 1 ? "ROCKETMQ" : undefined
}

const tooShort = (payload: Uint8Array) =>
  new RemotingCodecError({ reason: "PayloadTooShort", available: payload.length, value: payload.length })

const unknownType = (mark: number) =>
  new RemotingCodecError({
    reason: "UnknownSerializeType",
    value: mark >>> 24,
    detail: `header mark 0x${mark.toString(16).padStart(8, "0")}`
  })

/**
 * The serialize type of a payload, from its header mark: lets a handler answer a server's request in the
 * type it came in.
 *
 * @since 0.2.0
 * @category decoding
 */
export const serializeTypeOf = (payload: Uint8Array): Either.Either<SerializeType, RemotingCodecError> => {
  if (payload.length < 4) return Either.left(tooShort(payload))
  const mark = readMark(payload)
  const type = typeOfMark(mark)
  return type === undefined ? Either.left(unknownType(mark)) : Either.right(type)
}

/**
 * Reads a frame payload (what the transport delivers: no length prefix) into a command. The header's serialize
 * type comes from the payload's mark. The body is a view of `payload`.
 *
 * @since 0.2.0
 * @category decoding
 */
export const decode = (payload: Uint8Array): Either.Either<RemotingCommand, RemotingCodecError> => {
  if (payload.length < 4) return Either.left(tooShort(payload))
  const mark = readMark(payload)
  const headerLength = mark & 0xffffff
  const serializeType = typeOfMark(mark)
  // The type first: when another protocol's bytes arrive, their "type" says more than their "length".
  if (serializeType === undefined) return Either.left(unknownType(mark))
  if (headerLength > payload.length - 4) {
    return Either.left(
      new RemotingCodecError({
        reason: "HeaderLengthOutOfRange",
        serializeType,
        value: headerLength,
        available: payload.length - 4
      })
    )
  }
  const end = 4 + headerLength
  const body = payload.subarray(end)
  const command = serializeType === "JSON"
    ? readJsonHeader(payload.subarray(4, end), body)
    : BinaryHeader.read(payload, 4, end, body)
  return command instanceof RemotingCodecError ? Either.left(command) : Either.right(command)
}

/**
 * Reads a whole frame (4-byte length, then the payload), such as Java's `RemotingCommand.encode()` output.
 * The length must match the bytes that follow it.
 *
 * @since 0.2.0
 * @category decoding
 */
export const decodeFrame = (frame: Uint8Array): Either.Either<RemotingCommand, RemotingCodecError> => {
  if (frame.length < 4) return Either.left(tooShort(frame))
  const length = readMark(frame)
  if (length !== frame.length - 4) {
    return Either.left(
      new RemotingCodecError({ reason: "FrameLengthMismatch", value: length, available: frame.length - 4 })
    )
  }
  return decode(frame.subarray(4))
}
