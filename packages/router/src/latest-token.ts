import { formatLsn, parseLsn } from './lsn.js'
import type { TargetNode } from './target-node.js'

// The insert position, not the write or flush one: with synchronous_commit = off a commit
// record can be inserted but not yet written, and the token must be at or after its end.
const INSERT_LSN_SQL = 'select pg_current_wal_insert_lsn()::text as lsn'

/**
 * A token at or after every write committed on the primary before the call: what a cache
 * records with an invalidation made outside a read-your-writes scope.
 *
 * @example
 * ```ts
 * const token = await latestToken(primary) // '0/3000148'
 * ```
 */
export async function latestToken(primary: TargetNode): Promise<string> {
  const { rows } = await primary.pool.query<{ lsn: string }>(INSERT_LSN_SQL)
  return formatLsn(parseLsn((rows[0] as { lsn: string }).lsn))
}

/**
 * The newer of two tokens.
 *
 * @throws InvalidConsistencyTokenError (`INVALID_CONSISTENCY_TOKEN`) for a token that is not one.
 * @example
 * ```ts
 * newestToken('0/3000148', '0/2000000') // '0/3000148'
 * ```
 */
export function newestToken(a: string, b: string): string {
  return parseLsn(a) >= parseLsn(b) ? a : b
}
