import { type Kysely, sql } from 'kysely'
import { describe, expect, test } from 'vitest'
import {
  createPartitionedTable,
  definePartitions,
  maintenanceStatus,
  type PartitionError,
  runMaintenance,
} from '../src/index.js'
import { bounds, freshDatabase, monthly, rowsByPartition } from './helpers.js'

// Issue 13, items 3, 8-12 and "bad input": real schemas, real bounds.
const NOVEMBER = new Date('2026-11-22T00:00:00Z')

const codeOf = (error: unknown) => (error as PartitionError).code

async function partitionsOf(db: Kysely<unknown>, table: string) {
  const { rows } = await sql<{
    name: string
    replident: string
    owner: string
    options: string[] | null
    acl: string | null
  }>`
    select c.relname as name, c.relreplident as replident, pg_get_userbyid(c.relowner) as owner,
      c.reloptions as options, c.relacl::text as acl
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = ${table}::regclass order by 1`.execute(db)
  return rows
}

describe('schemas real tables have', () => {
  test('generated and identity columns, a timestamptz(3) key: partitions are created and take inserts; a failed run makes createPartitionedTable throw', async () => {
    const { db } = await freshDatabase()
    const spec = definePartitions({ table: 'orders', column: 'at', interval: 'month', premake: 1 })
    const result = await createPartitionedTable(
      db,
      spec,
      (t) =>
        t
          .addColumn('id', 'bigint', (c) => c.generatedAlwaysAsIdentity())
          .addColumn('at', sql`timestamptz(3)`, (c) => c.notNull())
          .addColumn('price', 'integer', (c) => c.notNull())
          .addColumn('qty', 'integer', (c) => c.notNull())
          .addColumn('total', 'integer', (c) => c.generatedAlwaysAs(sql`price * qty`).stored()),
      { primaryKey: ['id'], now: NOVEMBER },
    )
    expect(result.created).toEqual(['orders_p20261101', 'orders_p20261201'])
    await sql`insert into orders (at, price, qty) values ('2026-11-30', 3, 4), ('2026-12-01', 5, 6)`.execute(
      db,
    )
    const { rows } = await sql<{ p: string; total: number }>`
      select tableoid::regclass::text as p, total from orders order by id`.execute(db)
    expect(rows).toEqual([
      { p: 'orders_p20261101', total: 12 },
      { p: 'orders_p20261201', total: 30 },
    ])
    // timestamp(0) too.
    const plain = definePartitions({ table: 'visits', column: 'at', interval: 'day', premake: 1 })
    await createPartitionedTable(
      db,
      plain,
      (t) => t.addColumn('at', sql`timestamp(0)`, (c) => c.notNull()),
      {
        now: NOVEMBER,
      },
    )
    expect(await bounds(db, 'visits')).toHaveLength(2)
    // A step that fails is an error, not a quiet table without partitions.
    const templated = definePartitions({
      table: 'notes',
      column: 'at',
      interval: 'month',
      template: 'no_such_template',
    })
    const failed = createPartitionedTable(db, templated, (t) => t.addColumn('at', 'timestamptz'), {
      now: NOVEMBER,
    })
    await expect(failed).rejects.toMatchObject({
      code: 'PARTITION_MAINTENANCE_FAILED',
      cause: { code: 'PARTITION_TEMPLATE_NOT_FOUND', context: { field: 'template' } },
    })
  })

  test('new partitions get the parent owner, grants and replica identity, and the template storage options', async () => {
    const { db } = await freshDatabase()
    await sql`do $$ begin
      if not exists (select from pg_roles where rolname = 'parts_owner') then create role parts_owner; end if;
      if not exists (select from pg_roles where rolname = 'parts_reader') then create role parts_reader; end if;
    end $$`.execute(db)
    await sql`create table feed (id bigint not null, at timestamptz not null, primary key (id, at)) partition by range (at)`.execute(
      db,
    )
    await sql`alter table feed owner to parts_owner`.execute(db)
    await sql`grant select, insert on feed to parts_reader`.execute(db)
    await sql`alter table feed replica identity using index feed_pkey`.execute(db)
    await sql`create table feed_template (id bigint)`.execute(db)
    await sql`alter table feed_template set (fillfactor = 70, autovacuum_enabled = false)`.execute(
      db,
    )
    const full = definePartitions({
      table: 'feed',
      column: 'at',
      interval: 'month',
      premake: 1,
      template: 'feed_template',
    })
    expect(await runMaintenance(db, [full], { now: NOVEMBER })).toMatchObject({ errors: [] })
    for (const partition of await partitionsOf(db, 'feed')) {
      expect(partition).toMatchObject({ replident: 'i', owner: 'parts_owner' })
      expect(partition.options?.sort()).toEqual(['autovacuum_enabled=false', 'fillfactor=70'])
      expect(partition.acl).toContain('parts_reader=ar/')
    }
    const { rows } = await sql<{ name: string }>`
      select c.relname as name from pg_index x join pg_class c on c.oid = x.indexrelid
      where x.indrelid = 'feed_p20261101'::regclass and x.indisreplident`.execute(db)
    expect(rows).toEqual([{ name: 'feed_p20261101_pkey' }])
    await sql`alter table feed replica identity full`.execute(db)
    await runMaintenance(db, [full], { now: new Date('2027-01-05T00:00:00Z') })
    expect(
      (await partitionsOf(db, 'feed')).find((p) => p.name === 'feed_p20270201')?.replident,
    ).toBe('f')
  })
})

describe('real bounds, not names', () => {
  test("adopts partitions of any name (pg_partman's _p2026_11, hand-made ones): only what none covers is created, no overlap error, no empty duplicate", async () => {
    const { db } = await freshDatabase()
    await sql`create table events (at timestamptz not null) partition by range (at)`.execute(db)
    await sql`create table events_p2026_11 partition of events for values from ('2026-11-01Z') to ('2026-12-01Z')`.execute(
      db,
    )
    await sql`create table events_p2026_12 partition of events for values from ('2026-12-01Z') to ('2027-01-01Z')`.execute(
      db,
    )
    await sql`create table events_early_january partition of events for values from ('2027-01-01Z') to ('2027-01-16Z')`.execute(
      db,
    )
    const spec = definePartitions({ table: 'events', column: 'at', interval: 'month', premake: 3 })
    const result = await runMaintenance(db, [spec], { now: NOVEMBER })
    expect(result).toMatchObject({ created: ['events_p20270116', 'events_p20270201'], errors: [] })
    const listed = await bounds(db, 'events')
    expect(listed.map((b) => b.name).sort()).toEqual([
      'events_early_january',
      'events_p2026_11',
      'events_p2026_12',
      'events_p20270116',
      'events_p20270201',
    ])
    expect(await runMaintenance(db, [spec], { now: NOVEMBER })).toMatchObject({
      created: [],
      errors: [],
    })
  })

  test('a spec changed from monthly to daily keeps the partition holding this month; a shorter retention waits for acceptSpecChanges', async () => {
    const { db } = await freshDatabase()
    const monthly = definePartitions({
      table: 'clicks',
      column: 'at',
      interval: 'month',
      premake: 1,
      retention: { keep: 2, mode: 'drop' },
    })
    await createPartitionedTable(
      db,
      monthly,
      (t) => t.addColumn('at', 'timestamptz', (c) => c.notNull()),
      {
        now: new Date('2026-10-05T00:00:00Z'),
      },
    )
    await runMaintenance(db, [monthly], { now: NOVEMBER })
    await sql`insert into clicks values ('2026-10-20'), ('2026-11-20'), ('2026-11-25')`.execute(db)
    const daily = definePartitions({
      table: 'clicks',
      column: 'at',
      interval: 'day',
      premake: 3,
      retention: { keep: '20 days', mode: 'drop' },
    })
    const now = new Date('2026-11-25T12:00:00Z')
    const refused = await runMaintenance(db, [daily], { now })
    expect(
      refused.errors.map((e) => [codeOf(e.error), (e.error as PartitionError).context.field]),
    ).toEqual([['PARTITION_SPEC_CHANGED', 'retention.keep']])
    expect(refused.dropped).toEqual([])
    const result = await runMaintenance(db, [daily], { now, acceptSpecChanges: true })
    expect(result).toMatchObject({ dropped: ['clicks_p20261001'], created: [], errors: [] })
    expect(await rowsByPartition(db, 'clicks')).toEqual([
      { partition: 'clicks_p20261101', rows: 2 },
    ])
    // The change is recorded: the next run with the daily spec goes ahead by itself.
    expect(await runMaintenance(db, [daily], { now })).toMatchObject({ errors: [] })
  })

  test('fills the gaps of a pause and moves rows of a past range out of the default', async () => {
    const { db } = await freshDatabase()
    const spec = monthly('pings')
    await createPartitionedTable(
      db,
      spec,
      (t) => t.addColumn('at', 'timestamptz', (c) => c.notNull()),
      { now: NOVEMBER },
    )
    // Maintenance was down for two months: December and January rows went to the default.
    await sql`insert into pings values ('2027-01-03'), ('2027-01-04')`.execute(db)
    await sql`create table pings_feb partition of pings for values from ('2027-02-01Z') to ('2027-03-01Z')`.execute(
      db,
    )
    const result = await runMaintenance(db, [spec], { now: new Date('2027-02-10T00:00:00Z') })
    expect(result).toMatchObject({
      created: ['pings_p20270301', 'pings_p20270101'], // the premade one first
      movedRows: 2,
      errors: [],
    })
    expect((await bounds(db, 'pings')).map((b) => b.name)).toEqual([
      'pings_default',
      'pings_feb',
      'pings_p20261101',
      'pings_p20261201',
      'pings_p20270101',
      'pings_p20270301',
    ])
    expect(await rowsByPartition(db, 'pings')).toEqual([{ partition: 'pings_p20270101', rows: 2 }])
    const [status] = await maintenanceStatus(db)
    expect(status).toMatchObject({ table: 'public.pings', lastError: null, runner: null })
    expect(status?.lastSuccessAt).toBeInstanceOf(Date)
  })
})

describe('bad input', () => {
  test('quoted, mixed-case and other-schema names; a missing template fails before any DDL', async () => {
    const { db } = await freshDatabase()
    await sql`create schema app`.execute(db)
    await sql`create table app."Audit Log" ("At" timestamptz not null) partition by range ("At")`.execute(
      db,
    )
    const quoted = definePartitions({
      table: 'app."Audit Log"',
      column: '"At"',
      interval: 'month',
      premake: 1,
    })
    expect(await runMaintenance(db, [quoted], { now: NOVEMBER })).toMatchObject({
      created: ['Audit Log_p20261101', 'Audit Log_p20261201'],
      errors: [],
    })
    expect(await bounds(db, 'app."Audit Log"')).toHaveLength(2)
    // Unquoted names fold to lower case, as in SQL: there is no app.audit_log.
    const folded = definePartitions({ table: 'App.Audit_Log', column: 'at', interval: 'month' })
    expect(folded).toMatchObject({ schema: 'app', table: 'audit_log' })
    const missing = await runMaintenance(db, [folded], { now: NOVEMBER })
    expect(missing.errors.map((e) => codeOf(e.error))).toEqual(['PARTITION_TABLE_NOT_FOUND'])
    // The table is in another schema than the spec says.
    await sql`create table app.sessions (at timestamptz not null) partition by range (at)`.execute(
      db,
    )
    const elsewhere = definePartitions({ table: 'sessions', column: 'at', interval: 'month' })
    const wrong = await runMaintenance(db, [elsewhere], { now: NOVEMBER })
    expect(wrong.errors[0]?.error).toMatchObject({
      code: 'PARTITION_TABLE_NOT_FOUND',
      context: { field: 'table' },
    })
    const templated = definePartitions({
      table: 'app.sessions',
      column: 'at',
      interval: 'month',
      template: 'app.nope',
    })
    const noTemplate = await runMaintenance(db, [templated], { now: NOVEMBER })
    expect(noTemplate.errors[0]?.error).toMatchObject({
      code: 'PARTITION_TEMPLATE_NOT_FOUND',
      context: { field: 'template' },
    })
    expect(await bounds(db, 'app.sessions')).toEqual([])
  })
})
