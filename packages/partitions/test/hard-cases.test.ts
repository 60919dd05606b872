import { sql } from 'kysely'
import { describe, expect, test } from 'vitest'
import { definePartitions, listPartitions, runMaintenance } from '../src/index.js'
import { freshDatabase, monthly, rowsByPartition } from './helpers.js'

// Found in adversarial review of issue 13: schema and data a production table has that
// made every run fail for the table (or archive a partition only halfway).
const FEBRUARY = new Date('2027-02-10T00:00:00Z')
const events = monthly('events')

async function eventsWithDefault() {
  const { db } = await freshDatabase()
  await sql`create table events (at timestamptz not null, amount int) partition by range (at)`.execute(
    db,
  )
  await sql`create table events_default partition of events default`.execute(db)
  await sql`insert into events values ('2027-03-03', -5), ('2027-03-04', 7)`.execute(db)
  return db
}

const rows = async (db: Awaited<ReturnType<typeof eventsWithDefault>>) =>
  (await sql<{ at: Date; amount: number }>`select at, amount from events order by at`.execute(db))
    .rows

describe('rows of the default partition', () => {
  test('rows keyed infinity or -infinity stay in the default; the others move', async () => {
    const db = await eventsWithDefault()
    await sql`insert into events values ('infinity', 1), ('-infinity', 2)`.execute(db)
    const result = await runMaintenance(db, [events], { now: FEBRUARY })
    expect(result.errors).toEqual([])
    expect(result.movedRows).toBe(2)
    expect(await rowsByPartition(db, 'events')).toEqual([
      { partition: 'events_default', rows: 2 },
      { partition: 'events_p20270301', rows: 2 },
    ])
  })

  test('rows older than a NOT VALID check move, and the check still holds for new rows', async () => {
    const db = await eventsWithDefault()
    await sql`alter table events add constraint positive check (amount > 0) not valid`.execute(db)
    const before = await rows(db)
    const result = await runMaintenance(db, [events], { now: FEBRUARY })
    expect(result.errors).toEqual([])
    expect(result.movedRows).toBe(2)
    expect(await rows(db)).toEqual(before)
    expect(await rowsByPartition(db, 'events')).toEqual([
      { partition: 'events_p20270301', rows: 2 },
    ])
    const { rows: checks } = await sql<{ table: string; valid: boolean }>`
      select conrelid::regclass::text as table, convalidated as valid from pg_constraint
      where conname = 'positive' order by 1`.execute(db)
    expect(checks).toEqual(
      expect.arrayContaining([
        { table: 'events', valid: false },
        { table: 'events_p20270301', valid: false },
      ]),
    )
    await expect(sql`insert into events values ('2027-03-05', -1)`.execute(db)).rejects.toThrow(
      /positive/,
    )
  })

  test("an earlier run's empty table is made again after the parent gained a column", async () => {
    const db = await eventsWithDefault()
    // What a move that rolled back leaves: the table, created and not attached.
    await sql`create table events_p20270301 (like events including all)`.execute(db)
    await sql`alter table events_p20270301 add constraint sluice_partition_bound
      check (at >= '2027-03-01Z' and at < '2027-04-01Z' and at is not null)`.execute(db)
    await sql`alter table events add column note text`.execute(db)
    const result = await runMaintenance(db, [events], { now: FEBRUARY })
    expect(result.errors).toEqual([])
    expect(result.created).toContain('events_p20270301')
    expect(await rowsByPartition(db, 'events')).toEqual([
      { partition: 'events_p20270301', rows: 2 },
    ])
  })
})

describe('archives', () => {
  test('a partition whose index names the archive schema already has is archived in one run', async () => {
    const { db } = await freshDatabase()
    const logs = definePartitions({
      table: 'logs',
      column: 'at',
      interval: 'month',
      premake: 1,
      retention: { keep: 3, mode: 'archive', archiveSchema: 'archive' },
    })
    await sql`create table logs (id int, at timestamptz not null, primary key (id, at))
      partition by range (at)`.execute(db)
    await sql`create index on logs (at)`.execute(db)
    await runMaintenance(db, [logs], { now: new Date('2026-06-15Z') })
    await sql`insert into logs values (1, '2026-06-20')`.execute(db)
    // An archive of the same name from before (restored, or an earlier system's).
    await sql`create schema archive`.execute(db)
    await sql`create table archive.logs_p20260601 (id int, at timestamptz not null, primary key (id, at))`.execute(
      db,
    )
    await sql`create index on archive.logs_p20260601 (at)`.execute(db)
    const result = await runMaintenance(db, [logs], { now: new Date('2026-10-15Z') })
    expect(result.errors).toEqual([])
    expect(result.archived).toEqual(['logs_p20260601'])
    const { rows: archived } = await sql<{ schema: string; id: number }>`
      select tableoid::regclass::text as schema, id from archive.logs_p20260601_a2`.execute(db)
    expect(archived).toEqual([{ schema: 'archive.logs_p20260601_a2', id: 1 }])
    const { rows: left } = await sql<{ name: string }>`
      select relname as name from pg_class where relname like 'logs_p202606%' and relkind = 'r'
        and relnamespace = 'public'::regnamespace`.execute(db)
    expect(left).toEqual([])
  })
})

test('listPartitions reads quoted and mixed-case names as SQL does', async () => {
  const { db } = await freshDatabase()
  const audit = definePartitions({
    table: '"Audit Log"',
    column: 'at',
    interval: 'month',
    premake: 1,
  })
  await sql`create table "Audit Log" (at timestamptz not null) partition by range (at)`.execute(db)
  await runMaintenance(db, [audit], { now: FEBRUARY })
  const listed = await listPartitions(db, '"Audit Log"')
  expect(listed.map((p) => p.name)).toEqual(['Audit Log_p20270201', 'Audit Log_p20270301'])
  await sql`create schema app`.execute(db)
  await sql`create table app.messages (at timestamptz not null) partition by range (at)`.execute(db)
  await runMaintenance(
    db,
    [definePartitions({ table: 'app.messages', column: 'at', interval: 'month', premake: 1 })],
    { now: FEBRUARY },
  )
  expect((await listPartitions(db, 'App.Messages')).map((p) => p.name)).toEqual([
    'messages_p20270201',
    'messages_p20270301',
  ])
  await expect(listPartitions(db, 'bad name; drop')).rejects.toMatchObject({
    code: 'CONFIG_INVALID',
  })
})

test('a taken partition name of a 53-byte table gets a suffix within 63 bytes (it failed every run)', async () => {
  const { db } = await freshDatabase()
  const table = 'a'.repeat(53)
  const spec = definePartitions({ table, column: 'at', interval: 'month', premake: 1 })
  await sql`create table ${sql.table(table)} (at timestamptz not null) partition by range (at)`.execute(
    db,
  )
  // Someone else's table with the name of the February partition, and a February row.
  await sql`create table ${sql.table(`${table}_p20270201`)} (at timestamptz not null)`.execute(db)
  await sql`insert into ${sql.table(`${table}_p20270201`)} values ('2027-02-11')`.execute(db)
  const result = await runMaintenance(db, [spec], { now: FEBRUARY })
  expect(result.errors).toEqual([])
  const attached = await sql<{ name: string }>`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = ${table}::regclass order by 1`.execute(db)
  expect(attached.rows.map((r) => r.name)).toEqual([
    `${'a'.repeat(51)}_p20270201_2`,
    `${table}_p20270301`,
  ])
  const { rows } = await sql<{
    n: number
  }>`select count(*)::int as n from ${sql.table(table)}`.execute(db)
  expect(rows).toEqual([{ n: 0 }])
})
