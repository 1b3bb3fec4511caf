/**
 * Inbound flood: a plain `node:net` peer writes frames as fast as TCP lets it at a transport whose consumer
 * first reads slowly, then not at all. The transport must push back (stop reading) instead of buffering, so
 * the process's memory stays within a bound whatever the peer does.
 *
 * Prints the memory samples and the byte counts; exits 1 when a bound is broken or a frame arrives damaged.
 * Takes about 15 seconds (hard limit 20). Run: `pnpm --filter @rocketmq-effect/transport-node stress`.
 */
import * as Framing from "@rocketmq-effect/transport/Framing"
import * as Transport from "@rocketmq-effect/transport/Transport"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Net from "node:net"
import * as NodeConnector from "../src/NodeConnector.js"

const MiB = 1024 * 1024
const INBOUND_BUFFER_BYTES = 4 * MiB
/** Allowed growth of rss over the baseline taken once connected. */
const RSS_BOUND = 64 * MiB
/** Allowed bytes written by the peer and not yet consumed (transport budget + kernel and Node buffers). */
const IN_FLIGHT_BOUND = 48 * MiB
const SLOW_PHASE_MILLIS = 6_000
const STALLED_PHASE_MILLIS = 6_000
const HARD_LIMIT_MILLIS = 20_000
const FRAME_SIZES = [16, 1024, 16 * 1024, 64 * 1024]

// A ring of prebuilt frames, so the peer spends its time writing, not building: payload byte 0 is the frame's
// index in the ring, the rest a fill that depends on it.
const RING = 64
const ringPayload = (i: number): Uint8Array => {
  const size = FRAME_SIZES[i % FRAME_SIZES.length]!
  const payload = new Uint8Array(size)
  payload[0] = i
  for (let j = 1; j < size; j++) payload[j] = (j * 31 + i * 17 + (j >>> 8)) & 0xff
  return payload
}
const payloads = Array.from({ length: RING }, (_, i) => ringPayload(i))
const frames = payloads.map((payload) => Buffer.concat([Framing.encodeHeader(payload.length), payload]))

/** The flooding peer: writes until Node's buffer is full, waits for 'drain', repeats. */
const startFlooder = () =>
  new Promise<{ readonly port: number; readonly written: () => number; readonly close: () => Promise<void> }>(
    (resolve) => {
      let written = 0
      const sockets = new Set<Net.Socket>()
      const server = Net.createServer((socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
        socket.once("close", () => sockets.delete(socket))
        let next = 0
        const flood = () => {
          while (!socket.destroyed) {
            const frame = frames[next]!
            next = (next + 1) % RING
            written += frame.length
            if (!socket.write(frame)) {
              socket.once("drain", flood)
              return
            }
          }
        }
        flood()
      })
      server.listen({ host: "127.0.0.1", port: 0 }, () =>
        resolve({
          port: (server.address() as Net.AddressInfo).port,
          written: () => written,
          close: () =>
            new Promise<void>((done) => {
              for (const socket of sockets) socket.destroy()
              server.close(() => done())
            })
        }))
    }
  )

interface Sample {
  readonly at: number
  readonly phase: string
  readonly rss: number
  readonly heapUsed: number
  readonly arrayBuffers: number
  readonly inFlight: number
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`

const main = Effect.gen(function*() {
  const flooder = yield* Effect.promise(startFlooder)
  yield* Effect.addFinalizer(() => Effect.promise(flooder.close))
  const config = yield* TransportConfig.make({
    host: "127.0.0.1",
    port: flooder.port,
    timeout: "5 seconds",
    retryInterval: "100 millis"
  })
  const transport = yield* Transport.make(config, { inboundBufferBytes: INBOUND_BUFFER_BYTES }).pipe(
    Effect.provide(NodeConnector.layer)
  )
  yield* transport.awaitConnected

  let consumed = 0
  let frameCount = 0
  const damaged: Array<string> = []
  const consume = (payload: Uint8Array) => {
    const expected = payloads[frameCount % RING]!
    if (!Buffer.from(payload.buffer, payload.byteOffset, payload.length).equals(expected)) {
      if (damaged.length < 10) damaged.push(`frame ${frameCount}: ${payload.length} bytes`)
    }
    frameCount++
    consumed += Framing.HEADER_SIZE + payload.length
  }

  // Let the flood and the JIT settle, then take the baseline.
  for (let i = 0; i < 50; i++) consume(yield* transport.recvPkg())
  // With --expose-gc (the "stress" script passes it) the baseline and each sample follow a full collection, so
  // they show what is retained rather than how far the collector happened to lag.
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const baseline = process.memoryUsage()
  const started = Date.now()
  let phase = "slow"
  const samples: Array<Sample> = []
  const sample = () => {
    gc?.()
    const m = process.memoryUsage()
    samples.push({
      at: Date.now() - started,
      phase,
      rss: m.rss,
      heapUsed: m.heapUsed,
      arrayBuffers: m.arrayBuffers,
      inFlight: flooder.written() - consumed
    })
  }
  const sampler = setInterval(sample, 250)
  yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(sampler)))

  // Slow consumer: one frame every 2 ms, whatever the peer sends.
  while (Date.now() - started < SLOW_PHASE_MILLIS) {
    consume(yield* transport.recvPkg())
    yield* Effect.sleep("2 millis")
  }
  // Stalled consumer: reads nothing.
  phase = "stalled"
  yield* Effect.sleep(STALLED_PHASE_MILLIS)
  sample()
  // Reading resumes: the frames held back arrive intact and in order.
  phase = "drain"
  for (let i = 0; i < 2000; i++) consume(yield* transport.recvPkg())
  sample()

  const state = yield* transport.state
  const peak = (key: "rss" | "heapUsed" | "arrayBuffers" | "inFlight") => Math.max(...samples.map((s) => s[key]))
  const growth = {
    rss: peak("rss") - baseline.rss,
    heapUsed: peak("heapUsed") - baseline.heapUsed,
    arrayBuffers: peak("arrayBuffers") - baseline.arrayBuffers
  }

  console.log("t(ms)   phase     rss        heapUsed   arrayBuf   in flight")
  for (const s of samples) {
    console.log(
      `${String(s.at).padStart(6)}  ${s.phase.padEnd(8)}  ${mib(s.rss).padStart(9)}  ${mib(s.heapUsed).padStart(9)}  ${
        mib(s.arrayBuffers).padStart(9)
      }  ${mib(s.inFlight).padStart(9)}`
    )
  }
  console.log(
    `baseline: rss ${mib(baseline.rss)}, heapUsed ${mib(baseline.heapUsed)}, arrayBuffers ${mib(baseline.arrayBuffers)}`
  )
  console.log(
    `peak growth: rss ${mib(growth.rss)} (bound ${mib(RSS_BOUND)}), heapUsed ${mib(growth.heapUsed)}, arrayBuffers ${
      mib(growth.arrayBuffers)
    }`
  )
  console.log(
    `peer wrote ${mib(flooder.written())}, consumer took ${frameCount} frames (${mib(consumed)}); peak in flight ${
      mib(peak("inFlight"))
    } (bound ${mib(IN_FLIGHT_BOUND)}); inbound budget ${mib(INBOUND_BUFFER_BYTES)}; state ${state._tag}`
  )

  const failures: Array<string> = []
  if (growth.rss > RSS_BOUND) failures.push(`rss grew by ${mib(growth.rss)}, over ${mib(RSS_BOUND)}`)
  if (peak("inFlight") > IN_FLIGHT_BOUND) {
    failures.push(`${mib(peak("inFlight"))} written but unread, over ${mib(IN_FLIGHT_BOUND)}: no backpressure`)
  }
  if (damaged.length > 0) failures.push(`damaged frames: ${damaged.join("; ")}`)
  if (state._tag !== "Connected" || state.generation !== 1) {
    failures.push(`the connection did not stay up: ${JSON.stringify(state)}`)
  }
  return failures
}).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning))

const limit = setTimeout(() => {
  console.error(`FAIL: flood did not finish within ${HARD_LIMIT_MILLIS} ms`)
  process.exit(1)
}, HARD_LIMIT_MILLIS)

Effect.runPromise(main).then(
  (failures) => {
    clearTimeout(limit)
    if (failures.length > 0) {
      for (const failure of failures) console.error(`FAIL: ${failure}`)
      process.exit(1)
    }
    console.log("OK")
  },
  (error) => {
    clearTimeout(limit)
    console.error("FAIL:", error)
    process.exit(1)
  }
)
