import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { Outbox } from "../src/internal/outbox.js"

const bytes = (...values: Array<number>) => new Uint8Array(values)

/** A sink that records what it is given and completes each write when the test says so. */
const recordingSink = () => {
  const writes: Array<ReadonlyArray<Uint8Array>> = []
  const pending: Array<(error: unknown) => void> = []
  const written: Array<[number, number]> = []
  const failures: Array<unknown> = []
  return {
    writes,
    written,
    failures,
    complete: (error?: unknown) => pending.shift()!(error),
    sink: {
      write: (chunks: ReadonlyArray<Uint8Array>, done: (error: unknown) => void) => {
        writes.push(chunks)
        pending.push(done)
      },
      written: (frames: number, size: number) => {
        written.push([frames, size])
      },
      failed: (cause: unknown) => {
        failures.push(cause)
      }
    }
  }
}

const newOutbox = () => new Outbox<string>(1024, 64 * 1024)

/** An outbox writing through a recording sink. */
const attached = () => {
  const outbox = newOutbox()
  const recorder = recordingSink()
  outbox.attach(recorder.sink, (parts) => parts)
  return [outbox, recorder] as const
}

describe("Outbox with a sink", () => {
  it.effect("writes a send from the sending fiber at once, and batches what comes while a write is out", () =>
    Effect.gen(function*() {
      const [outbox, recorder] = attached()
      const first = yield* Effect.fork(outbox.offer([bytes(1)]))
      yield* Effect.yieldNow()
      // Handed to the sink by the offer itself: no writer fiber was involved.
      assert.deepStrictEqual(recorder.writes, [[bytes(1)]])
      const second = yield* Effect.fork(outbox.offer([bytes(2)]))
      const third = yield* Effect.fork(outbox.offer([bytes(3)]))
      yield* Effect.yieldNow()
      assert.strictEqual(recorder.writes.length, 1, "nothing more while the first write is out")
      recorder.complete()
      assert.deepStrictEqual(yield* Fiber.await(first), Exit.void)
      // The next batch went out from the first write's callback, both sends in one write, in order.
      assert.deepStrictEqual(recorder.writes[1], [bytes(2), bytes(3)])
      recorder.complete()
      assert.deepStrictEqual(yield* Fiber.await(second), Exit.void)
      assert.deepStrictEqual(yield* Fiber.await(third), Exit.void)
      assert.deepStrictEqual(recorder.written, [[1, 1], [2, 2]])
    }))

  it.effect("a failed write reports the cause and settles nobody; fail() then fails the sends", () =>
    Effect.gen(function*() {
      const [outbox, recorder] = attached()
      const send = yield* Effect.fork(outbox.offer([bytes(1)]))
      yield* Effect.yieldNow()
      recorder.complete(new Error("EPIPE"))
      assert.strictEqual(recorder.failures.length, 1)
      assert.isNull(send.unsafePoll(), "still waiting: the connection decides, when it drops")
      outbox.fail("Disconnected")
      assert.deepStrictEqual(yield* Fiber.await(send), Exit.fail("Disconnected"))
      assert.deepStrictEqual(recorder.written, [])
    }))

  it.effect("a write that completes after the connection dropped changes nothing", () =>
    Effect.gen(function*() {
      const [outbox, recorder] = attached()
      const send = yield* Effect.fork(outbox.offer([bytes(1)]))
      yield* Effect.yieldNow()
      outbox.fail("Disconnected")
      assert.deepStrictEqual(yield* Fiber.await(send), Exit.fail("Disconnected"))
      recorder.complete()
      assert.deepStrictEqual(recorder.written, [])
      assert.deepStrictEqual(recorder.failures, [])
      assert.deepStrictEqual(yield* Effect.exit(outbox.offer([bytes(2)])), Exit.fail("Disconnected"))
      assert.strictEqual(recorder.writes.length, 1)
    }))

  it("offerCallback: settled once per send, when its batch is accepted or the connection fails", () => {
    const [outbox, recorder] = attached()
    const settled: Array<[number, string | undefined]> = []
    outbox.offerCallback([bytes(1)], 1, (error) => settled.push([1, error]))
    outbox.offerCallback([bytes(2)], 1, (error) => settled.push([2, error]))
    assert.deepStrictEqual(recorder.writes, [[bytes(1)]], "the first went to the sink from the call itself")
    assert.deepStrictEqual(settled, [])
    recorder.complete()
    assert.deepStrictEqual(settled, [[1, undefined]])
    outbox.fail("Disconnected")
    assert.deepStrictEqual(settled, [[1, undefined], [2, "Disconnected"]])
    outbox.offerCallback([bytes(3)], 1, (error) => settled.push([3, error]))
    assert.deepStrictEqual(settled[2], [3, "Disconnected"], "after the failure: settled before it returns")
  })

  it("offerCallback: a send given up before its turn is never written nor settled; one being written goes out whole", () => {
    const [outbox, recorder] = attached()
    const settled: Array<number> = []
    const cancelFirst = outbox.offerCallback([bytes(1)], 1, () => settled.push(1))
    const cancelSecond = outbox.offerCallback([bytes(2)], 1, () => settled.push(2))
    outbox.offerCallback([bytes(3)], 1, () => settled.push(3))
    cancelFirst()
    cancelSecond()
    recorder.complete()
    assert.deepStrictEqual(recorder.writes[0], [bytes(1)], "already with the sink: written whole")
    assert.deepStrictEqual(recorder.writes[1], [bytes(3)], "the second was skipped")
    recorder.complete()
    assert.deepStrictEqual(settled, [3], "neither given-up send is settled")
    assert.deepStrictEqual(recorder.written, [[1, 1], [1, 1]], "each byte of the batches counted once")
  })

  it.effect("sends queued before the sink is attached are written when it is", () =>
    Effect.gen(function*() {
      const outbox = newOutbox()
      const send = yield* Effect.fork(outbox.offer([bytes(7)]))
      yield* Effect.yieldNow()
      const recorder = recordingSink()
      outbox.attach(recorder.sink, (parts) => parts)
      assert.deepStrictEqual(recorder.writes, [[bytes(7)]])
      recorder.complete()
      assert.deepStrictEqual(yield* Fiber.await(send), Exit.void)
    }))
})
