/**
 * One measurement of the end-to-end bench, in a process of its own: one workload through one client against
 * the echo server named in the input. `Bench.ts` starts it as
 *
 *   node --expose-gc --import tsx/esm benchWorker.ts '<json input>'
 *
 * and reads one JSON line from its standard output. A process per measurement keeps one client's JIT state,
 * garbage and heap growth from being billed to the next (the memory workload needs that most).
 *
 * The clients:
 * - `baseline`: `node:net` with a hand-written linear decoder, frames built with one copy like the
 *   transport's `send`, writes corked per batch of frames.
 * - `effect`: the transport's Effect API (`NodeTransport.layer`, `send`, `frames`, `recvPkg`).
 * - `promise`: the transport's Promise API (`NodeTransport.makeClient`).
 * - `effect-untimed`: the Effect API with `{ timeout: Duration.infinity }` on every call, which skips the
 *   per-operation timeout (a diagnostic: how much of the cost is the timeout).
 *
 * @internal
 */
import type { Transport } from "@rocketmq-effect/transport"
import { NodeConnector, NodeTransport } from "@rocketmq-effect/transport-node"
import * as Transport_ from "@rocketmq-effect/transport/Transport"
import type { TransportClient } from "@rocketmq-effect/transport/TransportClient"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import { setTimeout as sleep } from "node:timers/promises"

/** @internal */
export type WorkloadName = "pipelined" | "ping-pong" | "large" | "connections"

/** @internal */
export type ClientName = "baseline" | "effect" | "promise" | "effect-untimed"

/** @internal */
export interface WorkerInput {
  readonly workload: WorkloadName
  readonly client: ClientName
  readonly host: string
  readonly port: number
  /** Frames, round trips or connections measured. */
  readonly count: number
  /** Payload bytes. */
  readonly size: number
  /** Frames outstanding at most. */
  readonly window: number
  /** Frames or round trips run first, unmeasured, on the same connection. */
  readonly warmup: number
}

/** @internal */
export type WorkerOutput =
  | { readonly ok: true; readonly metrics: Record<string, number> }
  | { readonly ok: false; readonly error: string }

// ---- payloads ---------------------------------------------------------------------------------------------

/** Payloads carry their index in the ring in the first four bytes, so each echo is checked in place. */
const makeRing = (size: number, length: number): Array<Buffer> =>
  Array.from({ length }, (_, i) => {
    const payload = Buffer.alloc(size, i & 0xff)
    if (size >= 4) payload.writeUInt32BE(i, 0)
    return payload
  })

const ringSize = (size: number, window: number) => Math.max(2 * window, size >= 64 * 1024 ? 16 : 1024)

const check = (frame: Uint8Array, size: number, index: number): void => {
  if (frame.length !== size) throw new Error(`echo ${index}: ${frame.length} bytes instead of ${size}`)
  if (size >= 4 && ((frame[0]! << 24 | frame[1]! << 16 | frame[2]! << 8 | frame[3]!) >>> 0) !== index) {
    throw new Error(`echo out of order or corrupt at ring index ${index}`)
  }
}

// ---- the clients ------------------------------------------------------------------------------------------

interface Driver {
  /** `count` frames from `ring`, at most `window` outstanding; resolves with the elapsed milliseconds. */
  readonly stream: (ring: ReadonlyArray<Buffer>, count: number, window: number) => Promise<number>
  /** `count` round trips of `payload`, one outstanding; resolves with each one's milliseconds. */
  readonly pingPong: (ring: ReadonlyArray<Buffer>, count: number) => Promise<Float64Array>
  readonly close: () => Promise<void>
}

/** The baseline's decoder: views into the chunk where a frame lies in one, one copy where it spans chunks. */
class LinearDecoder {
  private pending: Array<Buffer> = []
  private pendingBytes = 0
  /** Total bytes (header included) of the frame being assembled; -1 while its header is incomplete. */
  private need = -1
  onFrame: (frame: Buffer) => void = () => {}

  push(chunk: Buffer): void {
    let offset = 0
    if (this.pendingBytes > 0) {
      if (this.need < 0) {
        const take = Math.min(4 - this.pendingBytes, chunk.length)
        this.pending.push(chunk.subarray(0, take))
        this.pendingBytes += take
        offset = take
        if (this.pendingBytes < 4) return
        const header = Buffer.concat(this.pending, 4)
        this.pending = [header]
        this.need = 4 + header.readUInt32BE(0)
      }
      const take = Math.min(this.need - this.pendingBytes, chunk.length - offset)
      this.pending.push(chunk.subarray(offset, offset + take))
      this.pendingBytes += take
      offset += take
      if (this.pendingBytes < this.need) return
      const frame = Buffer.concat(this.pending, this.need)
      this.pending = []
      this.pendingBytes = 0
      this.need = -1
      this.onFrame(frame.subarray(4))
    }
    while (chunk.length - offset >= 4) {
      const length = chunk.readUInt32BE(offset)
      if (chunk.length - offset - 4 < length) break
      this.onFrame(chunk.subarray(offset + 4, offset + 4 + length))
      offset += 4 + length
    }
    if (offset < chunk.length) {
      const rest = chunk.subarray(offset)
      this.pending = [rest]
      this.pendingBytes = rest.length
      this.need = rest.length >= 4 ? 4 + rest.readUInt32BE(0) : -1
    }
  }
}

const frameOf = (payload: Buffer): Buffer => {
  const frame = Buffer.allocUnsafe(4 + payload.length)
  frame.writeUInt32BE(payload.length, 0)
  payload.copy(frame, 4)
  return frame
}

const connectNet = (host: string, port: number): Promise<Net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = Net.createConnection({ host, port, noDelay: true })
    socket.once("connect", () => {
      socket.off("error", reject)
      resolve(socket)
    })
    socket.once("error", reject)
  })

const baselineDriver = async (host: string, port: number): Promise<Driver> => {
  const socket = await connectNet(host, port)
  const decoder = new LinearDecoder()
  let afterChunk: () => void = () => {}
  let failed: ((error: unknown) => void) | undefined
  socket.on("data", (chunk: Buffer) => {
    try {
      decoder.push(chunk)
      afterChunk()
    } catch (error) {
      failed?.(error)
    }
  })
  socket.on("error", (error) => failed?.(error))
  socket.on("close", () => failed?.(new Error("the echo server closed the connection")))

  return {
    stream: (ring, count, window) =>
      new Promise((resolve, reject) => {
        failed = reject
        let sent = 0
        let received = 0
        const started = performance.now()
        decoder.onFrame = (frame) => {
          check(frame, ring[0]!.length, received % ring.length)
          received++
        }
        // Refilled once per inbound chunk rather than per frame, in one corked write: what a careful
        // hand-written client does.
        const pump = () => {
          if (sent === count || sent - received >= window) return
          socket.cork()
          while (sent < count && sent - received < window) {
            socket.write(frameOf(ring[sent % ring.length]!))
            sent++
          }
          socket.uncork()
        }
        afterChunk = () => {
          if (received === count) resolve(performance.now() - started)
          else pump()
        }
        pump()
      }),
    pingPong: (ring, count) =>
      new Promise((resolve, reject) => {
        failed = reject
        const samples = new Float64Array(count)
        let i = 0
        let sentAt = 0
        const next = () => {
          sentAt = performance.now()
          socket.write(frameOf(ring[i % ring.length]!))
        }
        decoder.onFrame = (frame) => {
          samples[i] = performance.now() - sentAt
          check(frame, ring[0]!.length, i % ring.length)
          i++
        }
        afterChunk = () => {
          if (i === count) resolve(samples)
          else next()
        }
        next()
      }),
    close: async () => {
      failed = undefined
      socket.destroy()
    }
  }
}

const configFor = (input: WorkerInput) =>
  TransportConfig.make({
    host: input.host,
    port: input.port,
    maxMessageSize: Math.max(TransportConfig.defaults.maxMessageSize, input.size),
    timeout: Duration.seconds(120),
    connectTimeout: Duration.seconds(60),
    maxRetries: 0
  }).pipe(Effect.runSync)

/** The Effect API: every workload is one Effect program over `send` / `frames` / `recvPkg`. */
const effectDriver = async (input: WorkerInput, untimed: boolean): Promise<Driver> => {
  const options: Transport.OperationOptions | undefined = untimed ? { timeout: Duration.infinity } : undefined
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(NodeTransport.layer(configFor(input)), scope))
  const transport = NodeTransport.NodeTransport.pipe(Effect.provide(context), Effect.runSync)
  await Effect.runPromise(transport.awaitConnected)

  const stream = (ring: ReadonlyArray<Buffer>, count: number, window: number) =>
    Effect.gen(function*() {
      const size = ring[0]!.length
      let sent = 0
      let received = 0
      let wakeSender: (() => void) | undefined
      const sendFailed = yield* Deferred.make<never, unknown>()
      const receiver = transport.frames.pipe(
        Stream.take(count),
        Stream.runForEachChunk((frames) =>
          Effect.sync(() => {
            for (const frame of frames) {
              check(frame, size, received % ring.length)
              received++
            }
            const wake = wakeSender
            wakeSender = undefined
            wake?.()
          })
        )
      )
      // Each window's worth goes out as one sendAll (one write), the next as soon as echoes free room.
      const sender = Effect.gen(function*() {
        while (sent < count) {
          const room = Math.min(window - (sent - received), count - sent)
          if (room <= 0) {
            yield* Effect.async<void>((resume) => {
              wakeSender = () => resume(Effect.void)
            })
            continue
          }
          const batch = new Array<Buffer>(room)
          for (let j = 0; j < room; j++) batch[j] = ring[(sent + j) % ring.length]!
          sent += room
          // Not awaited, as the Promise client and the baseline do not wait for writes either.
          yield* Effect.fork(
            transport.sendAll(batch, options).pipe(
              Effect.catchAll((error) => Deferred.fail(sendFailed, error))
            )
          )
        }
      })
      const started = performance.now()
      yield* Effect.raceFirst(
        Effect.all([sender, receiver], { concurrency: 2, discard: true }),
        Deferred.await(sendFailed)
      )
      return performance.now() - started
    })

  const pingPong = (ring: ReadonlyArray<Buffer>, count: number) =>
    Effect.gen(function*() {
      const samples = new Float64Array(count)
      const size = ring[0]!.length
      for (let i = 0; i < count; i++) {
        const started = performance.now()
        yield* transport.send(ring[i % ring.length]!, options)
        const echo = yield* transport.recvPkg(options)
        samples[i] = performance.now() - started
        check(echo, size, i % ring.length)
      }
      return samples
    })

  return {
    stream: (ring, count, window) => Effect.runPromise(stream(ring, count, window)),
    pingPong: (ring, count) => Effect.runPromise(pingPong(ring, count)),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** The Promise API, used the way code without Effect would. */
const promiseDriver = async (input: WorkerInput): Promise<Driver> => {
  const client: TransportClient = await NodeTransport.makeClient(configFor(input))
  await client.awaitConnected()
  return {
    stream: async (ring, count, window) => {
      const size = ring[0]!.length
      let sent = 0
      let received = 0
      let failure: unknown = undefined
      const onError = (error: unknown) => {
        failure ??= error
      }
      // Refilled in one sendAll (one write) once half the window has come back, as the baseline refills
      // once per inbound chunk.
      const pump = () => {
        if (sent === count || sent - received > window / 2) return
        const batch: Array<Buffer> = []
        while (sent < count && sent - received < window) {
          batch.push(ring[sent % ring.length]!)
          sent++
        }
        client.sendAll(batch).catch(onError)
      }
      const started = performance.now()
      pump()
      for await (const frame of client.frames()) {
        check(frame, size, received % ring.length)
        received++
        if (failure !== undefined) throw failure
        if (received === count) break
        pump()
      }
      return performance.now() - started
    },
    pingPong: async (ring, count) => {
      const samples = new Float64Array(count)
      const size = ring[0]!.length
      for (let i = 0; i < count; i++) {
        const started = performance.now()
        await client.send(ring[i % ring.length]!)
        const echo = await client.recvPkg()
        samples[i] = performance.now() - started
        check(echo, size, i % ring.length)
      }
      return samples
    },
    close: () => client.stop()
  }
}

const makeDriver = (input: WorkerInput): Promise<Driver> => {
  switch (input.client) {
    case "baseline":
      return baselineDriver(input.host, input.port)
    case "effect":
    case "effect-untimed":
      return effectDriver(input, input.client === "effect-untimed")
    case "promise":
      return promiseDriver(input)
  }
}

// ---- many connections -------------------------------------------------------------------------------------

interface Held {
  readonly close: () => Promise<void>
}

const connectMany = async (input: WorkerInput, count: number): Promise<Held> => {
  switch (input.client) {
    case "baseline": {
      const sockets = await Promise.all(Array.from({ length: count }, () => connectNet(input.host, input.port)))
      // What a real client keeps per connection: a decoder reading it.
      for (const socket of sockets) {
        const decoder = new LinearDecoder()
        socket.on("data", (chunk: Buffer) => decoder.push(chunk))
        socket.on("error", () => {})
      }
      return {
        close: async () => {
          for (const socket of sockets) socket.destroy()
        }
      }
    }
    case "effect":
    case "effect-untimed": {
      const config = configFor(input)
      const scope = Effect.runSync(Scope.make())
      await Effect.forEach(
        Array.from({ length: count }),
        () =>
          Effect.flatMap(Transport_.make(config), (transport: Transport.TransportService) => transport.awaitConnected),
        { concurrency: "unbounded", discard: true }
      ).pipe(Effect.provide(NodeConnector.layer), Scope.extend(scope), Effect.runPromise)
      return { close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
    }
    case "promise": {
      const config = configFor(input)
      const clients = await Promise.all(Array.from({ length: count }, async () => {
        const client = await NodeTransport.makeClient(config)
        await client.awaitConnected()
        return client
      }))
      return { close: async () => void await Promise.all(clients.map((client) => client.stop())) }
    }
  }
}

const collect = async () => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error("run the worker with --expose-gc")
  for (let i = 0; i < 3; i++) {
    gc()
    await sleep(20)
  }
}

const connections = async (input: WorkerInput): Promise<Record<string, number>> => {
  // Warm the code paths first, so that compiling them is not counted as memory per connection.
  const warm = await connectMany(input, Math.min(20, input.count))
  await warm.close()
  await sleep(100)
  await collect()
  const before = process.memoryUsage()
  const started = performance.now()
  const held = await connectMany(input, input.count)
  const connectMs = performance.now() - started
  await sleep(300)
  await collect()
  const after = process.memoryUsage()
  await held.close()
  const perConnectionKiB = (bytes: number) => bytes / input.count / 1024
  return {
    connectMs,
    rssKiB: perConnectionKiB(after.rss - before.rss),
    heapKiB: perConnectionKiB(after.heapUsed + after.external - before.heapUsed - before.external)
  }
}

// ---- the workloads ----------------------------------------------------------------------------------------

const measure = async (input: WorkerInput): Promise<Record<string, number>> => {
  if (input.workload === "connections") return connections(input)
  const driver = await makeDriver(input)
  try {
    const ring = makeRing(input.size, ringSize(input.size, input.window))
    if (input.workload === "ping-pong") {
      if (input.warmup > 0) await driver.pingPong(ring, input.warmup)
      const samples = (await driver.pingPong(ring, input.count)).sort()
      const at = (p: number) => samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)]!
      const total = samples.reduce((sum, ms) => sum + ms, 0)
      return { p50Us: at(50) * 1000, p99Us: at(99) * 1000, roundTripsPerSec: input.count / (total / 1000) }
    }
    if (input.warmup > 0) await driver.stream(ring, input.warmup, input.window)
    const millis = await driver.stream(ring, input.count, input.window)
    return input.workload === "large"
      ? { mbPerSec: (input.count * input.size) / 1e6 / (millis / 1000) }
      : { framesPerSec: input.count / (millis / 1000) }
  } finally {
    await driver.close()
  }
}

const main = async () => {
  const input = JSON.parse(process.argv[2] ?? "{}") as WorkerInput
  let output: WorkerOutput
  try {
    output = { ok: true, metrics: await measure(input) }
  } catch (error) {
    output = { ok: false, error: error instanceof Error ? error.message : String(error) }
  }
  process.stdout.write(`${JSON.stringify(output)}\n`)
  process.exit(0)
}

// The transport logs every state transition through Effect's default logger, which writes with
// `console.log`; the Promise API's runtime cannot be given another level from outside, so the worker mutes
// the console itself (its result goes to `process.stdout` directly).
console.log = () => {}
void main()
