/**
 * The name among `candidates` closest to `name` by edit distance, when it is close enough to be a likely typo
 * (at most a third of its length, and at least 2 edits allowed); undefined otherwise.
 *
 * @internal
 */
export const closestName = (name: string, candidates: Iterable<string>): string | undefined => {
  const limit = Math.max(2, Math.floor(name.length / 3))
  let best: string | undefined = undefined
  let bestDistance = limit + 1
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate)
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/** Levenshtein distance, with a swap of two neighbours counting as one edit (`PROT` → `PORT`). */
const editDistance = (a: string, b: string): number => {
  const rows = a.length + 1
  const cols = b.length + 1
  const d: Array<Array<number>> = Array.from({ length: rows }, (_, i) => {
    const row = new Array<number>(cols).fill(0)
    row[0] = i
    return row
  })
  for (let j = 0; j < cols; j++) d[0]![j] = j
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let value = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, d[i - 2]![j - 2]! + 1)
      }
      d[i]![j] = value
    }
  }
  return d[a.length]![b.length]!
}
