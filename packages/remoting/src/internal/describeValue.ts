/** How a value that was seen is quoted in a message: strings as JSON, numbers and the like as written. */
export const describeValue = (u: unknown): string => {
  if (typeof u === "string") return JSON.stringify(u)
  if (typeof u === "bigint") return `${u}n`
  if (u === null || typeof u !== "object") return String(u)
  if (Array.isArray(u)) return "an array"
  return "an object"
}
