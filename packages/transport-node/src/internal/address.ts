import { formatAddress } from "@rocketmq-effect/transport/TransportConfig"

/**
 * A socket's peer as `TransportConfig.formatAddress` spells it, so an address read off a socket compares equal
 * to one written in a config. Node reports neither part once the socket is closed: the address is then
 * `"unknown"`.
 */
export const peerAddress = (host: string | undefined, port: number | undefined): string =>
  port === undefined ? host ?? "unknown" : formatAddress(host ?? "unknown", port)
