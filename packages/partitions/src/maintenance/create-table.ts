import { ConfigError } from '@sluice/core'
import { isDatabaseError } from '@sluice/core/internal'
import { type CreateTableBuilder, DataTypeNode, sql } from 'kysely'
import type { AnyKysely } from '../any-kysely.js'
import { PartitionError } from '../errors.js'
import { checkOptions } from '../options/options.js'
import { qualified, quote } from '../spec/identifiers.js'
import { TIME_TYPES_TEXT, timeType } from '../spec/partition-for.js'
import { checkSpecs, type PartitionSpec } from '../spec/spec.js'
import { createDefaultPartition, createIndexes } from './ddl.js'
import { type MaintenanceResult, type RunOptions, runMaintenance } from './run.js'
import { asMaintenance, inTransaction, maintenanceSettings } from './settings.js'

/** Options of {@link createPartitionedTable}. */
export interface CreateOptions extends RunOptions {
  /** Primary key columns; the partition key is added to them, as PostgreSQL requires. */
  readonly primaryKey?: readonly string[]
  /**
   * A table that already exists is left as it is (maintenance still runs), as in
   * `create table if not exists`; also when another process creates it at the same time.
   * Default false: an existing table is PostgreSQL's `42P07` error.
   */
  readonly ifNotExists?: boolean
}

/**
 * Errors of a concurrent CREATE of the same table: it exists now. 42710 is the table's row type
 * ("type ... already exists"), which a racing CREATE can hit before the table name itself.
 */
const ALREADY_CREATED = new Set(['42P07', '42710', '23505'])

/**
 * For migrations: creates the partitioned parent (range on the spec's column, which joins the
 * primary key), the spec's indexes, the default partition if the spec has one, then the
 * current and premade partitions (through {@link runMaintenance}, waiting up to `waitMs`,
 * default 30 s, for a runner that holds the table).
 *
 * @throws ConfigError when `columns` does not declare the spec's column with a time type,
 *   the spec was not made by `definePartitions`, or an option is of the wrong type or
 *   unknown, before any DDL runs; PartitionError `PARTITION_BUSY` when another runner kept the table
 *   past `waitMs`, `PARTITION_MAINTENANCE_FAILED` when a partition could not be created
 *   (its `cause` is the first error).
 * @example
 * ```ts
 * await createPartitionedTable(db, messages, (table) =>
 *   table
 *     .addColumn('id', 'bigserial')
 *     .addColumn('author_id', 'bigint', (c) => c.notNull())
 *     .addColumn('sent_at', 'timestamptz', (c) => c.notNull()),
 *   { primaryKey: ['id'], ifNotExists: true },
 * )
 * ```
 */
export async function createPartitionedTable(
  db: AnyKysely,
  spec: PartitionSpec,
  columns: (table: CreateTableBuilder<string, never>) => CreateTableBuilder<string, string>,
  createOptions: CreateOptions = {},
): Promise<MaintenanceResult> {
  checkSpecs([spec])
  const {
    primaryKey = [],
    ifNotExists = false,
    ...options
  } = checkOptions('createPartitionedTable', createOptions)
  let table = columns(db.schema.withSchema(spec.schema).createTable(spec.table))
  checkKeyColumn(spec, table) // before any DDL
  if (primaryKey.length > 0) {
    const keyColumns = [...new Set([...primaryKey, spec.column])]
    table = table.addPrimaryKeyConstraint(`${spec.table}_pkey`, keyColumns as never)
  }
  const name = qualified(spec.schema, spec.table)
  const create = table.modifyEnd(sql`partition by range (${sql.raw(quote(spec.column))})`)
  // Maintenance's statement timeout, not the application's, as for the run that follows.
  try {
    await asMaintenance(options, () =>
      inTransaction(db, maintenanceSettings(options, false), async (trx) => {
        const { rows } = await sql<{ found: boolean }>`
          select to_regclass(${name}) is not null as found`.execute(trx)
        if (ifNotExists && rows[0]?.found) return
        await trx.executeQuery(create.compile())
        for (const statement of createIndexes(spec)) await sql.raw(statement).execute(trx)
        if (spec.defaultPartition) await sql.raw(createDefaultPartition(spec)).execute(trx)
      }),
    )
  } catch (error) {
    if (!(ifNotExists && isDatabaseError(error) && ALREADY_CREATED.has(error.code ?? '')))
      throw error
  }
  const result = await runMaintenance(db, [spec], { waitMs: 30_000, ...options })
  const [skipped] = result.skipped
  if (skipped) {
    throw new PartitionError(
      'PARTITION_BUSY',
      `${spec.schema}.${spec.table} is held by maintenance runner ${skipped.heldBy} until ${skipped.until.toISOString()}`,
      { context: { table: `${spec.schema}.${spec.table}` } },
    )
  }
  const [failed] = result.errors
  if (failed) {
    throw new PartitionError(
      'PARTITION_MAINTENANCE_FAILED',
      `${failed.table}: ${failed.step ? `${failed.step.kind} ${failed.step.partition}` : 'planning'} failed: ${String((failed.error as Error)?.message ?? failed.error)}`,
      { cause: failed.error, context: { table: failed.table } },
    )
  }
  return result
}

function checkKeyColumn(spec: PartitionSpec, table: CreateTableBuilder<string, string>): void {
  const node = table.toOperationNode()
  const column = node.columns.find((c) => c.column.column.name === spec.column)
  // A type written as raw SQL is left to PostgreSQL (and maintenance's own check).
  const dataType = column?.dataType
  const type = dataType && DataTypeNode.is(dataType) ? dataType.dataType : 'raw'
  if (!column || (type !== 'raw' && !timeType(type))) {
    throw new ConfigError([
      {
        field: 'column',
        message: column
          ? `${spec.column} must be ${TIME_TYPES_TEXT} to partition by time`
          : `${spec.column} is not among the table's columns`,
      },
    ])
  }
}
