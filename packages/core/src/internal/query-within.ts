import type pg from 'pg'
import { withDeadline } from './deadline.js'

// pg-pool listens for errors only on idle clients; a checked-out client whose server goes away
// emits 'error' even while its query fails, which would crash the process. One permanent
// listener per client: the query's own rejection reports the failure.
const listening = new WeakSet<pg.PoolClient>()
const ignore = () => {}

/**
 * Checks out a client of `pool`, runs `sql` and releases it, all within `timeoutMs`. Past the
 * deadline `expired()` is thrown; a client whose query was then in flight is destroyed (never
 * reused: its answer may still arrive), while one the pool hands over only after the deadline
 * (it waited in the pool's queue, or was still connecting) never started the query and goes
 * back to the pool as it is. For probes and health checks, which must answer in time even when
 * the server is frozen.
 *
 * @internal Plumbing for Sluice's packages, not part of the public API.
 * @example
 * ```ts
 * const rows = await queryWithin<{ n: number }>(pool, 'select 1 as n', 2000, () =>
 *   new ConnectionError('DEADLINE_EXCEEDED', 'no answer within 2000 ms'),
 * )
 * ```
 */
export function queryWithin<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  sql: string,
  timeoutMs: number,
  expired: () => Error,
): Promise<R[]> {
  let client: pg.PoolClient | undefined
  let done = false
  const finish = (error?: Error): void => {
    if (done || !client) return
    done = true
    client.release(error)
  }
  const work = (async () => {
    client = await pool.connect()
    if (!listening.has(client)) {
      listening.add(client)
      client.on('error', ignore)
    }
    if (done) {
      // Healthy and unused: destroying it would cost the server a backend and the next check a
      // new login.
      client.release()
      return []
    }
    try {
      const { rows } = await client.query<R>(sql)
      finish()
      return rows
    } catch (error) {
      finish(error instanceof Error ? error : new Error(String(error)))
      throw error
    }
  })()
  return withDeadline(work, timeoutMs, () => {
    if (client) finish(new Error('the deadline passed'))
    else done = true
    throw expired()
  })
}
