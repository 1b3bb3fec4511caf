/**
 * A real link for the fault tests: a network namespace for the peer, joined to the test process's own (root)
 * namespace by a veth pair, so that a peer can vanish the way it does on a network, silently, rather than
 * with the RST or FIN that loopback always delivers.
 *
 * ```text
 *  root namespace (the test process, the transport)        namespace rmqe-<pid>-<n> (the peer process)
 *  rmqe<i>h  198.18.a.b+1/30  <========= veth =========>  rmqe<i>p  198.18.a.b+2/30, lo up
 * ```
 *
 * Why the transport's end stays in the root namespace: a namespace is a property of a thread, and the test
 * process (Node's event loop, libuv's threads, vitest's workers) cannot be moved into one. So only the peer
 * runs inside (`ip netns exec`), and the faults are applied to the link between them.
 *
 * What each fault does, as measured on Linux 6.x:
 * - `linkDown` takes the PEER's interface down inside the namespace. The root end loses carrier and its
 *   qdisc drops whatever is sent; the peer's routes go. No RST and no FIN reaches either side: an established
 *   connection just stops hearing anything, while TCP retransmits (an unacknowledged byte keeps it
 *   retransmitting for `tcp_retries2`, about 15 minutes, and keeps keep-alive from probing).
 * - With `neighbour: "pinned"` (the default) the root end's ARP entry for the peer is permanent, so a SYN to
 *   a link that is down vanishes too and a connect hangs until its timeout (a blackhole). With
 *   `neighbour: "resolved"` the root end keeps resolving the peer by ARP: while the link is down resolution
 *   fails after `mcast_solicit` probes `retrans_time_ms` apart (3 × 1 s), and the kernel fails a connect
 *   with `EHOSTUNREACH`, as for a dead host on the same LAN. Established connections are silent either way
 *   (the kernel's own host-unreachable is only a soft error to them, never reported to the socket's user).
 * - `linkUp` brings the peer's interface back (its connected route comes back with it); what TCP still had
 *   to send goes out on its next retransmission.
 * - `slowLink(rate)` puts a token bucket (`tc qdisc ... tbf`) on both ends' egress.
 *
 * Each fixture takes its own /30 from the benchmarking range 198.18.0.0/15: subnet `i` is claimed by
 * creating the veth pair `rmqe<i>h` / `rmqe<i>p` (an interface name can exist once in the root namespace,
 * so two fixtures, in this process or another, cannot hold the same `i`), and the namespace is named
 * `rmqe-<pid>-<n>`. Everything is released with the scope: the processes started inside, the qdiscs, the
 * veth pair and the namespace. A process that dies without running its finalizers leaves namespaces named
 * after its pid; the next fixture removes those.
 *
 * Prerequisites (`availability`): root, and `ip netns add`, a veth pair and a `tbf` qdisc that work. Outside CI
 * the tests skip with the reason printed; with `CI=true` they fail (`InteropPeers`' rule).
 */
import * as ChildPeer from "@rocketmq-effect/test-kit/ChildPeer"
import * as Live from "@rocketmq-effect/test-kit/Live"
import { type Availability, skipReason, suiteName as suiteNameFor } from "@rocketmq-effect/test-kit/Prerequisites"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { PeerProcess } from "./InteropPeers.js"
import { PeerError, requireAvailable, start } from "./InteropPeers.js"

const framePeerScript = fileURLToPath(new URL("./peers/frame-peer.mjs", import.meta.url))

const PREFIX = "rmqe"
/** 198.18.0.0/15 holds 2^15 subnets of 4 addresses. */
const SUBNETS = 1 << 15

/** A token bucket's parameters: `rate`, a 32 KiB burst, at most 50 ms queued (more is dropped). */
const tbfArgs = (rate: string) => ["rate", rate, "burst", "32kb", "latency", "50ms"]

// ---- prerequisites ----------------------------------------------------------------------------------------

/** Runs `command` synchronously (for the checks made while the module loads, and the exit hook). */
const quietly = (command: string, args: ReadonlyArray<string>) => {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 10_000 })
  const ok = result.error === undefined && result.status === 0
  return { ok, stdout: result.stdout ?? "", output: `${result.error?.message ?? ""}${result.stderr ?? ""}`.trim() }
}

const probe = (): Availability<void> => {
  if (process.platform !== "linux") return { _tag: "Missing", reason: `needs Linux, not ${process.platform}` }
  if (process.getuid?.() !== 0) return { _tag: "Missing", reason: "needs root (network namespaces, veth, tc)" }
  if (!quietly("ip", ["-V"]).ok) return { _tag: "Missing", reason: "ip not found (apt-get install iproute2)" }
  if (!quietly("tc", ["-V"]).ok) return { _tag: "Missing", reason: "tc not found (apt-get install iproute2)" }
  const name = `${PREFIX}-${process.pid}-probe`
  quietly("ip", ["netns", "del", name])
  const added = quietly("ip", ["netns", "add", name])
  if (!added.ok) return { _tag: "Missing", reason: `ip netns add fails: ${added.output}` }
  try {
    // Inside the probe namespace, so nothing is left in the root one whatever fails.
    const veth = quietly("ip", ["-n", name, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1"])
    if (!veth.ok) return { _tag: "Missing", reason: `cannot create a veth pair: ${veth.output}` }
    const tbf = quietly("tc", ["-n", name, "qdisc", "add", "dev", "probe0", "root", "tbf", ...tbfArgs("4mbit")])
    if (!tbf.ok) return { _tag: "Missing", reason: `cannot add a tbf qdisc: ${tbf.output}` }
    return { _tag: "Available", value: undefined }
  } finally {
    quietly("ip", ["netns", "del", name])
  }
}

/** Whether the fixture can run here; checked once, when the module loads. */
export const availability: Availability<void> = probe()

/** Why the tests are skipped here, when they are (never with `CI=true`). */
export const skip: string | undefined = skipReason(availability)

/** A describe-name suffix that says what happens to the suite when the prerequisites are missing. */
export const suiteName = (name: string): string => suiteNameFor(name, availability)

if (skip !== undefined) console.warn(`NetworkNamespaces: skipping the real-link tests (CI would fail them): ${skip}`)

/**
 * A test over a real link in real time, in a scope, with logs below Error silenced: skipped when `skip` is
 * set, failing at once when the prerequisites are missing with `CI=true`.
 */
export const live = Live.make({ timeout: 30_000, skip, before: requireAvailable(availability) })

// ---- commands ---------------------------------------------------------------------------------------------

/**
 * Runs `command` to completion within 10 seconds; fails with its output unless it exits with 0. The bound is
 * ChildPeer's timer, not `Effect.timeout`, which could not interrupt the wait in the finalizers that use it.
 */
const sh = (command: string, args: ReadonlyArray<string>): Effect.Effect<void, PeerError> =>
  Effect.asVoid(ChildPeer.run(command, args, { timeout: "10 seconds" }))

/** Like `sh`, for a finalizer: a failure is reported, not raised (the resource may be gone already). */
const shBestEffort = (command: string, args: ReadonlyArray<string>, gone: RegExp): Effect.Effect<void> =>
  sh(command, args).pipe(
    Effect.catchAll((error) =>
      gone.test(error.reason) ? Effect.void : Effect.sync(() => console.warn(`NetworkNamespaces: ${error.reason}`))
    )
  )

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Removes the namespaces left by fixture processes that are gone (crashed, killed by a timeout). */
const sweepStale = Effect.suspend(() => {
  const listed = quietly("ip", ["netns", "list"])
  if (!listed.ok) return Effect.void
  const stale = listed.stdout.split("\n").map((line) => line.trim().split(/\s+/)[0] ?? "").filter((name) => {
    const match = new RegExp(`^${PREFIX}-(\\d+)-`).exec(name)
    return match !== null && !isAlive(Number(match[1]))
  })
  return Effect.forEach(stale, (name) => shBestEffort("ip", ["netns", "del", name], /No such file/), {
    discard: true
  })
})

// Namespaces this process holds, removed synchronously if it exits without running its finalizers.
const held = new Set<string>()
let exitHook = false
const hold = (name: string) => {
  held.add(name)
  if (exitHook) return
  exitHook = true
  process.once("exit", () => {
    for (const name of held) spawnSync("ip", ["netns", "del", name], { stdio: "ignore", timeout: 5000 })
  })
}

// ---- the fixture ------------------------------------------------------------------------------------------

/** How the root end finds the peer's MAC address: see the module comment. */
export type Neighbour = "pinned" | "resolved"

/**
 * @category models
 */
export interface NetworkNamespace {
  /** `rmqe-<pid>-<n>`. */
  readonly name: string
  /** The veth end in the root namespace, the transport's side. */
  readonly hostInterface: string
  /** The veth end inside the namespace, the peer's side. */
  readonly peerInterface: string
  readonly hostAddress: string
  readonly peerAddress: string
  /** Starts `command` inside the namespace; the scope closes its stdin, then kills it (`InteropPeers.start`). */
  readonly spawn: (command: string, args: ReadonlyArray<string>) => Effect.Effect<PeerProcess, never, Scope.Scope>
  /** Runs `command` inside the namespace to completion. */
  readonly exec: (command: string, args: ReadonlyArray<string>) => Effect.Effect<void, PeerError>
  /** Takes the peer's interface down: from now on nothing crosses the link, and nobody is told. */
  readonly linkDown: Effect.Effect<void, PeerError>
  /** Brings the peer's interface back up. */
  readonly linkUp: Effect.Effect<void, PeerError>
  /** A token bucket of `rate` (`tc` units: `4mbit`) on both ends' egress, removed with the scope. */
  readonly slowLink: (rate: string) => Effect.Effect<void, PeerError, Scope.Scope>
  /** Starts `frame-peer.mjs` inside the namespace, listening on `peerAddress`. */
  readonly startFramePeer: (mode: FramePeerMode) => Effect.Effect<FramePeer, PeerError, Scope.Scope>
}

/** See `peers/frame-peer.mjs`. */
export type FramePeerMode = "echo" | "silent" | "stall" | "remoting"

/** What the frame peer reports about itself (`stats`). */
export interface FramePeerStats {
  readonly accepted: number
  readonly connections: number
  readonly bytesIn: number
  readonly bytesOut: number
  readonly framesIn: number
  readonly framesOut: number
  /** The most unwritten bytes Node held for one connection. */
  readonly maxWritable: number
  /** The most inbound bytes held before they made a whole frame. */
  readonly maxUnparsed: number
  readonly rss: number
  readonly heapUsed: number
  readonly arrayBuffers: number
}

export interface FramePeer extends PeerProcess {
  readonly host: string
  readonly port: number
  /** Asks the peer for its counters and memory. */
  readonly stats: Effect.Effect<FramePeerStats, PeerError>
}

let fixtures = 0

/** Where this process starts looking for a free subnet: spread by pid, so parallel test files rarely try the same. */
const firstSubnet = () => ((process.pid % 4096) * 8 + fixtures) % SUBNETS

const addressOf = (subnet: number, host: 1 | 2) => {
  const offset = subnet * 4 + host
  return `198.${18 + (offset >>> 16)}.${(offset >>> 8) & 0xff}.${offset & 0xff}`
}

/** Creates the namespace (a fresh name: one a leftover holds is skipped). */
const addNamespace: Effect.Effect<string, PeerError> = Effect.gen(function*() {
  for (let attempt = 0; attempt < 16; attempt++) {
    const name = `${PREFIX}-${process.pid}-${++fixtures}`
    const added = yield* Effect.either(sh("ip", ["netns", "add", name]))
    if (added._tag === "Right") return name
    if (!/File exists/.test(added.left.reason)) return yield* added.left
  }
  return yield* new PeerError({ reason: "no free namespace name after 16 attempts" })
})

/** Claims a /30 by creating its veth pair, the peer's end inside `namespace`. */
const addVeth = (namespace: string): Effect.Effect<number, PeerError> =>
  Effect.gen(function*() {
    const first = firstSubnet()
    for (let attempt = 0; attempt < 64; attempt++) {
      const subnet = (first + attempt) % SUBNETS
      const added = yield* Effect.either(
        sh("ip", [
          "link",
          "add",
          `${PREFIX}${subnet}h`,
          "type",
          "veth",
          "peer",
          "name",
          `${PREFIX}${subnet}p`,
          "netns",
          namespace
        ])
      )
      if (added._tag === "Right") return subnet
      if (!/File exists/.test(added.left.reason)) return yield* added.left
    }
    return yield* new PeerError({ reason: "no free 198.18.0.0/15 subnet after 64 attempts" })
  })

/**
 * A namespace for a peer, linked to the root namespace by a veth pair with a /30 of its own, both ends up,
 * `lo` up inside. Released with the scope.
 */
export const make = (
  options: { readonly neighbour?: Neighbour } = {}
): Effect.Effect<NetworkNamespace, PeerError, Scope.Scope> =>
  Effect.gen(function*() {
    yield* requireAvailable(availability)
    yield* sweepStale
    const name = yield* Effect.acquireRelease(
      Effect.tap(addNamespace, (name) => Effect.sync(() => hold(name))),
      (name) =>
        shBestEffort("ip", ["netns", "del", name], /No such file/).pipe(
          Effect.ensuring(Effect.sync(() => held.delete(name)))
        )
    )
    // Deleting the root end deletes the pair at once, even while something still holds the namespace open.
    const subnet = yield* Effect.acquireRelease(
      addVeth(name),
      (subnet) => shBestEffort("ip", ["link", "del", `${PREFIX}${subnet}h`], /Cannot find device/)
    )
    const hostInterface = `${PREFIX}${subnet}h`
    const peerInterface = `${PREFIX}${subnet}p`
    const hostAddress = addressOf(subnet, 1)
    const peerAddress = addressOf(subnet, 2)
    const inside = (command: string, args: ReadonlyArray<string>) => sh("ip", ["netns", "exec", name, command, ...args])

    yield* sh("ip", ["addr", "add", `${hostAddress}/30`, "dev", hostInterface])
    yield* sh("ip", ["link", "set", hostInterface, "up"])
    yield* sh("ip", ["-n", name, "addr", "add", `${peerAddress}/30`, "dev", peerInterface])
    yield* sh("ip", ["-n", name, "link", "set", peerInterface, "up"])
    yield* sh("ip", ["-n", name, "link", "set", "lo", "up"])
    if ((options.neighbour ?? "pinned") === "pinned") {
      const mac = quietly("ip", ["netns", "exec", name, "cat", `/sys/class/net/${peerInterface}/address`])
      const address = mac.stdout.trim()
      if (!mac.ok || !/^[0-9a-f:]{17}$/.test(address)) {
        return yield* new PeerError({ reason: `cannot read the MAC address of ${peerInterface}: ${mac.output}` })
      }
      yield* sh("ip", ["neigh", "replace", peerAddress, "lladdr", address, "dev", hostInterface, "nud", "permanent"])
    }

    const namespace: NetworkNamespace = {
      name,
      hostInterface,
      peerInterface,
      hostAddress,
      peerAddress,
      spawn: (command, args) => start("ip", ["netns", "exec", name, command, ...args]),
      exec: inside,
      linkDown: sh("ip", ["-n", name, "link", "set", peerInterface, "down"]),
      linkUp: sh("ip", ["-n", name, "link", "set", peerInterface, "up"]),
      slowLink: (rate) =>
        Effect.acquireRelease(
          Effect.zipRight(
            sh("tc", ["qdisc", "replace", "dev", hostInterface, "root", "tbf", ...tbfArgs(rate)]),
            sh("tc", ["-n", name, "qdisc", "replace", "dev", peerInterface, "root", "tbf", ...tbfArgs(rate)])
          ),
          () =>
            Effect.zipRight(
              shBestEffort("tc", ["qdisc", "del", "dev", hostInterface, "root"], /Cannot find device|Invalid handle/),
              shBestEffort(
                "tc",
                ["-n", name, "qdisc", "del", "dev", peerInterface, "root"],
                /Cannot find device|Invalid handle|Cannot open network namespace/
              )
            )
        ).pipe(Effect.asVoid),
      startFramePeer: (mode) =>
        Effect.gen(function*() {
          const proc = yield* start("ip", ["netns", "exec", name, process.execPath, framePeerScript, peerAddress, mode])
          const line = yield* proc.awaitLine((line) => line.startsWith("LISTENING ")).pipe(
            Effect.timeoutFail({
              duration: "10 seconds",
              onTimeout: () => new PeerError({ reason: `frame peer not listening after 10 s: ${proc.stderr()}` })
            })
          )
          let tags = 0
          const stats = Effect.gen(function*() {
            const tag = String(++tags)
            proc.child.stdin?.write(`stats ${tag}\n`)
            const reported = yield* proc.awaitLine((line) => line.startsWith(`STATS ${tag} `)).pipe(
              Effect.timeoutFail({
                duration: "5 seconds",
                onTimeout: () => new PeerError({ reason: "the frame peer did not report its stats within 5 s" })
              })
            )
            return JSON.parse(reported.slice(`STATS ${tag} `.length)) as FramePeerStats
          })
          const peer: FramePeer = { ...proc, host: peerAddress, port: Number(line.slice("LISTENING ".length)), stats }
          return peer
        })
    }
    return namespace
  })
