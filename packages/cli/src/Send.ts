/**
 * `rmq-transport send`: one frame out, the reply printed.
 *
 * The message is the argument's UTF-8 bytes, a file's bytes with `@path`, or standard input's with `@-`
 * (`@@…` sends a literal `@…`). The reply goes to standard output as text when it is printable UTF-8, as a
 * hex dump otherwise (or always, with `--hex`); with `--json` as one JSON document (`replyJson`), with
 * `--raw` as its bytes and nothing else.
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { NodeTransport } from "@rocketmq-effect/transport-node"
import type * as Transport from "@rocketmq-effect/transport/Transport"
import type { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import type { ConnectionOptions } from "./ConnectionOptions.js"
import { toConfig, toTlsConfig } from "./ConnectionOptions.js"
import { CliError, describe, ExitCode, hintFirstExchange } from "./Failure.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface SendOptions {
  readonly connection: ConnectionOptions
  /** Text, or `@path` for a file's bytes. */
  readonly message: string
  /** Print the reply as a hex dump even when it is text. */
  readonly hex: boolean
  /**
   * Print the reply as one JSON document (`replyJson`).
   *
   * @since 0.3.0
   */
  readonly json?: boolean | undefined
  /**
   * Write the reply's bytes to standard output as they are: no newline, no decoding.
   *
   * @since 0.3.0
   */
  readonly raw?: boolean | undefined
}

/** Standard input to its end, for `@-`. */
const readStdin: Effect.Effect<Uint8Array, PlatformError.PlatformError> = NodeStream.toUint8Array(
  () => process.stdin,
  {
    onFailure: (cause) =>
      new PlatformError.SystemError({
        reason: "Unknown",
        module: "Stream",
        method: "read",
        pathOrDescriptor: "standard input",
        cause
      })
  }
)

/**
 * The bytes a message argument stands for: `@-` is standard input, `@path` a file, `@@…` the text `@…`.
 *
 * @since 0.1.0
 * @category utils
 */
export const readPayload = (
  message: string
): Effect.Effect<Uint8Array, PlatformError.PlatformError, FileSystem.FileSystem> => {
  if (message.startsWith("@@")) return Effect.succeed(new TextEncoder().encode(message.slice(1)))
  if (message === "@-") return readStdin
  if (message.startsWith("@")) return Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFile(message.slice(1)))
  return Effect.succeed(new TextEncoder().encode(message))
}

const decoder = new TextDecoder("utf-8", { fatal: true })

/** Printable UTF-8: no control characters other than tab, line feed and carriage return. */
const asText = (bytes: Uint8Array): string | undefined => {
  let text: string
  try {
    text = decoder.decode(bytes)
  } catch {
    return undefined
  }
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? undefined : text
}

/**
 * A classic hex dump: offset, sixteen bytes in hex, the printable ones as text.
 *
 * @since 0.1.0
 * @category utils
 */
export const hexDump = (bytes: Uint8Array): string => {
  const lines: Array<string> = []
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = bytes.subarray(offset, offset + 16)
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, "0")).join(" ")
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("")
    lines.push(`${offset.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  |${ascii}|`)
  }
  return lines.join("\n")
}

/**
 * How a reply is printed: its text, or a hex dump headed by its size.
 *
 * @since 0.1.0
 * @category utils
 */
export const render = (reply: Uint8Array, hex: boolean): string => {
  const text = hex ? undefined : asText(reply)
  if (text !== undefined) return text.endsWith("\n") ? text.slice(0, -1) : text
  return `(${reply.length} bytes)${reply.length === 0 ? "" : `\n${hexDump(reply)}`}`
}

/**
 * What `--json` prints for a reply: its size, its text (`null` unless it is valid UTF-8) and its bytes in
 * base64.
 *
 * @since 0.3.0
 * @category utils
 */
export const replyJson = (
  reply: Uint8Array
): { readonly bytes: number; readonly text: string | null; readonly base64: string } => {
  let text: string | null
  try {
    text = decoder.decode(reply)
  } catch {
    text = null
  }
  return {
    bytes: reply.length,
    text,
    base64: Buffer.from(reply.buffer, reply.byteOffset, reply.length).toString("base64")
  }
}

/** The reply's bytes on standard output, done when they are written. */
const writeRaw = (reply: Uint8Array): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    process.stdout.write(reply, () => resume(Effect.void))
  })

/**
 * The command. An `@file` that cannot be read is a usage error (`CliError`, exit code 2), found before
 * connecting, and so are bad TLS options (see `ConnectionOptions.toTlsConfig`).
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (
  options: SendOptions
): Effect.Effect<
  void,
  Transport.OperationError | ConfigurationError | CliError,
  FileSystem.FileSystem
> =>
  Effect.gen(function*() {
    const payload = yield* readPayload(options.message).pipe(
      Effect.mapError((error) => new CliError({ reason: describe(error).line, exitCode: ExitCode.Usage }))
    )
    const config = yield* toConfig(options.connection)
    const tls = options.connection.tls === undefined ? undefined : yield* toTlsConfig(options.connection.tls)
    const reply = yield* Effect.gen(function*() {
      const transport = yield* NodeTransport.NodeTransport
      yield* transport.awaitConnected
      yield* transport.send(payload)
      return yield* transport.recvPkg()
    }).pipe(
      Effect.provide(NodeTransport.layer(config, { tls })),
      hintFirstExchange({ tls: tls !== undefined, clientCertificate: options.connection.tls?.certFile !== undefined })
    )
    if (options.raw === true) yield* writeRaw(reply)
    else if (options.json === true) {
      yield* Console.log(JSON.stringify({ address: config.address, reply: replyJson(reply) }))
    } else yield* Console.log(render(reply, options.hex))
  })
