import { waitFor } from '@sluice/testing'
import { recordChannel, recordHookWarnings } from '@sluice/testing/observability'
import { sql } from 'kysely'
import { afterEach, expect, test } from 'vitest'
import {
  createPartitionedTable,
  definePartitions,
  type MaintenanceEvent,
  maintenanceStatus,
  partitionChannels,
  runMaintenance,
  startMaintenance,
} from '../src/index.js'
import { bounds, freshDatabase } from './helpers.js'

// Maintenance keeps its promise when what surrounds it misbehaves: hooks that throw, a lock
// held on the default partition, odd session settings.
const NOVEMBER = new Date('2026-11-22T00:00:00Z')
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => unhandled.push(reason)
process.on('unhandledRejection', onUnhandled)
afterEach(() => {
  expect(unhandled.splice(0)).toEqual([])
})

const monthly = (table: string, defaultPartition = false) =>
  definePartitions({ table, column: 'at', interval: 'month', premake: 1, defaultPartition })

async function createTable(table: string, defaultPartition = false) {
  const { db } = await freshDatabase()
  const spec = monthly(table, defaultPartition)
  await createPartitionedTable(
    db,
    spec,
    (t) => t.addColumn('at', 'timestamptz', (c) => c.notNull()),
    { now: NOVEMBER },
  )
  return { db, spec }
}

test('a hook that throws neither stops the schedule nor fails a step that waits on a lock', async () => {
  const { db, spec } = await createTable('hooked')
  const warnings = recordHookWarnings()
  const events: string[] = []
  const instrumentation = {
    onMaintenance(event: { kind: string }) {
      events.push(event.kind)
      throw new Error(`broken ${event.kind} hook`)
    },
  }
  // A report holds the parent in SHARE mode: the ATTACH of January waits, is retried (the
  // hook throws on the retry event), and goes ahead once the report ends.
  let release = () => {}
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  const report = db.transaction().execute(async (trx) => {
    await sql`lock table hooked in share mode`.execute(trx)
    await released
  })
  await waitFor(
    async () => {
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from pg_locks l join pg_class c on c.oid = l.relation
        where c.relname = 'hooked' and l.mode = 'ShareLock' and l.granted`.execute(db)
      return rows[0]?.n === 1
    },
    { what: 'the report lock' },
  )
  const run = runMaintenance(db, [spec], {
    now: new Date('2026-12-10T00:00:00Z'),
    lockTimeoutMs: 50,
    retryDelayMs: 20,
    instrumentation,
  })
  await waitFor(() => events.includes('retry'), { what: 'a retry event' })
  release()
  await report
  const result = await run
  expect(result).toMatchObject({ created: ['hooked_p20270101'], errors: [] })
  expect(events.at(-1)).toBe('run')

  // Every run's hook throws: the schedule keeps running (three more runs).
  const schedule = startMaintenance(db, [spec], { intervalMs: 10, instrumentation })
  const before = events.length
  await waitFor(() => events.length >= before + 3, { what: 'three scheduled runs' })
  await schedule.stop()
  const [status] = await maintenanceStatus(db)
  expect(status).toMatchObject({ table: 'public.hooked', lastError: null, runner: null })
  // Thrown on every event, reported once.
  await waitFor(() => warnings.items.length > 0, { what: 'the hook warning' })
  warnings.stop()
  expect(warnings.items).toEqual([expect.stringContaining('onMaintenance threw Error')])
})

test('maintenance runs are published on the partitions channel, with no hook given', async () => {
  const { db, spec } = await createTable('published')
  const runs = recordChannel<MaintenanceEvent>(partitionChannels.onMaintenance)
  try {
    await runMaintenance(db, [spec], { now: new Date('2026-12-10T00:00:00Z') })
  } finally {
    runs.stop()
  }
  const names = (await bounds(db, 'published')).map((partition) => partition.name)
  expect(names).toContain('published_p20270101')
  expect(runs.items).toEqual([
    { kind: 'run', result: expect.objectContaining({ created: ['published_p20270101'] }) },
  ])
})

test('a lock held on the default partition bounds planning by lock_timeout', async () => {
  const { db, spec } = await createTable('locked', true)
  // A VACUUM FULL or a migration keeps the default locked (until cancelled), on its own connection.
  const { result, tookMs } = await db.connection().execute(async (holder) => {
    await sql`begin`.execute(holder)
    await sql`lock table locked_default in access exclusive mode`.execute(holder)
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(holder)
    const held = sql`select pg_sleep(60)`.execute(holder).catch((error: unknown) => error)
    const started = performance.now()
    const result = await runMaintenance(db, [spec], {
      now: new Date('2027-01-10T00:00:00Z'),
      lockTimeoutMs: 100,
    })
    const tookMs = performance.now() - started
    await sql`select pg_cancel_backend(${rows[0]?.pid}::int)`.execute(db)
    console.log(
      `maintenance behind a locked default returned after ${Math.round(tookMs)} ms`,
      result.errors,
    )
    expect(await held).toBeInstanceOf(Error) // cancelled
    await sql`rollback`.execute(holder)
    return { result, tookMs }
  })
  expect(tookMs).toBeLessThan(15_000) // the holder keeps the lock until cancelled (30 s statement_timeout)
  expect(result.errors).toMatchObject([
    { table: 'public.locked', error: { code: 'PARTITION_LOCK_TIMEOUT' } },
  ])
  const [status] = await maintenanceStatus(db)
  expect(status?.lastError).toMatch(/lock_timeout/)
  // The next run, the lock gone, creates what is missing.
  expect(await runMaintenance(db, [spec], { now: new Date('2027-01-10T00:00:00Z') })).toMatchObject(
    { created: ['locked_p20270101', 'locked_p20270201'], errors: [] },
  )
})

test('a session with DateStyle SQL and TimeZone Asia/Kolkata reads the bounds right', async () => {
  const { db, spec } = await createTable('styled')
  // One connection with the settings an application may give its sessions: DateStyle SQL
  // prints bounds as '01/11/2026 05:30:00 IST', and IST reads back as Israel's +02.
  const result = await db.connection().execute(async (connection) => {
    await sql`set datestyle = 'SQL, DMY'`.execute(connection)
    await sql`set timezone = 'Asia/Kolkata'`.execute(connection)
    try {
      return await runMaintenance(connection, [spec], { now: new Date('2026-12-10T00:00:00Z') })
    } finally {
      await sql`reset datestyle`.execute(connection)
      await sql`reset timezone`.execute(connection)
    }
  })
  expect(result).toMatchObject({ created: ['styled_p20270101'], errors: [] })
  expect((await bounds(db, 'styled')).map((b) => b.name)).toEqual([
    'styled_p20261101',
    'styled_p20261201',
    'styled_p20270101',
  ])
})
