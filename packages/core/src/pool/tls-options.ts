import { connect } from 'node:net'
import type { ConnectionOptions } from 'node:tls'
import type { SslSettings, TargetConfig } from '../config/target.js'

/**
 * pg's `ssl` option for a target's {@link SslSettings}. `prefer` starts as TLS without
 * verification; {@link SluiceClient} turns it off for a server that does not offer TLS.
 *
 * @example
 * ```ts
 * new pg.Client({ host: target.host, ssl: tlsOptions(target.ssl) })
 * ```
 */
export function tlsOptions(ssl: SslSettings): ConnectionOptions | false {
  if (ssl.mode === 'disable') return false
  const identity = {
    ...(ssl.cert !== undefined && { cert: ssl.cert }),
    ...(ssl.key !== undefined && { key: ssl.key }),
  }
  switch (ssl.mode) {
    case 'prefer':
    case 'require':
      return { rejectUnauthorized: false, ...identity }
    case 'verify-ca':
      // The chain is verified against the CA; the name in the certificate is not checked.
      return {
        rejectUnauthorized: true,
        ca: ssl.ca,
        checkServerIdentity: () => undefined,
        ...identity,
      }
    case 'verify-full':
      return { rejectUnauthorized: true, ...(ssl.ca !== undefined && { ca: ssl.ca }), ...identity }
  }
}

// PostgreSQL's SSLRequest: length 8, code 80877103. The server answers one byte, S or N.
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47])
const offers = new WeakMap<TargetConfig, Promise<boolean>>()

/**
 * Whether the target's server (or PgBouncer) offers TLS, asked once per target with an
 * SSLRequest on a socket of its own (libpq's `prefer`: TLS if offered, else plain TCP). A
 * failed probe is not remembered.
 *
 * @example
 * ```ts
 * if (target.ssl.mode === 'prefer' && !(await serverOffersTls(target))) useTls = false
 * ```
 */
export function serverOffersTls(target: TargetConfig): Promise<boolean> {
  let answer = offers.get(target)
  if (!answer) {
    answer = probe(target)
    offers.set(target, answer)
    answer.catch(() => offers.delete(target))
  }
  return answer
}

function probe(target: TargetConfig): Promise<boolean> {
  // A Unix socket directory: PostgreSQL offers no TLS there, and libpq's prefer does not ask.
  if (target.host.startsWith('/')) return Promise.resolve(false)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port })
    socket.setTimeout(target.pool.acquireTimeoutMs, () =>
      socket.destroy(Object.assign(new Error('timeout expired'), { code: 'ETIMEDOUT' })),
    )
    socket.once('connect', () => socket.write(SSL_REQUEST))
    socket.once('data', (data) => {
      socket.destroy()
      resolve(data[0] === 0x53) // 'S'
    })
    socket.once('error', reject)
    socket.once('close', () => reject(new Error('Connection terminated unexpectedly')))
  })
}
