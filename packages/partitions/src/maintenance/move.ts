import { sql } from 'kysely'
import type { AnyKysely } from '../any-kysely.js'
import { RECORDING_SETTINGS } from '../catalog/metadata.js'
import type { ParentTable } from '../catalog/parent.js'
import { PartitionError } from '../errors.js'
import { qualified, quote } from '../spec/identifiers.js'
import { applyChanges, CAPTURE_TRIGGER, deleteMoved, stopRecording } from './copy.js'
import type { NewPartition } from './ddl.js'
import { setSettings } from './settings.js'

/** A user trigger of the default partition that fires on DELETE, and how it is enabled. */
export interface DeleteTrigger {
  readonly name: string
  /** `pg_trigger.tgenabled`: `O` origin, `R` replica, `A` always. */
  readonly enabled: 'O' | 'R' | 'A'
}

/**
 * The default partition's enabled user triggers that fire on DELETE (its own and the ones
 * cloned from the parent): a move is not a deletion, so they are switched off around it.
 *
 * @example
 * ```ts
 * const triggers = await deleteTriggers(db, 'public', 'messages_default')
 * ```
 */
export async function deleteTriggers(
  db: AnyKysely,
  schema: string,
  name: string,
): Promise<DeleteTrigger[]> {
  const { rows } = await sql<DeleteTrigger>`
    select t.tgname as name, t.tgenabled as enabled from pg_trigger t
    where t.tgrelid = ${qualified(schema, name)}::regclass and not t.tgisinternal
      and t.tgenabled <> 'D' and (t.tgtype & 8) <> 0 and t.tgname <> ${CAPTURE_TRIGGER}
    order by 1`.execute(db)
  return rows
}

/**
 * Refuses a move PostgreSQL offers no safe way to do, naming the reason and the manual fix:
 * a published parent (subscribers would receive the move as a DELETE), or a foreign key from
 * a partitioned table before PostgreSQL 18 (it cannot be re-added `NOT VALID`, so it would
 * be validated under the lock).
 *
 * @throws PartitionError `PARTITION_MOVE_REFUSED`.
 *
 * @example
 * ```ts
 * checkMovable(parent, { name: 'messages_p20270101', span }, 120) // throws PARTITION_MOVE_REFUSED when published
 * ```
 */
export function checkMovable(parent: ParentTable, partition: NewPartition, rows: number): void {
  const table = `${parent.spec.schema}.${parent.spec.table}`
  const fix = `move the ${rows} row(s) of ${partition.name}'s range out of the default partition in a maintenance window (create the table, insert the rows, delete them from the default, attach)`
  if (parent.published) {
    throw new PartitionError(
      'PARTITION_MOVE_REFUSED',
      `${table} is published for logical replication: moving rows out of its default partition would reach subscribers as DELETEs; ${fix}, with the subscribers paused`,
      { context: { table } },
    )
  }
  const partitioned = parent.referencedBy.find((key) => key.partitioned)
  if (partitioned && parent.serverVersion < 180000) {
    throw new PartitionError(
      'PARTITION_MOVE_REFUSED',
      `${partitioned.schema}.${partitioned.table} is partitioned and references ${table} (${partitioned.name}): before PostgreSQL 18 its foreign key cannot be re-created NOT VALID, so it would be validated under the lock; ${fix}`,
      { context: { table } },
    )
  }
}

/**
 * The statements of the switch transaction of a move (after `lockParent`; the rows were
 * copied before, outside the lock, see `copyRows`): the copy is brought up to date with the
 * writes recorded since (`applyChanges`, under the recorder's `RECORDING_SETTINGS`) and the recorder dropped; foreign keys that
 * reference the parent are dropped so that deleting the rows from the default fires no
 * action (`ON DELETE CASCADE` would delete the referencing rows, `NO ACTION` would fail),
 * the default's DELETE triggers are switched off, the rows are deleted from the default and
 * counted against the copy (`deleteMoved`: the runner rolls back unless they match),
 * the partition attached, and the foreign keys re-created `NOT VALID` (they hold: every
 * referenced row still exists); `validateKeys` validates them after the commit, without
 * blocking writes.
 *
 * @example
 * ```ts
 * const statements = moveRows(parent, partition, 'messages_default', triggers, attachPartition(parent, partition))
 * ```
 */
export function moveRows(
  parent: ParentTable,
  partition: NewPartition,
  defaultName: string,
  triggers: readonly DeleteTrigger[],
  attach: readonly string[],
): { sql: string; counts?: 'moved' }[] {
  const from = qualified(parent.spec.schema, defaultName)
  const keys = parent.referencedBy
  const enable = { O: 'enable', R: 'enable replica', A: 'enable always' } as const
  const [dropRecorder = '', ...forgetRecorded] = stopRecording(parent, defaultName)
  return [
    // One round trip (it runs under the parent's lock).
    { sql: setSettings(RECORDING_SETTINGS) },
    ...applyChanges(parent, partition, defaultName).map((sql) => ({
      sql,
      counts: 'moved' as const,
    })),
    { sql: dropRecorder },
    ...keys.map((key) => ({
      sql: `alter table ${qualified(key.schema, key.table)} drop constraint ${quote(key.name)}`,
    })),
    ...triggers.map((t) => ({ sql: `alter table ${from} disable trigger ${quote(t.name)}` })),
    { sql: deleteMoved(parent, partition, defaultName), counts: 'moved' as const },
    ...triggers.map((t) => ({
      sql: `alter table ${from} ${enable[t.enabled]} trigger ${quote(t.name)}`,
    })),
    ...attach.map((statement) => ({ sql: statement })),
    ...keys.map((key) => ({
      sql: `alter table ${qualified(key.schema, key.table)} add constraint ${quote(key.name)} ${key.definition.replace(/\s+NOT VALID$/, '')} not valid`,
    })),
    ...forgetRecorded.map((sql) => ({ sql })),
  ]
}

/**
 * `VALIDATE CONSTRAINT` of the keys a move re-created (a share-update-exclusive lock only).
 *
 * @example
 * ```ts
 * validateKeys(parent) // ['alter table "public"."replies" validate constraint "replies_message_fkey"']
 * ```
 */
export function validateKeys(parent: ParentTable): string[] {
  return parent.referencedBy
    .filter((key) => key.validated)
    .map(
      (key) =>
        `alter table ${qualified(key.schema, key.table)} validate constraint ${quote(key.name)}`,
    )
}
