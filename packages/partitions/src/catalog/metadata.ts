import { isDatabaseError } from '@sluice/core/internal'
import { sql } from 'kysely'
import type { AnyKysely } from '../any-kysely.js'
import { PartitionError } from '../errors.js'
import { inTransaction, type Settings } from '../maintenance/settings.js'
import type { Interval } from '../spec/calendar.js'
import type { PartitionSpec } from '../spec/spec.js'

/**
 * The settings under which a move records and compares rows in their text form (the trigger
 * function and the switch both use them): a row's text writes `timestamptz` in the session's
 * time zone and date style, floats with its `extra_float_digits` (fewer digits lose
 * precision), intervals, `bytea` and `money` in its styles, so a writer with other settings
 * would record text the switch never matches (every run rolled back).
 *
 * @example
 * ```ts
 * RECORDING_SETTINGS.map(([name, value]) => `set local ${name} = '${value}'`)
 * ```
 */
export const RECORDING_SETTINGS = [
  ['DateStyle', 'ISO, MDY'],
  ['TimeZone', 'UTC'],
  ['extra_float_digits', '3'],
  ['IntervalStyle', 'postgres'],
  ['bytea_output', 'hex'],
  ['lc_monetary', 'C'],
] as const

/**
 * What the database remembers of each managed table, in schema `sluice_partitions`: the
 * spec of the last successful run, when it ran, the last error, and the runner's lease
 * (a lock row: it works through every pooler, PgBouncer in transaction mode included).
 */
const SETUP = [
  'create schema if not exists sluice_partitions',
  `create table if not exists sluice_partitions.tables (
    schema_name text not null,
    table_name text not null,
    spec jsonb,
    runner text,
    lease_until timestamptz,
    last_run_at timestamptz,
    last_success_at timestamptz,
    last_error text,
    primary key (schema_name, table_name))`,
  'alter table sluice_partitions.tables add column if not exists default_rows bigint',
  // The `now` of the last successful run: its current and premade ranges exist.
  'alter table sluice_partitions.tables add column if not exists covered_at timestamptz',
  `create table if not exists sluice_partitions.retiring (
    schema_name text not null,
    table_name text not null,
    parent_schema text not null,
    parent_table text not null,
    mode text not null,
    primary key (schema_name, table_name))`,
  // Which table each archive came from: two tables of one name in two schemas may archive
  // into one schema (the second gets a suffix), and a name cannot say whose an archive is.
  `create table if not exists sluice_partitions.archived (
    schema_name text not null,
    table_name text not null,
    parent_schema text not null,
    parent_table text not null,
    primary key (schema_name, table_name))`,
  // A move's record of the default partition's writes while its rows are copied
  // (maintenance/copy.ts): the writer's transaction, the row before and after, as the row's
  // text, which gives every value back exactly (`jsonb` would rewrite a `json` column).
  `create table if not exists sluice_partitions.moves (
    id bigint generated always as identity primary key,
    relid oid not null,
    xid xid8 not null default pg_current_xact_id(),
    old text,
    new text)`,
  // Rows recorded as jsonb by an earlier version: only ever a running move's, redone by the
  // next run.
  `do $do$ begin
    if (select atttypid from pg_attribute where attrelid = 'sluice_partitions.moves'::regclass
        and attname = 'old') <> 'text'::regtype then
      truncate sluice_partitions.moves, sluice_partitions.move_copies;
      alter table sluice_partitions.moves alter column old type text, alter column new type text;
    end if;
  end $do$`,
  `create table if not exists sluice_partitions.move_copies (
    relid oid primary key,
    snapshot pg_snapshot not null)`,
  // SECURITY DEFINER: the application's roles write the default without rights on this schema.
  // RECORDING_SETTINGS: the writer's session settings must not change the recorded text (a
  // function made before them, or recording jsonb, is replaced).
  `do $do$ begin
    if not exists (select 1 from pg_proc where oid = to_regprocedure('sluice_partitions.capture_move()')
        and proconfig @> array['DateStyle=ISO, MDY']) then
      create or replace function sluice_partitions.capture_move() returns trigger
        language plpgsql security definer set search_path = pg_catalog
        ${RECORDING_SETTINGS.map(([name, value]) => `set ${name} = '${value}'`).join(' ')} as $f$
      begin
        insert into sluice_partitions.moves (relid, old, new) values (tg_relid,
          case when tg_op <> 'INSERT' then old::text end,
          case when tg_op <> 'DELETE' then new::text end);
        return null;
      end $f$;
    end if;
  end $do$`,
]

/** Errors of two runners creating the same catalog objects at once: the other one won. */
const CREATE_RACE = new Set(['23505', '42P06', '42P07', '42723'])

/**
 * Creates the metadata tables if they are missing (safe to race with another runner), in
 * one transaction that starts with `settings`.
 *
 * @example
 * ```ts
 * await ensureMetadata(db, maintenanceSettings({}, false)) // creates schema sluice_partitions once
 * ```
 */
export async function ensureMetadata(db: AnyKysely, settings: Settings): Promise<void> {
  for (let tried = 0; ; tried++) {
    try {
      await inTransaction(db, settings, async (trx) => {
        if (await metadataExists(trx)) return
        for (const statement of SETUP) await sql.raw(statement).execute(trx)
      })
      return
    } catch (error) {
      if (tried >= 3 || !isDatabaseError(error) || !CREATE_RACE.has(error.code ?? '')) throw error
    }
  }
}

async function metadataExists(db: AnyKysely): Promise<boolean> {
  const { rows } = await sql<{ found: boolean }>`
    select exists (select 1 from pg_proc where oid = to_regprocedure('sluice_partitions.capture_move()')
        and proconfig @> array['DateStyle=ISO, MDY'])
      and to_regclass('sluice_partitions.archived') is not null and exists (
      select 1 from pg_attribute
      where attrelid = to_regclass('sluice_partitions.tables') and attname = 'covered_at'
    ) as found`.execute(db)
  return rows[0]?.found ?? false
}

/** A table's lease: taken by this runner, or held by `heldBy` until `until`. */
export type Lease =
  | { readonly taken: true }
  | { readonly taken: false; heldBy: string; until: Date }

/**
 * Takes (or renews) the table's lease for `leaseMs`, unless another runner holds it.
 *
 * @example
 * ```ts
 * const lease = await takeLease(db, messages, 'host:123:ab12', 120_000) // { taken: true }
 * ```
 */
export async function takeLease(
  db: AnyKysely,
  spec: PartitionSpec,
  runner: string,
  leaseMs: number,
): Promise<Lease> {
  const { rows } = await sql<{ runner: string; until: Date; taken: boolean }>`
    insert into sluice_partitions.tables as t (schema_name, table_name, runner, lease_until)
    values (${spec.schema}, ${spec.table}, ${runner}, clock_timestamp() + ${`${leaseMs} milliseconds`}::interval)
    on conflict (schema_name, table_name) do update
      set runner = excluded.runner, lease_until = excluded.lease_until
      where t.runner is null or t.lease_until < clock_timestamp() or t.runner = excluded.runner
    returning runner, lease_until as until, true as taken`.execute(db)
  if (rows[0]) return { taken: true }
  const { rows: held } = await sql<{ runner: string; until: Date }>`
    select runner, lease_until as until from sluice_partitions.tables
    where schema_name = ${spec.schema} and table_name = ${spec.table}`.execute(db)
  return { taken: false, heldBy: held[0]?.runner ?? 'unknown', until: held[0]?.until ?? new Date() }
}

/**
 * Renews the table's lease only if this runner still holds it (an expired lease nobody took
 * counts as held; one another runner took, even if given back since, does not): a runner
 * that lost its lease must change nothing more, since the other runner may have dropped its
 * move's recorder or moved the rows itself. Run inside a transaction, it also keeps the
 * lease from changing hands until that transaction ends.
 *
 * @throws PartitionError `PARTITION_BUSY` when the lease is no longer this runner's.
 *
 * @example
 * ```ts
 * await renewLease(db, messages, 'host:123:ab12', 120_000) // throws PARTITION_BUSY once lost
 * ```
 */
export async function renewLease(
  db: AnyKysely,
  spec: PartitionSpec,
  runner: string,
  leaseMs: number,
): Promise<void> {
  const { rows } = await sql<{ runner: string }>`
    update sluice_partitions.tables
    set lease_until = clock_timestamp() + ${`${leaseMs} milliseconds`}::interval
    where schema_name = ${spec.schema} and table_name = ${spec.table} and runner = ${runner}
    returning runner`.execute(db)
  if (rows.length > 0) return
  const table = `${spec.schema}.${spec.table}`
  const { rows: held } = await sql<{ runner: string | null }>`
    select runner from sluice_partitions.tables
    where schema_name = ${spec.schema} and table_name = ${spec.table}`.execute(db)
  throw new PartitionError(
    'PARTITION_BUSY',
    `${table}: lost the lease to ${held[0]?.runner ?? 'another runner'} (it expired mid-run); this run stops here, the holder goes on`,
    { context: { table } },
  )
}

/**
 * Gives the lease back and records the run: its spec, success or the first error, the rows
 * left in the default partition, and (on success) the `now` it planned for.
 *
 * @example
 * ```ts
 * await releaseLease(db, messages, 'host:123:ab12', undefined, 0, new Date()) // a successful run
 * ```
 */
export async function releaseLease(
  db: AnyKysely,
  spec: PartitionSpec,
  runner: string,
  error: unknown,
  defaultRows: number,
  now: Date,
): Promise<void> {
  const message =
    error === undefined ? null : String((error as Error)?.message ?? error).slice(0, 1000)
  const stored = storedSpec(spec)
  await sql`
    update sluice_partitions.tables set runner = null, lease_until = null,
      last_run_at = clock_timestamp(),
      last_success_at = case when ${message}::text is null then clock_timestamp() else last_success_at end,
      covered_at = case when ${message}::text is null then ${now}::timestamptz else covered_at end,
      spec = case when ${message}::text is not null then spec
        -- A retention removed keeps the last one as the floor: removing it, then adding a
        -- shorter one, must not pass the check in two steps.
        when ${stored.retention === null} and spec ? 'retention' and spec->'retention' <> 'null'::jsonb
          then jsonb_set(${JSON.stringify(stored)}::jsonb, '{retention}', spec->'retention')
        else ${JSON.stringify(stored)}::jsonb end,
      last_error = ${message}, default_rows = ${defaultRows}
    where schema_name = ${spec.schema} and table_name = ${spec.table} and runner = ${runner}`.execute(
    db,
  )
}

interface StoredSpec {
  readonly column: string
  readonly interval: Interval
  readonly retention: {
    readonly count: number
    readonly unit: Interval
    readonly mode: string
  } | null
}

function storedSpec(spec: PartitionSpec): StoredSpec {
  const retention = spec.retention
  return {
    column: spec.column,
    interval: spec.interval,
    retention: retention ? { ...retention.keep, mode: retention.mode } : null,
  }
}

const DAYS: Record<Interval, number> = {
  day: 1,
  week: 7,
  month: 30.44,
  quarter: 91.31,
  year: 365.25,
}

/**
 * Compares the spec with the one of the last successful run. A new interval is fine (plans
 * follow the catalog's real bounds), but a retention that keeps less, or that now drops what
 * it used to keep, would remove data a mistake cannot bring back: refused unless accepted.
 *
 * @throws PartitionError `PARTITION_SPEC_CHANGED` naming `retention.keep` or `retention.mode`.
 *
 * @example
 * ```ts
 * await checkSpecChange(db, messages) // throws when retention.keep shrank since the last run
 * ```
 */
export async function checkSpecChange(db: AnyKysely, spec: PartitionSpec): Promise<void> {
  if (!(await metadataExists(db))) return
  const { rows } = await sql<{ spec: StoredSpec | null }>`
    select spec from sluice_partitions.tables
    where schema_name = ${spec.schema} and table_name = ${spec.table}`.execute(db)
  const before = rows[0]?.spec?.retention
  const now = storedSpec(spec).retention
  if (!before || !now) return
  const table = `${spec.schema}.${spec.table}`
  const kept = (r: { count: number; unit: Interval }) => r.count * DAYS[r.unit]
  if (kept(now) < kept(before)) {
    throw new PartitionError(
      'PARTITION_SPEC_CHANGED',
      `${table}: retention.keep went from ${before.count} ${before.unit}(s) to ${now.count} ${now.unit}(s) since the last run; pass acceptSpecChanges: true to apply it`,
      { context: { field: 'retention.keep', table } },
    )
  }
  if (now.mode === 'drop' && before.mode !== 'drop') {
    throw new PartitionError(
      'PARTITION_SPEC_CHANGED',
      `${table}: retention.mode went from ${before.mode} to drop since the last run; pass acceptSpecChanges: true to apply it`,
      { context: { field: 'retention.mode', table } },
    )
  }
}

/**
 * The `now` the last successful run of `spec`'s table planned for (`undefined`: none, as far
 * as the database remembers): the ranges after its current one are the ones a gap may hold.
 *
 * @example
 * ```ts
 * const since = await lastCovered(db, messages) // a Date, or undefined before the first success
 * ```
 */
export async function lastCovered(db: AnyKysely, spec: PartitionSpec): Promise<Date | undefined> {
  if (!(await metadataExists(db))) return undefined
  const { rows } = await sql<{ at: Date | null }>`
    select covered_at as at from sluice_partitions.tables
    where schema_name = ${spec.schema} and table_name = ${spec.table}`.execute(db)
  return rows[0]?.at ?? undefined
}

/** A partition retention detached (or is detaching) and has not dropped or archived yet. */
export interface RetiringPartition {
  readonly schema: string
  readonly name: string
  /** It still exists, and how: `attached`, `pending` (detach interrupted) or `detached`. */
  readonly state: 'attached' | 'pending' | 'detached' | 'gone'
}

/**
 * The partitions of `spec` that retention started to retire in an earlier run.
 *
 * @example
 * ```ts
 * for (const left of await retiringPartitions(db, messages)) console.log(left.name, left.state)
 * ```
 */
export async function retiringPartitions(
  db: AnyKysely,
  spec: PartitionSpec,
): Promise<RetiringPartition[]> {
  if (!(await metadataExists(db))) return []
  const { rows } = await sql<RetiringPartition>`
    select r.schema_name as schema, r.table_name as name,
      case when c.oid is null then 'gone'
        when i.inhrelid is null then 'detached'
        when i.inhdetachpending then 'pending' else 'attached' end as state
    from sluice_partitions.retiring r
    left join pg_namespace n on n.nspname = r.schema_name
    left join pg_class c on c.relnamespace = n.oid and c.relname = r.table_name
    left join pg_inherits i on i.inhrelid = c.oid
    where r.parent_schema = ${spec.schema} and r.parent_table = ${spec.table}
    order by 2`.execute(db)
  return rows
}

/**
 * The last run of every managed table, for operators and diagnostics: when maintenance last
 * worked, and what failed since.
 *
 * @example
 * ```ts
 * for (const t of await maintenanceStatus(db)) console.log(t.table, t.lastSuccessAt, t.lastError)
 * ```
 */
export async function maintenanceStatus(db: AnyKysely): Promise<
  Array<{
    table: string
    lastRunAt: Date | null
    lastSuccessAt: Date | null
    lastError: string | null
    /** Rows the last run left in the default partition (see `MaintenanceResult.defaultRows`). */
    defaultRows: number
    runner: string | null
  }>
> {
  if (!(await metadataExists(db))) return []
  const { rows } = await sql<{
    table: string
    lastRunAt: Date | null
    lastSuccessAt: Date | null
    lastError: string | null
    defaultRows: number
    runner: string | null
  }>`
    select schema_name || '.' || table_name as table, last_run_at as "lastRunAt",
      last_success_at as "lastSuccessAt", last_error as "lastError",
      coalesce(default_rows, 0)::int as "defaultRows", runner
    from sluice_partitions.tables order by 1`.execute(db)
  return rows
}
