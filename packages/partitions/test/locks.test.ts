import { type Kysely, sql } from 'kysely'
import { expect, test } from 'vitest'
import { PartitionError, planMaintenance, runMaintenance } from '../src/index.js'
import { batches } from '../src/maintenance/run.js'
import { connectClient, freshDatabase, monthly, probe } from './helpers.js'

/** The opt-in: defaults over this many rows are proven free of a new range before the switch. */
const PROVE_ABOVE = 10_000

// Issue 13, items 6 and 3: the parent's lock around ATTACH does not grow with the default
// partition's size, and a long writer of a table the parent references never holds the
// parent's traffic.
const NOVEMBER = new Date('2026-11-15T00:00:00Z')
const DECEMBER = new Date('2026-12-15T00:00:00Z')
const events = monthly('events')

/** A run that attaches January next to a default of `size` far-future rows, under a reader. */
async function attachNextTo(size: number) {
  const { db, url } = await freshDatabase()
  await sql`create table events (id bigint, at timestamptz not null) partition by range (at)`.execute(
    db,
  )
  await sql`create table events_default partition of events default`.execute(db)
  await runMaintenance(db, [events], { now: NOVEMBER }) // November and December
  await sql`insert into events select g, '2035-01-01'::timestamptz + g * interval '1 second'
    from generate_series(1, ${size}) g`.execute(db)
  await sql`analyze events`.execute(db)
  const plan = await planMaintenance(db, [events], { now: DECEMBER, defaultScanRows: PROVE_ABOVE })
  // Pruned to December: only a lock on the parent can hold it.
  const reader = await probe(
    url,
    `select count(*) from events where at >= '2026-12-01' and at < '2026-12-02'`,
  )
  const result = await runMaintenance(db, [events], {
    now: DECEMBER,
    lockTimeoutMs: 1000,
    defaultScanRows: PROVE_ABOVE,
  })
  const readerMs = await reader.stop()
  expect(result.errors).toEqual([])
  expect(result.created).toEqual(['events_p20270101'])
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from pg_constraint where conname = 'sluice_default_excludes'`.execute(
    db,
  )
  expect(rows).toEqual([{ n: 0 }]) // the helper CHECK is gone with the switch
  return {
    db,
    lockMs: result.longestLockMs,
    readerMs,
    plan: plan.flatMap((s) => s.statements.map((x) => x.sql)),
  }
}

/**
 * Runs the planned statements of the next run as the runner groups them, and returns how
 * many sequential scans of the default the switch transaction (the group with the ATTACH)
 * made, as the server counts them.
 */
async function defaultScansInSwitch(db: Kysely<unknown>, now: Date): Promise<number> {
  const statements = (
    await planMaintenance(db, [events], { now, defaultScanRows: PROVE_ABOVE })
  ).flatMap((s) => s.statements)
  let scans = -1
  for (const batch of batches(statements)) {
    await db.transaction().execute(async (trx) => {
      // The backend's pending counts (earlier transactions' too, until flushed): a difference.
      const count = async () =>
        (
          await sql<{ scans: number }>`
            select seq_scan::int as scans from pg_stat_xact_user_tables
            where relid = 'events_default'::regclass`.execute(trx)
        ).rows[0]?.scans ?? 0
      const before = await count()
      for (const { sql: text } of batch) await sql.raw(text).execute(trx)
      if (batch.some((s) => s.sql.includes(' attach partition '))) scans = (await count()) - before
    })
  }
  return scans
}

test('the parent lock around ATTACH does not grow with the default partition (0 vs 200,000 rows)', async () => {
  const empty = await attachNextTo(0)
  const large = await attachNextTo(200_000)
  console.log(
    `attach: parent lock ${empty.lockMs.toFixed(0)} / ${large.lockMs.toFixed(0)} ms, ` +
      `longest pruned read ${empty.readerMs.toFixed(0)} / ${large.readerMs.toFixed(0)} ms (0 / 200,000 default rows)`,
  )
  // Proven beforehand, outside the lock: validated while reads and writes go on.
  expect(large.plan.some((s) => s.includes('validate constraint sluice_default_excludes'))).toBe(
    true,
  )
  expect(empty.plan.some((s) => s.includes('sluice_default_excludes'))).toBe(false)
  // The times are printed, not asserted: on two shared cores one scheduling pause of the
  // reader outweighs the whole lock (a flake once on pg18); bench/partitions-default-lock
  // measures the lock against the default's size as a same-run ratio. The proof is
  // structural: the switch transaction does not scan the default at all.
  expect(await defaultScansInSwitch(large.db, new Date('2027-01-15T00:00:00Z'))).toBe(0)
})

test('a helper CHECK an interrupted run left on the default is dropped by the next run', async () => {
  const { db, url } = await freshDatabase()
  await sql`create table events (id bigint, at timestamptz not null) partition by range (at)`.execute(
    db,
  )
  await sql`create table events_default partition of events default`.execute(db)
  await sql`alter table events_default add constraint sluice_default_excludes
    check (not (at >= '2027-01-01' and at < '2027-02-01')) not valid`.execute(db)
  const writer = await connectClient(url)
  await expect(writer.query(`insert into events values (1, '2027-01-10')`)).rejects.toMatchObject({
    code: '23514',
  })
  const result = await runMaintenance(db, [events], { now: NOVEMBER })
  expect(result.errors).toEqual([])
  expect(result.finalized).toEqual(['events_default'])
  await writer.query(`insert into events values (1, '2027-01-10')`) // accepted again
})

test('a long writer of a referenced table never holds the parent: maintenance retries, reports, and succeeds later', async () => {
  const { db, url } = await freshDatabase()
  await sql`create table users (id int primary key)`.execute(db)
  await sql`insert into users values (1), (2)`.execute(db)
  await sql`create table orders (id bigint, user_id int references users, at timestamptz not null)
    partition by range (at)`.execute(db)
  await sql`create table orders_default partition of orders default`.execute(db)
  const orders = monthly('orders')
  await runMaintenance(db, [orders], { now: NOVEMBER })
  // A long transaction writing users holds ROW EXCLUSIVE, which ATTACH's key clone waits for.
  const long = await connectClient(url)
  await long.query('begin')
  await long.query('insert into users values (3)')
  const lockTimeoutMs = 200
  const writer = await probe(url, `insert into orders values (1, 1, '2026-12-10')`)
  const result = await runMaintenance(db, [orders], {
    now: DECEMBER,
    lockTimeoutMs,
    attempts: 3,
    retryDelayMs: 50,
  })
  const writerMs = await writer.stop()
  console.log(
    `referenced writer: longest insert into the parent ${writerMs.toFixed(0)} ms (lock_timeout ${lockTimeoutMs} ms)`,
  )
  expect(result.created).toEqual([])
  expect(result.errors).toHaveLength(1)
  expect(result.errors[0]?.error).toBeInstanceOf(PartitionError)
  expect(result.errors[0]?.error).toMatchObject({ code: 'PARTITION_LOCK_TIMEOUT' })
  // Waiting on users never held the parent: inserts into it went on.
  expect(writerMs).toBeLessThan(lockTimeoutMs)
  await long.query('commit')
  const later = await runMaintenance(db, [orders], { now: DECEMBER, lockTimeoutMs })
  expect(later.errors).toEqual([])
  expect(later.created).toEqual(['orders_p20270101'])
  await sql`insert into orders values (2, 2, '2027-01-10')`.execute(db)
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from pg_constraint where conrelid = 'orders_p20270101'::regclass and contype = 'f'`.execute(
    db,
  )
  expect(rows).toEqual([{ n: 1 }])
})
