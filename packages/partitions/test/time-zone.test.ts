import { sql } from 'kysely'
import { expect, test } from 'vitest'
import { definePartitions, PartitionError, runMaintenance } from '../src/index.js'
import { bounds, freshDatabase, monthly, rowsByPartition } from './helpers.js'

// Issue 13, session 9: bounds are computed in Node (ICU's time-zone data) while the rows
// waiting in a default partition are grouped by range on the server (its own data). Where the
// two read the spec's zone differently, maintenance refuses that table before any DDL, naming
// `timeZone`; the other tables go on.
const NOVEMBER = new Date('2026-11-15T00:00:00Z')

/** Tables `names` partitioned by `at`, each with a default partition. */
async function withDefaults(...names: string[]) {
  const { db } = await freshDatabase()
  for (const name of names) {
    await sql`create table ${sql.table(name)} (at timestamptz not null) partition by range (at)`.execute(
      db,
    )
    await sql`create table ${sql.table(`${name}_default`)} partition of ${sql.table(name)} default`.execute(
      db,
    )
  }
  return db
}

test.each([
  // Node: Asia/Kolkata (+05:30); PostgreSQL: the abbreviation of Israel Standard Time (+02).
  ['IST', 'PARTITION_TIME_ZONE_MISMATCH'],
  // Node: Australia/Sydney (an old Java id ICU keeps); PostgreSQL: no such zone.
  ['AET', 'PARTITION_TIME_ZONE_UNKNOWN'],
] as const)(
  'a spec in %s, which Node and PostgreSQL read differently: %s before any DDL; the other tables go on',
  async (timeZone, code) => {
    const db = await withDefaults('visits', 'logs')
    await sql`insert into visits values ('2026-11-30T20:00:00Z'), ('2026-12-20T12:00:00Z')`.execute(
      db,
    )
    const result = await runMaintenance(db, [monthly('visits', { timeZone }), monthly('logs')], {
      now: NOVEMBER,
    })
    expect(result.errors).toHaveLength(1)
    const [failed] = result.errors
    expect(failed?.error).toBeInstanceOf(PartitionError)
    expect(failed).toMatchObject({
      table: 'public.visits',
      error: { code, context: { field: 'timeZone', table: 'public.visits' } },
    })
    expect(String(failed?.error)).toContain(timeZone)
    expect(await bounds(db, 'visits')).toEqual([{ name: 'visits_default', bound: 'DEFAULT' }])
    expect(await rowsByPartition(db, 'visits')).toEqual([{ partition: 'visits_default', rows: 2 }])
    expect((await bounds(db, 'logs')).map((b) => b.name)).toEqual([
      'logs_default',
      'logs_p20261101',
      'logs_p20261201',
    ])
  },
)

test('a zone whose midnight a DST change skips (Havana, 2027-03-14): Node and PostgreSQL agree, rows at each bound move to their day', async () => {
  const db = await withDefaults('calls')
  // The first instant of each day in Havana and the last microsecond before it: 2027-03-14
  // starts at 01:00 (-04), the days around it at 00:00 (-05 before, -04 after).
  const firsts = ['2027-03-13T05:00:00Z', '2027-03-14T05:00:00Z', '2027-03-15T04:00:00Z']
  await sql`insert into calls select t from unnest(${firsts}::timestamptz[]) t
    union all select t - interval '1 microsecond' from unnest(${firsts}::timestamptz[]) t`.execute(
    db,
  )
  const spec = definePartitions({
    table: 'calls',
    column: 'at',
    interval: 'day',
    premake: 2,
    defaultPartition: true,
    timeZone: 'America/Havana',
  })
  const result = await runMaintenance(db, [spec], { now: new Date('2027-03-12T17:00:00Z') })
  expect(result.errors).toEqual([])
  expect(await rowsByPartition(db, 'calls')).toEqual([
    { partition: 'calls_default', rows: 1 }, // 2027-03-15 local: beyond premake
    { partition: 'calls_p20270312', rows: 1 },
    { partition: 'calls_p20270313', rows: 2 },
    { partition: 'calls_p20270314', rows: 2 },
  ])
})
