import { laterPosition, type Position } from './position.js'
import type { Router } from './router.js'
import { formatToken, parseToken } from './token.js'

/**
 * A token at or after every write committed on the primary before the call (its WAL insert
 * position, on its timeline): what a cache records with an invalidation made outside a
 * read-your-writes scope.
 *
 * @throws ConnectionError (`DEADLINE_EXCEEDED`) when the primary does not answer within
 * `probeTimeoutMs`; DatabaseClosedError (`DATABASE_CLOSED`) once the database is closing or closed.
 * @example
 * ```ts
 * const token = await latestToken(router) // 'v1.7441234567890123456.1.0/3000148.k2x9'
 * ```
 */
export async function latestToken(router: Router): Promise<string> {
  return formatToken(await router.latestPosition())
}

/**
 * The newer of two tokens of one cluster (the higher timeline, else the higher LSN).
 *
 * @throws InvalidConsistencyTokenError (and its subclasses) for a token that is not one, or
 * for tokens of different clusters (or not of `systemId`'s, when known).
 * @example
 * ```ts
 * newestToken(tokenOfInvalidation, tokenOfSession)
 * ```
 */
export function newestToken(a: string, b: string, systemId?: string): string {
  const first = parseToken(a, systemId)
  const second = parseToken(b, first.systemId)
  return formatToken(laterPosition(first, second) as Position & { readonly systemId: string })
}
