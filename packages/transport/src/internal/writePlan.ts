import * as Either from "effect/Either"
import * as Framing from "../Framing.js"
import { FrameTooLargeError } from "../TransportError.js"
import { concat } from "./bytes.js"

/**
 * How outbound frames become writes: small payloads are copied behind their header and joined into writes
 * of about `WRITE_BATCH_BYTES`; from `ZERO_COPY_BYTES` on, a payload is written from the caller's buffer, its
 * header as a write of its own, so the caller's buffer is only read until the send completes.
 */

/**
 * Small frames are joined into writes of about this size.
 *
 * @internal
 */
export const WRITE_BATCH_BYTES = 64 * 1024

/**
 * From this size on, a payload is written from the caller's buffer instead of being copied behind its header.
 *
 * @internal
 */
export const ZERO_COPY_BYTES = 32 * 1024

const tooLarge = (size: number, framing: Framing.FramingOptions) =>
  new FrameTooLargeError({ direction: "outbound", size, maxSize: framing.maxMessageSize })

/**
 * The parts one payload is written as: its frame, or its header and the payload itself.
 *
 * @internal
 */
export const framePayload = (
  payload: Uint8Array,
  framing: Framing.FramingOptions
): ReadonlyArray<Uint8Array> | FrameTooLargeError => {
  if (payload.length > framing.maxMessageSize) return tooLarge(payload.length, framing)
  if (payload.length >= ZERO_COPY_BYTES) return [Framing.encodeHeader(payload.length), payload]
  const frame = Framing.encode(payload, framing)
  return Either.isLeft(frame) ? frame.left : [frame.right]
}

/**
 * The parts several payloads are written as, in order: runs of small payloads framed into one buffer each,
 * large ones from where they are. Nothing, if one of them is too large.
 *
 * @internal
 */
export const framePayloads = (
  payloads: ReadonlyArray<Uint8Array>,
  framing: Framing.FramingOptions
): ReadonlyArray<Uint8Array> | FrameTooLargeError => {
  const parts: Array<Uint8Array> = []
  let run: Array<Uint8Array> = []
  const flush = (): FrameTooLargeError | undefined => {
    if (run.length === 0) return undefined
    const framed = Framing.encodeAll(run, framing)
    run = []
    if (Either.isLeft(framed)) return framed.left
    parts.push(framed.right)
    return undefined
  }
  for (const payload of payloads) {
    if (payload.length < ZERO_COPY_BYTES) {
      run.push(payload)
      continue
    }
    if (payload.length > framing.maxMessageSize) return tooLarge(payload.length, framing)
    const failure = flush()
    if (failure !== undefined) return failure
    parts.push(Framing.encodeHeader(payload.length), payload)
  }
  return flush() ?? parts
}

/**
 * Checks bytes that are already framed against the largest frame; the error names the payload size.
 *
 * @internal
 */
export const checkFramed = (bytes: Uint8Array, framing: Framing.FramingOptions): FrameTooLargeError | undefined =>
  bytes.length > Framing.HEADER_SIZE + framing.maxMessageSize
    ? tooLarge(bytes.length - Framing.HEADER_SIZE, framing)
    : undefined

/**
 * What the writer writes for one batch: runs of small buffers joined into one write, a large one on its own,
 * from where it is.
 *
 * @internal
 */
export const writePlan = (parts: ReadonlyArray<Uint8Array>): ReadonlyArray<Uint8Array> => {
  if (parts.length === 1) return parts
  const plan: Array<Uint8Array> = []
  let run: Array<Uint8Array> = []
  let runBytes = 0
  const flush = () => {
    if (run.length > 0) plan.push(run.length === 1 ? run[0]! : concat(run))
    run = []
    runBytes = 0
  }
  for (const part of parts) {
    if (part.length >= ZERO_COPY_BYTES) {
      flush()
      plan.push(part)
    } else {
      run.push(part)
      runBytes += part.length
      if (runBytes >= WRITE_BATCH_BYTES) flush()
    }
  }
  flush()
  return plan
}
