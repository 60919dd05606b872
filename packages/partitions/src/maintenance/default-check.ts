import { sql } from 'kysely'
import type { AnyKysely } from '../any-kysely.js'
import type { ParentTable } from '../catalog/parent.js'
import { qualified, quote } from '../spec/identifiers.js'
import { type NewPartition, rangePredicate } from './ddl.js'

/**
 * The helper CHECK on the default partition that proves it holds no row of the range being
 * attached, so that ATTACH skips its scan of the default under the parent's lock. One per
 * table at a time (one runner per table).
 */
export const DEFAULT_CHECK = 'sluice_default_excludes'

/**
 * The statements that prove, before the switch, that the default holds no row of the new
 * partition's range: the helper CHECK added `NOT VALID` (a brief ACCESS EXCLUSIVE on the
 * default, no scan), then `VALIDATE CONSTRAINT` (SHARE UPDATE EXCLUSIVE: reads and writes go
 * on while it scans). Each runs in its own transaction; `dropDefaultCheck` goes before them
 * and in the switch transaction, after ATTACH.
 *
 * @example
 * ```ts
 * const [add, validate] = excludeFromDefault(parent, 'messages_default', partition)
 * ```
 */
export function excludeFromDefault(
  parent: ParentTable,
  defaultName: string,
  partition: NewPartition,
): string[] {
  const table = qualified(parent.spec.schema, defaultName)
  return [
    // A null key passes a CHECK; ATTACH's proof accepts that (the new range holds no null).
    `alter table ${table} add constraint ${DEFAULT_CHECK} check (not (${rangePredicate(parent, partition.span)})) not valid`,
    `alter table ${table} validate constraint ${DEFAULT_CHECK}`,
  ]
}

/**
 * Drops the helper CHECK of the default partition, if it is there.
 *
 * @example
 * ```ts
 * dropDefaultCheck(parent, 'messages_default') // 'alter table ... drop constraint if exists sluice_default_excludes'
 * ```
 */
export function dropDefaultCheck(parent: ParentTable, defaultName: string): string {
  return `alter table ${qualified(parent.spec.schema, defaultName)} drop constraint if exists ${quote(DEFAULT_CHECK)}`
}

/**
 * Whether an interrupted run left the helper CHECK on the default partition (it would
 * reject inserts of its range until dropped).
 *
 * @example
 * ```ts
 * if (await hasDefaultCheck(db, parent, 'messages_default')) console.log('left over')
 * ```
 */
export async function hasDefaultCheck(
  db: AnyKysely,
  parent: ParentTable,
  defaultName: string,
): Promise<boolean> {
  const { rows } = await sql<{ found: boolean }>`
    select exists (select 1 from pg_constraint
      where conrelid = ${qualified(parent.spec.schema, defaultName)}::regclass
        and conname = ${DEFAULT_CHECK}) as found`.execute(db)
  return rows[0]?.found ?? false
}
