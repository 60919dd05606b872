import { sql } from 'kysely'
import type { AnyKysely } from '../any-kysely.js'
import type { ParentTable } from '../catalog/parent.js'
import { spanPredicate } from '../spec/bounds.js'
import { literal, qualified, quote } from '../spec/identifiers.js'
import { type NewPartition, rangePredicate } from './ddl.js'

/**
 * The trigger that records, while a range's rows are copied out of the default partition
 * outside any lock on the parent, every row written to the default meanwhile (old and new
 * content, as the row's text, with the writer's transaction id) in `sluice_partitions.moves`.
 */
export const CAPTURE_TRIGGER = 'sluice_move_capture'

const defaultId = (parent: ParentTable, defaultName: string) =>
  `${literal(qualified(parent.spec.schema, defaultName))}::regclass::oid`

/**
 * The statements (one transaction, a brief SHARE ROW EXCLUSIVE on the default only) that
 * start recording the default partition's writes: a leftover recorder and its log go, the
 * trigger is created, `ENABLE ALWAYS` (sessions with `session_replication_role = replica`
 * are recorded too). Writers that began before it are waited for by CREATE TRIGGER's lock.
 *
 * @example
 * ```ts
 * const statements = recordChanges(parent, 'messages_default')
 * ```
 */
export function recordChanges(parent: ParentTable, defaultName: string): string[] {
  const from = qualified(parent.spec.schema, defaultName)
  return [
    ...stopRecording(parent, defaultName),
    `create trigger ${CAPTURE_TRIGGER} after insert or update or delete on ${from} for each row execute function sluice_partitions.capture_move()`,
    `alter table ${from} enable always trigger ${CAPTURE_TRIGGER}`,
  ]
}

/**
 * Drops the recorder of the default partition and forgets what it recorded.
 *
 * @example
 * ```ts
 * const statements = stopRecording(parent, 'messages_default')
 * ```
 */
export function stopRecording(parent: ParentTable, defaultName: string): string[] {
  const id = defaultId(parent, defaultName)
  return [
    `drop trigger if exists ${CAPTURE_TRIGGER} on ${qualified(parent.spec.schema, defaultName)}`,
    `delete from sluice_partitions.moves where relid = ${id}`,
    `delete from sluice_partitions.move_copies where relid = ${id}`,
  ]
}

/**
 * The copy of the range's rows from the default into the new, unattached table, outside
 * any lock on the parent (the rows stay in the default, visible and writable): by column
 * name, identity values kept, generated columns computed again. The snapshot the copy read
 * is stored with it, in the same statement, so the switch knows which recorded writes the
 * copy already holds.
 *
 * @example
 * ```ts
 * const [truncate, copy] = copyRows(parent, partition, 'messages_default')
 * ```
 */
export function copyRows(
  parent: ParentTable,
  partition: NewPartition,
  defaultName: string,
): string[] {
  const { schema } = parent.spec
  const { to, columns, override } = insertTarget(parent, partition)
  return [
    // An interrupted earlier copy: its rows are all still in the default.
    `truncate ${to}`,
    `with snapshot as (insert into sluice_partitions.move_copies values (${defaultId(parent, defaultName)}, pg_current_snapshot()))
     insert into ${to} (${columns.join(', ')})${override} select ${columns.join(', ')} from ${qualified(schema, defaultName)} where ${rangePredicate(parent, partition.span)}`,
  ]
}

// The new partition as an insert's target: its name, the columns copied (by name, generated
// ones left to compute again) and the clause that keeps identity values.
function insertTarget(parent: ParentTable, partition: NewPartition) {
  return {
    to: qualified(parent.spec.schema, partition.name),
    columns: parent.copyColumns.map(quote),
    override: parent.hasIdentity ? ' overriding system value' : '',
  }
}

/**
 * The statements of the switch (under the parent's lock) that bring the copy up to date
 * with the writes recorded since its snapshot: the net old versions of the range's rows are
 * deleted from the copy, then the net new ones inserted (multisets: `except all`, so rows
 * written then changed again cancel out). Only the writes since the copy are read. Rows are
 * compared as the text of their copied columns, which is exact for every type under
 * `RECORDING_SETTINGS` (a `json` value keeps its spacing, key order and duplicate keys).
 * Each returns `same`: every old version was found in the copy, every new one reads back as
 * it was written; the runner rolls back unless `same`.
 *
 * @example
 * ```ts
 * const [remove, add] = applyChanges(parent, partition, 'messages_default')
 * ```
 */
export function applyChanges(
  parent: ParentTable,
  partition: NewPartition,
  defaultName: string,
): string[] {
  const { schema } = parent.spec
  const { to, columns, override } = insertTarget(parent, partition)
  // Recorded rows are the default's own row type (its column order may differ from the
  // parent's); columns are taken from it by name.
  const row = qualified(schema, defaultName)
  const key = quote(parent.spec.column)
  // `(cte.r).col` for a recorded row, `alias.col` for a table's: qualified, so a user column
  // named like an alias (`n`, `r`) is never taken for it.
  const fields = (source: string) =>
    columns.map((c) => (source.includes('.') ? `(${source}).${c}` : `${source}.${c}`)).join(', ')
  const text = (source: string) => `row(${fields(source)})::text`
  const inRange = (j: string) => spanPredicate(`(${j}::${row}).${key}`, partition.span, parent.type)
  const changes = `with changes as (
      select m.old, m.new from sluice_partitions.moves m join sluice_partitions.move_copies c on c.relid = m.relid
      where m.relid = ${defaultId(parent, defaultName)} and not pg_visible_in_snapshot(m.xid, c.snapshot)),
    olds as (select old as j from changes where old is not null and ${inRange('old')}),
    news as (select new as j from changes where new is not null and ${inRange('new')})`
  return [
    `${changes},
    gone as (select j::${row} as r from (select j from olds except all select j from news) g),
    wanted as (select ${text('gone.r')} as j, (gone.r).${key} as k, count(*) as m from gone group by 1, 2),
    found as (select n.ctid as id, ${text('n')} as j from ${to} n where n.${key} in (select k from wanted)),
    victims as (select f.id from (select id, j, row_number() over (partition by j order by id) as r from found) f
      join wanted w on w.j = f.j where f.r <= w.m),
    deleted as (delete from ${to} where ctid = any (array(select id from victims)) returning 1)
    select 0 as moved, (select count(*) from deleted) = (select coalesce(sum(m), 0) from wanted) as same`,
    `${changes},
    added as (select j::${row} as r from (select j from news except all select j from olds) a),
    inserted as (insert into ${to} as n (${columns.join(', ')})${override}
      select ${fields('added.r')} from added
      returning ${text('n')} as j)
    select 0 as moved, (select count(*) from inserted) = (select count(*) from added)
      and not exists (select j from inserted except all select ${text('added.r')} from added) as same`,
  ]
}

/**
 * The switch's delete of the range's rows from the default, which also counts them against
 * the copy: it returns `moved` and `same`; the runner rolls the switch back unless `same`
 * (e.g. a `TRUNCATE` of the default since the copy).
 *
 * @example
 * ```ts
 * const statement = deleteMoved(parent, partition, 'messages_default')
 * ```
 */
export function deleteMoved(
  parent: ParentTable,
  partition: NewPartition,
  defaultName: string,
): string {
  const { schema } = parent.spec
  return `with gone as (delete from ${qualified(schema, defaultName)} where ${rangePredicate(parent, partition.span)} returning 1)
    select (select count(*) from gone)::int as moved,
      (select count(*) from gone) = (select count(*) from ${qualified(schema, partition.name)}) as same`
}

/**
 * Whether an interrupted run left the recorder on the default partition.
 *
 * @example
 * ```ts
 * if (await isRecording(db, parent, 'messages_default')) console.log('left over')
 * ```
 */
export async function isRecording(
  db: AnyKysely,
  parent: ParentTable,
  defaultName: string,
): Promise<boolean> {
  const { rows } = await sql<{ found: boolean }>`
    select exists (select 1 from pg_trigger
      where tgrelid = ${qualified(parent.spec.schema, defaultName)}::regclass
        and tgname = ${CAPTURE_TRIGGER}) as found`.execute(db)
  return rows[0]?.found ?? false
}
