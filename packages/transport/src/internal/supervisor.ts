import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Runtime from "effect/Runtime"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import * as Scope from "effect/Scope"
import * as ConnectionState from "../ConnectionState.js"
import type { TransportError } from "../TransportError.js"
import type { Opened } from "./connection.js"
import type { Link } from "./link.js"
import type { TransportState } from "./transportState.js"

/**
 * What the supervisor needs of its transport.
 *
 * @internal
 */
export interface Options {
  readonly schedule: Schedule.Schedule<unknown, TransportError>
  /** A connection up at least this long counts as healthy when it drops. */
  readonly stableAfterMillis: number
  readonly now: () => number
  readonly state: TransportState
  readonly link: Link
  /** Connects once in `scope` and sets the connection up: `connection.open`. */
  readonly open: (
    scope: Scope.Scope,
    dropped: (cause: TransportError) => void
  ) => Effect.Effect<Opened | undefined, TransportError>
  /** Runs `effect` on a fiber the transport owns (and interrupts when it closes). */
  readonly fork: (effect: Effect.Effect<void>, options?: Runtime.RunForkOptions) => Fiber.RuntimeFiber<void>
}

/** One connection, from the attempt on: its scope, and why it ended once it did. */
interface Attempt {
  readonly scope: Scope.CloseableScope
  opened: Opened | undefined
  cause: TransportError | undefined
}

/**
 * The reconnect loop: connect, serve until the connection drops, wait as the schedule says, again, until the
 * transport closes or the schedule gives up. Each run (`start`) starts the schedule afresh.
 *
 * A fiber runs only while there is something to do (connecting, deciding after a drop, sleeping before the
 * next attempt): a connection that is up is served by callbacks, and the one that reports its end forks the
 * fiber that handles it. So an idle transport parks no fiber here.
 *
 * Why the schedule is stepped by hand rather than given to `Effect.retry` or `Effect.repeat`:
 * - a connection that stayed up `stableAfterMillis` restarts the schedule, with an immediate reconnect,
 *   while one that drops sooner counts as a failed attempt: neither combinator can reset on success alone;
 * - the delay is published as `retryIn` with the disconnect, before sleeping, not found out after;
 * - the disconnect is published while the old connection still exists (its scope is closed after), so that
 *   nobody sees the state still "connected" once its connection is gone.
 *
 * Invariants: `running` from `start` until a run ends (the schedule gave up, or the transport closed);
 * `fiber` is the loop's fiber while one runs; `current` is the connection whose scope is still open.
 *
 * @internal
 */
export class Supervisor {
  private running = false
  private fiber: Fiber.RuntimeFiber<void> | undefined = undefined
  private current: Attempt | undefined = undefined
  private scheduleState: unknown

  constructor(private readonly options: Options) {
    this.scheduleState = options.schedule.initial
  }

  /** Starts a run unless one is under way (connecting, connected or waiting to reconnect). */
  start(): void {
    if (this.running || this.options.link.closed) return
    this.running = true
    this.scheduleState = this.options.schedule.initial
    this.run(this.loop(0))
  }

  /** Interrupts the fiber at work, if any, and releases the connection. After `link.close`. */
  readonly stop: Effect.Effect<void> = Effect.suspend(() => {
    const fiber = this.fiber
    return Effect.zipRight(
      fiber === undefined ? Effect.void : Fiber.interrupt(fiber),
      this.release(Exit.void)
    )
  })

  private run(effect: Effect.Effect<void>, options?: Runtime.RunForkOptions): void {
    const fiber = this.options.fork(effect, options)
    this.fiber = fiber
    fiber.addObserver(() => {
      if (this.fiber === fiber) this.fiber = undefined
    })
  }

  /** Attempts until one connection is up, or there is no next attempt. */
  private loop(firstDelay: number): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      let delay = firstDelay
      while (!this.options.link.closed) {
        if (delay > 0) yield* Effect.sleep(Duration.millis(delay))
        if (this.options.link.closed) break
        const next = yield* this.attempt
        if (next === "up") return
        if (Option.isNone(next)) break
        delay = next.value
      }
      this.running = false
    })
  }

  /** One attempt: "up" once the connection is set up, else the delay before the next attempt, if any. */
  private readonly attempt: Effect.Effect<"up" | Option.Option<number>> = Effect.suspend(() => {
    const attempt: Attempt = { scope: Effect.runSync(Scope.make()), opened: undefined, cause: undefined }
    this.current = attempt
    const dropped = (cause: TransportError) => {
      if (attempt.cause !== undefined) return
      attempt.cause = cause
      // Before `open` returned, the attempt's own fiber handles the drop; after, a fiber forked for it. That
      // fiber starts on the scheduler, not on this stack: a drop can be reported from inside the inbound pump
      // or a write, which must finish what they were doing before the connection goes down under them.
      if (attempt.opened !== undefined && !this.options.link.closed) {
        this.run(this.afterDrop(attempt), { immediate: false })
      }
    }
    return this.options.open(attempt.scope, dropped).pipe(
      Effect.onInterrupt(() => this.release(Exit.void)),
      Effect.matchEffect({
        onFailure: (cause) => Effect.zipRight(this.release(Exit.void), this.onDown(cause, Option.none())),
        onSuccess: (opened): Effect.Effect<"up" | Option.Option<number>> => {
          if (opened === undefined) return Effect.as(this.release(Exit.void), Option.none<number>())
          attempt.opened = opened
          return attempt.cause === undefined ? Effect.succeed("up" as const) : this.down(attempt)
        }
      })
    )
  })

  /** A connection that was up dropped: decide and publish what follows, release it, go on as decided. */
  private afterDrop(attempt: Attempt): Effect.Effect<void> {
    return Effect.flatMap(this.down(attempt), (delay) => {
      if (this.options.link.closed || Option.isNone(delay)) {
        this.running = false
        return Effect.void
      }
      return this.loop(delay.value)
    })
  }

  private down(attempt: Attempt): Effect.Effect<Option.Option<number>> {
    return Effect.suspend(() => {
      const opened = attempt.opened!
      const cause = attempt.cause!
      this.options.link.down(opened.live, cause)
      return Effect.tap(
        this.onDown(cause, Option.some(this.options.now() - opened.upAt)),
        () => this.release(Exit.void)
      )
    })
  }

  /** Closes the scope of the current connection, if one is open. */
  private release(exit: Exit.Exit<unknown>): Effect.Effect<void> {
    return Effect.suspend(() => {
      const current = this.current
      if (current === undefined) return Effect.void
      this.current = undefined
      return Scope.close(current.scope, exit)
    })
  }

  /**
   * Decides, and publishes, what follows the end of a connection (`upFor`: how long it was up, none when
   * connecting failed): the delay before the next attempt, none when there is none.
   */
  private onDown(cause: TransportError, upFor: Option.Option<number>): Effect.Effect<Option.Option<number>> {
    const { now, schedule, stableAfterMillis, state } = this.options
    return Effect.suspend(() => {
      if (Option.isSome(upFor) && upFor.value >= stableAfterMillis) {
        this.scheduleState = schedule.initial
        return Effect.succeed(Option.some(0))
      }
      const at = now()
      return Effect.map(schedule.step(at, cause, this.scheduleState), ([nextState, _, decision]) => {
        this.scheduleState = nextState
        return ScheduleDecision.isDone(decision)
          ? Option.none<number>()
          : Option.some(Math.max(0, ScheduleIntervals.start(decision.intervals) - at))
      })
    }).pipe(
      Effect.tap((delay) =>
        state.publish(ConnectionState.Event.Disconnect({
          cause,
          exhausted: Option.isNone(delay),
          retryIn: Option.map(delay, Duration.millis)
        }))
      )
    )
  }
}
