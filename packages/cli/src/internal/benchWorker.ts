/**
 * One measurement of the end-to-end bench, in a process of its own: one workload through one Node client
 * against the echo server named in the input. `Bench.ts` starts it as
 *
 *   node --expose-gc --import tsx/esm benchWorker.ts '<json input>'
 *
 * and reads one JSON line from its standard output. A process per measurement keeps one client's JIT state,
 * garbage and heap growth from being billed to the next (the memory workloads need that most). The seed's
 * Python clients (`peers/seed_*_client.py`) take the same input and print the same line.
 *
 * The Node clients:
 * - `baseline`: the plain client, `node:net` with a hand-written linear decoder, frames built with one copy
 *   like the transport's `send`, and one corked write per refill of the window. In the `tls-*` workloads the
 *   same client over `tls.connect` (the plain Node TLS client).
 * - `effect`: the transport's Effect API (`NodeTransport.layer`, `send`, `frames`, `recvPkg`).
 * - `promise`: the transport's Promise API (`NodeTransport.makeClient`).
 * - `effect-untimed`: the Effect API with `{ timeout: Duration.infinity }` on every call, which skips the
 *   per-operation timeout (a diagnostic: how much of the cost is the timeout).
 * - `tcp-base`: the `tcp-base` package (the socket base of ali-ons), subclassed for the 4-byte length
 *   framing, through its request/response `send`: it matches each echo to its request by the frame's index
 *   in the payload's first four bytes.
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
import { createRequire } from "node:module"
import * as Net from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import * as Tls from "node:tls"

/**
 * `connections`: transports connected at once, time and memory per idle transport; `idle`: many more idle
 * transports in one process, memory per transport and in all.
 *
 * @internal
 */
export type WorkloadName =
  | "pipelined"
  | "ping-pong"
  | "large"
  | "connections"
  | "idle"
  | "tls-pipelined"
  | "tls-large"

/** @internal */
export type NodeClientName = "baseline" | "effect" | "promise" | "effect-untimed" | "tcp-base"

/** The seed's algorithms, in Python. @internal */
export type SeedClientName = "seed-sync" | "seed-asyncio"

/** @internal */
export type ClientName = NodeClientName | SeedClientName

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
  /**
   * Frames run first, unmeasured, on the same connection. For ping-pong, the round trips before the warm
   * figures; the cold figure is taken over the first `count` round trips, warm-up included.
   */
  readonly warmup: number
  /** Connect over TLS (the `tls-*` workloads), trusting `ca` (PEM) and checking `serverName`. */
  readonly tls?: { readonly ca: string; readonly serverName: string } | undefined
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

const connectNet = (host: string, port: number, tls: WorkerInput["tls"]): Promise<Net.Socket> =>
  new Promise((resolve, reject) => {
    // The plain TLS client: `tls.connect` as its documentation shows it, with the same decoder and writes.
    const socket = tls === undefined
      ? Net.createConnection({ host, port, noDelay: true })
      : Tls.connect({ host, port, ca: tls.ca, servername: tls.serverName }).setNoDelay(true)
    socket.once(tls === undefined ? "connect" : "secureConnect", () => {
      socket.off("error", reject)
      resolve(socket)
    })
    socket.once("error", reject)
  })

const baselineDriver = async (host: string, port: number, tls: WorkerInput["tls"]): Promise<Driver> => {
  const socket = await connectNet(host, port, tls)
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

/** The part of tcp-base's `TCPBase` the driver uses; the package has no type declarations. */
interface TcpBase {
  read(size: number): Buffer | null
  send(
    packet: { readonly id: number; readonly data: Buffer; readonly timeout?: number },
    callback: (error: Error | null | undefined, body: Buffer | undefined) => void
  ): void
  ready(): Promise<void>
  close(): Promise<void>
  on(event: "error", listener: (error: Error) => void): unknown
}

type TcpBaseClass = new(options: Record<string, unknown>) => TcpBase

const requireHere = createRequire(import.meta.url)

/**
 * tcp-base framed as the transport is (`| length: uint32 BE | payload |`), through the three methods it asks
 * a protocol for. A response is matched to its request by `id`: the frame's ring index, which every payload
 * carries in its first four bytes (the ring is at least twice the window, so no index is outstanding twice).
 */
const framedTcpBase: () => TcpBaseClass = (() => {
  let framed: TcpBaseClass | undefined
  return () => {
    if (framed === undefined) {
      const TCPBase = requireHere("tcp-base") as TcpBaseClass
      framed = class FramedTcpBase extends TCPBase {
        getHeader(): Buffer | null {
          return this.read(4)
        }
        getBodyLength(header: Buffer): number {
          return header.readUInt32BE(0)
        }
        decode(body: Buffer | undefined): { readonly id: number; readonly data: Buffer } {
          const data = body ?? Buffer.alloc(0)
          return { id: data.length >= 4 ? data.readUInt32BE(0) : -1, data }
        }
      }
    }
    return framed
  }
})()

/** Its per-request timeout; no heartbeat, as the other clients send none. */
const TCP_BASE_TIMEOUT_MILLIS = 120_000

const connectTcpBase = async (host: string, port: number, onError: (error: Error) => void): Promise<TcpBase> => {
  const Framed = framedTcpBase()
  const client = new Framed({
    host,
    port,
    noDelay: true,
    needHeartbeat: false,
    connectTimeout: 60_000,
    responseTimeout: TCP_BASE_TIMEOUT_MILLIS
  })
  client.on("error", onError)
  await client.ready()
  return client
}

/** tcp-base as ali-ons uses it: one `send` per request, each with its callback and its response timer. */
const tcpBaseDriver = async (host: string, port: number): Promise<Driver> => {
  let failed: ((error: unknown) => void) | undefined
  const client = await connectTcpBase(host, port, (error) => failed?.(error))
  const request = (id: number, payload: Buffer, callback: (error: unknown, body: Buffer | undefined) => void) =>
    client.send({ id, data: frameOf(payload), timeout: TCP_BASE_TIMEOUT_MILLIS }, callback)

  return {
    stream: (ring, count, window) =>
      new Promise((resolve, reject) => {
        failed = reject
        const size = ring[0]!.length
        let sent = 0
        let received = 0
        let done = false
        const started = performance.now()
        const onEcho = (error: unknown, body: Buffer | undefined) => {
          if (done) return
          try {
            if (error !== null && error !== undefined) throw error
            check(body ?? Buffer.alloc(0), size, received % ring.length)
          } catch (error) {
            done = true
            reject(error)
            return
          }
          received++
          if (received === count) {
            done = true
            resolve(performance.now() - started)
          } else pump()
        }
        const pump = () => {
          while (sent < count && sent - received < window) {
            const index = sent % ring.length
            sent++
            request(index, ring[index]!, onEcho)
          }
        }
        pump()
      }),
    pingPong: async (ring, count) => {
      const samples = new Float64Array(count)
      const size = ring[0]!.length
      for (let i = 0; i < count; i++) {
        const index = i % ring.length
        const started = performance.now()
        const echo = await new Promise<Buffer | undefined>((resolve, reject) => {
          failed = reject
          request(index, ring[index]!, (error, body) => (error ? reject(error) : resolve(body)))
        })
        samples[i] = performance.now() - started
        check(echo ?? Buffer.alloc(0), size, index)
      }
      return samples
    },
    close: async () => {
      failed = undefined
      await client.close()
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

const tlsOptions = (input: WorkerInput): NodeTransport.Options =>
  input.tls === undefined ? {} : { tls: { ca: input.tls.ca, serverName: input.tls.serverName } }

/** The Effect API: every workload is one Effect program over `send` / `frames` / `recvPkg`. */
const effectDriver = async (input: WorkerInput, untimed: boolean): Promise<Driver> => {
  const options: Transport.OperationOptions | undefined = untimed ? { timeout: Duration.infinity } : undefined
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(NodeTransport.layer(configFor(input), tlsOptions(input)), scope)
  )
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
  const client: TransportClient = await NodeTransport.makeClient(configFor(input), tlsOptions(input))
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

const seedClientError = (client: SeedClientName) =>
  new Error(`${client} is a Python client (internal/peers), not one of this worker's`)

const makeDriver = (input: WorkerInput): Promise<Driver> => {
  switch (input.client) {
    case "baseline":
      return baselineDriver(input.host, input.port, input.tls)
    case "effect":
    case "effect-untimed":
      return effectDriver(input, input.client === "effect-untimed")
    case "promise":
      return promiseDriver(input)
    case "tcp-base":
      return tcpBaseDriver(input.host, input.port)
    case "seed-sync":
    case "seed-asyncio":
      return Promise.reject(seedClientError(input.client))
  }
}

// ---- many connections -------------------------------------------------------------------------------------

interface Held {
  readonly close: () => Promise<void>
}

/** Connections under way at once: all of the `connections` workload, the `idle` one in a sliding window. */
const CONNECT_CONCURRENCY = 1000

/** `count` results of `make`, at most `concurrency` of them under way at once. */
const pool = async <A>(count: number, concurrency: number, make: () => Promise<A>): Promise<Array<A>> => {
  const results = new Array<A>(count)
  let next = 0
  const lane = async () => {
    while (next < count) {
      const i = next++
      results[i] = await make()
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane))
  return results
}

const connectMany = async (input: WorkerInput, count: number): Promise<Held> => {
  switch (input.client) {
    case "baseline": {
      const sockets = await pool(count, CONNECT_CONCURRENCY, () => connectNet(input.host, input.port, input.tls))
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
        { concurrency: CONNECT_CONCURRENCY, discard: true }
      ).pipe(Effect.provide(NodeConnector.layer), Scope.extend(scope), Effect.runPromise)
      return { close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
    }
    case "promise": {
      const config = configFor(input)
      const clients = await pool(count, CONNECT_CONCURRENCY, async () => {
        const client = await NodeTransport.makeClient(config)
        await client.awaitConnected()
        return client
      })
      return { close: async () => void await Promise.all(clients.map((client) => client.stop())) }
    }
    case "tcp-base": {
      const clients = await pool(count, CONNECT_CONCURRENCY, () => connectTcpBase(input.host, input.port, () => {}))
      return { close: async () => void await Promise.all(clients.map((client) => client.close())) }
    }
    case "seed-sync":
    case "seed-asyncio":
      throw seedClientError(input.client)
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

const MIB = 1024 * 1024

/**
 * `count` idle connections: the time to connect them all, what each adds to the resident set and to the heap
 * (V8's heap and the memory outside it that Buffers hold), and the process's whole heap with them all open.
 */
const idleConnections = async (input: WorkerInput): Promise<Record<string, number>> => {
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
    heapKiB: perConnectionKiB(after.heapUsed + after.external - before.heapUsed - before.external),
    heapMiB: (after.heapUsed + after.external) / MIB
  }
}

// ---- the workloads ----------------------------------------------------------------------------------------

const percentile = (sorted: Float64Array, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

const measure = async (input: WorkerInput): Promise<Record<string, number>> => {
  if (input.workload === "connections" || input.workload === "idle") return idleConnections(input)
  const driver = await makeDriver(input)
  try {
    const ring = makeRing(input.size, ringSize(input.size, input.window))
    if (input.workload === "ping-pong") {
      // One connection, one run: the first `count` round trips are the cold figure, the `count` after the
      // warm-up the warm ones.
      const samples = await driver.pingPong(ring, input.warmup + input.count)
      const warm = samples.slice(input.warmup).sort()
      const cold = samples.slice(0, input.count).sort()
      const total = warm.reduce((sum, ms) => sum + ms, 0)
      return {
        p50Us: percentile(warm, 50) * 1000,
        p99Us: percentile(warm, 99) * 1000,
        coldP99Us: percentile(cold, 99) * 1000,
        roundTripsPerSec: warm.length / (total / 1000)
      }
    }
    if (input.warmup > 0) await driver.stream(ring, input.warmup, input.window)
    const millis = await driver.stream(ring, input.count, input.window)
    return input.workload === "large" || input.workload === "tls-large"
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
