/**
 * Where reads can be made to see at least a given write: the router (`RoutedDatabase`)
 * implements it, and the cache uses it so that the reload after an invalidation reads at
 * least the invalidating write, without the cache depending on the router. Tokens are opaque
 * short strings (the router's: a position in the primary's WAL with its timeline and system).
 *
 * @example
 * ```ts
 * const consistency: ConsistencySource = createRoutedDatabase<DB>(parseConfig())
 * const token = await consistency.latestToken() // covers every write committed so far
 * const rows = await consistency.withConsistency({ atLeast: token }, () => readRows())
 * ```
 */
export interface ConsistencySource {
  /** The token of the latest write in the current read-your-writes scope, if any. */
  consistencyToken(): string | undefined
  /**
   * A token at or after every write that committed before the call (it asks the primary).
   * @throws when the primary cannot be asked; callers fall back as they see fit.
   */
  latestToken(): Promise<string>
  /** The newer of two tokens: reads at it see both writes. */
  newestToken(a: string, b: string): string
  /** Runs `fn` with reads that see at least the write of `atLeast`. */
  withConsistency<T>(consistency: { atLeast?: string }, fn: () => Promise<T>): Promise<T>
}
