import * as Duration from "effect/Duration"

/**
 * When the next attempt comes, in words: `retrying now`, or `retrying in 1s`, the delay in whole
 * milliseconds (a schedule's delay less the time already spent carries fractions that would print as ns).
 *
 * @internal
 */
export const retryText = (delay: Duration.Duration): string => {
  const millis = Math.round(Duration.toMillis(delay))
  return millis === 0 ? "retrying now" : `retrying in ${Duration.format(Duration.millis(millis))}`
}
