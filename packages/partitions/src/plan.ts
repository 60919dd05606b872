import { sql } from 'kysely'
import type { AnyKysely } from './any-kysely.js'
import { type KeySpan, keyDate, nameDate, rangeSpan, uncovered } from './bounds.js'
import { addIntervals, intervalStart, type LocalDate, localDate, startInstant } from './calendar.js'
import {
  attachPartition,
  createPartitionTable,
  detachPartition,
  lockParent,
  type NewPartition,
} from './ddl.js'
import type { PartitionError } from './errors.js'
import { literal, qualified, quote } from './identifiers.js'
import { retiringPartitions } from './metadata.js'
import { checkMovable, deleteTriggers, moveRows, validateKeys } from './move.js'
import { type ParentTable, readParent } from './parent.js'
import { partitionFor, rangeStarting } from './partition-for.js'
import type { PartitionSpec } from './spec.js'

/**
 * One SQL statement of a step. Each runs in its own transaction with a bounded
 * `lock_timeout`, except that consecutive statements with the same `group` share one, and
 * `outside` ones (`DETACH ... CONCURRENTLY` / `FINALIZE`) run outside any transaction.
 */
export interface Statement {
  readonly sql: string
  readonly group?: number
  readonly outside?: boolean
  /** Its affected rows are rows moved out of the default partition. */
  readonly counts?: 'moved'
  /**
   * For `DETACH ... CONCURRENTLY`: once `partition` is pending detach (an earlier attempt did
   * the first half, then hit the lock timeout), `finalize` runs instead.
   */
  readonly resume?: { readonly partition: string; readonly finalize: string }
}

/** One thing maintenance does to one partition. */
export interface MaintenanceStep {
  /** `create` a partition; `finalize` an interrupted detach; `retire` one past retention. */
  readonly kind: 'create' | 'finalize' | 'retire'
  /** The parent, `schema.table`. */
  readonly table: string
  readonly partition: string
  readonly statements: readonly Statement[]
  /** For `retire`: what happens after the detach. */
  readonly mode?: 'drop' | 'detach' | 'archive'
  /** For `create`: rows of its range found in the default partition when planned. */
  readonly rows?: number
  /** Why this step will not run (PostgreSQL offers no safe way); the message names the fix. */
  readonly refused?: PartitionError
}

/** Options of {@link planMaintenance}. */
export interface PlanOptions {
  /** The time maintenance plans for. Default: now. */
  readonly now?: Date
  /**
   * How the connection reaches PostgreSQL: core's `poolerMode` (`config.primary.poolerMode`).
   * In `transaction` mode (PgBouncer) no session setting survives a statement, so the
   * statements that cannot run in a transaction (`DETACH ... CONCURRENTLY` / `FINALIZE`, which
   * never block reads or writes) run without `lock_timeout`. Default: `DB_POOLER_MODE` from
   * the environment, as `parseConfig` reads it, else `none`.
   */
  readonly poolerMode?: 'none' | 'session' | 'transaction'
}

/**
 * What maintenance would do now, as data: the exact statements, in order, without running
 * any. Works from the catalog's real bounds, never from names: partitions of any name
 * (pg_partman's `_p2026_08`, hand-made ones) count, and only what none of them covers is
 * created. Finishes what earlier runs left (interrupted detaches, partitions detached but
 * not dropped or archived), creates missing partitions from the oldest retained one up to
 * `now + premake` (gaps too), creates partitions for rows waiting in the default partition
 * (moving them, see the README), and retires partitions past retention.
 *
 * @throws PartitionError for the first table that cannot be planned (missing, not
 *   range-partitioned on a time column, missing template), before anything runs.
 * @example
 * ```ts
 * for (const step of await planMaintenance(db, [messages], { now: new Date() })) {
 *   console.log(step.kind, step.partition, step.statements.map((s) => s.sql))
 * }
 * ```
 */
export async function planMaintenance(
  db: AnyKysely,
  specs: readonly PartitionSpec[],
  options: PlanOptions = {},
): Promise<MaintenanceStep[]> {
  const steps: MaintenanceStep[] = []
  for (const spec of specs) steps.push(...(await planTable(db, spec, options)))
  return steps
}

/** The steps of one table (see {@link planMaintenance}). */
export async function planTable(
  db: AnyKysely,
  spec: PartitionSpec,
  { now = new Date() }: PlanOptions,
): Promise<MaintenanceStep[]> {
  const parent = await readParent(db, spec)
  const table = `${spec.schema}.${spec.table}`
  const names = await relationNames(db, spec)
  const steps: MaintenanceStep[] = []
  const retire = (schema: string, name: string) => retireStatements(spec, schema, name, names)

  // What earlier runs left half done.
  const leftovers = await retiringPartitions(db, spec)
  for (const left of leftovers) {
    if (left.state === 'attached') continue // still attached: retention below decides again
    const finalize =
      left.state === 'pending'
        ? [{ sql: detachPartition(spec, left.schema, left.name, 'finalize'), outside: true }]
        : []
    steps.push({
      kind: left.state === 'pending' ? 'finalize' : 'retire',
      table,
      partition: left.name,
      mode: spec.retention?.mode ?? 'drop',
      statements: [
        ...finalize,
        ...(left.state === 'gone' ? [] : retire(left.schema, left.name)),
        forget(left.schema, left.name),
      ],
    })
  }
  const cutoff = retentionCutoff(parent, now)
  for (const pending of parent.partitions.filter((p) => p.detachPending)) {
    if (leftovers.some((l) => l.schema === pending.schema && l.name === pending.name)) continue
    const past = cutoff !== undefined && pending.upper !== undefined && pending.upper <= cutoff
    steps.push({
      kind: 'finalize',
      table,
      partition: pending.name,
      ...(past ? { mode: spec.retention?.mode ?? 'drop' } : {}),
      statements: [
        { sql: detachPartition(spec, pending.schema, pending.name, 'finalize'), outside: true },
        ...(past ? retire(pending.schema, pending.name) : []),
      ],
    })
  }

  // Creation: every uncovered piece of the ranges maintenance keeps.
  const defaultPartition = parent.partitions.find((p) => p.isDefault && !p.detachPending)
  const taken: KeySpan[] = parent.partitions.flatMap((p) =>
    p.lower !== undefined && p.upper !== undefined ? [{ lower: p.lower, upper: p.upper }] : [],
  )
  const waiting = defaultPartition
    ? await defaultRows(db, parent, defaultPartition.name)
    : new Map()
  let group = 0
  for (const { range, rows } of candidates(parent, now, cutoff, taken, waiting)) {
    const span = rangeSpan(range, parent.type)
    const pieces = uncovered(span, taken)
    for (const piece of pieces) {
      taken.push(piece)
      const whole = piece.lower === span.lower && piece.upper === span.upper
      const base = whole
        ? range.name
        : `${spec.table}_p${nameDate(keyDate(piece.lower, parent.type, spec.timeZone))}`
      const name = freeName(base, names)
      names.set(name, 'planned')
      const partition: NewPartition = { name, span: piece }
      group++
      steps.push(await creation(db, parent, partition, defaultPartition?.name, rows, group))
    }
  }

  // Retention, by real bounds.
  const mode = spec.retention?.mode ?? 'drop'
  for (const partition of parent.partitions) {
    if (cutoff === undefined || partition.isDefault || partition.detachPending) continue
    if (partition.upper === undefined || partition.upper > cutoff) continue
    const how = defaultPartition ? 'plain' : 'concurrently'
    const detach = detachPartition(spec, partition.schema, partition.name, how)
    const remember =
      mode === 'detach'
        ? []
        : [
            {
              sql: `insert into sluice_partitions.retiring values (${literal(partition.schema)}, ${literal(partition.name)}, ${literal(spec.schema)}, ${literal(spec.table)}, ${literal(mode)}) on conflict do nothing`,
            },
          ]
    steps.push({
      kind: 'retire',
      table,
      partition: partition.name,
      mode,
      statements: [
        ...remember,
        how === 'concurrently'
          ? {
              sql: detach,
              outside: true,
              resume: {
                partition: qualified(partition.schema, partition.name),
                finalize: detachPartition(spec, partition.schema, partition.name, 'finalize'),
              },
            }
          : { sql: detach },
        ...retire(partition.schema, partition.name),
        ...(mode === 'detach' ? [] : [forget(partition.schema, partition.name)]),
      ],
    })
  }
  return steps
}

async function creation(
  db: AnyKysely,
  parent: ParentTable,
  partition: NewPartition,
  defaultName: string | undefined,
  rows: number,
  group: number,
): Promise<MaintenanceStep> {
  const table = `${parent.spec.schema}.${parent.spec.table}`
  const create = createPartitionTable(parent, partition).map((sql) => ({ sql }))
  const attach = attachPartition(parent, partition)
  const step = { kind: 'create' as const, table, partition: partition.name, rows }
  if (!defaultName)
    return { ...step, statements: [...create, ...attach.map((sql) => ({ sql, group }))] }
  // With a default partition the switch happens under a brief lock on the parent, so that no
  // query planned before it can miss rows or route an insert to the default (README).
  const lock = { sql: lockParent(parent), group }
  if (rows === 0) {
    return { ...step, statements: [...create, lock, ...attach.map((sql) => ({ sql, group }))] }
  }
  let refused: PartitionError | undefined
  try {
    checkMovable(parent, partition, rows)
  } catch (error) {
    refused = error as PartitionError
  }
  const triggers = await deleteTriggers(db, parent.spec.schema, defaultName)
  const move = moveRows(parent, partition, defaultName, triggers, attach).map((s) => ({
    ...s,
    group,
  }))
  return {
    ...step,
    statements: [...create, lock, ...move, ...validateKeys(parent).map((sql) => ({ sql }))],
    ...(refused ? { refused } : {}),
  }
}

/** The ranges to have: gap fill from the oldest kept partition, current + premake, and the ranges of rows waiting in the default. */
function* candidates(
  parent: ParentTable,
  now: Date,
  cutoff: number | undefined,
  taken: readonly KeySpan[],
  waiting: ReadonlyMap<string, { start: LocalDate; rows: number }>,
) {
  const { spec, type } = parent
  const current = partitionFor(spec, now)
  const currentLower = rangeSpan(current, type).lower
  // Gap fill from the oldest partition retention keeps (pg_partman's partition_gap_fill).
  const lowers = taken
    .filter(
      (t) => Number.isFinite(t.lower) && t.lower < currentLower && t.upper > (cutoff ?? -Infinity),
    )
    .map((t) => Math.max(t.lower, cutoff ?? -Infinity))
  const from =
    lowers.length > 0
      ? intervalStart(spec.interval, keyDate(Math.min(...lowers), type, spec.timeZone))
      : current.from
  const seen = new Set<string>()
  const rowsOf = (name: string) => waiting.get(name)?.rows ?? 0
  const last = rangeSpan(rangeStarting(spec, current.from, spec.premake), type).lower
  for (let i = 0; i < 100_000; i++) {
    const range = rangeStarting(spec, from, i)
    if (rangeSpan(range, type).lower > last) break
    seen.add(range.name)
    yield { range, rows: rowsOf(range.name) }
  }
  for (const [name, { start }] of waiting) {
    if (seen.has(name)) continue
    const range = rangeStarting(spec, start)
    const span = rangeSpan(range, type)
    // Past retention, or beyond premake (premake reaches it later): the rows stay for now.
    if ((cutoff !== undefined && span.upper <= cutoff) || span.lower > last) continue
    yield { range, rows: rowsOf(name) }
  }
}

/** The start of what retention keeps, on the key's axis (`undefined`: keep everything). */
function retentionCutoff({ spec, type }: ParentTable, now: Date): number | undefined {
  const retention = spec.retention
  if (!retention) return undefined
  const date = addIntervals(
    retention.keep.unit,
    localDate(now, spec.timeZone),
    -retention.keep.count,
  )
  return type === 'timestamp with time zone'
    ? startInstant(date, spec.timeZone).getTime()
    : Date.UTC(date.year, date.month - 1, date.day)
}

/** Rows of the default partition by the range they belong to (an index or one scan, no lock beyond ACCESS SHARE). */
async function defaultRows(db: AnyKysely, parent: ParentTable, defaultName: string) {
  const { spec, type } = parent
  const column = quote(spec.column)
  const local =
    type === 'timestamp with time zone'
      ? `${column} at time zone ${literal(spec.timeZone)}`
      : `${column}::timestamp`
  const { rows } = await sql<{ start: string; rows: number }>`
    select to_char(date_trunc(${spec.interval}, ${sql.raw(local)}), 'YYYY-MM-DD') as start, count(*)::int as rows
    from ${sql.raw(qualified(spec.schema, defaultName))} where ${sql.raw(column)} is not null
    group by 1`.execute(db)
  const waiting = new Map<string, { start: LocalDate; rows: number }>()
  for (const row of rows) {
    const [year = 0, month = 1, day = 1] = row.start.split('-').map(Number)
    const start = intervalStart(spec.interval, { year, month, day })
    const range = rangeStarting(spec, start)
    const before = waiting.get(range.name)?.rows ?? 0
    waiting.set(range.name, { start, rows: before + row.rows })
  }
  return waiting
}

/** Relations of the spec's schema and archive schema: `reusable` ones are Sluice's own empty leftovers. */
async function relationNames(db: AnyKysely, spec: PartitionSpec) {
  const schemas = [spec.schema, spec.retention?.archiveSchema ?? spec.schema]
  const { rows } = await sql<{ schema: string; name: string; reusable: boolean }>`
    select n.nspname as schema, c.relname as name,
      n.nspname = ${spec.schema}
      and exists (select 1 from pg_constraint k where k.conrelid = c.oid and k.conname = 'sluice_partition_bound')
      and not exists (select 1 from pg_inherits i where i.inhrelid = c.oid) as reusable
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname in (${schemas[0]}, ${schemas[1]})`.execute(db)
  const names = new Map<string, 'reusable' | 'taken' | 'planned'>()
  for (const row of rows) {
    const key = row.schema === spec.schema ? row.name : `${row.schema}.${row.name}`
    names.set(key, row.reusable ? 'reusable' : 'taken')
  }
  return names
}

/** `base`, or `base_2`, `base_3`... when a relation that is not Sluice's empty leftover has it. */
function freeName(base: string, names: ReadonlyMap<string, string>): string {
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : `${base}_${n}`
    const state = names.get(name)
    if (state === undefined || state === 'reusable') return name
  }
}

/** Drop or archive a detached partition (an archive name already taken gets a suffix). */
function retireStatements(
  spec: PartitionSpec,
  schema: string,
  name: string,
  names: Map<string, string>,
): Statement[] {
  const mode = spec.retention?.mode ?? 'drop'
  if (mode === 'drop') return [{ sql: `drop table if exists ${qualified(schema, name)}` }]
  const archive = spec.retention?.archiveSchema
  if (mode !== 'archive' || !archive) return []
  let target = name
  for (
    let n = 2;
    names.has(`${archive}.${target}`) || (target !== name && names.has(target));
    n++
  ) {
    target = `${name.slice(0, 58)}_a${n}`
  }
  names.set(`${archive}.${target}`, 'taken')
  return [
    { sql: `create schema if not exists ${quote(archive)}` },
    ...(target === name
      ? []
      : [{ sql: `alter table ${qualified(schema, name)} rename to ${quote(target)}` }]),
    { sql: `alter table ${qualified(schema, target)} set schema ${quote(archive)}` },
  ]
}

function forget(schema: string, name: string): Statement {
  return {
    sql: `delete from sluice_partitions.retiring where schema_name = ${literal(schema)} and table_name = ${literal(name)}`,
  }
}
