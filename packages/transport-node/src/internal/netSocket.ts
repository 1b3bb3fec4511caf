/**
 * An `@effect/platform` `Socket` over one `net.Socket` that is already connected.
 *
 * It keeps the contract of `NodeSocket.fromDuplex` for a socket that is open once and never reopened, at a
 * fraction of its memory: an idle connection holds the `net.Socket`, four listeners and one small `Reading`
 * per active `run`, nothing per chunk, and one `Effect.async` per write.
 *
 * - `run(handler)` calls `handler` synchronously with each chunk. A clean end from the peer ends it with
 *   success; an `'error'` fails it with `SocketGenericError` reason `"Read"`; a `'close'` without either
 *   fails it with `SocketCloseError` (1006 after an error, else 1000). A socket already destroyed when `run`
 *   starts would never emit again, so `run` then fails at once the same way. Ending or interrupting `run`
 *   removes its listeners. A throwing handler fails `run` with the defect.
 * - An Effect returned by the handler is forked with the context `run` was called in, plus
 *   `NodeSocket.NetSocket`. Those effects run concurrently and may finish out of order; the first failure
 *   fails `run`, and the ones still running are interrupted when `run` ends.
 * - Concurrent runs each attach their own listeners: every one of them sees every chunk and ends on the same
 *   event. Removing the last `'data'` listener does not pause the socket, so bytes that arrive between two
 *   runs are dropped unless the owner pauses it.
 * - `writer` completes each write on Node's callback and fails it with `SocketGenericError` reason `"Write"`
 *   once the socket is destroyed or its writable side ended. A `CloseEvent` destroys the socket (with an
 *   error for codes above 1000). Releasing the writer's scope ends the writable side.
 *
 * @internal
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Socket from "@effect/platform/Socket"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import type * as Net from "node:net"

type Handler<E, R> = (chunk: Uint8Array) => Effect.Effect<unknown, E, R> | void

/**
 * One `run`: its listeners, its outcome and the effects its handler returned.
 *
 * The constructor attaches the listeners; the first event that ends the run removes them and sets `outcome`,
 * once. `cancel` removes them for a run that is interrupted instead.
 */
class Reading<E, R> {
  /** What the run completes with: interrupting the handler's effects still running, then the exit. */
  private outcome: Effect.Effect<void, Socket.SocketError | E> | undefined = undefined
  private resume: ((outcome: Effect.Effect<void, Socket.SocketError | E>) => void) | undefined = undefined
  /**
   * The run's runtime with `NetSocket` added, made when the handler first returns an Effect: reading a fiber's
   * refs copies them, which an idle connection should not pay for.
   */
  private forkRuntime: Runtime.Runtime<R> | undefined = undefined
  private forked: Set<Fiber.RuntimeFiber<unknown, E>> | undefined = undefined

  constructor(
    private readonly socket: Net.Socket,
    private readonly handler: Handler<E, R>,
    /** The fiber `run` was called on, suspended in it whenever a listener fires. */
    private readonly fiber: Fiber.RuntimeFiber<unknown, unknown>,
    private readonly runtimeFlags: RuntimeFlags.RuntimeFlags
  ) {
    socket.on("data", this.onData)
    socket.on("end", this.onEnd)
    socket.on("error", this.onError)
    socket.on("close", this.onClose)
  }

  /** Hands the outcome to `resume`, now or when the run ends. */
  await(resume: (outcome: Effect.Effect<void, Socket.SocketError | E>) => void): void {
    if (this.outcome === undefined) this.resume = resume
    else resume(this.outcome)
  }

  readonly cancel: Effect.Effect<void> = Effect.suspend(() => {
    this.detach()
    return this.interruptForked()
  })

  private readonly onData = (chunk: Uint8Array): void => {
    let result: Effect.Effect<unknown, E, R> | void
    try {
      result = this.handler(chunk)
    } catch (defect) {
      this.finish(Exit.die(defect))
      return
    }
    if (result !== undefined && Effect.isEffect(result)) this.fork(result)
  }

  private readonly onEnd = (): void => {
    this.finish(Exit.void)
  }

  private readonly onError = (cause: Error): void => {
    this.finish(Exit.fail(new Socket.SocketGenericError({ reason: "Read", cause })))
  }

  private readonly onClose = (hadError: boolean): void => {
    this.finish(Exit.fail(new Socket.SocketCloseError({ reason: "Close", code: hadError ? 1006 : 1000 })))
  }

  private finish(exit: Exit.Exit<void, Socket.SocketError | E>): void {
    if (this.outcome !== undefined) return
    this.detach()
    const interrupt = this.interruptForked()
    const outcome = interrupt === Effect.void ? exit : Effect.zipRight(interrupt, exit)
    this.outcome = outcome
    const resume = this.resume
    this.resume = undefined
    if (resume !== undefined) resume(outcome)
  }

  private detach(): void {
    const socket = this.socket
    socket.off("data", this.onData)
    socket.off("end", this.onEnd)
    socket.off("error", this.onError)
    socket.off("close", this.onClose)
  }

  private interruptForked(): Effect.Effect<void> {
    const forked = this.forked
    return forked === undefined || forked.size === 0 ? Effect.void : Fiber.interruptAll(Array.from(forked))
  }

  private fork(effect: Effect.Effect<unknown, E, R>): void {
    if (this.forkRuntime === undefined) {
      this.forkRuntime = Runtime.make({
        context: Context.add(this.fiber.currentContext as Context.Context<R>, NodeSocket.NetSocket, this.socket),
        fiberRefs: this.fiber.getFiberRefs(),
        runtimeFlags: this.runtimeFlags
      })
    }
    const fiber = Runtime.runFork(this.forkRuntime)(effect)
    const forked = this.forked ??= new Set()
    forked.add(fiber)
    fiber.addObserver((exit) => {
      forked.delete(fiber)
      if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) this.finish(Exit.failCause(exit.cause))
    })
  }
}

// What a run that starts on a destroyed socket fails with: the error that destroyed it, else a normal close.
const closedError = (socket: Net.Socket): Socket.SocketError =>
  socket.errored === null
    ? new Socket.SocketCloseError({ reason: "Close", code: 1000 })
    : new Socket.SocketGenericError({ reason: "Read", cause: socket.errored })

const writeClosedError = (socket: Net.Socket): Socket.SocketError =>
  new Socket.SocketGenericError({
    reason: "Write",
    cause: socket.errored ??
      new Error(socket.destroyed ? "the socket is destroyed" : "the socket's writable side ended")
  })

/**
 * Presents a connected `net.Socket` as an `@effect/platform` `Socket`. The caller keeps owning the socket:
 * it destroys it, and listens for `'error'` for the socket's whole life (a run listens only while it runs).
 *
 * @internal
 */
export const fromNetSocket = (socket: Net.Socket): Socket.Socket => {
  const run = <_, E = never, R = never>(
    handler: (chunk: Uint8Array) => Effect.Effect<_, E, R> | void,
    options?: { readonly onOpen?: Effect.Effect<void> | undefined }
  ): Effect.Effect<void, Socket.SocketError | E, R> => {
    const onOpen = options?.onOpen
    return Effect.withFiberRuntime<void, Socket.SocketError | E, R>((fiber, status) => {
      // As with `fromDuplex`, a run and the effects its handler returns can always be interrupted, whatever
      // region `run` was called in; the usual caller already is interruptible and pays nothing for it.
      const flags = RuntimeFlags.enable(status.runtimeFlags, RuntimeFlags.Interruption)
      const awaitEnd = onOpen === undefined
        // An idle run is one suspended `async`: listeners attached on registration, removed by its canceler.
        ? Effect.async<void, Socket.SocketError | E>((resume) => {
          if (socket.destroyed) return resume(Effect.fail(closedError(socket)))
          const reading = new Reading<E, R>(socket, handler, fiber, flags)
          reading.await(resume)
          return reading.cancel
        })
        : Effect.uninterruptibleMask((restore) => {
          if (socket.destroyed) return Effect.fail(closedError(socket))
          const reading = new Reading<E, R>(socket, handler, fiber, flags)
          const ended = Effect.async<void, Socket.SocketError | E>((resume) => reading.await(resume))
          return Effect.ensuring(restore(Effect.zipRight(onOpen, ended)), reading.cancel)
        })
      return flags === status.runtimeFlags ? awaitEnd : Effect.interruptible(awaitEnd)
    })
  }

  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Effect.async<void, Socket.SocketError>((resume) => {
      if (Socket.isCloseEvent(chunk)) {
        socket.destroy(chunk.code > 1000 ? new Error(`closed with code ${chunk.code}`) : undefined)
        return resume(Effect.void)
      }
      // Node would call back with an error too, but after the end it also emits 'error'.
      if (socket.destroyed || socket.writableEnded) return resume(Effect.fail(writeClosedError(socket)))
      socket.write(chunk, (cause) => {
        resume(cause ? Effect.fail(new Socket.SocketGenericError({ reason: "Write", cause })) : Effect.void)
      })
    })

  const writer = Effect.acquireRelease(
    Effect.succeed(write),
    () =>
      Effect.sync(() => {
        if (!socket.destroyed && !socket.writableEnded) socket.end()
      })
  )

  return Socket.Socket.of({ [Socket.TypeId]: Socket.TypeId, run, runRaw: run, writer })
}

/**
 * Writes chunks straight to the socket, without an Effect: the connection's optional raw write, which the
 * transport uses instead of the writer so that a send needs no fiber of its own. Several chunks are corked
 * into one system write where Node can; `done` comes once, after the last chunk was accepted or with the
 * error. A socket that is destroyed or ended fails, as the writer does, rather than raising Node's
 * write-after-end error.
 *
 * @internal
 */
export const writeChunks =
  (socket: Net.Socket) => (chunks: ReadonlyArray<Uint8Array>, done: (error: unknown) => void): void => {
    if (socket.destroyed || socket.writableEnded) {
      const error = writeClosedError(socket)
      queueMicrotask(() => done(error))
      return
    }
    const last = chunks.length - 1
    if (last === 0) {
      socket.write(chunks[0]!, done)
      return
    }
    socket.cork()
    for (let i = 0; i < last; i++) socket.write(chunks[i]!)
    socket.write(chunks[last]!, done)
    socket.uncork()
  }

/**
 * Reads the socket without an Effect: the connection's optional raw read, which the transport uses instead
 * of `run` so that an idle connection parks no fiber. It ends as `run` does (a clean end from the peer with
 * `undefined`; an `'error'` with it; a `'close'` with neither with a `SocketCloseError`), once, and a socket
 * already destroyed ends at once. A throwing `onChunk` ends it with what was thrown. The listeners stay until
 * it ends; the socket's owner destroys the socket, which ends it.
 *
 * With `coalesce`, the chunks of one burst are handed over together, in one turn of the event loop: for a
 * TLS socket, which emits one `'data'` per TLS record (16 KiB at most, often one small frame each) and lets
 * microtasks run between them, so that a reader resumed by the first would otherwise take its frames one
 * record at a time. The chunks wait for `setImmediate`, which runs once the socket's current read has been
 * decrypted; whatever came before an end is handed over before it.
 *
 * @internal
 */
export const readChunks =
  (socket: Net.Socket, options?: { readonly coalesce?: boolean | undefined }) =>
  (onChunk: (chunk: Uint8Array) => void, onEnd: (error: unknown) => void): void => {
    if (socket.destroyed) {
      const error = closedError(socket)
      queueMicrotask(() => onEnd(error))
      return
    }
    let ended = false
    let pending: Array<Uint8Array> | undefined
    let immediate: ReturnType<typeof setImmediate> | undefined
    const deliver = (chunk: Uint8Array): boolean => {
      try {
        onChunk(chunk)
        return true
      } catch (defect) {
        finish(defect, false)
        return false
      }
    }
    const flush = () => {
      immediate = undefined
      const chunks = pending
      pending = undefined
      if (chunks === undefined) return
      for (const chunk of chunks) {
        if (ended || !deliver(chunk)) return
      }
    }
    const finish = (error: unknown, flushFirst = true) => {
      if (ended) return
      if (immediate !== undefined) {
        clearImmediate(immediate)
        if (flushFirst) flush()
        immediate = undefined
        pending = undefined
        if (ended) return
      }
      ended = true
      socket.off("data", onData)
      socket.off("end", onFinish)
      socket.off("error", onError)
      socket.off("close", onClose)
      onEnd(error)
    }
    const onData = options?.coalesce === true
      ? (chunk: Uint8Array) => {
        if (pending === undefined) {
          pending = [chunk]
          immediate = setImmediate(flush)
        } else {
          pending.push(chunk)
        }
      }
      : (chunk: Uint8Array) => {
        deliver(chunk)
      }
    const onFinish = () => finish(undefined)
    const onError = (cause: Error) => finish(new Socket.SocketGenericError({ reason: "Read", cause }))
    const onClose = (hadError: boolean) =>
      finish(new Socket.SocketCloseError({ reason: "Close", code: hadError ? 1006 : 1000 }))
    socket.on("data", onData)
    socket.on("end", onFinish)
    socket.on("error", onError)
    socket.on("close", onClose)
  }
