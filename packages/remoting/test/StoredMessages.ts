/**
 * A test helper: the records of a PULL_MESSAGE answer's body, as REMOTING.md lays a stored message out
 * (both magics, IPv4 and IPv6 hosts by sysFlag). Compressed bodies are not inflated: the tests send none.
 */

export interface StoredMessage {
  readonly totalSize: number
  readonly magic: number
  readonly bodyCRC: number
  readonly queueId: number
  readonly flag: number
  readonly queueOffset: bigint
  readonly physicalOffset: bigint
  readonly sysFlag: number
  readonly bornTimestamp: bigint
  readonly bornHost: string
  readonly storeTimestamp: bigint
  readonly storeHost: string
  readonly reconsumeTimes: number
  readonly preparedTransactionOffset: bigint
  readonly body: Uint8Array
  readonly topic: string
  readonly properties: ReadonlyMap<string, string>
}

export const MAGIC_V1 = 0xdaa320a7 | 0
export const MAGIC_V2 = 0xdaa320ab | 0
const BORNHOST_V6_FLAG = 0x10
const STOREHOST_V6_FLAG = 0x20

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** `key\u0001value\u0002`, repeated. */
export const parseProperties = (text: string): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  for (const pair of text.split("\u0002")) {
    if (pair.length === 0) continue
    const at = pair.indexOf("\u0001")
    if (at > 0) out.set(pair.slice(0, at), pair.slice(at + 1))
  }
  return out
}

/** The inverse of `parseProperties`. */
export const writeProperties = (properties: Readonly<Record<string, string>>): string =>
  Object.entries(properties).map(([key, value]) => `${key}\u0001${value}\u0002`).join("")

const host = (view: DataView, at: number, v6: boolean): readonly [string, number] => {
  if (v6) {
    const parts: Array<string> = []
    for (let i = 0; i < 8; i++) parts.push(view.getUint16(at + 2 * i).toString(16))
    return [`[${parts.join(":")}]:${view.getInt32(at + 16)}`, at + 20]
  }
  const ip = [0, 1, 2, 3].map((i) => view.getUint8(at + i)).join(".")
  return [`${ip}:${view.getInt32(at + 4)}`, at + 8]
}

/** Every record of `body`; throws (a test helper) on a layout it does not recognise. */
export const decodeMessages = (body: Uint8Array): ReadonlyArray<StoredMessage> => {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const out: Array<StoredMessage> = []
  let offset = 0
  while (offset < body.length) {
    const start = offset
    const totalSize = view.getInt32(offset)
    const magic = view.getInt32(offset + 4)
    if (magic !== MAGIC_V1 && magic !== MAGIC_V2) throw new Error(`unknown magic 0x${(magic >>> 0).toString(16)}`)
    const bodyCRC = view.getInt32(offset + 8)
    const queueId = view.getInt32(offset + 12)
    const flag = view.getInt32(offset + 16)
    const queueOffset = view.getBigInt64(offset + 20)
    const physicalOffset = view.getBigInt64(offset + 28)
    const sysFlag = view.getInt32(offset + 36)
    const bornTimestamp = view.getBigInt64(offset + 40)
    let at = offset + 48
    const [bornHost, afterBorn] = host(view, at, (sysFlag & BORNHOST_V6_FLAG) !== 0)
    at = afterBorn
    const storeTimestamp = view.getBigInt64(at)
    const [storeHost, afterStore] = host(view, at + 8, (sysFlag & STOREHOST_V6_FLAG) !== 0)
    at = afterStore
    const reconsumeTimes = view.getInt32(at)
    const preparedTransactionOffset = view.getBigInt64(at + 4)
    const bodyLength = view.getInt32(at + 12)
    const messageBody = body.slice(at + 16, at + 16 + bodyLength)
    at += 16 + bodyLength
    const topicLength = magic === MAGIC_V1 ? view.getUint8(at) : view.getInt16(at)
    at += magic === MAGIC_V1 ? 1 : 2
    const topic = utf8.decode(body.subarray(at, at + topicLength))
    at += topicLength
    const propertiesLength = view.getInt16(at)
    const properties = parseProperties(utf8.decode(body.subarray(at + 2, at + 2 + propertiesLength)))
    at += 2 + propertiesLength
    if (at - start !== totalSize) {
      throw new Error(`record at ${start}: read ${at - start} bytes, totalSize ${totalSize}`)
    }
    out.push({
      totalSize,
      magic,
      bodyCRC,
      queueId,
      flag,
      queueOffset,
      physicalOffset,
      sysFlag,
      bornTimestamp,
      bornHost,
      storeTimestamp,
      storeHost,
      reconsumeTimes,
      preparedTransactionOffset,
      body: messageBody,
      topic,
      properties
    })
    offset = start + totalSize
  }
  return out
}
