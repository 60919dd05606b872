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
  return `query:${database}:${hash}`
}

/** Longest database name `cache.query` takes (its keys hold it whole, within 1 KiB). */
const MAX_DATABASE_CHARS = 256

/**
 * What is wrong with a `database` name for {@link queryKey}, or `undefined`: it must be 1-256
 * characters of well-formed Unicode (it is part of a key), and a name, not a connection URL
 * (keys are in events and in Redis: a URL's password would be too).
 *
 * @example
 * ```ts
 * databaseProblem(process.env.DATABASE_URL) // 'must be a database name, not a URL'
 * ```
 */
export function databaseProblem(database: unknown): string | undefined {
  if (typeof database !== 'string') return 'must be a string'
  if (database.length === 0) return 'must not be empty'
  if (database.length > MAX_DATABASE_CHARS)
    return `must be at most ${MAX_DATABASE_CHARS} characters`
  if (/\p{Cs}/u.test(database)) return 'must be well-formed Unicode (it holds a lone surrogate)'
  if (database.includes('://')) return 'must be a database name, not a URL'
  return undefined
}
