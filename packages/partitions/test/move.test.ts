import { sql } from 'kysely'
import pg from 'pg'
import { afterEach, describe, expect, test } from 'vitest'
import { PartitionError, runMaintenance } from '../src/index.js'
import { freshDatabase, monthly, rowsByPartition } from './helpers.js'

// Issue 13, items 1, 2 and 4: rows leave the default partition with their content, their
// referencing rows and without anyone seeing them disappear.
const NOVEMBER = new Date('2026-11-22T00:00:00Z')
const JANUARY = new Date('2027-01-10T00:00:00Z')
const ROWS = 300
const spec = monthly('ledger')
const clients: pg.Client[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end()))
})

/**
 * A ledger with an identity key, a generated column, a default partition whose columns are
 * in another order (an old table attached as the default), three tables referencing it
 * (cascade, no action, set null), a delete-audit trigger, and January rows waiting in the
 * default partition.
 */
async function ledger() {
  const { db, url } = await freshDatabase()
  await sql`create table ledger (
    id bigint generated always as identity, at timestamptz not null,
    debit int not null, credit int not null,
    net int generated always as (credit - debit) stored,
    primary key (id, at)) partition by range (at)`.execute(db)
  await sql`create table ledger_default (
    credit int not null, net int generated always as (credit - debit) stored,
    debit int not null, at timestamptz not null, id bigint not null)`.execute(db)
  await sql`alter table ledger attach partition ledger_default default`.execute(db)
  await runMaintenance(db, [spec], { now: NOVEMBER })
  for (const [name, action] of [
    ['cascades', 'on delete cascade'],
    ['blocks', ''],
    ['nulls', 'on delete set null'],
  ] as const) {
    await sql`create table ${sql.table(name)} (id serial primary key, ledger_id bigint, ledger_at timestamptz,
      foreign key (ledger_id, ledger_at) references ledger (id, at) ${sql.raw(action)})`.execute(db)
  }
  await sql`create table deletions (id bigint)`.execute(db)
  await sql`create function audit() returns trigger language plpgsql as
    $$ begin insert into deletions values (old.id); return old; end $$`.execute(db)
  await sql`create trigger audit after delete on ledger for each row execute function audit()`.execute(
    db,
  )
  await sql`insert into ledger (at, debit, credit)
    select '2027-01-01'::timestamptz + g * interval '1 minute', g, 1000 + g from generate_series(1, ${ROWS}) g`.execute(
    db,
  )
  await sql`insert into ledger (at, debit, credit) values ('2026-11-23', 7, 8)`.execute(db)
  for (const name of ['cascades', 'blocks', 'nulls']) {
    await sql`insert into ${sql.table(name)} (ledger_id, ledger_at) select id, at from ledger`.execute(
      db,
    )
  }
  expect(await rowsByPartition(db, 'ledger')).toEqual([
    { partition: 'ledger_default', rows: ROWS },
    { partition: 'ledger_p20261101', rows: 1 },
  ])
  return { db, url }
}

async function contents(db: Awaited<ReturnType<typeof ledger>>['db']) {
  const { rows } = await sql<Record<string, unknown>>`
    select l.id::text, l.at, l.debit, l.credit, l.net,
      (select count(*)::int from cascades c where c.ledger_id = l.id) as cascades,
      (select count(*)::int from blocks b where b.ledger_id = l.id) as blocks,
      (select count(*)::int from nulls n where n.ledger_id = l.id) as nulls
    from ledger l order by l.id`.execute(db)
  return rows
}

async function foreignKeys(db: Awaited<ReturnType<typeof ledger>>['db']) {
  const { rows } = await sql<{ name: string; def: string; valid: boolean }>`
    select conrelid::regclass::text || '.' || conname as name, pg_get_constraintdef(oid) as def,
      convalidated as valid
    from pg_constraint where contype = 'f' and confrelid = 'ledger'::regclass and conparentid = 0
    order by 1`.execute(db)
  return rows
}

describe('moving rows out of the default partition', () => {
  test('keeps every row and its content (columns by name, identity values, generated values), fires no foreign-key action or delete trigger, keeps the keys', async () => {
    const { db } = await ledger()
    const before = await contents(db)
    const keys = await foreignKeys(db)
    const result = await runMaintenance(db, [spec], { now: JANUARY })
    expect(result).toMatchObject({
      created: ['ledger_p20270101', 'ledger_p20270201'],
      movedRows: ROWS,
      errors: [],
    })
    expect(await rowsByPartition(db, 'ledger')).toEqual([
      { partition: 'ledger_p20261101', rows: 1 },
      { partition: 'ledger_p20270101', rows: ROWS },
    ])
    // Same ids, debit and credit not swapped, every referencing row still there.
    expect(await contents(db)).toEqual(before)
    expect(before.every((row) => row.cascades === 1 && row.blocks === 1 && row.nulls === 1)).toBe(
      true,
    )
    expect(await foreignKeys(db)).toEqual(keys) // same definitions, validated again
    const { rows: deletions } = await sql`select * from deletions`.execute(db)
    expect(deletions).toEqual([])
    const { rows: triggers } = await sql<{ enabled: string }>`
      select tgenabled as enabled from pg_trigger
      where tgrelid = 'ledger_default'::regclass and tgname = 'audit'`.execute(db)
    expect(triggers).toEqual([{ enabled: 'O' }])
    // The identity goes on after the moved values; the keys still act.
    await sql`insert into ledger (at, debit, credit) values ('2027-01-20', 1, 2)`.execute(db)
    const { rows: max } = await sql<{
      n: number
    }>`select count(distinct id)::int as n from ledger`.execute(db)
    expect(max[0]?.n).toBe(ROWS + 2)
    await expect(
      sql`delete from ledger where debit = 1 and credit = 1001`.execute(db),
    ).rejects.toMatchObject({
      code: '23503',
    })
  })

  test('a move that cannot get its locks changes nothing: the rows stay visible in the default, the next run moves them', async () => {
    const { db, url } = await ledger()
    const before = await contents(db)
    const holder = new pg.Client({ connectionString: url })
    await holder.connect()
    clients.push(holder)
    await holder.query('begin')
    await holder.query('select count(*) from blocks') // a report on a referencing table
    const failed = await runMaintenance(db, [spec], {
      now: JANUARY,
      lockTimeoutMs: 50,
      attempts: 2,
      retryDelayMs: 10,
    })
    expect(failed.created).toEqual(['ledger_p20270201'])
    expect(failed.errors.map((e) => [e.step?.partition, (e.error as PartitionError).code])).toEqual(
      [['ledger_p20270101', 'PARTITION_LOCK_TIMEOUT']],
    )
    expect(await contents(db)).toEqual(before)
    expect((await rowsByPartition(db, 'ledger'))[0]).toEqual({
      partition: 'ledger_default',
      rows: ROWS,
    })
    await holder.query('commit')
    const result = await runMaintenance(db, [spec], { now: JANUARY })
    expect(result).toMatchObject({ created: ['ledger_p20270101'], movedRows: ROWS, errors: [] })
    expect(await contents(db)).toEqual(before)
  })

  test('a published table is refused with the manual fix; the rest of the run goes on', async () => {
    const { db } = await ledger()
    await sql`create publication ledger_pub for table ledger`.execute(db)
    const result = await runMaintenance(db, [spec], { now: JANUARY })
    expect(result.created).toEqual(['ledger_p20270201'])
    const [refusal] = result.errors
    expect(refusal?.error).toBeInstanceOf(PartitionError)
    expect(refusal?.error).toMatchObject({ code: 'PARTITION_MOVE_REFUSED' })
    expect(String(refusal?.error)).toContain('maintenance window')
    expect((await rowsByPartition(db, 'ledger'))[0]).toEqual({
      partition: 'ledger_default',
      rows: ROWS,
    })
  })

  test('a partitioned table referencing the parent: refused before PostgreSQL 18 (its key cannot be re-added NOT VALID), moved with its rows on 18', async () => {
    const { db } = await ledger()
    await sql`create table shares (ledger_id bigint, ledger_at timestamptz, at timestamptz not null,
      foreign key (ledger_id, ledger_at) references ledger (id, at) on delete cascade) partition by range (at)`.execute(
      db,
    )
    await sql`create table shares_all partition of shares default`.execute(db)
    await sql`insert into shares select id, at, at from ledger`.execute(db)
    const { rows: version } = await sql<{
      v: number
    }>`select current_setting('server_version_num')::int as v`.execute(db)
    const result = await runMaintenance(db, [spec], { now: JANUARY })
    const { rows: shares } = await sql<{
      n: number
    }>`select count(*)::int as n from shares`.execute(db)
    expect(shares).toEqual([{ n: ROWS + 1 }])
    if ((version[0]?.v ?? 0) < 180000) {
      expect(result.errors.map((e) => (e.error as PartitionError).code)).toEqual([
        'PARTITION_MOVE_REFUSED',
      ])
      expect((await rowsByPartition(db, 'ledger'))[0]).toEqual({
        partition: 'ledger_default',
        rows: ROWS,
      })
    } else {
      expect(result).toMatchObject({ movedRows: ROWS, errors: [] })
      const { rows: keys } = await sql<{ valid: boolean }>`
        select convalidated as valid from pg_constraint
        where conrelid = 'shares'::regclass and contype = 'f' and conparentid = 0`.execute(db)
      expect(keys).toEqual([{ valid: true }])
    }
  })
})
