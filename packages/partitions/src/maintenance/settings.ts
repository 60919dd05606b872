import { withStatementTimeout } from '@sluice/core/internal'
import { sql } from 'kysely'
import type { AnyKysely } from '../any-kysely.js'
import type { Checked } from '../options/options.js'
import type { PlanOptions } from './plan.js'

/**
 * Maintenance's own statement timeout when none is given: 2 minutes, the default lease (a
 * step that runs longer may be taken over by another runner, so the two go up together).
 */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 120_000

/** Maintenance's `lock_timeout` when none is given: 100 ms, short enough for OLTP traffic. */
export const DEFAULT_LOCK_TIMEOUT_MS = 100

/** Server settings, as name and value. */
export type Settings = ReadonlyArray<readonly [name: string, value: string]>

/**
 * The server settings every transaction of maintenance starts with: its own
 * `statement_timeout` (not the application's `DB_STATEMENT_TIMEOUT`: maintenance is a long
 * batch) and, unless `lock` is false, its short `lock_timeout`, which bounds every lock wait.
 *
 * @example
 * ```ts
 * maintenanceSettings({ lockTimeoutMs: 250, statementTimeoutMs: 600_000 })
 * // [['statement_timeout', '600000'], ['lock_timeout', '250ms']]
 * ```
 */
export function maintenanceSettings(options: Checked<PlanOptions>, lock = true): Settings {
  const {
    statementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs = DEFAULT_LOCK_TIMEOUT_MS,
  } = options
  const statement = ['statement_timeout', String(statementTimeoutMs)] as const
  return lock ? [statement, ['lock_timeout', `${lockTimeoutMs}ms`]] : [statement]
}

/**
 * One statement that sets `settings` for the rest of the transaction (`local`, the
 * `SET LOCAL` of `set_config`: it holds through PgBouncer in transaction mode and ends with
 * the transaction) or of the session.
 *
 * @example
 * ```ts
 * setSettings([['lock_timeout', '100ms']]) // "select set_config('lock_timeout', '100ms', true)"
 * ```
 */
export function setSettings(settings: Settings, local = true): string {
  return `select ${settings.map(([name, value]) => `set_config('${name}', '${value}', ${local})`).join(', ')}`
}

/**
 * Runs `fn` in a transaction that starts with `settings` (see {@link setSettings}).
 *
 * @example
 * ```ts
 * const lease = await inTransaction(db, maintenanceSettings({}, false), (trx) =>
 *   takeLease(trx, messages, 'host:123:ab12', 120_000),
 * )
 * ```
 */
export function inTransaction<T>(
  db: AnyKysely,
  settings: Settings,
  fn: (trx: AnyKysely) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await sql.raw(setSettings(settings)).execute(trx)
    return fn(trx)
  })
}

/**
 * Runs `fn` with maintenance's statement timeout on the client side too (core's deadline of
 * each statement follows it, on the application's own pools), whatever the application's.
 *
 * @example
 * ```ts
 * const steps = await asMaintenance({ statementTimeoutMs: 600_000 }, () => planTable(db, messages, {}))
 * ```
 */
export function asMaintenance<T>(options: Checked<PlanOptions>, fn: () => Promise<T>): Promise<T> {
  return withStatementTimeout(options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS, fn)
}
