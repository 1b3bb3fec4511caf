/**
 * The bench's own plain `node:net` framing, shared by the fake broker and the `node:net` anchor client: the
 * 4-byte big-endian length, then the payload (header mark, header, body). Neither uses the transport's
 * `Framing`, since both measure what a hand-made peer costs without it.
 */

/**
 * Reassembles payloads from the chunks a socket delivers and hands each one over. A payload that arrived in
 * one chunk is a view of it; one spread over chunks is copied once into a buffer of its own.
 */
export class FrameReader {
  private pending: Buffer | undefined = undefined

  constructor(private readonly onPayload: (payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let data = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk])
    this.pending = undefined
    let offset = 0
    while (data.length - offset >= 4) {
      const length = data.readUInt32BE(offset)
      if (data.length - offset - 4 < length) break
      this.onPayload(data.subarray(offset + 4, offset + 4 + length))
      offset += 4 + length
    }
    if (offset < data.length) {
      data = data.subarray(offset)
      // Keep a copy: the socket may reuse the chunk's memory once the handler returns.
      this.pending = Buffer.from(data)
    }
  }
}

/** The payload's header mark, read: serialize type (0 JSON, 1 ROCKETMQ) and header length. */
export const headerMark = (payload: Buffer): { readonly serializeType: number; readonly headerLength: number } => {
  const mark = payload.readUInt32BE(0)
  return { serializeType: mark >>> 24, headerLength: mark & 0xffffff }
}
