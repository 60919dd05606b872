import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  countReads,
  type DB,
  routeRecorder,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'

/**
 * Holds `items` on replica-1 (a read in an open transaction) while the primary alters it with
 * `alteration`, and returns once replica-1's replay queues behind that read for its
 * AccessExclusiveLock.
 */
async function holdTable(
  servers: TestCluster,
  alteration: string,
): Promise<{ release(): Promise<void> }> {
  const replica = servers.cluster.replicas[0]
  if (!replica) throw new Error('the cluster has no replica')
  const holder = new pg.Client({ connectionString: replica.directUrl() })
  // Past max_standby_streaming_delay (30 s) replay cancels the holder's session.
  holder.on('error', () => undefined)
  await holder.connect()
  await holder.query('begin')
  await holder.query('select count(*) from items') // AccessShareLock held on the replica
  await servers.cluster.primary.query(`alter table items ${alteration}`)
  await waitFor(async () => {
    const { rows } = await holder.query(
      `select count(*)::int as n from pg_locks where relation = 'items'::regclass and not granted`,
    )
    return rows[0].n > 0
  })
  return {
    release: async () => {
      await holder.query('rollback')
      await holder.end()
    },
  }
}

describe.each(VIAS)('a replica whose replay waits for a lock (%s)', (via) => {
  let servers: TestCluster

  beforeAll(async () => {
    servers = await startTestCluster(via)
  })

  afterAll(async () => {
    await servers?.stop()
  })

  test('fails no read: a statement timeout there is retried once, on the primary', async () => {
    const recorder = routeRecorder()
    // No check after the first: the monitor would hold replica-1 back once it saw replay
    // waiting (the next test), and this one is about the reads that reach it before that.
    const database = testRoutedDatabase<DB>(servers.config({ DB_STATEMENT_TIMEOUT: '1s' }), {
      instrumentation: recorder,
      lagCheckIntervalMs: '1h',
    })
    await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
    await database.db.insertInto('items').values({ name: 'a' }).execute()
    await servers.cluster.waitForReplay()
    const holder = await holdTable(servers, 'add column extra int')
    const failures: string[] = []
    try {
      const until = performance.now() + 3000
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (performance.now() < until) {
            await database.db
              .selectFrom('items')
              .select('id')
              .execute()
              .catch((error) => failures.push(`${error.code}: ${error.message}`))
          }
        }),
      )
    } finally {
      await holder.release()
      await database.close()
    }
    expect(failures).toEqual([])
    // The reads that queued on replica-1 timed out there and were answered by the primary.
    const retried = recorder.events.filter(
      (event) => event.target === 'primary' && event.reason === 'retry',
    )
    expect(retried.length).toBeGreaterThan(0)
    for (const event of retried) {
      expect(['STATEMENT_TIMEOUT', 'DEADLINE_EXCEEDED']).toContain(
        (event.error as { code?: string }).code,
      )
    }
  })

  // Every new read of the table there queues behind replay for up to
  // max_standby_streaming_delay, while neither lag bound need be crossed (the primary wrote
  // nothing since): the monitor holds such a replica back as lagging until replay moves on.
  test('is lagging while replay waits, and up again once it has the lock', async () => {
    const database = testRoutedDatabase<DB>(servers.config(), {
      lagCheckIntervalMs: 100,
      maxLagMs: '1h',
    })
    await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
    const holder = await holdTable(servers, 'add column held int')
    const status = () => database.replicas().find((state) => state.label === 'replica-1')?.status
    try {
      // Well within max_standby_streaming_delay, after which replay would cancel the holder.
      await waitFor(async () => status() === 'lagging', {
        what: 'replica-1 lagging',
        timeoutMs: 10_000,
      })
      const counts = await countReads(database.db, servers.labelOf, 20)
      expect(counts).toEqual({ 'replica-2': 20 })
    } finally {
      await holder.release()
    }
    try {
      await waitFor(async () => status() === 'up', { what: 'replica-1 up again' })
    } finally {
      await database.close()
    }
  })
})
