import { ConfigError } from '@sluice/core'
import { sql } from 'kysely'
import type { AnyKysely } from '../any-kysely.js'
import { parseQualified } from '../spec/identifiers.js'

/** One partition of a table, or a table detached from it. */
export interface PartitionInfo {
  readonly schema: string
  readonly name: string
  /** The bound expression as PostgreSQL prints it, e.g. `FOR VALUES FROM (...) TO (...)`. */
  readonly bound: string | undefined
  readonly isDefault: boolean
  /** Table, indexes and TOAST, in bytes. */
  readonly bytes: number
  /** The planner's row estimate (`reltuples`; -1 before the first ANALYZE on PG 14+). */
  readonly estimatedRows: number
  readonly attached: boolean
  /** A `DETACH ... CONCURRENTLY` that was interrupted; the next maintenance run finalizes it. */
  readonly detachPending: boolean
}

/**
 * The partitions of `table` (`name` or `schema.name`, read as SQL does: `'"Audit Log"'` keeps
 * its case, `App.Messages` is `app.messages`): attached ones, plus tables Sluice
 * detached from it (`<table>_pYYYYMMDD` in its schema) or archived from it into
 * `archiveSchema` (as recorded when archiving: another schema's table of the same name may
 * archive there too, the second under a suffixed name), sorted by name.
 *
 * @throws ConfigError (`CONFIG_INVALID`, field `table`) for a name that is not an SQL identifier.
 * @example
 * ```ts
 * for (const p of await listPartitions(db, 'messages')) console.log(p.name, p.bound, p.bytes)
 * ```
 */
export async function listPartitions(
  db: AnyKysely,
  table: string,
  archiveSchema?: string,
): Promise<PartitionInfo[]> {
  const parsed = parseQualified(table)
  if (!parsed) {
    throw new ConfigError([
      { field: 'table', message: 'must be table or schema.table as written in SQL' },
    ])
  }
  const [schema = 'public', name] = parsed
  const named = sql`left(c.relname, -8) = ${`${name}_p`} and right(c.relname, 8) ~ '^[0-9]{8}$'`
  // An archive is the table's if maintenance recorded it so, or by its name when nothing
  // recorded it (archived before the record existed): a name alone cannot tell
  // `app.messages`'s archives from `public.messages`'s in one archive schema.
  const { rows: recorded } = await sql<{ found: boolean }>`
    select to_regclass('sluice_partitions.archived') is not null as found`.execute(db)
  const archived = !archiveSchema
    ? sql`false`
    : recorded[0]?.found
      ? sql`n.nspname = ${archiveSchema} and coalesce(
          (select a.parent_schema = ${schema} and a.parent_table = ${name}
           from sluice_partitions.archived a
           where a.schema_name = n.nspname and a.table_name = c.relname),
          ${named})`
      : sql`n.nspname = ${archiveSchema} and ${named}`
  const { rows } = await sql<{
    schema: string
    name: string
    bound: string | null
    attached: boolean
    detach_pending: boolean
    bytes: string
    estimated_rows: number
  }>`
    with parent as (
      select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${schema} and c.relname = ${name}
    )
    select n.nspname as schema, c.relname as name,
      case when i.inhrelid is null then null else pg_get_expr(c.relpartbound, c.oid) end as bound,
      i.inhrelid is not null as attached,
      coalesce(i.inhdetachpending, false) as detach_pending,
      pg_total_relation_size(c.oid)::text as bytes,
      c.reltuples::float8 as estimated_rows
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    left join pg_inherits i on i.inhrelid = c.oid and i.inhparent = (select oid from parent)
    where c.relkind in ('r', 'p')
      and (i.inhrelid is not null
        or (n.nspname = ${schema} and ${named}) or (${archived}))
    order by c.relname`.execute(db)
  return rows.map((row) => ({
    schema: row.schema,
    name: row.name,
    bound: row.bound ?? undefined,
    isDefault: row.bound === 'DEFAULT',
    bytes: Number(row.bytes),
    estimatedRows: row.estimated_rows,
    attached: row.attached,
    detachPending: row.detach_pending,
  }))
}
