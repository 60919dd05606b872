import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { TestServerError } from '../errors.js'
import { chownTree } from '../process/run.js'
import { waitFor } from '../process/wait.js'
import { workRoot } from '../process/work-dir.js'
import type { PostgresServer } from './server.js'

const openssl = promisify(execFile)

/** PEM files made by {@link generateCertificates}. */
export interface TestCertificates {
  /** The certificate of the test CA that signed `certFile`: give it as `sslrootcert`. */
  readonly caFile: string
  /** A server certificate for the requested host names, signed by the CA. */
  readonly certFile: string
  /** Its unencrypted private key (mode 0600). */
  readonly keyFile: string
}

/** Options of {@link generateCertificates}. */
export interface CertificateOptions {
  /** The names the certificate is valid for (DNS names or IP addresses). Default `['localhost', '127.0.0.1']`. */
  readonly hostnames?: readonly string[]
  /** Where to write the files. Default: a new temporary directory. */
  readonly dir?: string
}

/**
 * Makes a throwaway CA and a server certificate signed by it with the `openssl` binary (EC
 * P-256 keys, valid for two days).
 *
 * @throws TestServerError `ENGINE_UNAVAILABLE` when `openssl` cannot be run.
 * @example
 * ```ts
 * const { caFile } = await generateCertificates({ hostnames: ['db.internal'] })
 * ```
 */
export async function generateCertificates(
  options: CertificateOptions = {},
): Promise<TestCertificates> {
  const dir = options.dir ?? mkdtempSync(join(workRoot(), 'tls-'))
  const names = options.hostnames ?? ['localhost', '127.0.0.1']
  const altNames = names.map((name) => (/^[\d.]+$|:/.test(name) ? `IP:${name}` : `DNS:${name}`))
  const file = (name: string) => join(dir, name)
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  writeFileSync(file('server.ext'), `subjectAltName=${altNames.join(',')}\n`)
  try {
    await openssl('openssl', [
      'req',
      '-x509',
      ...key,
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=sluice test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ])
    await openssl('openssl', [
      'req',
      ...key,
      '-keyout',
      file('server.key'),
      '-out',
      file('server.csr'),
      '-subj',
      `/CN=${names[0] ?? 'localhost'}`,
    ])
    await openssl('openssl', [
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file('server.crt'),
      '-days',
      '2',
      '-extfile',
      file('server.ext'),
    ])
  } catch (error) {
    throw new TestServerError('ENGINE_UNAVAILABLE', 'openssl could not make test certificates', {
      cause: error,
    })
  }
  chmodSync(file('server.key'), 0o600)
  return { caFile: file('ca.crt'), certFile: file('server.crt'), keyFile: file('server.key') }
}

/**
 * Turns TLS on for a running server with a fresh certificate (see {@link generateCertificates})
 * and waits until new connections can use it. Plaintext connections keep working. The server
 * also asks clients for a certificate signed by the same CA (optional; `certFile` and
 * `keyFile` serve as one), shown in `pg_stat_ssl.client_dn`.
 *
 * @example
 * ```ts
 * const cluster = await startPostgres({ engine: 'system' })
 * const { caFile } = await enableTls(cluster.primary, { hostnames: ['localhost'] })
 * const url = `${cluster.primary.url()}?sslmode=verify-full&sslrootcert=${caFile}`
 * ```
 */
export async function enableTls(
  server: PostgresServer,
  options: Omit<CertificateOptions, 'dir'> = {},
): Promise<TestCertificates> {
  const certificates = await generateCertificates({
    ...options,
    dir: mkdtempSync(join(workRoot(), 'tls-')),
  })
  chownTree(join(certificates.keyFile, '..'))
  server.configure([
    'ssl = on',
    `ssl_cert_file = '${certificates.certFile}'`,
    `ssl_key_file = '${certificates.keyFile}'`,
    `ssl_ca_file = '${certificates.caFile}'`,
  ])
  await server.query('select pg_reload_conf()')
  await waitFor(
    async () =>
      (await server.query<{ ssl: string }>("select current_setting('ssl') as ssl"))[0]?.ssl ===
      'on',
    { what: `${server.name} to turn TLS on` },
  )
  return certificates
}
