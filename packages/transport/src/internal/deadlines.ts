import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * A pending operation's deadline. `expire` is called once, when the deadline passes first.
 *
 * @internal
 */
export interface Deadline {
  readonly at: number
  readonly expire: () => void
}

/**
 * When an operation gives up: at `at` (by the deadlines' clock), failing with `error()`.
 *
 * @internal
 */
export interface TimeLimit<E> {
  readonly at: number
  readonly error: () => E
}

/**
 * Deadlines of pending operations, enforced by one sweeper fiber per transport that runs only while some
 * operation has a deadline.
 *
 * Why not `Effect.timeout` on every call: it races the call against a sleep in two new fibers and a timer,
 * which costs tens of microseconds per call, several times the cost of the operation itself. Here a pending
 * operation only goes into a set (removed when it settles), and the sweeper sleeps until the earliest
 * deadline it knows of. As long as new deadlines are not earlier than the one it sleeps towards (the usual
 * case: every call uses the same timeout), adding one wakes nobody. Sleeping through `Effect.sleep` keeps it
 * on the `Clock`, so `TestClock` drives it.
 *
 * The sweeper is started (through `fork`, in the transport's scope) by the first deadline added while none
 * runs, and ends when it finds no deadline pending: an idle transport parks no fiber for it.
 *
 * @internal
 */
export class Deadlines {
  private readonly pending = new Set<Deadline>()
  private sleepingUntil = Number.POSITIVE_INFINITY
  private wakeSweeper: (() => void) | undefined = undefined
  private sweeping = false

  constructor(
    private readonly now: () => number,
    private readonly fork: (sweeper: Effect.Effect<void>) => void
  ) {}

  add(deadline: Deadline): void {
    this.pending.add(deadline)
    if (!this.sweeping) {
      this.sweeping = true
      this.sleepingUntil = Number.NEGATIVE_INFINITY
      this.fork(this.sweep)
    } else if (deadline.at < this.sleepingUntil) {
      this.wake()
    }
  }

  remove(deadline: Deadline): void {
    this.pending.delete(deadline)
  }

  // Expires what is due, then sleeps until the next deadline or a wake-up; ends when nothing is pending.
  private readonly sweep: Effect.Effect<void> = Effect.suspend((): Effect.Effect<void> => {
    const now = this.now()
    let next = Number.POSITIVE_INFINITY
    for (const deadline of this.pending) {
      if (deadline.at <= now) {
        this.pending.delete(deadline)
        deadline.expire()
      } else if (deadline.at < next) {
        next = deadline.at
      }
    }
    if (this.pending.size === 0) {
      this.sweeping = false
      this.sleepingUntil = Number.POSITIVE_INFINITY
      return Effect.void
    }
    this.sleepingUntil = next
    const woken = Effect.async<void>((resume) => {
      this.wakeSweeper = () => resume(Effect.void)
      return Effect.sync(() => {
        this.wakeSweeper = undefined
      })
    })
    return Effect.zipRight(Effect.raceFirst(Effect.sleep(Duration.millis(next - now)), woken), this.sweep)
  })

  private wake(): void {
    const wake = this.wakeSweeper
    if (wake !== undefined) {
      this.wakeSweeper = undefined
      this.sleepingUntil = Number.NEGATIVE_INFINITY
      wake()
    }
  }
}
