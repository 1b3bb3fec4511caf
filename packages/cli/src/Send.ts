/**
 * `rmq-transport send`: one frame out, the reply printed.
 *
 * The message is the argument's UTF-8 bytes, or a file's bytes with `@path` (`@@…` sends a literal `@…`).
 * The reply goes to standard output as text when it is printable UTF-8, as a hex dump otherwise (or always,
 * with `--hex`).
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { NodeTransport } from "@rocketmq-effect/transport-node"
import type * as Transport from "@rocketmq-effect/transport/Transport"
import type { ConfigurationError } from "@rocketmq-effect/transport/TransportError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import type { ConnectionOptions } from "./ConnectionOptions.js"
import { toConfig, toTlsConfig } from "./ConnectionOptions.js"
import { CliError, describe, ExitCode } from "./Failure.js"

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
}

/**
 * The bytes a message argument stands for.
 *
 * @since 0.1.0
 * @category utils
 */
export const readPayload = (
  message: string
): Effect.Effect<Uint8Array, PlatformError.PlatformError, FileSystem.FileSystem> => {
  if (message.startsWith("@@")) return Effect.succeed(new TextEncoder().encode(message.slice(1)))
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
  Transport.SendError | Transport.ReceiveError | ConfigurationError | CliError,
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
    }).pipe(Effect.provide(NodeTransport.layer(config, { tls })))
    yield* Console.log(render(reply, options.hex))
  })
