import { ConfigError } from '@sluice/core'
import { type CreateTableBuilder, DataTypeNode, sql } from 'kysely'
import type { AnyKysely } from './any-kysely.js'
import { createDefaultPartition, createIndexes } from './ddl.js'
import { quote } from './identifiers.js'
import { TIME_TYPES_TEXT, timeType } from './partition-for.js'
import { type MaintenanceResult, type RunOptions, runMaintenance } from './run.js'
import type { PartitionSpec } from './spec.js'

/** Options of {@link createPartitionedTable}. */
export interface CreateOptions extends RunOptions {
  /** Primary key columns; the partition key is added to them, as PostgreSQL requires. */
  readonly primaryKey?: readonly string[]
}

/**
 * For migrations: creates the partitioned parent (range on the spec's column, which joins the
 * primary key), the spec's indexes, the default partition if the spec has one, then the
 * current and premade partitions (through {@link runMaintenance}).
 *
 * @throws ConfigError when `columns` does not declare the spec's column with a time type,
 *   before any DDL runs.
 * @example
 * ```ts
 * await createPartitionedTable(db, messages, (table) =>
 *   table
 *     .addColumn('id', 'bigserial')
 *     .addColumn('author_id', 'bigint', (c) => c.notNull())
 *     .addColumn('sent_at', 'timestamptz', (c) => c.notNull()),
 *   { primaryKey: ['id'] },
 * )
 * ```
 */
export async function createPartitionedTable(
  db: AnyKysely,
  spec: PartitionSpec,
  columns: (table: CreateTableBuilder<string, never>) => CreateTableBuilder<string, string>,
  { primaryKey = [], ...options }: CreateOptions = {},
): Promise<MaintenanceResult> {
  await db.transaction().execute(async (trx) => {
    let table = columns(trx.schema.withSchema(spec.schema).createTable(spec.table))
    checkKeyColumn(spec, table) // before any DDL
    if (primaryKey.length > 0) {
      const keyColumns = [...new Set([...primaryKey, spec.column])]
      table = table.addPrimaryKeyConstraint(`${spec.table}_pkey`, keyColumns as never)
    }
    await table.modifyEnd(sql`partition by range (${sql.raw(quote(spec.column))})`).execute()
    for (const statement of createIndexes(spec)) await sql.raw(statement).execute(trx)
    if (spec.defaultPartition) await sql.raw(createDefaultPartition(spec)).execute(trx)
  })
  return runMaintenance(db, [spec], options)
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
