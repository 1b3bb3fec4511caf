/**
 * A message's properties as RocketMQ sends and stores them: `name\u0001value\u0002`, repeated (Java
 * `MessageDecoder.messageProperties2String` / `string2messageProperties`).
 */

/** Between a name and its value. */
export const NAME_VALUE_SEPARATOR = "\u0001"

/** After each value. */
export const PROPERTY_SEPARATOR = "\u0002"

/** `name\u0001value\u0002` for each entry, in the map's order. */
export const encode = (properties: ReadonlyMap<string, string>): string => {
  let out = ""
  for (const [name, value] of properties) out += name + NAME_VALUE_SEPARATOR + value + PROPERTY_SEPARATOR
  return out
}

/**
 * Java's reading: pairs split at `\u0002` (the last one may lack it); a pair with an empty name or an empty
 * value, or without `\u0001`, is skipped; a later duplicate name wins.
 */
export const decode = (text: string): Map<string, string> => {
  const out = new Map<string, string>()
  const length = text.length
  let index = 0
  while (index < length) {
    let end = text.indexOf(PROPERTY_SEPARATOR, index)
    if (end < 0) end = length
    if (end - index >= 3) {
      const separator = text.indexOf(NAME_VALUE_SEPARATOR, index)
      if (separator > index && separator < end - 1) {
        out.set(text.slice(index, separator), text.slice(separator + 1, end))
      }
    }
    index = end + 1
  }
  return out
}
