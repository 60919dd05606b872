import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  type DB,
  routeRecorder,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'

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
    const database = testRoutedDatabase<DB>(servers.config({ DB_STATEMENT_TIMEOUT: '1s' }), {
      instrumentation: recorder,
    })
    await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
    await database.db.insertInto('items').values({ name: 'a' }).execute()
    await servers.cluster.waitForReplay()
    const replica = servers.cluster.replicas[0]
    if (!replica) throw new Error('the cluster has no replica')
    const holder = new pg.Client({ connectionString: replica.directUrl() })
    await holder.connect()
    const failures: string[] = []
    try {
      await holder.query('begin')
      await holder.query('select count(*) from items') // AccessShareLock held on replica-1
      await servers.cluster.primary.query('alter table items add column extra int')
      // Replay on replica-1 queues behind the holder for AccessExclusiveLock.
      await waitFor(async () => {
        const { rows } = await holder.query(
          `select count(*)::int as n from pg_locks where relation = 'items'::regclass and not granted`,
        )
        return rows[0].n > 0
      })
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
      await holder.query('rollback')
      await holder.end()
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
})
