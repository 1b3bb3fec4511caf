// Heap of idle transports by constructor: connects N transports to an echo server, writes heap snapshots
// before and after (into the temp directory), and prints what the N added, grouped by constructor name
// (count and self size per transport). MODE: full (Transport.make, connected), unstarted, connector (a
// connection read by a fiber), connector-nofiber, layer (NodeTransport.layer), promise (makeClient).
// Measure the built packages, as the benchmark does (`pnpm build` first):
//   tsx --expose-gc --import ./bench/built-packages.mjs bench/heap-idle.ts PORT [N] [MODE]
import { NodeConnector, NodeTransport } from "@rocketmq-effect/transport-node"
import * as Connector from "@rocketmq-effect/transport/Connector"
import * as Transport from "@rocketmq-effect/transport/Transport"
import * as TransportConfig from "@rocketmq-effect/transport/TransportConfig"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as v8 from "node:v8"

const port = Number(process.argv[2])
const count = Number(process.argv[3] ?? 1000)
const gc = (globalThis as { gc?: () => void }).gc!

const summarize = (file: string): Map<string, { count: number; size: number }> => {
  const snap = JSON.parse(fs.readFileSync(file, "utf8"))
  const fields: Array<string> = snap.snapshot.meta.node_fields
  const types: Array<string> = snap.snapshot.meta.node_types[0]
  const width = fields.length
  const iType = fields.indexOf("type"), iName = fields.indexOf("name"), iSize = fields.indexOf("self_size")
  const out = new Map<string, { count: number; size: number }>()
  const nodes: Array<number> = snap.nodes
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]!]!
    const name = type === "object" || type === "closure" ? `${type}:${snap.strings[nodes[i + iName]!]}` : type
    const entry = out.get(name) ?? { count: 0, size: 0 }
    entry.count++
    entry.size += nodes[i + iSize]!
    out.set(name, entry)
  }
  return out
}

const mode = process.argv[4] ?? "full"
const clients: Array<{ stop: () => Promise<void> }> = []
const connect = (scope: Scope.Scope, n: number) => {
  const config = TransportConfig.make({ host: "127.0.0.1", port }).pipe(Effect.runSync)
  const one: Effect.Effect<unknown, unknown, Connector.Connector | Scope.Scope> = mode === "unstarted"
    ? Effect.asVoid(Transport.make(config, { autoStart: false }))
    : mode === "connector"
    ? Effect.flatMap(Connector.Connector, (c) => c.connect(config)).pipe(
      Effect.flatMap((conn) => Effect.forkScoped(conn.socket.run(() => {}))),
      Effect.asVoid,
      Effect.orDie
    )
    : mode === "connector-nofiber"
    ? Effect.flatMap(Connector.Connector, (c) => c.connect(config)).pipe(Effect.asVoid, Effect.orDie)
    : mode === "promise"
    ? Effect.promise(async () => {
      const client = await NodeTransport.makeClient(config)
      await client.awaitConnected()
      clients.push(client)
    })
    : mode === "layer"
    ? Effect.flatMap(
      Layer.build(NodeTransport.layer(config)),
      (context) => Context.get(context, Transport.Transport).awaitConnected
    )
    : Effect.flatMap(Transport.make(config), (t) => t.awaitConnected)
  return Effect.forEach(
    Array.from({ length: n }),
    () => one,
    { concurrency: 1000, discard: true }
  ).pipe(Effect.provide(NodeConnector.layer), Scope.extend(scope), Effect.runPromise)
}

const main = async () => {
  const warm = Effect.runSync(Scope.make())
  await connect(warm, 20)
  await Effect.runPromise(Scope.close(warm, Exit.void))
  await new Promise((r) => setTimeout(r, 200))
  for (let i = 0; i < 3; i++) gc()
  const m0 = process.memoryUsage()
  const before = v8.writeHeapSnapshot(Path.join(Os.tmpdir(), "idle-before.heapsnapshot"))
  const scope = Effect.runSync(Scope.make())
  await connect(scope, count)
  await new Promise((r) => setTimeout(r, 300))
  for (let i = 0; i < 3; i++) gc()
  const m1 = process.memoryUsage()
  const after = v8.writeHeapSnapshot(Path.join(Os.tmpdir(), "idle-after.heapsnapshot"))
  console.log(
    `heapUsed+external per transport: ${
      ((m1.heapUsed + m1.external - m0.heapUsed - m0.external) / count / 1024).toFixed(1)
    } KiB`
  )
  const a = summarize(before), b = summarize(after)
  const rows = [...b].map(([name, v]) => {
    const p = a.get(name) ?? { count: 0, size: 0 }
    return { name, count: (v.count - p.count) / count, bytes: (v.size - p.size) / count }
  }).filter((r) => Math.abs(r.bytes) > 20).sort((x, y) => y.bytes - x.bytes)
  let total = 0
  for (const r of rows) total += r.bytes
  console.log(`snapshot self size per transport: ${(total / 1024).toFixed(1)} KiB`)
  for (const r of rows.slice(0, 60)) {
    console.log(`${r.bytes.toFixed(0).padStart(7)} B ${r.count.toFixed(2).padStart(7)}× ${r.name}`)
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))
  process.exit(0)
}
main()
