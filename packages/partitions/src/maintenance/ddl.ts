import type { ParentTable } from '../catalog/parent.js'
import { type KeySpan, keyLiteral, spanPredicate } from '../spec/bounds.js'
import { literal, qualified, quote } from '../spec/identifiers.js'
import type { PartitionSpec } from '../spec/spec.js'
import { rowSecurity } from './row-security.js'

/** A partition to create: its name and its span on the key's axis. */
export interface NewPartition {
  readonly name: string
  readonly span: KeySpan
  /** The name is an earlier run's unattached table (a move that rolled back or was interrupted). */
  readonly leftover?: boolean
}

const CHECK = 'sluice_partition_bound'

const parentName = ({ spec }: ParentTable) => qualified(spec.schema, spec.table)
const childName = ({ spec }: ParentTable, name: string) => qualified(spec.schema, name)

/**
 * `FOR VALUES FROM (lower) TO (upper)` of a span, in the key's type.
 *
 * @example
 * ```ts
 * forValues(parent, { lower: Date.UTC(2027, 0, 1), upper: Date.UTC(2027, 1, 1) }) // "for values from ('2027-01-01T00:00:00.000Z') to (...)"
 * ```
 */
export function forValues({ type }: ParentTable, span: KeySpan): string {
  return `for values from (${keyLiteral(span.lower, type)}) to (${keyLiteral(span.upper, type)})`
}

/**
 * The predicate of a partition's range on the parent's key.
 *
 * @example
 * ```ts
 * rangePredicate(parent, span) // `"sent_at" >= '2027-01-01T00:00:00.000Z' and "sent_at" < '2027-02-01T00:00:00.000Z'`
 * ```
 */
export function rangePredicate(parent: ParentTable, span: KeySpan): string {
  return spanPredicate(quote(parent.spec.column), span, parent.type)
}

/**
 * A new partition as a standalone table shaped like the parent: every column (generated ones
 * too, identity left to the parent), defaults, constraints, indexes (built now, while empty,
 * so ATTACH adopts them), storage and comments; a CHECK matching its bound, so ATTACH skips
 * its validation scan; the template's storage options; the parent's owner and grants.
 * Idempotent: a run interrupted after the CREATE picks up from here.
 *
 * @example
 * ```ts
 * for (const statement of createPartitionTable(parent, { name: 'messages_p20270101', span })) console.log(statement)
 * ```
 */
export function createPartitionTable(parent: ParentTable, partition: NewPartition): string[] {
  const table = childName(parent, partition.name)
  const column = quote(parent.spec.column)
  const statements = [
    ...(partition.leftover ? [dropLeftover(table)] : []),
    `create table if not exists ${table} (like ${parentName(parent)} including all excluding identity)`,
    `alter table ${table} drop constraint if exists ${CHECK}`,
    `alter table ${table} add constraint ${CHECK} check (${rangePredicate(parent, partition.span)} and ${column} is not null)`,
    // LIKE copies NOT VALID checks as valid ones: moved rows older than them would fail.
    ...parent.notValidChecks.map(
      ({ name }) => `alter table ${table} drop constraint if exists ${quote(name)}`,
    ),
  ]
  if (parent.templateOptions.length > 0) {
    const options = parent.templateOptions.map((option) => {
      const [key = '', ...value] = option.split('=')
      return `${quote(key)} = ${literal(value.join('='))}`
    })
    statements.push(`alter table ${table} set (${options.join(', ')})`)
  }
  if (parent.owner !== parent.currentUser) {
    statements.push(`alter table ${table} owner to ${quote(parent.owner)}`)
  }
  for (const { grantee, privilege, grantable } of parent.grants) {
    const to = grantee === 'PUBLIC' ? 'public' : quote(grantee)
    statements.push(
      `grant ${privilege.toLowerCase()} on ${table} to ${to}${grantable ? ' with grant option' : ''}`,
    )
  }
  if (parent.replicaIdentity === 'f' || parent.replicaIdentity === 'n') {
    const identity = parent.replicaIdentity === 'f' ? 'full' : 'nothing'
    statements.push(`alter table ${table} replica identity ${identity}`)
  }
  return statements
}

/**
 * An earlier run's table for a partition (a move that rolled back or was interrupted) is
 * dropped while unattached: before the partition is made again in the parent's current shape
 * (a column added since would make ATTACH fail on every run), or when no run plans it any
 * more (the spec's interval changed, the rows went). Its rows, if any, are only ever a copy:
 * rows leave the default only in the transaction that attaches the table.
 *
 * @example
 * ```ts
 * dropLeftover('"public"."messages_p20270101"') // a DO block: drops it if unattached and Sluice's
 * ```
 */
export function dropLeftover(table: string): string {
  return `do ${literal(`declare t regclass := to_regclass(${literal(table)}); begin
  if t is not null and exists (select 1 from pg_constraint k where k.conrelid = t and k.conname = '${CHECK}')
    and not exists (select 1 from pg_inherits i where i.inhrelid = t) then
    execute format('drop table %s', t);
  end if;
end`)}`
}

/**
 * Locks the parent (and so every partition) for the switch: see the README's "moving rows".
 *
 * @example
 * ```ts
 * lockParent(parent) // 'lock table "public"."messages" in access exclusive mode'
 * ```
 */
export function lockParent(parent: ParentTable): string {
  return `lock table ${parentName(parent)} in access exclusive mode`
}

/**
 * Locks the tables the parent's foreign keys reference, in the mode ATTACH takes on them to
 * clone the keys (SHARE ROW EXCLUSIVE), before the parent's lock: behind a long transaction
 * writing one of them, maintenance waits (up to `lock_timeout`) without holding the parent.
 *
 * @example
 * ```ts
 * lockReferenced(parent) // ['lock table public.users in share row exclusive mode']
 * ```
 */
export function lockReferenced(parent: ParentTable): string[] {
  return parent.references.map((table) => `lock table ${table} in share row exclusive mode`)
}

/**
 * The parent's NOT VALID checks (as NOT VALID), ATTACH (the CHECK makes it scan-free for
 * the new table), then the CHECK goes (the bound does its job), the parent's row security
 * and policies are added, and an index replica identity is set on the partition's copy of
 * the index.
 *
 * @example
 * ```ts
 * const [attach, dropCheck] = attachPartition(parent, { name: 'messages_p20270101', span })
 * ```
 */
export function attachPartition(parent: ParentTable, partition: NewPartition): string[] {
  const table = childName(parent, partition.name)
  const statements = [
    // After the rows are in: a NOT VALID check holds for rows written from now on.
    ...parent.notValidChecks.map(
      ({ name, definition }) => `alter table ${table} add constraint ${quote(name)} ${definition}`,
    ),
    `alter table ${parentName(parent)} attach partition ${table} ${forValues(parent, partition.span)}`,
    `alter table ${table} drop constraint ${CHECK}`,
    // In the attach's transaction, after any moved rows are in: never visible without it.
    ...rowSecurity(parent, table),
  ]
  if (parent.replicaIdentity === 'i') {
    // The body as a string literal, not dollar-quoted: no name can end it early.
    statements.push(
      `do ${literal(`declare index_name text; begin
  select c.relname into strict index_name from pg_index x
    join pg_inherits i on i.inhrelid = x.indexrelid join pg_class c on c.oid = x.indexrelid
    join pg_index px on px.indexrelid = i.inhparent
  where x.indrelid = ${literal(table)}::regclass and px.indrelid = ${literal(parentName(parent))}::regclass and px.indisreplident;
  execute format('alter table %s replica identity using index %I', ${literal(table)}, index_name);
end`)}`,
    )
  }
  return statements
}

/**
 * The default partition, for rows outside every range.
 *
 * @example
 * ```ts
 * createDefaultPartition(messages) // 'create table "public"."messages_default" partition of "public"."messages" default'
 * ```
 */
export function createDefaultPartition(spec: PartitionSpec): string {
  return `create table ${qualified(spec.schema, `${spec.table}_default`)} partition of ${qualified(spec.schema, spec.table)} default`
}

/**
 * DETACH: `concurrently` (no ACCESS EXCLUSIVE on the parent; impossible with a default
 * partition, and outside any transaction), or `finalize` to complete an interrupted one.
 *
 * @example
 * ```ts
 * detachPartition(messages, 'public', 'messages_p20250101', 'concurrently')
 * ```
 */
export function detachPartition(
  spec: PartitionSpec,
  schema: string,
  name: string,
  how: 'concurrently' | 'finalize' | 'plain',
): string {
  const suffix = how === 'plain' ? '' : ` ${how}`
  return `alter table ${qualified(spec.schema, spec.table)} detach partition ${qualified(schema, name)}${suffix}`
}

/**
 * The spec's indexes, on the parent (each partition gets its own).
 *
 * @example
 * ```ts
 * createIndexes(messages) // ['create index on "public"."messages" using brin ("sent_at")', ...]
 * ```
 */
export function createIndexes(spec: PartitionSpec): string[] {
  return spec.indexes.map(
    ({ columns, using }) =>
      `create index on ${qualified(spec.schema, spec.table)} using ${using} (${columns.map(quote).join(', ')})`,
  )
}
