import { SluiceError } from '@sluice/core'

/** Stable codes of {@link PartitionError}. */
export type PartitionErrorCode =
  | 'PARTITION_TABLE_NOT_PARTITIONED'
  | 'PARTITION_COLUMN_NOT_TIME'
  | 'PARTITION_KEY_REQUIRED'
  | 'PARTITION_LOCK_TIMEOUT'

/**
 * A partition operation that cannot go ahead: the table is not range-partitioned on the
 * spec's column, the column is not a time type, a query on a strictly checked table has no
 * predicate on its partition key, or DDL kept timing out on locks. Bad specs throw
 * `ConfigError` (`CONFIG_INVALID`) naming each field instead.
 *
 * @example
 * ```ts
 * try {
 *   await runMaintenance(db, [messages], { now: new Date() })
 * } catch (error) {
 *   if (error instanceof PartitionError && error.code === 'PARTITION_TABLE_NOT_PARTITIONED') throw error
 * }
 * ```
 */
export class PartitionError extends SluiceError {
  declare readonly code: PartitionErrorCode

  constructor(code: PartitionErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}
