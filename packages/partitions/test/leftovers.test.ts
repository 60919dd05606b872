import { sql } from 'kysely'
import { expect, test } from 'vitest'
import { definePartitions, runMaintenance } from '../src/index.js'
import { retireStatements } from '../src/maintenance/retire.js'
import { freshDatabase } from './helpers.js'

// Issue 13, session 6 (minor items of the last review): stale retiring records, the
// retention guard, archive suffixes of multibyte names, dollar quotes in names.
const NOVEMBER = new Date('2026-11-22T00:00:00Z')
const keep = (count: number | undefined) =>
  definePartitions({
    table: 'logs',
    column: 'at',
    interval: 'month',
    premake: 1,
    ...(count === undefined ? {} : { retention: { keep: count, mode: 'drop' as const } }),
  })

const monthlyLogs = (overrides: object) =>
  definePartitions({ table: 'logs', column: 'at', interval: 'month', premake: 1, ...overrides })

async function logs() {
  const { db } = await freshDatabase()
  await sql`create table logs (at timestamptz not null) partition by range (at)`.execute(db)
  await sql`create table logs_old partition of logs for values from ('2026-01-01Z') to ('2026-02-01Z')`.execute(
    db,
  )
  await sql`insert into logs values ('2026-01-15')`.execute(db)
  return db
}

test('removing retention, then adding a shorter one, is still refused (it passed in two steps)', async () => {
  const db = await logs()
  expect((await runMaintenance(db, [keep(24)], { now: NOVEMBER })).errors).toEqual([])
  expect((await runMaintenance(db, [keep(undefined)], { now: NOVEMBER })).errors).toEqual([])
  const result = await runMaintenance(db, [keep(3)], { now: NOVEMBER })
  expect(result.errors.map((e) => e.error)).toMatchObject([
    { code: 'PARTITION_SPEC_CHANGED', context: { field: 'retention.keep' } },
  ])
  expect(result.dropped).toEqual([])
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from logs`.execute(db)
  expect(rows).toEqual([{ n: 1 }])
})

test('a retiring record retention no longer backs is forgotten: a later manual detach does not get the table dropped', async () => {
  const db = await logs()
  await runMaintenance(db, [keep(24)], { now: NOVEMBER })
  // An earlier run (with a shorter retention, since lengthened) started retiring logs_old.
  await sql`insert into sluice_partitions.retiring values ('public', 'logs_old', 'public', 'logs', 'drop')`.execute(
    db,
  )
  const result = await runMaintenance(db, [keep(24)], { now: NOVEMBER })
  expect(result).toMatchObject({ finalized: ['logs_old'], dropped: [], errors: [] })
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from sluice_partitions.retiring`.execute(db)
  expect(rows).toEqual([{ n: 0 }])
  await sql`alter table logs detach partition logs_old`.execute(db) // kept by hand
  expect((await runMaintenance(db, [keep(24)], { now: NOVEMBER })).dropped).toEqual([])
  const { rows: kept } = await sql<{ n: number }>`select count(*)::int as n from logs_old`.execute(
    db,
  )
  expect(kept).toEqual([{ n: 1 }])
})

test('an archive name already taken gets its _aN suffix within 63 bytes, by whole characters', () => {
  const table = 'é'.repeat(26) // 52 bytes; its partitions 62
  const spec = definePartitions({
    table: `"${table}"`,
    column: 'at',
    interval: 'month',
    retention: { keep: 3, mode: 'archive', archiveSchema: 'archive' },
  })
  const name = `${table}_p20260101`
  const statements = retireStatements(spec, 'public', name, new Map([[`archive.${name}`, 'taken']]))
  const rename = statements.find((s) => s.sql.includes(' rename to '))?.sql ?? ''
  const target = /rename to "(.+)"$/.exec(rename)?.[1] ?? ''
  expect(Buffer.byteLength(target)).toBeLessThanOrEqual(63)
  expect(target.endsWith('_a2')).toBe(true)
  expect(target).not.toContain('\uFFFD')
})

test('a name holding $sluice$ (the dollar quote of a DO block) gets its replica identity', async () => {
  const { db } = await freshDatabase()
  const spec = definePartitions({
    table: 'a$sluice$b',
    column: 'at',
    interval: 'month',
    premake: 1,
  })
  await sql`create table a$sluice$b (id int not null, at timestamptz not null) partition by range (at)`.execute(
    db,
  )
  await sql`create unique index a_ident on a$sluice$b (id, at)`.execute(db)
  await sql`alter table a$sluice$b replica identity using index a_ident`.execute(db)
  const result = await runMaintenance(db, [spec], { now: NOVEMBER })
  expect(result.errors).toEqual([])
  const { rows } = await sql<{ identity: string }>`
    select distinct c.relreplident as identity from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'a$sluice$b'::regclass`.execute(db)
  expect(rows).toEqual([{ identity: 'i' }])
})

test('an archive schema is read as SQL reads it: a quoted mixed-case one is created as written, an unquoted one folds', async () => {
  const db = await logs()
  const archiveInto = (archiveSchema: string) =>
    monthlyLogs({ retention: { keep: 3, mode: 'archive', archiveSchema } })
  const quoted = await runMaintenance(db, [archiveInto('"Archive"')], { now: NOVEMBER })
  expect(quoted).toMatchObject({ errors: [], archived: ['logs_old'] })
  const { rows } = await sql<{
    n: number
  }>`select count(*)::int as n from "Archive".logs_old`.execute(db)
  expect(rows).toEqual([{ n: 1 }])
})
