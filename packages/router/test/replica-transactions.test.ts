import type { ReplicaServer } from '@sluice/testing'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { RoutedDatabase } from '../src/index.js'
import {
  type DB,
  preferring,
  routeRecorder,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'

interface Migrated extends DB {
  migrated: { id: number }
}

const port = sql<number>`inet_server_port()`.as('port')
const sleep = sql`pg_sleep(1.2)`.as('slept')

/** The outcome of `work`, handled at once (a rejection is never unhandled while the test waits). */
function settle<T>(work: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return work.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  )
}

// A read-only transaction on a replica whose first statement fails there for a reason of that
// replica's own has run nothing and handed out nothing: it begins again elsewhere. It used to
// fail (only a refused connection or BEGIN moved it).
describe.each(VIAS)("read-only transactions with readOnlyTransactions: 'replica' (%s)", (via) => {
  let servers: TestCluster
  let database: RoutedDatabase<DB>
  let recorder: ReturnType<typeof routeRecorder>
  let replica: ReplicaServer

  /** Open transactions on replica-1 (a connection left there with its BEGIN). */
  const openOnReplica = async () => {
    const rows = await replica.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where state like 'idle in transaction%' and pid <> pg_backend_pid()",
    )
    return rows[0]?.n ?? 0
  }

  /** Terminates replica-1's backend that runs {@link sleep}, once it does. */
  const terminateSleeper = async () => {
    const running = "query like '%pg_sleep(1.2)%' and state = 'active' and pid <> pg_backend_pid()"
    await waitFor(async () => {
      const rows = await replica.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where ${running}`,
      )
      return (rows[0]?.n ?? 0) > 0
    })
    await replica.query(`select pg_terminate_backend(pid) from pg_stat_activity where ${running}`)
  }

  beforeAll(async () => {
    servers = await startTestCluster(via)
    replica = servers.cluster.replicas[0] as ReplicaServer
    recorder = routeRecorder()
    database = testRoutedDatabase<DB>(servers.config(), {
      readOnlyTransactions: 'replica',
      strategy: preferring('replica-1'),
      lagCheckIntervalMs: 100,
      // However long replay stays paused, the replicas stay within the lag bounds.
      maxLagMs: '1h',
      instrumentation: recorder,
    })
    await waitFor(async () => database.replicas().every((state) => state.status === 'up'))
  })

  afterAll(async () => {
    await database?.close()
    await servers?.stop()
  })

  test('a first statement naming a table replica-1 has not replayed (42P01) begins again on the primary', async () => {
    await replica.pauseReplay()
    try {
      await servers.cluster.primary.query(
        'create table migrated (id int); insert into migrated values (1)',
      )
      const db = database.db as unknown as Kysely<Migrated>
      recorder.events.length = 0
      const [first, second] = await db
        .transaction()
        .setAccessMode('read only')
        .execute(async (trx) => [
          await trx.selectFrom('migrated').select(['id', port]).executeTakeFirstOrThrow(),
          await trx.selectFrom('migrated').select(['id', port]).executeTakeFirstOrThrow(),
        ])
      expect([first, second].map((row) => [row.id, servers.labelOf(row.port)])).toEqual([
        [1, 'primary'],
        [1, 'primary'],
      ])
      expect(recorder.events.map(({ target, reason }) => `${target} ${reason}`)).toEqual([
        'replica-1 read-only-transaction',
        'primary retry',
      ])
      expect(recorder.events[1]?.error).toMatchObject({ code: '42P01' })
      // A stream as the first statement, the same.
      const streamed = await db
        .transaction()
        .setAccessMode('read only')
        .execute(async (trx) => {
          const rows: { port: number }[] = []
          for await (const row of trx.selectFrom('migrated').select(port).stream(10)) rows.push(row)
          return rows.map((row) => servers.labelOf(row.port))
        })
      expect(streamed).toEqual(['primary'])
      // The transactions left on replica-1 were closed with their connections.
      await waitFor(async () => (await openOnReplica()) === 0, {
        what: 'no transaction open on replica-1',
      })
    } finally {
      await replica.resumeReplay()
      await servers.cluster.waitForReplay()
    }
  })

  test('a first statement whose backend replica-1 terminates (57P01) begins again on replica-2', async () => {
    recorder.events.length = 0
    const transaction = settle(
      database.db
        .transaction()
        .setAccessMode('read only')
        .execute(async (trx) => {
          const first = await trx.selectNoFrom([port, sleep]).executeTakeFirstOrThrow()
          const second = await trx.selectNoFrom(port).executeTakeFirstOrThrow()
          return [first.port, second.port].map(servers.labelOf)
        }),
    )
    await terminateSleeper()
    expect(await transaction).toEqual({ value: ['replica-2', 'replica-2'] })
    expect(recorder.events.map(({ target, reason }) => `${target} ${reason}`)).toEqual([
      'replica-1 read-only-transaction',
      'replica-2 retry',
    ])
  })

  test('a statement that fails after another ran is the caller’s: never run again elsewhere', async () => {
    recorder.events.length = 0
    const transaction = settle(
      database.db
        .transaction()
        .setAccessMode('read only')
        .execute(async (trx) => {
          await trx.selectNoFrom(port).executeTakeFirstOrThrow()
          await trx.selectNoFrom([port, sleep]).executeTakeFirstOrThrow()
        }),
    )
    await terminateSleeper()
    expect(await transaction).toEqual({
      error: expect.objectContaining({ code: 'CONNECTION_LOST' }),
    })
    expect(recorder.events.map(({ target, reason }) => `${target} ${reason}`)).toEqual([
      'replica-1 read-only-transaction',
    ])
  })
})
