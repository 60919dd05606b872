import { qualified, quote } from './identifiers.js'
import { boundLiteral, type PartitionRange, type TimeType } from './partition-for.js'
import type { PartitionSpec } from './spec.js'

/** The names a statement needs, all validated identifiers. */
interface Target {
  readonly spec: PartitionSpec
  readonly type: TimeType
}

const CHECK = 'sluice_partition_bound'

/** `FROM (lower) TO (upper)` of a range, in the key's type. */
export function forValues({ type }: Target, range: PartitionRange): string {
  const lower = boundLiteral(range.from, range.fromInstant, type)
  const upper = boundLiteral(range.to, range.toInstant, type)
  return `for values from (${lower}) to (${upper})`
}

function predicate({ spec, type }: Target, range: PartitionRange): string {
  const column = quote(spec.column)
  const lower = boundLiteral(range.from, range.fromInstant, type)
  const upper = boundLiteral(range.to, range.toInstant, type)
  return `${column} >= ${lower} and ${column} < ${upper}`
}

/**
 * A new partition as a plain table with a CHECK matching its bound: ATTACH then finds the
 * constraint and skips its validation scan, and the parent is never locked for one.
 */
export function createPartitionTable(target: Target, range: PartitionRange): string[] {
  const { spec } = target
  const table = qualified(spec.schema, range.name)
  // Idempotent: a run interrupted after the CREATE picks up from here.
  return [
    `create table if not exists ${table} (like ${qualified(spec.schema, spec.table)} including defaults including constraints including storage including comments)`,
    `alter table ${table} drop constraint if exists ${CHECK}`,
    `alter table ${table} add constraint ${CHECK} check (${predicate(target, range)} and ${quote(spec.column)} is not null)`,
  ]
}

/** Moves at most `batch` rows of the range out of the default partition into the new table. */
export function moveFromDefault(
  target: Target,
  range: PartitionRange,
  defaultName: string,
  batch: number,
): string {
  const { spec } = target
  const fromDefault = qualified(spec.schema, defaultName)
  return `with moved as (
    delete from ${fromDefault} where ctid = any(array(
      select ctid from ${fromDefault} where ${predicate(target, range)} limit ${batch}))
    returning *)
  insert into ${qualified(spec.schema, range.name)} select * from moved`
}

/** Locks the default partition, so that no row for the range lands there before ATTACH. */
export function lockDefault({ spec }: Target, defaultName: string): string {
  return `lock table ${qualified(spec.schema, defaultName)} in exclusive mode`
}

/** ATTACH, then the CHECK is no longer needed (the partition bound does its job). */
export function attachPartition(target: Target, range: PartitionRange): string[] {
  const { spec } = target
  return [
    `alter table ${qualified(spec.schema, spec.table)} attach partition ${qualified(spec.schema, range.name)} ${forValues(target, range)}`,
    `alter table ${qualified(spec.schema, range.name)} drop constraint ${CHECK}`,
  ]
}

/** The default partition, for rows outside every range. */
export function createDefaultPartition(spec: PartitionSpec): string {
  return `create table ${qualified(spec.schema, `${spec.table}_default`)} partition of ${qualified(spec.schema, spec.table)} default`
}

/**
 * DETACH: `concurrently` (no ACCESS EXCLUSIVE on the parent; impossible with a default
 * partition, and outside any transaction), or `finalize` to complete an interrupted one.
 */
export function detachPartition(
  spec: PartitionSpec,
  name: string,
  how: 'concurrently' | 'finalize' | 'plain',
): string {
  const suffix = how === 'plain' ? '' : ` ${how}`
  return `alter table ${qualified(spec.schema, spec.table)} detach partition ${qualified(spec.schema, name)}${suffix}`
}

/** What retention does with a detached partition. */
export function retire(spec: PartitionSpec, name: string): string[] {
  const mode = spec.retention?.mode
  if (mode === 'drop') return [`drop table ${qualified(spec.schema, name)}`]
  if (mode === 'archive' && spec.retention?.archiveSchema) {
    const archive = quote(spec.retention.archiveSchema)
    return [
      `create schema if not exists ${archive}`,
      `alter table ${qualified(spec.schema, name)} set schema ${archive}`,
    ]
  }
  return []
}

/** The spec's indexes, on the parent (each partition gets its own). */
export function createIndexes(spec: PartitionSpec): string[] {
  return spec.indexes.map(
    ({ columns, using }) =>
      `create index on ${qualified(spec.schema, spec.table)} using ${using} (${columns.map(quote).join(', ')})`,
  )
}
