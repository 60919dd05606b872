import { SluiceError } from '@sluice/core'

/**
 * No replica could serve a read (all down, lagging, promoted or behind the session's
 * consistency token) and the router was configured with `fallback: 'error'`.
 *
 * @example
 * ```ts
 * try {
 *   await database.db.selectFrom('posts').selectAll().execute()
 * } catch (error) {
 *   if (error instanceof NoReplicaAvailableError) return reply.status(503).send()
 * }
 * ```
 */
export class NoReplicaAvailableError extends SluiceError {
  constructor(reasons: Readonly<Record<string, string>>) {
    const detail = Object.entries(reasons)
      .map(([label, reason]) => `${label}: ${reason}`)
      .join(', ')
    super(
      'NO_REPLICA_AVAILABLE',
      `No replica can serve this read (${detail || 'none configured'})`,
      {
        context: reasons,
      },
    )
  }
}

/**
 * A consistency token that is not a PostgreSQL LSN such as `16/B374D848`.
 *
 * @example
 * ```ts
 * await database.withConsistency({ atLeast: 'yesterday' }, read) // throws INVALID_CONSISTENCY_TOKEN
 * ```
 */
export class InvalidConsistencyTokenError extends SluiceError {
  constructor(token: unknown) {
    const shown = typeof token === 'string' ? JSON.stringify(token.slice(0, 40)) : typeof token
    super(
      'INVALID_CONSISTENCY_TOKEN',
      `Consistency token ${shown} is not a PostgreSQL LSN like "16/B374D848"`,
    )
  }
}

/**
 * A `ReplicaStrategy` returned something that is not an index of the candidates it was given.
 *
 * @example
 * ```ts
 * const broken: ReplicaStrategy = { pick: () => 7 } // reads then fail with INVALID_STRATEGY_PICK
 * ```
 */
export class InvalidStrategyPickError extends SluiceError {
  constructor(strategy: string, pick: unknown, candidates: number) {
    super(
      'INVALID_STRATEGY_PICK',
      `Replica strategy "${strategy}" picked ${String(pick)}, not an index below ${candidates}`,
      { context: { strategy, candidates } },
    )
  }
}
