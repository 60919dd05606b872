import { ConfigError } from '@sluice/core'
import { sql } from 'kysely'
import pg from 'pg'
import { describe, expect, test } from 'vitest'
import {
  createPartitionedTable,
  definePartitions,
  type Interval,
  listPartitions,
  type MaintenanceEvent,
  PartitionError,
  planMaintenance,
  runMaintenance,
  startMaintenance,
} from '../src/index.js'
import { bounds, freshDatabase, rowsByPartition } from './helpers.js'

const NOW = new Date('2026-11-22T10:00:00Z')

describe('createPartitionedTable and runMaintenance', () => {
  test('creates the parent with the key in its primary key, the indexes, and current + premade partitions; runs again as a no-op', async () => {
    const { db } = await freshDatabase()
    const messages = definePartitions({
      table: 'messages',
      column: 'sent_at',
      interval: 'month',
      premake: 4,
      indexes: [{ columns: ['sent_at'], using: 'brin' }, { columns: ['author_id'] }],
    })
    const result = await createPartitionedTable(
      db,
      messages,
      (table) =>
        table
          .addColumn('id', 'bigserial')
          .addColumn('author_id', 'bigint', (c) => c.notNull())
          .addColumn('sent_at', 'timestamptz', (c) => c.notNull()),
      { primaryKey: ['id'], now: NOW },
    )
    expect(result.created).toEqual([
      'messages_p20261101',
      'messages_p20261201',
      'messages_p20270101',
      'messages_p20270201',
      'messages_p20270301',
    ])
    const { rows: key } = await sql<{ def: string }>`
      select pg_get_constraintdef(oid) as def from pg_constraint
      where conrelid = 'messages'::regclass and contype = 'p'`.execute(db)
    expect(key[0]?.def).toBe('PRIMARY KEY (id, sent_at)')
    const { rows: indexes } = await sql<{ def: string }>`
      select indexdef as def from pg_indexes where tablename = 'messages_p20261201' order by 1`.execute(
      db,
    )
    expect(indexes.map((i) => i.def.replace(/^.* USING /, '')).sort()).toEqual([
      'brin (sent_at)',
      'btree (author_id)',
      'btree (id, sent_at)',
    ])
    // No CHECK left behind on attached partitions: the bound does that job.
    const { rows: checks } =
      await sql`select 1 from pg_constraint where conname = 'sluice_partition_bound'`.execute(db)
    expect(checks).toHaveLength(0)

    expect(await planMaintenance(db, [messages], { now: NOW })).toEqual([])
    const again = await runMaintenance(db, [messages], { now: NOW })
    expect(again).toMatchObject({ status: 'done', created: [], errors: [] })
    const listed = await listPartitions(db, 'messages')
    expect(listed.map((p) => [p.name, p.attached])).toEqual(
      result.created.map((name) => [name, true]),
    )
    expect(listed[0]).toMatchObject({ isDefault: false, detachPending: false })
    expect(listed[0]?.bytes).toBeGreaterThan(0)
  })

  test('planMaintenance is a dry run: the exact statements, nothing changed', async () => {
    const { db } = await freshDatabase()
    const spec = definePartitions({ table: 'events', column: 'at', interval: 'month', premake: 1 })
    await createPartitionedTable(db, spec, (t) => t.addColumn('at', 'timestamptz'), { now: NOW })
    const later = new Date('2027-01-10T00:00:00Z')
    const plan = await planMaintenance(db, [spec], { now: later })
    expect(plan.map((step) => [step.kind, step.partition])).toEqual([
      ['create', 'events_p20270101'],
      ['create', 'events_p20270201'],
    ])
    expect(plan[0]?.statements.map((s) => s.sql)).toEqual([
      'create table if not exists "public"."events_p20270101" (like "public"."events" including all excluding identity)',
      'alter table "public"."events_p20270101" drop constraint if exists sluice_partition_bound',
      `alter table "public"."events_p20270101" add constraint sluice_partition_bound check ("at" >= '2027-01-01T00:00:00.000Z' and "at" < '2027-02-01T00:00:00.000Z' and "at" is not null)`,
      `alter table "public"."events" attach partition "public"."events_p20270101" for values from ('2027-01-01T00:00:00.000Z') to ('2027-02-01T00:00:00.000Z')`,
      'alter table "public"."events_p20270101" drop constraint sluice_partition_bound',
    ])
    expect((await bounds(db, 'events')).map((b) => b.name)).toEqual([
      'events_p20261101',
      'events_p20261201',
    ])
  })

  test.each([
    ['day', 'Europe/Berlin', '2026-03-27T12:00:00Z', 'timestamptz'],
    ['day', 'America/New_York', '2026-10-30T12:00:00Z', 'timestamptz'],
    ['week', 'Europe/Berlin', '2026-10-14T12:00:00Z', 'timestamptz'],
    ['month', 'Europe/Berlin', '2026-01-20T12:00:00Z', 'timestamp'],
    ['month', 'UTC', '2027-12-20T12:00:00Z', 'date'],
    ['quarter', 'America/New_York', '2026-11-20T12:00:00Z', 'timestamptz'],
    ['year', 'UTC', '2027-06-01T00:00:00Z', 'timestamptz'],
  ] as const)(
    '%s partitions in %s from %s (%s key): every hour lands in a partition, bounds contiguous',
    async (interval, timeZone, now, type) => {
      const { db } = await freshDatabase()
      const spec = definePartitions({
        table: 'readings',
        column: 'at',
        interval: interval as Interval,
        premake: 3,
        timeZone,
      })
      await createPartitionedTable(db, spec, (t) => t.addColumn('at', type, (c) => c.notNull()), {
        now: new Date(now),
      })
      const listed = await bounds(db, 'readings')
      expect(listed).toHaveLength(4)
      // Contiguous: each upper bound is the next lower bound, as the server prints them.
      const parsed = listed.map((b) => /FROM \('(.+)'\) TO \('(.+)'\)/.exec(b.bound)?.slice(1))
      for (let i = 1; i < parsed.length; i++) expect(parsed[i]?.[0]).toBe(parsed[i - 1]?.[1])
      // No gap: a row every hour (every day for dates) from the first bound to the last is accepted.
      const step = type === 'date' ? '1 day' : '1 hour'
      const cast = type === 'timestamptz' ? 'timestamptz' : type
      const inserted = await sql`
      insert into readings
      select g from generate_series(${parsed[0]?.[0]}::${sql.raw(cast)}, ${parsed.at(-1)?.[1]}::${sql.raw(cast)} - ${step}::interval, ${step}::interval) g`.execute(
        db,
      )
      expect(Number(inserted.numAffectedRows)).toBeGreaterThan(0)
      expect((await rowsByPartition(db, 'readings')).map((r) => r.partition)).toEqual(
        listed.map((b) => b.name),
      )
    },
  )

  test('boundaries do not depend on the session TimeZone', async () => {
    const { db, url } = await freshDatabase()
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    try {
      // Every session of this database now runs far from Berlin (before the pool connects).
      await admin.query(
        `alter database "${new URL(url).pathname.slice(1)}" set timezone = 'Pacific/Kiritimati'`,
      )
      const spec = definePartitions({
        table: 'visits',
        column: 'at',
        interval: 'day',
        premake: 1,
        timeZone: 'Europe/Berlin',
      })
      await createPartitionedTable(
        db,
        spec,
        (t) => t.addColumn('at', 'timestamptz', (c) => c.notNull()),
        {
          now: new Date('2026-03-28T12:00:00Z'),
        },
      )
      const { rows } = await admin.query<{ name: string; lower: Date }>(`
        select c.relname as name,
          (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM [(]''([^'']+)''[)]'))[1]::timestamptz as lower
        from pg_inherits i join pg_class c on c.oid = i.inhrelid
        where i.inhparent = 'visits'::regclass order by 1`)
      expect(rows.map((r) => [r.name, r.lower.toISOString()])).toEqual([
        ['visits_p20260328', '2026-03-27T23:00:00.000Z'], // Berlin midnight, winter time
        ['visits_p20260329', '2026-03-28T23:00:00.000Z'], // the night the clocks go forward
      ])
    } finally {
      await admin.end()
    }
  })

  test('bad tables are typed errors before any DDL', async () => {
    const { db } = await freshDatabase()
    await sql`create table plain (at timestamptz)`.execute(db)
    await sql`create table by_number (n int, at timestamptz) partition by range (n)`.execute(db)
    await sql`create table by_text (at text) partition by range (at)`.execute(db)
    const spec = (table: string) => definePartitions({ table, column: 'at', interval: 'month' })
    // Each bad table is an error of its own; the good one in the same run is still maintained.
    await sql`create table good (at timestamptz not null) partition by range (at)`.execute(db)
    const specs = ['plain', 'by_number', 'by_text', 'missing', 'good'].map(spec)
    const result = await runMaintenance(db, specs, { now: NOW })
    expect(result.errors.map((e) => [e.table, (e.error as PartitionError).code])).toEqual([
      ['public.plain', 'PARTITION_TABLE_NOT_PARTITIONED'],
      ['public.by_number', 'PARTITION_TABLE_NOT_PARTITIONED'],
      ['public.by_text', 'PARTITION_COLUMN_NOT_TIME'],
      ['public.missing', 'PARTITION_TABLE_NOT_FOUND'],
    ])
    expect(result.errors.every((e) => e.error instanceof PartitionError)).toBe(true)
    expect(result.errors[3]?.error).toMatchObject({ context: { field: 'table' } })
    expect(result.created).toHaveLength(5)
    expect(await bounds(db, 'good')).toHaveLength(5)
    await expect(planMaintenance(db, [spec('missing')], { now: NOW })).rejects.toMatchObject({
      code: 'PARTITION_TABLE_NOT_FOUND',
    })
    const create = createPartitionedTable(db, spec('notes'), (t) => t.addColumn('at', 'text'), {
      now: NOW,
    })
    await expect(create).rejects.toBeInstanceOf(ConfigError)
    const { rows } = await sql`select 1 from pg_class where relname like 'notes%'`.execute(db)
    expect(rows).toHaveLength(0)
    expect(await bounds(db, 'by_text')).toEqual([])
  })

  test('startMaintenance runs now and on its interval, reports each run, and stops', async () => {
    const { db } = await freshDatabase()
    const spec = definePartitions({ table: 'ticks', column: 'at', interval: 'day', premake: 2 })
    await sql`create table ticks (at timestamptz not null) partition by range (at)`.execute(db)
    const events: MaintenanceEvent[] = []
    const schedule = startMaintenance(db, [spec], {
      intervalMs: 50,
      instrumentation: { onMaintenance: (event) => events.push(event) },
    })
    await expect
      .poll(() => events.filter((e) => e.kind === 'run').length, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(2)
    await schedule.stop()
    const runs = events.flatMap((e) => (e.kind === 'run' ? [e.result] : []))
    expect(runs[0]?.created).toHaveLength(3)
    expect(runs[1]?.created).toEqual([])
    expect(runs.every((r) => r.durationMs > 0)).toBe(true)
    const count = events.length
    await new Promise((resolve) => setImmediate(resolve))
    expect(events).toHaveLength(count)
  })
})
