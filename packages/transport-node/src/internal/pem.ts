import type { Pem } from "../TlsConfig.js"

/**
 * Whether `u` is PEM text as the TLS options take it: a string or its bytes.
 *
 * @internal
 */
export const isPem = (u: unknown): u is Pem => typeof u === "string" || u instanceof Uint8Array

/**
 * PEM as Node's TLS options take it.
 *
 * @internal
 */
export const toNode = (pem: Pem): string | Buffer => typeof pem === "string" ? pem : Buffer.from(pem)

/**
 * One PEM text or a list of them (the `ca` options) as Node's list, `undefined` when not given.
 *
 * @internal
 */
export const listToNode = (pems: Pem | ReadonlyArray<Pem> | undefined): Array<string | Buffer> | undefined =>
  pems === undefined ? undefined : (isPem(pems) ? [pems] : pems).map(toNode)
