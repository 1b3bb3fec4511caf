/**
 * Socket addresses as the store layout and message ids hold them (4 or 16 address bytes and a port) and as
 * text: `a.b.c.d:port`, or `[x:x:x:x:x:x:x:x]:port` with the groups as Java's `Inet6Address.getHostAddress`
 * writes them (lower-case hex, no leading zeros, no `::`).
 */

/** The address bytes at `at` (4, or 16 when `v6`) as text, without the port. */
export const ipText = (view: DataView, at: number, v6: boolean): string => {
  if (!v6) return `${view.getUint8(at)}.${view.getUint8(at + 1)}.${view.getUint8(at + 2)}.${view.getUint8(at + 3)}`
  let out = ""
  for (let i = 0; i < 8; i++) out += (i === 0 ? "" : ":") + view.getUint16(at + 2 * i).toString(16)
  return out
}

/** The address at `at` followed by its int32 port, as `ip:port` or `[ip]:port`. */
export const hostText = (view: DataView, at: number, v6: boolean): string =>
  v6 ? `[${ipText(view, at, true)}]:${view.getInt32(at + 16)}` : `${ipText(view, at, false)}:${view.getInt32(at + 4)}`
