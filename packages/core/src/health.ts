import type pg from 'pg'
import type { TargetConfig } from './config/target.js'
import { ConnectionError, DatabaseClosedError, TargetRoleError } from './errors/errors.js'
import { toSluiceError } from './errors/pg-errors.js'
import { SluiceError } from './errors/sluice-error.js'
import { queryWithin } from './internal/query-within.js'
import { isClosing } from './pool/pool-closing.js'

/** Connection counts of one pool. */
export interface PoolCounts {
  /** Open connections, idle or in use. */
  readonly total: number
  readonly idle: number
  /** Callers waiting for a connection. */
  readonly waiting: number
}

/**
 * The health of one server. `up`: answered in its role. `down`: did not answer, or is a
 * "primary" in recovery (`NOT_A_PRIMARY`), or the database is closed (`DATABASE_CLOSED`).
 * `promoted`: a "replica" that is not in recovery, so really a primary (a router stops reading
 * from it). `lagging`: a replica the router holds back for being over its lag bounds.
 */
export interface TargetHealth {
  readonly target: string
  readonly role: 'primary' | 'replica'
  readonly status: 'up' | 'down' | 'promoted' | 'lagging'
  /** Round trip of the check, including the wait for a pooled connection. */
  readonly latencyMs?: number
  /** A replica's replay lag as the router last measured it. */
  readonly lagMs?: number
  readonly pool: PoolCounts
  /** Why the server is not `up`: a stable code and a message without secrets. */
  readonly error?: { readonly code: string; readonly message: string }
}

/**
 * What `health()` returns: `up` when every target is up, `degraded` when the primary is but
 * a replica is not, `down` when the primary is not.
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

/**
 * Counts of a pg pool.
 *
 * @example
 * ```ts
 * const { total, idle, waiting } = poolCounts(pool)
 * ```
 */
export function poolCounts(pool: pg.Pool): PoolCounts {
  return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }
}

/** What one check found: the status and, unless `up`, the typed error why. @internal */
export interface TargetProbe {
  readonly status: 'up' | 'down' | 'promoted'
  readonly latencyMs?: number
  readonly error?: unknown
}

/**
 * Asks one server, through its pool, whether it is in recovery, and compares that with the
 * role it was configured for. Never throws: failures are returned as typed errors.
 *
 * @example
 * ```ts
 * const { status, error } = await probeTarget(pool, config.primary, 'primary')
 * ```
 */
export async function probeTarget(
  pool: pg.Pool,
  target: TargetConfig,
  role: TargetHealth['role'],
  timeoutMs = target.pool.acquireTimeoutMs,
): Promise<TargetProbe> {
  if (isClosing(pool)) return { status: 'down', error: new DatabaseClosedError() }
  const started = performance.now()
  try {
    const rows = await queryWithin<{ recovery: boolean }>(
      pool,
      'select pg_is_in_recovery() as recovery',
      timeoutMs,
      () =>
        new ConnectionError(
          'DEADLINE_EXCEEDED',
          `${target.label} (${target.address}) did not answer a health check within ${timeoutMs} ms`,
          { context: { target: target.label } },
        ),
    )
    const latencyMs = performance.now() - started
    const inRecovery = rows[0]?.recovery === true
    if (role === 'replica' && !inRecovery) {
      return { status: 'promoted', latencyMs, error: new TargetRoleError('replica', target) }
    }
    if (role === 'primary' && inRecovery) {
      return { status: 'down', latencyMs, error: new TargetRoleError('primary', target) }
    }
    return { status: 'up', latencyMs }
  } catch (error) {
    return { status: 'down', error: toSluiceError(error, target) }
  }
}

/**
 * Checks one server for `health()` (see {@link probeTarget}), within the pool's acquire
 * timeout. `probePool`, when given, runs the check instead of `pool` (whose counts the report
 * still shows): a pool of its own, so that a pool the application keeps busy does not make a
 * healthy server look down.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
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
  probePool = pool,
): Promise<TargetHealth> {
  const { status, latencyMs, error } =
    probePool !== pool && isClosing(pool)
      ? { status: 'down' as const, latencyMs: undefined, error: new DatabaseClosedError() }
      : await probeTarget(probePool, target, role, timeoutMs)
  return {
    target: target.label,
    role,
    status,
    ...(latencyMs !== undefined && { latencyMs }),
    pool: poolCounts(pool),
    ...(error !== undefined && { error: describeError(error) }),
  }
}

/**
 * A stable code and a message without secrets, for reports.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`).
 * @example
 * ```ts
 * const { code, message } = describeError(new DatabaseClosedError()) // code 'DATABASE_CLOSED'
 * ```
 */
export function describeError(error: unknown): { code: string; message: string } {
  const code =
    error instanceof SluiceError
      ? error.code
      : String((error as { code?: unknown } | undefined)?.code ?? 'UNKNOWN')
  return { code, message: error instanceof Error ? error.message : String(error) }
}

/**
 * Combines target reports into one {@link HealthReport}.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * const report = healthReport([await checkTarget(pool, config.primary, 'primary')])
 * ```
 */
export function healthReport(targets: readonly TargetHealth[]): HealthReport {
  const primaryUp = targets.some((t) => t.role === 'primary' && t.status === 'up')
  const allUp = targets.every((t) => t.status === 'up')
  return { status: !primaryUp ? 'down' : allUp ? 'up' : 'degraded', targets }
}
