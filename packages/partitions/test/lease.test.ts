import { type Kysely, sql } from 'kysely'
import { expect, test } from 'vitest'
import { runMaintenance } from '../src/index.js'
import { connectClient, freshDatabase, rowsByPartition } from './helpers.js'
import { DECEMBER, notes, notesWithWaitingRows } from './workloads/waiting-notes.js'

// Found by the breaker (session 8): a runner whose lease expired mid-step (paused, or
// retrying, past leaseMs) went on with the step after another runner had taken the table,
// moved the rows and attached the partition: its copy's `truncate` then emptied the attached
// partition (200 of 200 rows gone). Now every transaction of a step checks the lease last.

const count = async (db: Kysely<unknown>, query: string) =>
  (await sql<{ n: number }>`select count(*)::int as n from (${sql.raw(query)}) q`.execute(db))
    .rows[0]?.n

test('a runner that lost its lease mid-move changes nothing: the runner that took over keeps every row', async () => {
  const { db, url, open } = await freshDatabase()
  // Runner A's own pool of one connection: the test takes it between two of A's transactions.
  const runnerA = open({ DB_POOL_SIZE: '1', DB_POOL_TIMEOUT: '120s' })
  await notesWithWaitingRows(db)
  // A writer on the default makes A's recorder (CREATE TRIGGER) wait...
  const writer = await connectClient(url)
  await writer.query('begin')
  await writer.query('lock table notes_default in row exclusive mode')
  const first = runMaintenance(runnerA, [notes], {
    now: DECEMBER,
    leaseMs: 1000,
    lockTimeoutMs: 60_000,
  })
  await expect
    .poll(
      () =>
        count(
          db,
          `select from pg_locks where relation = 'notes_default'::regclass and not granted`,
        ),
      { timeout: 30_000, interval: 20 },
    )
    .toBe(1)
  // ...while the test queues for A's only connection: it gets it when the recorder commits,
  // and holds A between its recorder and its copy until A's lease has expired.
  let resume = () => {}
  const paused = new Promise<void>((resolve) => {
    resume = resolve
  })
  let onHold = () => {}
  const holding = new Promise<void>((resolve) => {
    onHold = resolve
  })
  const hold = runnerA.connection().execute(async () => {
    onHold()
    await paused
  })
  await writer.query('commit')
  await holding
  expect(await count(db, `select from pg_trigger where tgname = 'sluice_move_capture'`)).toBe(1)
  await expect
    .poll(
      () =>
        count(
          db,
          `select from sluice_partitions.tables where table_name = 'notes' and lease_until < clock_timestamp()`,
        ),
      { timeout: 30_000, interval: 50 },
    )
    .toBe(1)
  // B takes the expired lease and does the whole move.
  const second = await runMaintenance(db, [notes], { now: DECEMBER })
  expect(second).toMatchObject({ errors: [], created: ['notes_p20270101'], movedRows: 200 })
  resume()
  await hold
  const late = await first
  expect(await rowsByPartition(db, 'notes')).toEqual([{ partition: 'notes_p20270101', rows: 200 }])
  expect(await count(db, `select from notes where body = 'seed ' || id`)).toBe(200)
  expect(late.errors.map((e) => (e.error as { code?: string }).code)).toEqual(['PARTITION_BUSY'])
  expect(late.movedRows).toBe(0)
  // A's failed step cleaned nothing up of B's (B had finished): no recorder, nothing logged.
  expect(await count(db, `select from pg_trigger where tgname = 'sluice_move_capture'`)).toBe(0)
  expect(await count(db, `select from sluice_partitions.moves`)).toBe(0)
})
