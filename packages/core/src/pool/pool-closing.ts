import type pg from 'pg'

// Pools whose database is closing: their driver refuses new work while in-flight work drains,
// before pg's own `ending` flag is set.
const closing = new WeakSet<pg.Pool>()

/**
 * Records that `pool`'s database has started to close (its driver refuses new work from now).
 *
 * @example
 * ```ts
 * markClosing(pool) // in SluiceDriver.drain()
 * ```
 */
export function markClosing(pool: pg.Pool): void {
  closing.add(pool)
}

/**
 * True once `pool`'s database has started to close, or the pool itself has ended: `health()`
 * and `ready()` then report `DATABASE_CLOSED` instead of asking the server.
 *
 * @example
 * ```ts
 * const error = isClosing(pool) ? new DatabaseClosedError() : undefined
 * ```
 */
export function isClosing(pool: pg.Pool): boolean {
  return closing.has(pool) || pool.ended || pool.ending
}
