import type pg from 'pg'
import type { TargetConfig } from './config/target.js'
import { ConnectionError } from './errors/errors.js'
import { toSluiceError } from './errors/pg-errors.js'
import { SluiceError } from './errors/sluice-error.js'
import { queryWithin } from './internal/query-within.js'

/** Connection counts of one pool. */
export interface PoolCounts {
  /** Open connections, idle or in use. */
  readonly total: number
  readonly idle: number
  /** Callers waiting for a connection. */
  readonly waiting: number
}

/** The health of one server. */
export interface TargetHealth {
  readonly target: string
  readonly role: 'primary' | 'replica'
  readonly status: 'up' | 'down'
  /** Round trip of `select 1`, including the wait for a pooled connection. */
  readonly latencyMs?: number
  readonly pool: PoolCounts
  /** Why the server is down: a stable code and a message without secrets. */
  readonly error?: { readonly code: string; readonly message: string }
}

/**
 * What `health()` returns: `up` when every target answered, `degraded` when the primary
 * answered but a replica did not, `down` when the primary did not.
 *
 * @example
 * ```ts
 * app.get('/health', async () => {
 *   const report = await database.health()
 *   return { status: report.status === 'down' ? 503 : 200, body: report }
 * })
 * ```
 */
export interface HealthReport {
  readonly status: 'up' | 'degraded' | 'down'
  readonly targets: readonly TargetHealth[]
}

/** Counts of a pg pool. */
export function poolCounts(pool: pg.Pool): PoolCounts {
  return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }
}

/**
 * Checks one server with `select 1` through its pool. The whole check, the wait for a
 * connection included, has `timeoutMs` (default: the pool's acquire timeout); a server that
 * does not answer in time (frozen, or behind a dead link) is reported `down` with code
 * `DEADLINE_EXCEEDED`, and the connection that waited for it is destroyed.
 *
 * @example
 * ```ts
 * const report = await checkTarget(pool, config.primary, 'primary', 1000)
 * ```
 */
export async function checkTarget(
  pool: pg.Pool,
  target: TargetConfig,
  role: TargetHealth['role'],
  timeoutMs = target.pool.acquireTimeoutMs,
): Promise<TargetHealth> {
  const started = performance.now()
  try {
    await queryWithin(
      pool,
      'select 1',
      timeoutMs,
      () =>
        new ConnectionError(
          'DEADLINE_EXCEEDED',
          `${target.label} (${target.address}) did not answer a health check within ${timeoutMs} ms`,
        ),
    )
    const latencyMs = performance.now() - started
    return { target: target.label, role, status: 'up', latencyMs, pool: poolCounts(pool) }
  } catch (error) {
    const mapped = toSluiceError(error, target)
    const code =
      mapped instanceof SluiceError
        ? mapped.code
        : String((mapped as { code?: unknown }).code ?? 'UNKNOWN')
    const message = mapped instanceof Error ? mapped.message : String(mapped)
    return {
      target: target.label,
      role,
      status: 'down',
      pool: poolCounts(pool),
      error: { code, message },
    }
  }
}

/** Combines target reports into one {@link HealthReport}. */
export function healthReport(targets: readonly TargetHealth[]): HealthReport {
  const primaryUp = targets.some((t) => t.role === 'primary' && t.status === 'up')
  const allUp = targets.every((t) => t.status === 'up')
  return { status: !primaryUp ? 'down' : allUp ? 'up' : 'degraded', targets }
}
