/**
 * `rmq-transport demo` (`pnpm demo`): the transport end to end in a few seconds.
 *
 * 1. Starts a framed echo server on a free loopback port (unless `--port` names an external one).
 * 2. Provides the transport through `NodeTransport.layer` and prints every state it goes through, as it
 *    happens, from `transport.changes`.
 * 3. Sends frames (one at a time, then pipelined) and checks every echo byte for byte.
 * 4. Stops the server and starts it again on the same port: the transport's reconnect `Schedule` (exponential
 *    backoff from 100 ms) shows in the states, each failed attempt with the delay before the next.
 * 5. Prints a summary: frames, bytes, round-trip p50/p99, reconnects.
 *
 * The transport logs each transition itself; the CLI keeps those logs below its minimum level, so what is
 * printed here is the demo's own lines.
 *
 * @since 0.1.0
 */
import type { TransportServer } from "@rocketmq-effect/transport-node"
import { NodeTransport } from "@rocketmq-effect/transport-node"
import * as ConnectionState from "@rocketmq-effect/transport/ConnectionState"
import * as Transport from "@rocketmq-effect/transport/Transport"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import type { TransportError } from "@rocketmq-effect/transport/TransportError"
import * as Console from "effect/Console"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as EchoServer from "./EchoServer.js"
import { CliError, ExitCode } from "./Failure.js"
import { payloadFor, sameBytes } from "./Ping.js"
import { formatBytes, formatCount, formatMillis, summarize } from "./Stats.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface DemoOptions {
  readonly host: string
  /** An external echo server's port; none starts one here (and shows the restart). */
  readonly port: Option.Option<number>
  /** Small counts and a short outage, for tests and CI. */
  readonly quick: boolean
  readonly maxMessageSize: number
}

/**
 * What the demo did, as printed in its summary.
 *
 * @since 0.1.0
 * @category models
 */
export interface DemoSummary {
  readonly frames: number
  readonly bytes: number
  readonly p50Millis: number
  readonly p99Millis: number
  readonly reconnects: number
  readonly failedAttempts: number
}

const sizes = {
  full: { pingPongs: 500, burst: 5_000, window: 128, afterRestart: 100, outageMillis: 1500, largestFrame: 4096 },
  quick: { pingPongs: 100, burst: 1000, window: 32, afterRestart: 20, outageMillis: 700, largestFrame: 2048 }
}

/** Varied sizes, from an empty frame up to `largest` bytes. */
const sizeOf = (i: number, largest: number) => (i * 397) % (largest + 1)

/** The reconnect schedule the demo shows: 100 ms, 200 ms, 400 ms, … at most 1 s apart, 50 attempts. */
const reconnectSchedule = Transport.exponentialBackoff({
  base: Duration.millis(100),
  factor: 2,
  max: Duration.seconds(1),
  jitter: false,
  maxRetries: 50
})

const mismatch = (what: string, index: number) =>
  new CliError({ reason: `echo mismatch: ${what} frame ${index + 1} came back different`, exitCode: ExitCode.Mismatch })

/**
 * The demo.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (
  options: DemoOptions
): Effect.Effect<
  DemoSummary,
  TransportError | CliError | TransportServer.TransportServerError
> =>
  Effect.gen(function*() {
    const external = Option.isSome(options.port)
    const counts = options.quick ? sizes.quick : sizes.full
    const started = performance.now()
    const say = (line: string) => Console.log(`  +${((performance.now() - started) / 1000).toFixed(2)}s  ${line}`)
    const heading = (line: string) => Console.log(line)
    const startServer = (port: number) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const server = yield* Scope.extend(
          EchoServer.start({ host: options.host, port, maxMessageSize: options.maxMessageSize }),
          scope
        ).pipe(Effect.onError(() => Scope.close(scope, Exit.void)))
        return { scope, server }
      })

    yield* Console.log("rmq-transport demo: length-prefixed frames over TCP, the transport's states as they change")

    let local: { scope: Scope.CloseableScope; server: TransportServer.TransportServer } | undefined
    let port: number
    if (Option.isSome(options.port)) {
      port = options.port.value
      yield* heading(`1. echo server: external, ${options.host}:${port} (the restart step is skipped)`)
    } else {
      yield* heading("1. echo server")
      local = yield* startServer(0)
      port = local.server.address.port
      yield* say(`listening on ${EchoServer.formatAddress(local.server.address)}`)
    }
    yield* Effect.addFinalizer(() => local === undefined ? Effect.void : Scope.close(local.scope, Exit.void))

    const config = yield* TransportConfig.make({
      host: options.host,
      port,
      connectTimeout: Duration.seconds(2),
      timeout: Duration.seconds(5),
      maxMessageSize: options.maxMessageSize
    })

    let frames = 0
    let bytes = 0
    let reconnects = 0
    let failedAttempts = 0
    const latencies: Array<number> = []

    const demo = Effect.gen(function*() {
      const transport = yield* Transport.Transport
      yield* heading(`2. connect (NodeTransport.layer; reconnect schedule: exponential from 100 ms, at most 1 s)`)
      const watching = yield* Deferred.make<void>()
      const closed = yield* Deferred.make<void>()
      yield* transport.changes.pipe(
        Stream.runForEach((state) =>
          Effect.gen(function*() {
            if (state._tag === "Connected" && state.generation > 1) reconnects++
            if (state._tag === "Disconnected" && state.attempts > 0) failedAttempts++
            yield* say(`state: ${ConnectionState.format(state)}`)
            yield* Deferred.succeed(watching, undefined)
            if (state._tag === "Closed") yield* Deferred.succeed(closed, undefined)
          })
        ),
        Effect.forkScoped
      )
      // Started only once the watcher sees the initial state, so that it misses no transition.
      yield* Deferred.await(watching)
      yield* transport.start
      // The schedule would keep trying for a while; a demo that cannot connect says why after a few seconds.
      yield* transport.awaitConnected.pipe(
        Effect.timeout(Duration.seconds(5)),
        Effect.catchTag("TimeoutException", () =>
          Effect.flatMap(
            transport.state,
            (state): Effect.Effect<never, TransportError | CliError> =>
              state._tag === "Disconnected" && Option.isSome(state.cause)
                ? Effect.fail(state.cause.value)
                : Effect.fail(
                  new CliError({
                    reason: `timeout: not connected to ${config.address} after 5s`,
                    exitCode: ExitCode.Timeout
                  })
                )
          ))
      )

      const awaitState = (predicate: (state: ConnectionState.ConnectionState) => boolean, what: string) =>
        transport.changes.pipe(
          Stream.filter(predicate),
          Stream.runHead,
          Effect.timeoutFail({
            duration: Duration.seconds(15),
            onTimeout: () =>
              new CliError({ reason: `timeout: the transport never ${what}`, exitCode: ExitCode.Timeout })
          })
        )

      const pingPongs = (count: number, offset: number) =>
        Effect.gen(function*() {
          for (let i = 0; i < count; i++) {
            const payload = payloadFor(sizeOf(offset + i, counts.largestFrame), offset + i)
            const sent = performance.now()
            yield* transport.send(payload)
            const echo = yield* transport.recvPkg()
            latencies.push(performance.now() - sent)
            if (!sameBytes(echo, payload)) return yield* mismatch("ping-pong", offset + i)
            frames++
            bytes += payload.length
          }
        })

      yield* heading("3. echo")
      yield* pingPongs(counts.pingPongs, 0)
      const pingStats = summarize(latencies)
      yield* say(
        `${formatCount(counts.pingPongs)} ping-pongs of 0 to ${formatBytes(counts.largestFrame)}, every echo ` +
          `matched; round trip p50 ${formatMillis(pingStats.p50)}, p99 ${formatMillis(pingStats.p99)}`
      )

      // Pipelined: sends run `window` at a time while a second fiber takes the echoes in order.
      const burstStarted = performance.now()
      const burstPayload = (i: number) => payloadFor(sizeOf(i, 1024), i)
      const sender = Effect.forEach(
        Array.from({ length: counts.burst }, (_, i) => i),
        (i) => transport.send(burstPayload(i)),
        { concurrency: counts.window, discard: true }
      )
      const receiver = Effect.gen(function*() {
        for (let i = 0; i < counts.burst; i++) {
          const echo = yield* transport.recvPkg()
          const expected = burstPayload(i)
          if (!sameBytes(echo, expected)) return yield* mismatch("pipelined", i)
          frames++
          bytes += expected.length
        }
      })
      yield* Effect.all([sender, receiver], { concurrency: 2, discard: true })
      const burstMillis = performance.now() - burstStarted
      yield* say(
        `${formatCount(counts.burst)} pipelined frames of 0 to 1 KiB (${counts.window} sends in flight), every ` +
          `echo matched, in order: ${formatCount(counts.burst / (burstMillis / 1000))} frames/s`
      )

      if (local !== undefined) {
        yield* heading("4. stop the echo server, start it again on the same port")
        const before = yield* transport.state
        const generation = before._tag === "Connected" ? before.generation : 0
        yield* Scope.close(local.scope, Exit.void)
        local = undefined
        yield* say(`server stopped; staying down for ${formatMillis(counts.outageMillis)}`)
        yield* awaitState((state) => state._tag === "Disconnected", "noticed the server going away")
        yield* Effect.sleep(Duration.millis(counts.outageMillis))
        local = yield* startServer(port)
        const restarted = performance.now()
        yield* say(`server restarted on ${EchoServer.formatAddress(local.server.address)}`)
        yield* awaitState(
          (state) => state._tag === "Connected" && state.generation > generation,
          "reconnected after the restart"
        )
        yield* say(`reconnected ${formatMillis(performance.now() - restarted)} after the restart`)
        const offset = counts.pingPongs
        yield* pingPongs(counts.afterRestart, offset)
        yield* say(`${formatCount(counts.afterRestart)} ping-pongs on the new connection, every echo matched`)
      }

      yield* transport.stop
      yield* Deferred.await(closed).pipe(Effect.timeout(Duration.seconds(1)), Effect.ignore)
    })

    yield* demo.pipe(
      Effect.provide(NodeTransport.layer(config, { reconnectSchedule, autoStart: false })),
      Effect.scoped
    )

    const stats = summarize(latencies)
    yield* heading("summary")
    const line = (label: string, value: string) => Console.log(`  ${label.padEnd(11)}${value}`)
    yield* line("frames", `${formatCount(frames)} sent, ${formatCount(frames)} echoed and checked`)
    yield* line("bytes", `${formatBytes(bytes)} each way (payload)`)
    yield* line(
      "round trip",
      `p50 ${formatMillis(stats.p50)}, p99 ${formatMillis(stats.p99)} (${formatCount(stats.count)} ping-pongs)`
    )
    yield* line(
      "reconnects",
      external
        ? `${reconnects} (restart skipped: external server)`
        : `${reconnects}, after ${failedAttempts} failed attempt${failedAttempts === 1 ? "" : "s"} while the ` +
          `server was down`
    )
    yield* line("total", formatMillis(performance.now() - started))
    return { frames, bytes, p50Millis: stats.p50, p99Millis: stats.p99, reconnects, failedAttempts }
  }).pipe(Effect.scoped)
