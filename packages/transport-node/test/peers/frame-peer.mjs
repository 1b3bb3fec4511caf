// A framed TCP peer for the network-fault tests, run as a child process (inside a network namespace): plain
// Node, no TypeScript and no workspace imports, so it starts fast under `ip netns exec` and shares no code
// with the transport it is the peer of.
//
//   node frame-peer.mjs <host> <mode>
//
// Listens on <host>, an ephemeral port, and prints `LISTENING <port>`. Frames are a 4-byte big-endian length
// and that many payload bytes. Modes:
//   echo      writes every frame back as it arrived. Backpressure: while Node holds more than HIGH_WATER
//             unwritten bytes for a connection, that connection is not read (TCP pushes back on the sender).
//   silent    reads and counts the frames, never answers (accept-and-never-answer).
//   stall     accepts and never reads: the kernel's buffers fill up and TCP pushes back.
//   remoting  answers every RocketMQ RemotingCommand request (flag bit 0 clear, oneway bit 1 clear) with a
//             JSON-header response: code 0 (SUCCESS), the request's opaque, its body echoed.
//
// stdout: `LISTENING <port>`, `ACCEPTED <id> <remote address>:<port>`, `CLOSED <id> <error code or ->`, and
// `STATS <tag> <json>` for each `stats <tag>` line on stdin: bytes and frames in and out, the largest number of
// unwritten bytes Node held for a connection (`maxWritable`) and of unparsed inbound bytes (`maxUnparsed`),
// and process.memoryUsage(). Exits when stdin closes, so it never outlives the test that started it.
import * as Net from "node:net"
import * as Readline from "node:readline"

const [host, mode = "echo"] = process.argv.slice(2)
if (host === undefined || !["echo", "silent", "stall", "remoting"].includes(mode)) {
  process.stderr.write("usage: frame-peer.mjs <host> <echo|silent|stall|remoting>\n")
  process.exit(2)
}

const HIGH_WATER = 64 * 1024
const MAX_FRAME = 64 * 1024 * 1024

const stats = { accepted: 0, bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0, maxWritable: 0, maxUnparsed: 0 }
const sockets = new Set()

const frame = (payload) => {
  const header = Buffer.allocUnsafe(4)
  header.writeUInt32BE(payload.length, 0)
  return [header, payload]
}

/** A RemotingCommand response to a JSON- or ROCKETMQ-marked request payload; undefined for none. */
const remotingAnswer = (payload) => {
  if (payload.length < 4) return undefined
  const mark = payload.readUInt32BE(0)
  const type = mark >>> 24
  const headerLength = mark & 0xffffff
  if (type !== 0 || 4 + headerLength > payload.length) return undefined
  let header
  try {
    header = JSON.parse(payload.subarray(4, 4 + headerLength).toString("utf8"))
  } catch {
    return undefined
  }
  if ((header.flag & 1) !== 0 || (header.flag & 2) !== 0) return undefined
  const body = payload.subarray(4 + headerLength)
  const text = `{"code":0,"flag":1,"language":"JAVA","opaque":${Number(header.opaque)},` +
    `"serializeTypeCurrentRPC":"JSON","version":${Number(header.version) || 0}}`
  const answerHeader = Buffer.from(text, "utf8")
  const answerMark = Buffer.allocUnsafe(4)
  answerMark.writeUInt32BE(answerHeader.length, 0)
  return Buffer.concat([answerMark, answerHeader, body])
}

const serve = (socket) => {
  const id = ++stats.accepted
  sockets.add(socket)
  socket.setNoDelay(true)
  process.stdout.write(`ACCEPTED ${id} ${socket.remoteAddress}:${socket.remotePort}\n`)
  socket.on("error", () => {})
  socket.on("close", () => {
    sockets.delete(socket)
    process.stdout.write(`CLOSED ${id} ${socket.errored?.code ?? "-"}\n`)
  })
  if (mode === "stall") {
    socket.pause()
    return
  }

  let pending = []
  let pendingBytes = 0
  const write = (chunks) => {
    for (const chunk of chunks) {
      stats.bytesOut += chunk.length
      socket.write(chunk)
    }
    stats.framesOut++
    if (socket.writableLength > stats.maxWritable) stats.maxWritable = socket.writableLength
    if (socket.writableLength > HIGH_WATER) socket.pause()
  }
  socket.on("drain", () => socket.resume())

  socket.on("data", (chunk) => {
    stats.bytesIn += chunk.length
    pending.push(chunk)
    pendingBytes += chunk.length
    if (pendingBytes > stats.maxUnparsed) stats.maxUnparsed = pendingBytes
    while (pendingBytes >= 4) {
      const joined = pending.length === 1 ? pending[0] : Buffer.concat(pending)
      pending = [joined]
      const length = joined.readUInt32BE(0)
      if (length > MAX_FRAME) {
        socket.destroy()
        return
      }
      if (pendingBytes < 4 + length) break
      const payload = joined.subarray(4, 4 + length)
      const rest = joined.subarray(4 + length)
      pending = rest.length === 0 ? [] : [rest]
      pendingBytes = rest.length
      stats.framesIn++
      if (mode === "echo") write(frame(payload))
      else if (mode === "remoting") {
        const answer = remotingAnswer(payload)
        if (answer !== undefined) write(frame(answer))
      }
    }
  })
}

const server = Net.createServer(serve)
server.on("error", (error) => {
  process.stderr.write(`${error.stack ?? error}\n`)
  process.exit(1)
})
server.listen({ host, port: 0 }, () => process.stdout.write(`LISTENING ${server.address().port}\n`))

const input = Readline.createInterface({ input: process.stdin })
input.on("line", (line) => {
  const [command, tag = "-"] = line.trim().split(/\s+/)
  if (command === "stats") {
    const memory = process.memoryUsage()
    const report = {
      ...stats,
      connections: sockets.size,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      arrayBuffers: memory.arrayBuffers
    }
    process.stdout.write(`STATS ${tag} ${JSON.stringify(report)}\n`)
  }
})
input.on("close", () => {
  for (const socket of sockets) socket.destroy()
  server.close()
  process.exit(0)
})
