import { type Kysely, sql } from 'kysely'
import { expect, test } from 'vitest'
import { planMaintenance, runMaintenance } from '../src/index.js'
import type { Statement } from '../src/maintenance/plan.js'
import { batches } from '../src/maintenance/run.js'
import { freshDatabase, monthly, rowsByPartition } from './helpers.js'
import { DECEMBER, NOVEMBER, notes, notesWithWaitingRows } from './workloads/waiting-notes.js'

// Issue 13, item 6 (session 7): a move copies its rows outside the parent lock; the switch
// under the lock handles only the writes made since the copy, and checks the result.

/** `notes` with 200 rows for January waiting in the default, and the plan that moves them. */
async function waitingRows() {
  const { db } = await freshDatabase()
  await notesWithWaitingRows(db)
  await sql`insert into notes values (900, '2035-01-01', 'stays')`.execute(db)
  const [step] = await planMaintenance(db, [notes], { now: DECEMBER })
  expect(step).toMatchObject({ kind: 'create', partition: 'notes_p20270101', rows: 200 })
  return { db, statements: step?.statements ?? [] }
}

/** Runs each batch in its transaction, as the runner does; `afterCopy` once the copy is in. */
async function runBatches(
  db: Kysely<unknown>,
  statements: readonly Statement[],
  afterCopy: () => Promise<void>,
  stopAtSwitch = false,
) {
  const inserted: number[] = []
  for (const batch of batches(statements)) {
    const isSwitch = batch.some((s) => s.sql.includes(' attach partition '))
    if (isSwitch && stopAtSwitch) return inserted
    await db.transaction().execute(async (trx) => {
      // Rows written into the new partition, as the server counts them (the backend's pending
      // counts, earlier transactions' too until flushed: a difference).
      const count = async () =>
        (
          await sql<{ n: number }>`
            select n_tup_ins::int as n from pg_stat_xact_user_tables
            where relid = to_regclass('notes_p20270101')`.execute(trx)
        ).rows[0]?.n ?? 0
      const before = await count()
      for (const { sql: text, counts } of batch) {
        const { rows } = await sql.raw<{ same: boolean }>(text).execute(trx)
        // As the runner: a switch whose check fails would be rolled back.
        if (counts) expect(rows[0]?.same, text).toBe(true)
      }
      if (isSwitch) inserted.push((await count()) - before)
    })
    if (batch.some((s) => s.sql.includes('pg_current_snapshot()'))) {
      // The copy ran without the parent's lock: its batch takes none.
      expect(batch.some((s) => s.sql.includes(' in access exclusive mode'))).toBe(false)
      await afterCopy()
    }
  }
  return inserted
}

async function contents(db: Kysely<unknown>) {
  const { rows } = await sql<{ id: number; at: string; body: string; partition: string }>`
    select id, at::text, body, tableoid::regclass::text as partition from notes order by id, at, body`.execute(
    db,
  )
  return rows
}

test('writes made during the copy are kept: the switch applies only them (inserts, updates twice, deletes, keys moved in and out)', async () => {
  const { db, statements } = await waitingRows()
  const inserted = await runBatches(db, statements, async () => {
    await sql`insert into notes values (201, '2027-01-20', 'new'), (202, '2027-01-21', 'new')`.execute(
      db,
    )
    await sql`update notes set body = 'once' where id = 1`.execute(db)
    await sql`update notes set body = 'twice' where id = 1`.execute(db)
    await sql`update notes set body = 'inserted then changed' where id = 202`.execute(db)
    await sql`delete from notes where id in (2, 201)`.execute(db)
    await sql`update notes set at = '2035-02-01' where id = 3`.execute(db) // out of January
    await sql`update notes set at = '2027-01-31' where id = 900` // into January
      .execute(db)
  })
  // The delta only: 202 (inserted, then changed), 1 (its last version) and 900 (moved in).
  expect(inserted).toEqual([3])
  const rows = await contents(db)
  expect(rows).toHaveLength(201) // 200 seeds and 900, +201 +202, -2 -201
  expect(rows.filter((r) => r.partition === 'notes_default').map((r) => r.id)).toEqual([3])
  expect(rows.find((r) => r.id === 1)).toMatchObject({ body: 'twice' })
  expect(rows.find((r) => r.id === 202)).toMatchObject({ body: 'inserted then changed' })
  expect(rows.find((r) => r.id === 900)).toMatchObject({ partition: 'notes_p20270101' })
  expect(rows.some((r) => r.id === 2 || r.id === 201)).toBe(false)
  expect(rows.filter((r) => r.id === 10)).toEqual([
    { id: 10, at: '2027-01-01 10:00:00+00', body: 'seed 10', partition: 'notes_p20270101' },
  ])
  // The recorder and its log are gone with the switch.
  const { rows: left } = await sql<{ triggers: number; logged: number }>`
    select (select count(*)::int from pg_trigger where tgname = 'sluice_move_capture') as triggers,
      (select count(*)::int from sluice_partitions.moves) as logged`.execute(db)
  expect(left).toEqual([{ triggers: 0, logged: 0 }])
})

test("writers' session settings (time zone, extra_float_digits) do not change what the recorder logs: the switch matches, no precision lost", async () => {
  const { db } = await waitingRows()
  await sql`alter table notes add column v float8 default 0.1::float8 + 0.2::float8`.execute(db)
  const [step] = await planMaintenance(db, [notes], { now: DECEMBER })
  await runBatches(db, step?.statements ?? [], async () => {
    await db.transaction().execute(async (trx) => {
      // SET LOCAL: through PgBouncer in transaction mode too.
      await sql`set local time zone 'Asia/Tokyo'`.execute(trx)
      await sql`set local extra_float_digits = 0`.execute(trx)
      await sql`insert into notes values (201, '2027-01-20', 'new')`.execute(trx)
      await sql`update notes set body = 'changed' where id = 1`.execute(trx)
      await sql`delete from notes where id = 2`.execute(trx)
    })
  })
  const rows = await contents(db)
  expect(rows).toHaveLength(201) // 200 seeds and 900, +201 -2
  expect(rows.find((r) => r.id === 1)).toMatchObject({
    body: 'changed',
    partition: 'notes_p20270101',
  })
  expect(rows.find((r) => r.id === 201)).toMatchObject({ partition: 'notes_p20270101' })
  const { rows: exact } = await sql<{ n: number }>`
    select count(*)::int as n from notes where v = 0.1::float8 + 0.2::float8`.execute(db)
  expect(exact).toEqual([{ n: 201 }])
})

test('a json value written during the copy keeps its text exactly (spacing, key order, duplicate keys), also in a default whose columns are in another order', async () => {
  const { db } = await freshDatabase()
  await sql`create table notes (id int, at timestamptz not null, body text, doc json, primary key (id, at)) partition by range (at)`.execute(
    db,
  )
  // An old table attached as the default: the same columns, another order.
  await sql`create table notes_default (doc json, body text, at timestamptz not null, id int not null)`.execute(
    db,
  )
  await sql`alter table notes attach partition notes_default default`.execute(db)
  await runMaintenance(db, [notes], { now: NOVEMBER })
  await sql`insert into notes (id, at, body, doc) values (1, '2027-01-02', 'seed', '{"z": 0}')`.execute(
    db,
  )
  const doc = '{"b": 1,   "a": 2, "a": 3}'
  const [step] = await planMaintenance(db, [notes], { now: DECEMBER })
  await runBatches(db, step?.statements ?? [], async () => {
    await sql`insert into notes (id, at, body, doc) values (2, '2027-01-03', 'new', ${doc}::json)`.execute(
      db,
    )
    await sql`update notes set doc = ${doc}::json where id = 1`.execute(db)
  })
  const { rows } = await sql<{ id: number; doc: string; partition: string }>`
    select id, doc::text as doc, tableoid::regclass::text as partition from notes order by id`.execute(
    db,
  )
  expect(rows).toEqual([
    { id: 1, doc, partition: 'notes_p20270101' },
    { id: 2, doc, partition: 'notes_p20270101' },
  ])
})

test('a write the recorder cannot see makes the switch find the rows different from the copy', async () => {
  const { db, statements } = await waitingRows()
  await runBatches(
    db,
    statements,
    async () => {
      await sql`alter table notes_default disable trigger sluice_move_capture`.execute(db)
      await sql`delete from notes where id = 5`.execute(db)
    },
    true,
  )
  const check = statements.filter((s) => s.counts === 'moved').at(-1) // the delete from the default
  let outcome: unknown
  const rolledBack = new Error('rolled back')
  await expect(
    db.transaction().execute(async (trx) => {
      outcome = (await sql.raw(check?.sql ?? '').execute(trx)).rows[0]
      throw rolledBack
    }),
  ).rejects.toBe(rolledBack)
  expect(outcome).toEqual({ moved: 199, same: false })
})

test('an interrupted move (copy in, no switch) is completed by the next run: every row once, nothing left over', async () => {
  const { db, statements } = await waitingRows()
  await runBatches(db, statements, async () => undefined, true)
  // Interrupted here: the copy sits in the unattached table, the recorder on the default.
  await sql`update notes set body = 'after the interruption' where id = 7`.execute(db)
  const result = await runMaintenance(db, [notes], { now: DECEMBER })
  expect(result).toMatchObject({ errors: [], created: ['notes_p20270101'], movedRows: 200 })
  expect(result.finalized).toContain('notes_default')
  expect(await rowsByPartition(db, 'notes')).toEqual([
    { partition: 'notes_default', rows: 1 },
    { partition: 'notes_p20270101', rows: 200 },
  ])
  expect((await contents(db)).find((r) => r.id === 7)).toMatchObject({
    body: 'after the interruption',
  })
  const { rows: left } = await sql<{ triggers: number; logged: number; tables: number }>`
    select (select count(*)::int from pg_trigger where tgname = 'sluice_move_capture') as triggers,
      (select count(*)::int from sluice_partitions.moves) as logged,
      (select count(*)::int from pg_class where relname like 'notes_p2027%' and relkind = 'r') as tables`.execute(
    db,
  )
  expect(left).toEqual([{ triggers: 0, logged: 0, tables: 1 }])
})

test("an interrupted move's copy that no range takes any more (the spec's interval changed) is dropped by the next run", async () => {
  const { db, statements } = await waitingRows()
  await runBatches(db, statements, async () => undefined, true)
  // Weekly now: January's rows are beyond premake and stay; no range is named notes_p20270101.
  const weekly = monthly('notes', { interval: 'week' })
  const result = await runMaintenance(db, [weekly], { now: DECEMBER })
  expect(result).toMatchObject({ errors: [], created: [], movedRows: 0 })
  expect(result.finalized).toEqual(expect.arrayContaining(['notes_default', 'notes_p20270101']))
  expect(await rowsByPartition(db, 'notes')).toEqual([{ partition: 'notes_default', rows: 201 }])
  const { rows } =
    await sql`select relname from pg_class where relname = 'notes_p20270101'`.execute(db)
  expect(rows).toEqual([])
})
