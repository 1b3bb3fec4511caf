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
