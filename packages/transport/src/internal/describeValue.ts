import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"

/** How a value the user gave is quoted in a message: as written, not as the JSON of what it decodes to. */
export const describeValue = (u: unknown): string => {
  if (Predicate.isString(u)) return JSON.stringify(u)
  if (Predicate.isNumber(u) || Predicate.isBoolean(u) || Predicate.isNullable(u)) return String(u)
  if (Predicate.isBigInt(u)) return `${u}n`
  if (Duration.isDuration(u)) return String(u)
  if (Option.isOption(u)) {
    return Option.match(u, { onNone: () => "Option.none()", onSome: (a) => `Option.some(${describeValue(a)})` })
  }
  if (Array.isArray(u)) return `[${u.map(describeValue).join(", ")}]`
  try {
    return JSON.stringify(u) ?? String(u)
  } catch {
    return String(u)
  }
}
