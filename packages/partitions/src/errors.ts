import { SluiceError } from '@sluice/core'

/** Stable codes of {@link PartitionError}. */
export type PartitionErrorCode =
  /** The spec's table does not exist (field `table`). */
  | 'PARTITION_TABLE_NOT_FOUND'
  /** The table is not range-partitioned on the spec's column alone (field `column`). */
  | 'PARTITION_TABLE_NOT_PARTITIONED'
  /** The partition key is not `timestamptz`, `timestamp` or `date` (field `column`). */
  | 'PARTITION_COLUMN_NOT_TIME'
  /** The spec's template table does not exist (field `template`). */
  | 'PARTITION_TEMPLATE_NOT_FOUND'
  /** The spec changed since the last run in a way that would remove more data (field named). */
  | 'PARTITION_SPEC_CHANGED'
  /** A query on a strictly checked table has no pruning predicate on its key. */
  | 'PARTITION_KEY_REQUIRED'
  /** DDL kept timing out on locks. */
  | 'PARTITION_LOCK_TIMEOUT'
  /** Another runner held the table for longer than the caller would wait. */
  | 'PARTITION_BUSY'
  /** Rows cannot move out of the default partition safely; the message names the manual fix. */
  | 'PARTITION_MOVE_REFUSED'
  /**
   * A partition past retention still has rows a foreign key references: PostgreSQL refuses to
   * detach it (nothing is removed, no referencing row deleted); the message names the key.
   */
  | 'PARTITION_RETENTION_REFUSED'
  /**
   * A move's switch found the rows in the default no longer matching their copy (a write it
   * could not account for, e.g. a `TRUNCATE` of the default, or a type whose text form does
   * not round-trip through `jsonb`): rolled back, nothing changed; the next run copies again.
   */
  | 'PARTITION_MOVE_CHANGED'
  /** More partitions were due than `maxPartitionsPerRun` (field `maxPartitionsPerRun`); the rest waits for the next run. */
  | 'PARTITION_LIMIT_REACHED'
  /** `createPartitionedTable`'s maintenance run failed for a step (the cause says why). */
  | 'PARTITION_MAINTENANCE_FAILED'
  /** The server does not know the spec's time zone, which Node does (field `timeZone`). */
  | 'PARTITION_TIME_ZONE_UNKNOWN'
  /**
   * The server's time-zone data puts the spec's zone's midnights elsewhere than Node's does
   * (field `timeZone`): bounds and the grouping of the default's rows would disagree.
   */
  | 'PARTITION_TIME_ZONE_MISMATCH'

/**
 * A partition operation that cannot go ahead. `context.field` names the spec field at fault
 * where there is one (`table`, `column`, `template`, `retention`, `interval`). Bad specs
 * throw `ConfigError` (`CONFIG_INVALID`) from `definePartitions` instead.
 *
 * @example
 * ```ts
 * const result = await runMaintenance(db, [messages])
 * for (const { table, error } of result.errors) {
 *   if (error instanceof PartitionError) console.error(table, error.code, error.context.field)
 * }
 * ```
 */
export class PartitionError extends SluiceError<PartitionErrorCode> {}
