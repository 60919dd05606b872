import { createHash } from 'node:crypto'
import { serialize } from './serialize.js'

/**
 * The key `cache.query` stores a statement under: `query:`, the database it runs on, and a
 * hash of its SQL and its parameters with their types (serialized exactly, so `5n`, `'5n'`,
 * `5` and a `Date` never share a key).
 *
 * @example
 * ```ts
 * queryKey('tenant-a', { sql: 'select * from users where id = $1', parameters: [5n] })
 * ```
 */
export function queryKey(
  database: string,
  compiled: { readonly sql: string; readonly parameters: readonly unknown[] },
): string {
  const hash = createHash('sha256')
    .update(database)
    .update('\0')
    .update(compiled.sql)
    .update('\0')
    .update(serialize(compiled.parameters))
    .digest('base64url')
  return `query:${database.slice(0, 64)}:${hash}`
}
