import { SluiceError } from '@sluice/core'

/**
 * No replica could serve a read (all down, lagging, promoted or behind the session's
 * consistency token) and the router was configured with `fallback: 'error'`.
 *
 * @example
 * ```ts
 * const posts = await database.db.selectFrom('posts').selectAll().execute().catch((error) => {
 *   if (error instanceof NoReplicaAvailableError) reply.status(503).header('retry-after', 1)
 *   throw error
 * })
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
 * A consistency token that cannot be used (code `INVALID_CONSISTENCY_TOKEN`): not a string,
 * longer than 64 characters, truncated or altered. The subclasses name the other problems:
 * {@link ConsistencyTokenFormatError} and {@link ForeignConsistencyTokenError}. The message
 * quotes at most 40 characters of the token.
 *
 * @example
 * ```ts
 * await database.withConsistency({ atLeast: 'yesterday' }, read) // throws INVALID_CONSISTENCY_TOKEN
 * ```
 */
export class InvalidConsistencyTokenError extends SluiceError {
  constructor(
    token: unknown,
    problem = 'is not a consistency token',
    code = 'INVALID_CONSISTENCY_TOKEN',
  ) {
    const shown = typeof token === 'string' ? JSON.stringify(token.slice(0, 40)) : typeof token
    super(code, `Consistency token ${shown} ${problem}`)
  }
}

/**
 * A token in a format this version does not read (code `CONSISTENCY_TOKEN_FORMAT`): a bare LSN
 * such as `16/B374D848` (the format before v1) or a newer version.
 *
 * @example
 * ```ts
 * await database.withConsistency({ atLeast: '16/B374D848' }, read) // throws CONSISTENCY_TOKEN_FORMAT
 * ```
 */
export class ConsistencyTokenFormatError extends InvalidConsistencyTokenError {
  constructor(token: string, format: string) {
    super(
      token,
      `is in an unsupported format (${format}); pass a token from consistencyToken() of this version`,
      'CONSISTENCY_TOKEN_FORMAT',
    )
  }
}

/**
 * A token minted by another PostgreSQL cluster (code `CONSISTENCY_TOKEN_FOREIGN_CLUSTER`): its
 * system identifier is not this cluster's, so its position means nothing here.
 *
 * @example
 * ```ts
 * await database.withConsistency({ atLeast: tokenFromStaging }, read) // throws CONSISTENCY_TOKEN_FOREIGN_CLUSTER
 * ```
 */
export class ForeignConsistencyTokenError extends InvalidConsistencyTokenError {
  constructor(token: string, tokenSystemId: string, systemId: string) {
    super(
      token,
      `comes from another cluster (system ${tokenSystemId}; this one is system ${systemId})`,
      'CONSISTENCY_TOKEN_FOREIGN_CLUSTER',
    )
  }
}

/**
 * A `ReplicaStrategy` returned something that is not an index of the candidates it was given.
 *
 * @example
 * ```ts
 * const broken: ReplicaStrategy = { name: 'broken', pick: () => 7 } // reads then fail with INVALID_STRATEGY_PICK
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
