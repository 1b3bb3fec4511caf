/**
 * `host:port` as the core's errors and `TransportConfig.address` spell it, so an address read off a socket
 * compares equal to one written in a config.
 */
export const formatAddress = (host: string | undefined, port: number | undefined): string => {
  const h = host === undefined ? "unknown" : host.includes(":") && !host.startsWith("[") ? `[${host}]` : host
  return port === undefined ? h : `${h}:${port}`
}
