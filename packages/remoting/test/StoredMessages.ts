/**
 * A test helper: the records of a PULL_MESSAGE answer's body, as REMOTING.md lays a stored message out
 * (both magics, IPv4 and IPv6 hosts by sysFlag). Compressed bodies are not inflated: the tests send none.
 * Also the broker's body CRC (`bodyCrc`) and offset message id (`offsetMsgId`), to check records against.
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

// ---- what the broker computes -------------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const table = new Int32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c
  }
  return table
})()

/** RocketMQ's `UtilAll.crc32`: the CRC-32 (java.util.zip.CRC32) of the body, masked to 31 bits. */
export const bodyCrc = (body: Uint8Array): number => {
  let crc = -1
  for (let i = 0; i < body.length; i++) crc = CRC_TABLE[(crc ^ body[i]!) & 0xff]! ^ (crc >>> 8)
  return (crc ^ -1) & 0x7fffffff
}

const hex = (bytes: ReadonlyArray<number>) => bytes.map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase()

/**
 * The broker's message id of a stored record (`MessageDecoder.createMessageId`, the `msgId` a SEND_MESSAGE
 * answer carries): the store host's address bytes, its port as an int32 and the physical offset as an int64,
 * in upper-case hex. 32 digits for IPv4, 56 for IPv6.
 */
export const offsetMsgId = (message: Pick<StoredMessage, "storeHost" | "physicalOffset">): string => {
  const colon = message.storeHost.lastIndexOf(":")
  const ip = message.storeHost.slice(0, colon)
  const port = Number(message.storeHost.slice(colon + 1))
  const address: Array<number> = ip.startsWith("[")
    ? ip.slice(1, -1).split(":").flatMap((group) => {
      const value = parseInt(group, 16)
      return [value >>> 8, value & 0xff]
    })
    : ip.split(".").map(Number)
  const tail = new DataView(new ArrayBuffer(12))
  tail.setInt32(0, port)
  tail.setBigInt64(4, message.physicalOffset)
  return hex([...address, ...new Uint8Array(tail.buffer)])
}
