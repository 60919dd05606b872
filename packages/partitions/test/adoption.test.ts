import { sql } from 'kysely'
import { expect, test } from 'vitest'
import { definePartitions, runMaintenance } from '../src/index.js'
import { bounds, freshDatabase } from './helpers.js'

// Issue 13, "Adoption": a set made by pg_partman 4.7 (`create_parent`, monthly) is taken over
// by a spec with the same interval. pg_partman is packaged for the system PostgreSQL 15 only.
const partman = process.env.SLUICE_PG_ENGINE === 'system'

test.runIf(partman)(
  'a pg_partman 4.7 monthly set is adopted: zero errors, no duplicate or empty table, later months added beside it',
  async () => {
    const { db } = await freshDatabase()
    await sql`create schema partman`.execute(db)
    await sql`create extension pg_partman schema partman`.execute(db)
    await sql`create table metrics (id bigint not null, at timestamptz not null) partition by range (at)`.execute(
      db,
    )
    const { rows: version } = await sql<{ v: string }>`
      select extversion as v from pg_extension where extname = 'pg_partman'`.execute(db)
    expect(version[0]?.v).toMatch(/^4\.7/)
    const now = new Date()
    await sql`select partman.create_parent('public.metrics', 'at', 'native', 'monthly',
      p_premake := 4, p_jobmon := false)`.execute(db)
    await sql`insert into metrics values (1, now())`.execute(db)
    const before = await bounds(db, 'metrics')
    expect(before.some((b) => /^metrics_p\d{4}_\d{2}$/.test(b.name))).toBe(true)
    const spec = definePartitions({
      table: 'metrics',
      column: 'at',
      interval: 'month',
      premake: 4,
      defaultPartition: true,
    })
    const result = await runMaintenance(db, [spec], { now })
    expect(result).toMatchObject({ created: [], movedRows: 0, errors: [] })
    expect(await bounds(db, 'metrics')).toEqual(before)
    // Two months on, only the months pg_partman did not make are added, with Sluice's names.
    const later = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 2, 15))
    const next = await runMaintenance(db, [spec], { now: later })
    expect(next.errors).toEqual([])
    expect(next.created).toHaveLength(2)
    expect(next.created.every((name) => /^metrics_p\d{8}$/.test(name))).toBe(true)
    const after = await bounds(db, 'metrics')
    expect(after).toHaveLength(before.length + 2)
    const ranges = after.map((b) => b.bound).filter((b) => b !== 'DEFAULT')
    expect(new Set(ranges).size).toBe(ranges.length)
  },
)
