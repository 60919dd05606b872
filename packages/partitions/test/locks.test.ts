import { type Kysely, sql } from 'kysely'
import { expect, test } from 'vitest'
import { PartitionError, planMaintenance, runMaintenance } from '../src/index.js'
import { batches } from '../src/maintenance/run.js'
import {
  connectClient,
  freshDatabase,
  type LockRow,
  lockSnapshot,
  monthly,
  probe,
  watchLocks,
} from './helpers.js'

/** The opt-in: defaults over this many rows are proven free of a new range before the switch. */
const PROVE_ABOVE = 10_000

// Issue 13, items 6 and 3: the parent's lock around ATTACH does not grow with the default
// partition's size, and a long writer of a table the parent references never holds the
// parent's traffic.
const NOVEMBER = new Date('2026-11-15T00:00:00Z')
const DECEMBER = new Date('2026-12-15T00:00:00Z')
const events = monthly('events')

/** Modes that conflict with an insert's ROW EXCLUSIVE: a session holding one blocks writes. */
const BLOCKS_WRITES = ['ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock']
const LOCK_TIMEOUT_MS = 1000

/**
 * A run that attaches January next to a default of `size` far-future rows, under a reader
 * pruned to December and a writer of rows that stay in the default, with the server's lock
 * table watched throughout: every lock the runner's sessions (`maintenance`) took and every
 * wait behind them, as the server saw it.
 */
async function attachNextTo(size: number) {
  const { db, url, directUrl, open } = await freshDatabase()
  await sql`create table events (id bigint, at timestamptz not null) partition by range (at)`.execute(
    db,
  )
  await sql`create table events_default partition of events default`.execute(db)
  await runMaintenance(db, [events], { now: NOVEMBER }) // November and December
  await sql`insert into events select g, '2035-01-01'::timestamptz + g * interval '1 second'
    from generate_series(1, ${size}) g`.execute(db)
  await sql`analyze events`.execute(db)
  const plan = await planMaintenance(db, [events], { now: DECEMBER, defaultScanRows: PROVE_ABOVE })
  const traffic = [
    await probe(
      url,
      'reader',
      `select count(*) from events where at >= '2026-12-01' and at < '2026-12-02'`,
    ),
    await probe(url, 'writer', `insert into events values (0, '2040-01-01')`),
  ]
  const watcher = await watchLocks(directUrl)
  const runner = open({ DB_APPLICATION_NAME: 'maintenance' })
  const result = await runMaintenance(runner, [events], {
    now: DECEMBER,
    lockTimeoutMs: LOCK_TIMEOUT_MS,
    defaultScanRows: PROVE_ABOVE,
  })
  const samples = await watcher.stop()
  await Promise.all(traffic.map((t) => t.stop()))
  expect(result.errors).toEqual([])
  expect(result.created).toEqual(['events_p20270101'])
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from pg_constraint where conname = 'sluice_default_excludes'`.execute(
    db,
  )
  expect(rows).toEqual([{ n: 0 }]) // the helper CHECK is gone with the switch
  const switching = (sample: LockRow[]) =>
    sample.some(
      (l) =>
        l.app === 'maintenance' &&
        l.granted &&
        l.relation === 'events' &&
        l.mode === 'AccessExclusiveLock',
    )
  return {
    db,
    url,
    plan: plan.flatMap((s) => s.statements.map((x) => x.sql)),
    /** Waits behind the runner while it held the parent's ACCESS EXCLUSIVE, past lock_timeout. */
    longWaits: samples.flatMap((sample) =>
      switching(sample)
        ? sample.filter((l) => l.behind.includes('maintenance') && l.waitedMs > LOCK_TIMEOUT_MS)
        : [],
    ),
  }
}

/**
 * Runs the planned statements of the next run as the runner groups them, under a reader of
 * the current partition and a writer of the default, and returns what the server saw of the
 * two transactions that matter: how many sequential scans of the default the switch (the
 * group with the ATTACH) made, and, while the proof of the default (`validate constraint`,
 * the one statement that reads the whole default) still held its locks, whether the reader
 * and the writer went through meanwhile. Those locks are checked where they are held: SHARE
 * UPDATE EXCLUSIVE on the default, nothing on the parent.
 */
async function switchAndProof(db: Kysely<unknown>, url: string, now: Date) {
  const statements = (
    await planMaintenance(db, [events], { now, defaultScanRows: PROVE_ABOVE })
  ).flatMap((s) => s.statements)
  const reader = await probe(
    url,
    'reader',
    `select count(*) from events where at >= '2027-01-01' and at < '2027-01-02'`,
  )
  const writer = await probe(url, 'writer', `insert into events values (0, '2040-01-01')`)
  let scans = -1
  let throughDuringProof = false
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
      if (batch.some((s) => s.sql.includes('validate constraint sluice_default_excludes'))) {
        const { rows } = await sql<{ lock: string }>`
          select l.relation::regclass::text || ' ' || l.mode as lock from pg_locks l
          where l.pid = pg_backend_pid() and l.locktype = 'relation'
            and l.relation::regclass::text like 'events%' order by 1`.execute(trx)
        expect(rows.map((r) => r.lock)).toEqual(['events_default ShareUpdateExclusiveLock'])
        // Both go through while this transaction still holds what the proof took.
        const marks = [reader.runs(), writer.runs()]
        await expect
          .poll(() => reader.runs() > marks[0] + 1 && writer.runs() > marks[1] + 1, {
            timeout: 30_000,
          })
          .toBe(true)
        throughDuringProof = true
      }
    })
  }
  await reader.stop()
  await writer.stop()
  return { scans, throughDuringProof }
}

test('the parent lock around ATTACH does not grow with the default partition (0 vs 200,000 rows): the default is read under SHARE UPDATE EXCLUSIVE only, as writes go on', async () => {
  const empty = await attachNextTo(0)
  const large = await attachNextTo(200_000)
  // Proven beforehand, outside the lock: validated while reads and writes go on.
  expect(large.plan.some((s) => s.includes('validate constraint sluice_default_excludes'))).toBe(
    true,
  )
  expect(empty.plan.some((s) => s.includes('sluice_default_excludes'))).toBe(false)
  // What the server saw of the runs: no session waited behind the runner's ACCESS EXCLUSIVE
  // on the parent for longer than lock_timeout, with an empty default or a large one.
  expect([...empty.longWaits, ...large.longWaits]).toEqual([])
  // And of the next run's statements, as the runner groups them: the one that reads the
  // whole default holds SHARE UPDATE EXCLUSIVE on it and nothing on the parent, which
  // neither the reader nor the writer waits for; the switch does not scan the default.
  const next = await switchAndProof(large.db, large.url, new Date('2027-01-15T00:00:00Z'))
  expect(next.throughDuringProof).toBe(true)
  expect(next.scans).toBe(0)
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
  const { db, url, directUrl, open } = await freshDatabase()
  await sql`create table users (id int primary key)`.execute(db)
  await sql`insert into users values (1), (2)`.execute(db)
  await sql`create table orders (id bigint, user_id int references users, at timestamptz not null)
    partition by range (at)`.execute(db)
  await sql`create table orders_default partition of orders default`.execute(db)
  const orders = monthly('orders')
  await runMaintenance(db, [orders], { now: NOVEMBER })
  // A long transaction writing users holds ROW EXCLUSIVE, which ATTACH's key clone waits for.
  const long = await connectClient(url, 'long')
  await long.query('begin')
  await long.query('insert into users values (3)')
  const writer = await probe(url, 'writer', `insert into orders values (1, 1, '2026-12-10')`)
  // What the writer's inserts lock (the new partition, not attached yet, is maintenance's own).
  const WRITTEN = ['orders', 'orders_p20261201']
  const watcher = await watchLocks(directUrl)
  const runner = open({ DB_APPLICATION_NAME: 'maintenance' })
  const running = runMaintenance(runner, [orders], {
    now: DECEMBER,
    lockTimeoutMs: 200,
    attempts: 3,
    retryDelayMs: 50,
  })
  // The server's view while maintenance waits behind the long writer of users: what it
  // holds on the parent then (nothing a write waits for), and who waits behind it (nobody).
  const watching = await connectClient(directUrl, 'watcher')
  let waiting: LockRow[] = []
  await expect
    .poll(
      async () => {
        waiting = await lockSnapshot(watching)
        return waiting.some(
          (l) => l.app === 'maintenance' && !l.granted && l.behind.includes('long'),
        )
      },
      { timeout: 30_000, interval: 10 },
    )
    .toBe(true)
  expect(waiting.filter((l) => l.app === 'maintenance' && !l.granted)).toEqual([
    expect.objectContaining({ relation: 'users', behind: ['long'] }),
  ])
  expect(
    waiting.filter(
      (l) =>
        l.app === 'maintenance' && WRITTEN.includes(l.relation) && BLOCKS_WRITES.includes(l.mode),
    ),
  ).toEqual([])
  const result = await running
  const samples = await watcher.stop()
  const inserts = await writer.stop()
  expect(result.created).toEqual([])
  expect(result.errors).toHaveLength(1)
  expect(result.errors[0]?.error).toBeInstanceOf(PartitionError)
  expect(result.errors[0]?.error).toMatchObject({ code: 'PARTITION_LOCK_TIMEOUT' })
  // Waiting on users never held the parent: in no snapshot of the whole run did the writer
  // of orders wait behind maintenance, nor did maintenance hold a lock on orders that blocks
  // writes, while the writer's inserts went on.
  expect(samples.flat().filter((l) => l.behind.includes('maintenance'))).toEqual([])
  expect(
    samples
      .flat()
      .filter(
        (l) =>
          l.app === 'maintenance' &&
          l.granted &&
          WRITTEN.includes(l.relation) &&
          BLOCKS_WRITES.includes(l.mode),
      ),
  ).toEqual([])
  expect(inserts).toBeGreaterThan(0)
  await long.query('commit')
  const later = await runMaintenance(db, [orders], { now: DECEMBER, lockTimeoutMs: 200 })
  expect(later.errors).toEqual([])
  expect(later.created).toEqual(['orders_p20270101'])
  await sql`insert into orders values (2, 2, '2027-01-10')`.execute(db)
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from pg_constraint where conrelid = 'orders_p20270101'::regclass and contype = 'f'`.execute(
    db,
  )
  expect(rows).toEqual([{ n: 1 }])
})
