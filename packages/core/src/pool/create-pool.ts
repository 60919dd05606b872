import pg from 'pg'
import type { TargetConfig } from '../config/target.js'
import { coreEvents } from '../instrumentation/channels.js'
import type { Instrumentation } from '../instrumentation/events.js'
import { checkPeers } from '../peers/peer-versions.js'
import { connectionSetupSql, startupParameters } from './server-settings.js'
import { SluiceClient } from './sluice-client.js'
import { tlsOptions } from './tls-options.js'

/**
 * Creates a `pg.Pool` for one target. Every connection it opens carries the target's
 * statement timeout, idle-in-transaction timeout and application name, applied in the way
 * its pooler mode allows (see `poolerMode`); connections older than the max lifetime are
 * replaced; a statement cancelled by the timeout rejects with `StatementTimeoutError`.
 * An error on an idle connection (a server restart, say) is reported as a pool event and never
 * crashes the process.
 *
 * Prefer `createDatabase`, which also maps connection failures to typed errors; use this
 * when a library needs a raw pool.
 *
 * @throws PeerVersionError (`PEER_VERSION_UNSUPPORTED`) when pg or kysely is older than Sluice supports.
 *
 * @example
 * ```ts
 * const config = parseConfig()
 * const pool = createPool(config.primary)
 * const { rows } = await pool.query('select current_setting($1) as value', ['statement_timeout'])
 * await pool.end()
 * ```
 */
export function createPool(
  target: TargetConfig,
  instrumentation?: Instrumentation | readonly Instrumentation[],
): pg.Pool {
  checkPeers()
  const setupSql = connectionSetupSql(target)
  const pool = new pg.Pool({
    Client: SluiceClient,
    // pg-pool hands its options to each new client; SluiceClient reads `sluiceTarget`.
    sluiceTarget: target,
    host: target.host,
    port: target.port,
    database: target.database,
    user: target.user,
    password: target.password,
    ssl: tlsOptions(target.ssl),
    max: target.pool.size,
    connectionTimeoutMillis: target.pool.acquireTimeoutMs,
    idleTimeoutMillis: target.pool.idleTimeoutMs,
    maxLifetimeSeconds: Math.ceil(target.pool.maxLifetimeMs / 1000),
    ...startupParameters(target),
    ...(setupSql && {
      onConnect: async (client: pg.PoolClient) => {
        await client.query(setupSql)
      },
    }),
  } as unknown as pg.PoolConfig)
  const label = target.label
  const events = coreEvents(instrumentation).onPoolEvent
  pool.on('error', (error) => events.emit?.({ kind: 'connection-error', target: label, error }))
  // Always listened to: a channel subscriber may come later; without one, nothing is built.
  pool.on('connect', () => events.emit?.({ kind: 'connection-opened', target: label }))
  pool.on('remove', () => events.emit?.({ kind: 'connection-closed', target: label }))
  return pool
}
