import { sql } from 'kysely'
import type { AnyKysely } from '../any-kysely.js'
import type { PartitionSpec } from '../spec/spec.js'

/**
 * Relations of the spec's schema and archive schema: `reusable` ones are Sluice's own unattached leftovers.
 *
 * @example
 * ```ts
 * const names = await relationNames(db, messages) // Map { 'messages_p20261101' => 'taken', ... }
 * ```
 */
export async function relationNames(db: AnyKysely, spec: PartitionSpec) {
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

/**
 * `base`, or `base_2`, `base_3`... when a relation that is not Sluice's unattached leftover has it;
 * the table part is shortened to keep the name within PostgreSQL's 63 bytes (a longer one
 * would be truncated back to the taken name).
 *
 * @example
 * ```ts
 * freeName('messages_p20270101', new Map([['messages_p20270101', 'taken']])) // 'messages_p20270101_2'
 * ```
 */
export function freeName(base: string, names: ReadonlyMap<string, string>): string {
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : suffixed(base, `_${n}`)
    const state = names.get(name)
    if (state === undefined || state === 'reusable') return name
  }
}

/** `base` + `suffix` within 63 bytes: the table part is shortened, the `_pYYYYMMDD` kept. */
function suffixed(base: string, suffix: string): string {
  const date = /_p\d{8}$/.exec(base)?.[0] ?? ''
  return withinName(base.slice(0, base.length - date.length), `${date}${suffix}`)
}

/**
 * `head` + `tail` within PostgreSQL's 63 bytes, `head` shortened by whole characters (a
 * longer name would be truncated, maybe mid-character, to another one).
 *
 * @example
 * ```ts
 * withinName('é'.repeat(40), '_a2') // 30 × 'é' + '_a2': 63 bytes
 * ```
 */
export function withinName(head: string, tail: string): string {
  const chars = [...head]
  while (Buffer.byteLength(`${chars.join('')}${tail}`) > 63) chars.pop()
  return `${chars.join('')}${tail}`
}
