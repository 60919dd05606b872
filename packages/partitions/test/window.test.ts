import { sql } from 'kysely'
import { expect, test } from 'vitest'
import {
  definePartitions,
  maintenanceStatus,
  PartitionError,
  runMaintenance,
} from '../src/index.js'
import { bounds, freshDatabase, monthly, rowsByPartition } from './helpers.js'

// Issue 13, sessions 6 and 7: without retention, rows of past ranges do not stay in the
// default forever (they get their partitions, nearest first), and a partition made for an old
// row brings no gap fill after it; rows beyond premake stay and are reported; a run creates a
// bounded number of partitions.
const FEBRUARY = new Date('2027-02-10T00:00:00Z')

test('without retention, rows of past ranges get their partitions, nearest first, and no gap fill after them; rows beyond premake stay and are reported', async () => {
  const { db } = await freshDatabase()
  const spec = monthly('pings')
  await sql`create table pings (at timestamptz not null) partition by range (at)`.execute(db)
  await sql`create table pings_default partition of pings default`.execute(db)
  // An old import, a year below 100 (Date.UTC reads 99 as 1999), last month; and a
  // mistyped year far ahead, beyond premake.
  await sql`insert into pings values ('2019-05-03'), ('0099-06-01'), ('1999-06-01'), ('2027-01-20'), ('2207-01-01')`.execute(
    db,
  )
  const first = await runMaintenance(db, [spec], { now: FEBRUARY })
  expect(first).toMatchObject({
    created: [
      'pings_p20270201',
      'pings_p20270301',
      'pings_p20270101',
      'pings_p20190501',
      'pings_p19990601',
      'pings_p00990601',
    ],
    movedRows: 4,
    errors: [],
    defaultRows: [{ table: 'public.pings', rows: 1 }],
  })
  // Again: nothing more, no gap fill from 2019 (or 1999, or 0099).
  const second = await runMaintenance(db, [spec], { now: FEBRUARY })
  expect(second).toMatchObject({ created: [], errors: [], defaultRows: [{ rows: 1 }] })
  expect((await bounds(db, 'pings')).map((b) => b.name)).toEqual([
    'pings_default',
    'pings_p00990601',
    'pings_p19990601',
    'pings_p20190501',
    'pings_p20270101',
    'pings_p20270201',
    'pings_p20270301',
  ])
  expect((await rowsByPartition(db, 'pings')).map((p) => p.partition)).toEqual([
    'pings_default',
    'pings_p00990601',
    'pings_p19990601',
    'pings_p20190501',
    'pings_p20270101',
  ])
  const [status] = await maintenanceStatus(db)
  expect(status).toMatchObject({ table: 'public.pings', defaultRows: 1, lastError: null })
})

test('without retention, partitions made for a run of old months bring no empty ones after them on the next runs (found by the breaker)', async () => {
  const { db } = await freshDatabase()
  const spec = monthly('pings')
  await sql`create table pings (at timestamptz not null) partition by range (at)`.execute(db)
  await sql`create table pings_default partition of pings default`.execute(db)
  // One row a month, 2020-01 to 2023-05: the newest partition before now is then 2023-05.
  await sql`insert into pings select '2020-01-15'::timestamptz + g * interval '1 month'
    from generate_series(0, 40) g`.execute(db)
  const first = await runMaintenance(db, [spec], { now: FEBRUARY })
  expect(first).toMatchObject({ movedRows: 41, errors: [] })
  const made = (await bounds(db, 'pings')).map((b) => b.name)
  const later = new Date(FEBRUARY.getTime() + 60_000)
  for (const now of [FEBRUARY, later]) {
    expect(await runMaintenance(db, [spec], { now })).toMatchObject({ created: [], errors: [] })
  }
  expect((await bounds(db, 'pings')).map((b) => b.name)).toEqual(made)
  expect(made).not.toContain('pings_p20230601')
})

test('with retention, rows within it get their partitions; older ones stay', async () => {
  const { db } = await freshDatabase()
  const spec = monthly('pings', { retention: { keep: 6, mode: 'drop' } })
  await sql`create table pings (at timestamptz not null) partition by range (at)`.execute(db)
  await sql`create table pings_default partition of pings default`.execute(db)
  await sql`insert into pings values ('2026-09-15'), ('2026-06-15')`.execute(db)
  const result = await runMaintenance(db, [spec], { now: FEBRUARY })
  expect(result).toMatchObject({ movedRows: 1, errors: [], defaultRows: [{ rows: 1 }] })
  expect(result.created).toContain('pings_p20260901')
  expect(result.created).not.toContain('pings_p20260601')
})

test('a run creates at most maxPartitionsPerRun partitions, the current and premade ones first; the next runs go on', async () => {
  const { db } = await freshDatabase()
  const spec = definePartitions({ table: 'ticks', column: 'at', interval: 'day', premake: 2 })
  await sql`create table ticks (at timestamptz not null) partition by range (at)`.execute(db)
  // Maintenance was down for 20 days after this one.
  await sql`create table ticks_old partition of ticks for values from ('2027-01-20Z') to ('2027-01-21Z')`.execute(
    db,
  )
  const first = await runMaintenance(db, [spec], { now: FEBRUARY, maxPartitionsPerRun: 8 })
  expect(first.created.slice(0, 3)).toEqual([
    'ticks_p20270210',
    'ticks_p20270211',
    'ticks_p20270212',
  ])
  expect(first.created).toHaveLength(8)
  expect(first.errors).toHaveLength(1)
  expect(first.errors[0]?.error).toBeInstanceOf(PartitionError)
  expect(first.errors[0]?.error).toMatchObject({
    code: 'PARTITION_LIMIT_REACHED',
    context: { field: 'maxPartitionsPerRun', table: 'public.ticks' },
  })
  const second = await runMaintenance(db, [spec], { now: FEBRUARY, maxPartitionsPerRun: 8 })
  const third = await runMaintenance(db, [spec], { now: FEBRUARY, maxPartitionsPerRun: 8 })
  expect(second.created).toHaveLength(8)
  expect(third).toMatchObject({ errors: [] })
  // 2027-01-21 .. 2027-02-12: 23 days, every one made once.
  expect(first.created.length + second.created.length + third.created.length).toBe(23)
  expect(await bounds(db, 'ticks')).toHaveLength(24)
})
