import type pg from 'pg'
import type { TargetConfig } from './config/target.js'
import { ConnectionError, DatabaseNotReadyError } from './errors/errors.js'
import { probeTarget, type TargetHealth } from './health.js'
import { withDeadline } from './internal/deadline.js'
import { timeoutOption } from './internal/timeout-option.js'

/** Options of `ready()`. */
export interface ReadyOptions {
  /** How long every server together gets to answer. Default: the pool timeout (`DB_POOL_TIMEOUT`, 10 s). */
  readonly timeoutMs?: number
}

/** One server `ready()` checks: its pool, its configuration and the role it must have. */
export interface ReadyTarget {
  readonly pool: pg.Pool
  readonly target: TargetConfig
  readonly role: TargetHealth['role']
}

/**
 * Checks every server at once, through its pool, within one deadline: it must accept the
 * configured credentials and database and be in its role (a primary out of recovery, a replica
 * in recovery). Resolves when all are; otherwise rejects with a {@link DatabaseNotReadyError}
 * naming each server that is not, with why.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`).
 * @throws DatabaseNotReadyError (`DATABASE_NOT_READY`); ConfigError for a `timeoutMs` that is
 * not a number of milliseconds, 0 or more.
 * @example
 * ```ts
 * await checkReady([{ pool, target: config.primary, role: 'primary' }], { timeoutMs: 5000 })
 * ```
 */
export async function checkReady(
  targets: readonly ReadyTarget[],
  options: ReadyOptions = {},
): Promise<void> {
  const timeoutMs = timeoutOption(
    'timeoutMs',
    options.timeoutMs,
    targets[0]?.target.pool.acquireTimeoutMs ?? 10_000,
  )
  const failures = await Promise.all(
    targets.map(async ({ pool, target, role }) => {
      const { error } = await withDeadline(probeTarget(pool, target, role), timeoutMs, () => ({
        error: new ConnectionError(
          'CONNECT_TIMEOUT',
          `${target.label} (${target.address}) did not answer within ${timeoutMs} ms`,
          { context: { target: target.label } },
        ),
      }))
      return error === undefined ? undefined : { target: target.label, error }
    }),
  )
  const failed = failures.filter((failure) => failure !== undefined)
  if (failed.length > 0) throw new DatabaseNotReadyError(failed)
}
