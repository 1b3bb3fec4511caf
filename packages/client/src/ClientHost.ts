/**
 * The host a producer or consumer runs on, as RocketMQ identifies it: the IP address and process id that go in
 * its client id (`ip@instance`) and in every message id it makes, and the one message-id generator they seed.
 *
 * Platform-specific (finding the address needs the OS): `NodeClient.layer` provides it on Node; `layer` takes
 * them as values anywhere else, and in tests.
 *
 * @since 0.3.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import * as MessageId from "./MessageId.js"

/**
 * @since 0.3.0
 * @category models
 */
export interface ClientHostService {
  /** The IP address, as text (`10.0.0.5`), as Java's `RemotingUtil.getLocalAddress` finds it. */
  readonly ip: string
  /** The same address as 4 (IPv4) or 16 (IPv6) bytes. */
  readonly ipBytes: Uint8Array
  readonly pid: number
  /** Message ids (`UNIQ_KEY`) in Java's format, from one counter for the whole program. */
  readonly messageIds: MessageId.MessageIdGenerator
  /** A fresh instance name for a client id, unique within this program: `pid#n`. */
  readonly nextInstanceName: () => string
}

/**
 * @since 0.3.0
 * @category tags
 */
export class ClientHost extends Context.Tag("@rocketmq-effect/client/ClientHost")<ClientHost, ClientHostService>() {}

/**
 * `10.0.0.5` or an IPv6 text address as bytes; 127.0.0.1's for anything else.
 *
 * @since 0.3.0
 * @category constructors
 */
export const ipBytes = (ip: string): Uint8Array => {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip)
  if (v4 !== null) return Uint8Array.from(v4.slice(1).map((part) => Number(part) & 0xff))
  if (ip.includes(":")) {
    const [head = "", tail = ""] = ip.replace(/%.*$/, "").split("::")
    const groups = (text: string) => text.length === 0 ? [] : text.split(":").map((group) => parseInt(group, 16) || 0)
    const left = groups(head)
    const right = ip.includes("::") ? groups(tail) : []
    const all = [...left, ...Array.from({ length: Math.max(0, 8 - left.length - right.length) }, () => 0), ...right]
    const bytes = new Uint8Array(16)
    all.slice(0, 8).forEach((group, i) => {
      bytes[2 * i] = group >>> 8
      bytes[2 * i + 1] = group & 0xff
    })
    return bytes
  }
  return Uint8Array.of(127, 0, 0, 1)
}

/**
 * A host from its address and process id.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (options: { readonly ip: string; readonly pid: number }): ClientHostService => {
  const bytes = ipBytes(options.ip)
  let instances = 0
  const startedAt = Date.now()
  return {
    ip: options.ip,
    ipBytes: bytes,
    pid: options.pid,
    messageIds: MessageId.makeGenerator({ ip: bytes, pid: options.pid }),
    // Java's default instance name is `pid#nanoTime`; a start time plus a counter is as unique in one program.
    nextInstanceName: () => `${options.pid}#${startedAt}${++instances}`
  }
}

/**
 * @since 0.3.0
 * @category layers
 */
export const layer = (options: { readonly ip: string; readonly pid: number }): Layer.Layer<ClientHost> =>
  Layer.sync(ClientHost, () => make(options))
