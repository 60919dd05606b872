import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  type DB,
  preferring,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'

/** Every pool of `database` has all its connections back (none checked out). */
async function allIdle(database: {
  health(): Promise<{ targets: readonly { pool?: { total: number; idle: number } }[] }>
}) {
  const { targets } = await database.health()
  return targets.every(({ pool }) => pool === undefined || pool.total === pool.idle)
}

describe.each(VIAS)('a connection Kysely releases with statements under way (%s)', (via) => {
  let servers: TestCluster

  beforeAll(async () => {
    servers = await startTestCluster(via)
  })

  afterAll(async () => {
    await servers?.stop()
  })

  test('a read still waiting for its server does not take over the next request’s transaction', async () => {
    // One pooled connection per server, so the read below waits for replica-1's.
    const database = testRoutedDatabase<DB>(
      servers.config({ DB_POOL_SIZE: '1', DB_POOL_TIMEOUT: '10s' }),
      { strategy: preferring('replica-1') },
    )
    await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
    let open = () => {}
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    let holding = () => {}
    const held = new Promise<void>((resolve) => {
      holding = resolve
    })
    // Holds replica-1's only pooled connection until the gate opens.
    const blocker = database.db.connection().execute(async (connection) => {
      await connection.selectFrom('items').select('id').execute()
      holding()
      await gate
    })
    await held
    let orphan: Promise<string> = Promise.resolve('not started')
    // A cancelled request: its callback ends while its read still waits for a server.
    await database.db.connection().execute(async (connection) => {
      orphan = connection
        .selectFrom('items')
        .select('id')
        .execute()
        .then(
          () => 'answered',
          (error: Error) => `failed: ${error.message}`,
        )
      await waitFor(() => (database.replicas()[0]?.inFlight ?? 0) > 0)
    })
    // The next request's transaction; the orphaned read gets its server in the middle of it.
    const outcome = await database.db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('items').values({ name: 'released-first' }).execute()
        open()
        await blocker
        await orphan
        await trx.insertInto('items').values({ name: 'released-second' }).execute()
        return 'committed'
      })
      .catch((error: Error) => `failed: ${error.message}`)
    expect(outcome).toBe('committed')
    expect(await orphan).toBe('answered')
    const rows = await servers.cluster.primary.query<{ name: string }>(
      "select name from items where name like 'released-%' order by name",
    )
    expect(rows.map((row) => row.name)).toEqual(['released-first', 'released-second'])
    const open_ = await servers.cluster.primary.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where state like 'idle in transaction%'",
    )
    expect(open_[0]?.n).toBe(0)
    await waitFor(() => allIdle(database), { what: 'every pooled connection to be back' })
    await database.close()
  })

  test('callbacks that end with statements under way leave no pooled connection checked out', async () => {
    const database = testRoutedDatabase<DB>(servers.config({ DB_POOL_SIZE: '3' }))
    await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
    const failures: string[] = []
    const fail = (error: Error) => {
      failures.push(error.message)
    }
    for (let round = 0; round < 30; round++) {
      await Promise.all([
        database.db
          .connection()
          .execute(async (connection) => {
            void connection
              .selectFrom('items')
              .select(sql<string>`pg_sleep(0.02)::text`.as('slept'))
              .limit(1)
              .execute()
              .catch(fail)
            throw new Error('request cancelled')
          })
          .catch(() => undefined),
        database.db.transaction().execute(async (trx) => {
          await trx.insertInto('items').values({ name: 'cancelled-round' }).execute()
          await trx.selectFrom('items').select('id').limit(1).execute()
        }),
        database.db.selectFrom('items').select('id').limit(1).execute(),
      ])
    }
    expect(failures).toEqual([])
    await waitFor(() => allIdle(database), { what: 'every pooled connection to be back' })
    await database.close()
  })
})
