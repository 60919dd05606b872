import { randomBytes } from 'node:crypto'

/**
 * A database name no other test file, worker or run uses: `prefix` and a random suffix.
 * Process ids do not make names unique: vitest's `threads` pool runs every file in one
 * process, and a module-level counter starts again in each file.
 *
 * @example
 * ```ts
 * const { env } = await sharedPostgres().createDatabase(databaseName('orders'))
 * ```
 */
export function databaseName(prefix: string): string {
  // 63 bytes is PostgreSQL's identifier limit; the suffix is 1 + 12 of them.
  return `${prefix.slice(0, 50)}_${randomBytes(6).toString('hex')}`
}
