/**
 * Certificates for the TLS tests, made at test time with `openssl` in a temporary directory: a test CA, a
 * server certificate for `localhost` / `127.0.0.1`, a client certificate (mutual TLS), and the bad cases: an
 * expired server certificate, one for another host name, and a second CA that signed nothing the servers use.
 * Keys are PKCS#8 PEM (what OpenSSL 3 writes, and what Netty and RocketMQ read).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** One certificate: its PEM files and their text. */
export interface Identity {
  readonly certFile: string
  readonly keyFile: string
  readonly cert: string
  readonly key: string
}

export interface Certificates {
  readonly dir: string
  /** The test CA: `caFile` / `ca` is what clients and servers trust. */
  readonly caFile: string
  readonly ca: string
  /** A CA nobody here signed with: trusting only it rejects every certificate below. */
  readonly otherCaFile: string
  readonly otherCa: string
  /** Signed by the CA for `localhost` and `127.0.0.1`, valid for a day. */
  readonly server: Identity
  /** Signed by the CA for `localhost` and `127.0.0.1`, expired in 2020. */
  readonly expired: Identity
  /** Signed by the CA for `other.example` only. */
  readonly wrongHost: Identity
  /** Signed by the CA, for mutual TLS. */
  readonly client: Identity
  /** Self-signed, not by the CA: a client certificate a mutual-TLS server must refuse. */
  readonly untrustedClient: Identity
}

const openssl = (cwd: string, args: ReadonlyArray<string>): void => {
  const result = spawnSync("openssl", args, { cwd, encoding: "utf8", timeout: 30_000 })
  if (result.error !== undefined) throw result.error
  if (result.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${result.stderr}`)
}

/** Whether `openssl` can be run; the TLS tests need it. */
export const opensslAvailable = (): boolean => {
  const result = spawnSync("openssl", ["version"], { stdio: "ignore", timeout: 10_000 })
  return result.error === undefined && result.status === 0
}

const CA_CONFIG = `[ca]
default_ca = test
[test]
database = index.txt
serial = serial
new_certs_dir = issued
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[local]
subjectAltName = DNS:localhost,IP:127.0.0.1
basicConstraints = CA:FALSE
[other]
subjectAltName = DNS:other.example
basicConstraints = CA:FALSE
[client]
subjectAltName = DNS:client.test
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
`

/**
 * Makes the certificates synchronously in `dir` (created if absent). `openssl ca` is used for every leaf so
 * that the expired one can be given dates in the past.
 */
export const makeCertificatesSync = (dir: string): Certificates => {
  Fs.mkdirSync(Path.join(dir, "issued"), { recursive: true })
  Fs.writeFileSync(Path.join(dir, "ca.cnf"), CA_CONFIG)
  Fs.writeFileSync(Path.join(dir, "index.txt"), "")
  Fs.writeFileSync(Path.join(dir, "serial"), "1000\n")
  const selfSigned = (name: string, subject: string, extra: ReadonlyArray<string> = []) =>
    openssl(dir, [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      subject,
      ...extra
    ])
  selfSigned("ca", "/CN=rocketmq-effect test CA")
  selfSigned("other-ca", "/CN=rocketmq-effect other CA")
  selfSigned("untrusted-client", "/CN=untrusted client")
  const leaf = (name: string, cn: string, section: string, dates: ReadonlyArray<string>) => {
    openssl(dir, [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${cn}`
    ])
    openssl(dir, [
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-cert",
      "ca.pem",
      "-keyfile",
      "ca.key",
      "-in",
      `${name}.csr`,
      "-out",
      `${name}.pem`,
      "-extensions",
      section,
      "-notext",
      ...dates
    ])
  }
  leaf("server", "localhost", "local", ["-days", "2"])
  leaf("expired", "localhost", "local", ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"])
  leaf("wrong-host", "other.example", "other", ["-days", "2"])
  leaf("client", "client.test", "client", ["-days", "2"])
  const read = (file: string) => Fs.readFileSync(Path.join(dir, file), "utf8")
  const identity = (name: string): Identity => ({
    certFile: Path.join(dir, `${name}.pem`),
    keyFile: Path.join(dir, `${name}.key`),
    cert: read(`${name}.pem`),
    key: read(`${name}.key`)
  })
  return {
    dir,
    caFile: Path.join(dir, "ca.pem"),
    ca: read("ca.pem"),
    otherCaFile: Path.join(dir, "other-ca.pem"),
    otherCa: read("other-ca.pem"),
    server: identity("server"),
    expired: identity("expired"),
    wrongHost: identity("wrong-host"),
    client: identity("client"),
    untrustedClient: identity("untrusted-client")
  }
}

/** Makes the certificates in a temporary directory that the scope removes. */
export const certificates: Effect.Effect<Certificates, Error, Scope.Scope> = Effect.acquireRelease(
  Effect.try({
    try: () => makeCertificatesSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "rocketmq-effect-tls-"))),
    catch: (cause) => cause instanceof Error ? cause : new Error(String(cause))
  }),
  (made) => Effect.sync(() => Fs.rmSync(made.dir, { recursive: true, force: true }))
)
