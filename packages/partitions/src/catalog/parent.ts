import { sql } from 'kysely'
import type { AnyKysely } from '../any-kysely.js'
import { PartitionError } from '../errors.js'
import type { KeySpan } from '../spec/bounds.js'
import { qualified } from '../spec/identifiers.js'
import { TIME_TYPES_TEXT, type TimeType, timeType } from '../spec/partition-for.js'
import type { PartitionSpec } from '../spec/spec.js'

/** An attached partition with its real bound from the catalog. */
export interface AttachedPartition extends Partial<KeySpan> {
  readonly schema: string
  readonly name: string
  readonly isDefault: boolean
  /** An interrupted `DETACH ... CONCURRENTLY`. */
  readonly detachPending: boolean
}

/** A foreign key of another table (or the parent itself) that references the parent. */
export interface ReferencingKey {
  readonly name: string
  readonly schema: string
  readonly table: string
  /** The referencing table is partitioned. */
  readonly partitioned: boolean
  /** `pg_get_constraintdef`, e.g. `FOREIGN KEY (message_id, sent_at) REFERENCES ...`. */
  readonly definition: string
  /** Validated (not `NOT VALID`): a move validates it again after re-creating it. */
  readonly validated: boolean
}

/** What maintenance must know about a parent table, read from the catalog in one go. */
export interface ParentTable {
  readonly spec: PartitionSpec
  readonly type: TimeType
  readonly owner: string
  readonly currentUser: string
  readonly serverVersion: number
  /** `relreplident`: `d` default, `n` nothing, `f` full, `i` an index. */
  readonly replicaIdentity: 'd' | 'n' | 'f' | 'i'
  readonly grants: ReadonlyArray<{ grantee: string; privilege: string; grantable: boolean }>
  /** Columns a copy names, in the parent's order: generated columns excluded. */
  readonly copyColumns: readonly string[]
  readonly hasIdentity: boolean
  readonly referencedBy: readonly ReferencingKey[]
  /**
   * Tables the parent's foreign keys reference (the parent itself left out), as
   * `"schema"."table"`: ATTACH locks each in SHARE ROW EXCLUSIVE mode to clone the key.
   */
  readonly references: readonly string[]
  /** The parent or its default partition is in a publication. */
  readonly published: boolean
  readonly partitions: readonly AttachedPartition[]
  /** Storage options of the spec's template (`fillfactor=70`, ...). */
  readonly templateOptions: readonly string[]
  /**
   * The parent's `NOT VALID` CHECK constraints (`definition` ends in `NOT VALID`): rows older
   * than them may break them, so a partition gets them only after its rows are in.
   */
  readonly notValidChecks: ReadonlyArray<{ readonly name: string; readonly definition: string }>
  /**
   * The parent's row security: PostgreSQL applies it to queries through the parent only, so
   * a partition that gets the parent's grants needs it too, or it bypasses the policies.
   */
  readonly rowSecurity: RowSecurity
}

/** `relrowsecurity`, `relforcerowsecurity` and the policies of a table (`pg_policies`). */
export interface RowSecurity {
  readonly enabled: boolean
  readonly forced: boolean
  readonly policies: ReadonlyArray<{
    readonly name: string
    readonly permissive: string
    readonly roles: readonly string[]
    readonly command: string
    readonly using: string | null
    readonly check: string | null
  }>
}

const CASTS: Record<TimeType, string> = {
  'timestamp with time zone': 'timestamptz',
  'timestamp without time zone': 'timestamp',
  date: 'date',
}

/**
 * Reads the spec's parent table from the catalog, and checks it before any DDL: it exists,
 * is range-partitioned on the spec's column alone, the column is a time type (any
 * precision), and the template exists.
 *
 * @throws PartitionError `PARTITION_TABLE_NOT_FOUND`, `PARTITION_TABLE_NOT_PARTITIONED`,
 *   `PARTITION_COLUMN_NOT_TIME` or `PARTITION_TEMPLATE_NOT_FOUND`.
 * @example
 * ```ts
 * const parent = await readParent(db, messages)
 * console.log(parent.type, parent.partitions.length)
 * ```
 */
export async function readParent(db: AnyKysely, spec: PartitionSpec): Promise<ParentTable> {
  const name = qualified(spec.schema, spec.table)
  const { rows } = await sql<{
    oid: string
    strategy: string | null
    natts: number | null
    key: string | null
    type: string | null
    owner: string
    current_user: string
    version: number
    replident: 'd' | 'n' | 'f' | 'i'
    rls: boolean
    force_rls: boolean
  }>`
    select c.oid::int8::text as oid, pt.partstrat as strategy, pt.partnatts as natts,
      a.attname as key, format_type(a.atttypid, a.atttypmod) as type,
      pg_get_userbyid(c.relowner) as owner, current_user as current_user,
      current_setting('server_version_num')::int as version, c.relreplident as replident,
      c.relrowsecurity as rls, c.relforcerowsecurity as force_rls
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    left join pg_partitioned_table pt on pt.partrelid = c.oid
    left join pg_attribute a on a.attrelid = c.oid and a.attnum = pt.partattrs[0]
    where n.nspname = ${spec.schema} and c.relname = ${spec.table}`.execute(db)
  const [parent] = rows
  if (!parent) {
    throw new PartitionError('PARTITION_TABLE_NOT_FOUND', `${name} does not exist`, {
      context: { field: 'table' },
    })
  }
  if (parent.strategy !== 'r' || parent.natts !== 1 || parent.key !== spec.column) {
    throw new PartitionError(
      'PARTITION_TABLE_NOT_PARTITIONED',
      `${name} is not range-partitioned on ${spec.column} alone`,
      { context: { field: 'column' } },
    )
  }
  const type = timeType(parent.type ?? '')
  if (!type) {
    throw new PartitionError(
      'PARTITION_COLUMN_NOT_TIME',
      `${name}.${spec.column} is ${parent.type}; the partition key must be ${TIME_TYPES_TEXT}`,
      { context: { field: 'column' } },
    )
  }
  const oid = parent.oid
  const [
    grants,
    columns,
    referencedBy,
    references,
    partitions,
    templateOptions,
    notValidChecks,
    policies,
  ] = await Promise.all([
    sql<{ grantee: string; privilege: string; grantable: boolean }>`
      select coalesce(r.rolname, 'PUBLIC') as grantee, a.privilege_type as privilege,
        a.is_grantable as grantable
      from pg_class c cross join lateral aclexplode(c.relacl) a
      left join pg_roles r on r.oid = a.grantee
      where c.oid = ${oid}::int8::oid and a.grantee <> c.relowner
      order by 1, 2`.execute(db),
    sql<{ name: string; generated: boolean; identity: boolean }>`
      select attname as name, attgenerated <> '' as generated, attidentity <> '' as identity
      from pg_attribute where attrelid = ${oid}::int8::oid and attnum > 0 and not attisdropped
      order by attnum`.execute(db),
    sql<ReferencingKey>`
      select con.conname as name, rn.nspname as schema, rc.relname as table,
        rc.relkind = 'p' as partitioned, pg_get_constraintdef(con.oid) as definition,
        con.convalidated as validated
      from pg_constraint con
      join pg_class rc on rc.oid = con.conrelid
      join pg_namespace rn on rn.oid = rc.relnamespace
      where con.contype = 'f' and con.confrelid = ${oid}::int8::oid and con.conparentid = 0
      order by 2, 3, 1`.execute(db),
    sql<{ name: string }>`
      select distinct format('%I.%I', n.nspname, c.relname) as name
      from pg_constraint con
      join pg_class c on c.oid = con.confrelid
      join pg_namespace n on n.oid = c.relnamespace
      where con.contype = 'f' and con.conrelid = ${oid}::int8::oid and con.confrelid <> con.conrelid
      order by 1`.execute(db),
    attachedPartitions(db, oid, type),
    spec.template ? templateStorage(db, spec) : Promise.resolve([]),
    sql<{ name: string; definition: string }>`
      select conname as name, pg_get_constraintdef(oid) as definition from pg_constraint
      where conrelid = ${oid}::int8::oid and contype = 'c' and not convalidated
      order by 1`.execute(db),
    sql<RowSecurity['policies'][number]>`
      select policyname as name, permissive, roles::text[] as roles, cmd as command,
        qual as using, with_check as check
      from pg_policies where schemaname = ${spec.schema} and tablename = ${spec.table}
      order by 1`.execute(db),
  ])
  const defaultName = partitions.find((p) => p.isDefault)?.name
  const { rows: published } = await sql<{ published: boolean }>`
    select exists (
      select 1 from pg_publication_tables
      where schemaname = ${spec.schema} and tablename in (${spec.table}, ${defaultName ?? spec.table})
    ) as published`.execute(db)
  return {
    spec,
    type,
    owner: parent.owner,
    currentUser: parent.current_user,
    serverVersion: parent.version,
    replicaIdentity: parent.replident,
    grants: grants.rows,
    copyColumns: columns.rows.filter((c) => !c.generated).map((c) => c.name),
    hasIdentity: columns.rows.some((c) => c.identity),
    referencedBy: referencedBy.rows,
    references: references.rows.map((row) => row.name),
    published: published[0]?.published ?? false,
    partitions,
    templateOptions,
    notValidChecks: notValidChecks.rows,
    rowSecurity: { enabled: parent.rls, forced: parent.force_rls, policies: policies.rows },
  }
}

async function attachedPartitions(
  db: AnyKysely,
  oid: string,
  type: TimeType,
): Promise<AttachedPartition[]> {
  const cast = sql.raw(CASTS[type])
  const value = (text: string | null) =>
    text === null
      ? undefined
      : text === 'min'
        ? -Infinity
        : text === 'max'
          ? Infinity
          : Number(text)
  // Bounds as PostgreSQL prints them, read back in the same session: the catalog's truth. The
  // caller sets DateStyle ISO (numeric offsets): other styles print ambiguous zone abbreviations.
  const { rows } = await sql<{
    schema: string
    name: string
    is_default: boolean
    pending: boolean
    lower: string | null
    upper: string | null
  }>`
    with bound as (
      select n.nspname as schema, c.relname as name, i.inhdetachpending as pending,
        pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' as is_default,
        regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES FROM \\((.*)\\) TO \\((.*)\\)$') as m
      from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
      join pg_namespace n on n.oid = c.relnamespace
      where i.inhparent = ${oid}::int8::oid
    )
    select schema, name, is_default, pending,
      case when m[1] = 'MINVALUE' then 'min' else
        (extract(epoch from (trim(both '''' from m[1]))::${cast}) * 1000)::float8::text end as lower,
      case when m[2] = 'MAXVALUE' then 'max' else
        (extract(epoch from (trim(both '''' from m[2]))::${cast}) * 1000)::float8::text end as upper
    from bound order by name`.execute(db)
  return rows.map((row) => ({
    schema: row.schema,
    name: row.name,
    isDefault: row.is_default,
    detachPending: row.pending,
    ...(row.lower !== null && row.upper !== null
      ? { lower: value(row.lower), upper: value(row.upper) }
      : {}),
  }))
}

async function templateStorage(db: AnyKysely, spec: PartitionSpec): Promise<string[]> {
  const template = spec.template as { schema: string; table: string }
  const { rows } = await sql<{ options: string[] | null }>`
    select c.reloptions as options from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${template.schema} and c.relname = ${template.table}`.execute(db)
  if (!rows[0]) {
    throw new PartitionError(
      'PARTITION_TEMPLATE_NOT_FOUND',
      `template ${qualified(template.schema, template.table)} does not exist`,
      { context: { field: 'template' } },
    )
  }
  return rows[0].options ?? []
}
