import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { RoutedDatabase } from '../src/index.js'
import {
  busyBackends,
  type DB,
  preferring,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'

const APPLICATION = 'early-exit-test'
// Long enough for a consumer that pulls without pause on a loaded machine.
const STREAM_IDLE_TIMEOUT = '2s'

// Every way a consumer can leave a stream early.
const EXITS = {
  break: async (rows: AsyncIterable<unknown>) => {
    for await (const _ of rows) break
  },
  throw: async (rows: AsyncIterable<unknown>) => {
    await expect(
      (async () => {
        for await (const _ of rows) throw new Error('consumer gave up')
      })(),
    ).rejects.toThrow('consumer gave up')
  },
  return: async (rows: AsyncIterable<unknown>) => {
    const iterator = rows[Symbol.asyncIterator]()
    await iterator.next()
    await iterator.return?.()
  },
} as const

describe.each(VIAS)('leaving a stream early (%s)', (via) => {
  let servers: TestCluster
  let database: RoutedDatabase<DB>

  beforeAll(async () => {
    servers = await startTestCluster(via)
    await servers.cluster.primary.query(
      "insert into items (name) select 'row ' || n from generate_series(1, 5000) n",
    )
    await servers.cluster.waitForReplay()
    // One connection per pool: a client handed back mid-portal would jam the next read.
    database = testRoutedDatabase<DB>(
      servers.config({
        DB_POOL_SIZE: '1',
        DB_POOL_TIMEOUT: '2s',
        DB_APPLICATION_NAME: APPLICATION,
      }),
      {
        lagCheckIntervalMs: 100,
        strategy: preferring('replica-1'),
        streamIdleTimeoutMs: STREAM_IDLE_TIMEOUT,
      },
    )
    await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
  })

  afterAll(async () => {
    await database?.close()
    await servers?.stop()
  })

  test.each(Object.keys(EXITS) as (keyof typeof EXITS)[])(
    '%s in the first chunk closes the portal and frees the replica',
    async (exit) => {
      const replica = servers.cluster.replicas[0] as TestCluster['cluster']['primary']
      await EXITS[exit](database.db.selectFrom('items').selectAll().stream(100))
      // The server saw the portal closed: no backend of ours is left running on the replica.
      await waitFor(async () => (await busyBackends(replica, APPLICATION)) === 0, {
        what: 'the replica backend to go idle',
      })
      expect(database.replicas().map((state) => state.inFlight)).toEqual([0, 0])
      // The one pooled connection is usable at once (no wait for the pool timeout), still on the
      // replica the strategy prefers: its in-flight count did not make it shunned.
      for (let read = 0; read < 5; read++) {
        expect(servers.labelOf(await readPort(database.db))).toBe('replica-1')
      }
      // A stream that ends early with rows still unread leaves the next stream whole.
      const rows: unknown[] = []
      for await (const row of database.db.selectFrom('items').select('id').stream(1000)) {
        rows.push(row)
      }
      expect(rows).toHaveLength(5000)
    },
  )

  test.each(Object.keys(EXITS) as (keyof typeof EXITS)[])(
    'a streamed write left by %s still records its token',
    async (exit) => {
      await database.session(async () => {
        const name = `streamed ${exit} ${via}`
        await EXITS[exit](
          database.db
            .insertInto('items')
            .values([{ name }, { name }, { name }])
            .returning('id')
            .stream(1),
        )
        expect(database.consistencyToken()).toMatch(/^v1\./)
        const found = await database.db
          .selectFrom('items')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('name', '=', name)
          .executeTakeFirstOrThrow()
        expect(Number(found.n)).toBe(3)
      })
    },
  )

  test('a stream left open when its db.connection() callback returns is closed with the connection', async () => {
    const replica = servers.cluster.replicas[0] as TestCluster['cluster']['primary']
    await database.db.connection().execute(async (connection) => {
      const rows = connection.selectFrom('items').selectAll().stream(100)[Symbol.asyncIterator]()
      await rows.next() // and never again, nor return(): Kysely releases the connection now
    })
    // Not handed back to the pool mid-portal: the connection is closed, the backend with it.
    await waitFor(async () => (await busyBackends(replica, APPLICATION)) === 0, {
      what: 'the replica backend to go away',
    })
    expect(database.replicas().map((state) => state.inFlight)).toEqual([0, 0])
    for (let read = 0; read < 5; read++) {
      expect(servers.labelOf(await readPort(database.db))).toBe('replica-1')
    }
  })

  test('a stream whose consumer stops pulling without return() is closed after its idle timeout', async () => {
    const replica = servers.cluster.replicas[0] as TestCluster['cluster']['primary']
    // One row a chunk: the next() after the close asks for a chunk (not one already fetched).
    const rows = database.db.selectFrom('items').selectAll().stream(1)[Symbol.asyncIterator]()
    await rows.next() // and then dropped: no next(), no return()
    // The server saw the connection go: no backend of ours is left running on the replica.
    await waitFor(async () => (await busyBackends(replica, APPLICATION)) === 0, {
      what: 'the replica backend to go away',
    })
    expect(database.replicas().map((state) => state.inFlight)).toEqual([0, 0])
    // The pool's one connection was given back (destroyed, not reused mid-portal).
    for (let read = 0; read < 5; read++) {
      expect(servers.labelOf(await readPort(database.db))).toBe('replica-1')
    }
    await expect(rows.next()).rejects.toMatchObject({ code: 'STREAM_IDLE_TIMEOUT' })
  })

  test('a consumer that stops after several chunks is closed after its idle timeout too', async () => {
    const replica = servers.cluster.replicas[0] as TestCluster['cluster']['primary']
    const rows = database.db.selectFrom('items').selectAll().stream(1)[Symbol.asyncIterator]()
    // Each chunk re-arms the idle deadline, not only the first one.
    for (let chunk = 0; chunk < 3; chunk++) await rows.next()
    await waitFor(async () => (await busyBackends(replica, APPLICATION)) === 0, {
      what: 'the replica backend to go away',
    })
    expect(database.replicas().map((state) => state.inFlight)).toEqual([0, 0])
    await expect(rows.next()).rejects.toMatchObject({ code: 'STREAM_IDLE_TIMEOUT' })
  })

  test('a transaction whose stream passed its idle timeout fails with STREAM_IDLE_TIMEOUT, not committed', async () => {
    const { primary } = servers.cluster
    const name = `idle in a transaction (${via})`
    const outcome = database.db.transaction().execute(async (trx) => {
      await trx.insertInto('items').values({ name }).execute()
      const rows = trx.selectFrom('items').selectAll().stream(1)[Symbol.asyncIterator]()
      await rows.next() // and then dropped until its idle deadline destroys the connection
      await waitFor(async () => (await busyBackends(primary, APPLICATION)) === 0, {
        what: 'the primary backend to go away',
      })
    })
    await expect(outcome).rejects.toMatchObject({ code: 'STREAM_IDLE_TIMEOUT' })
    const committed = await primary.query<{ n: number }>(
      'select count(*)::int as n from items where name = $1',
      [name],
    )
    expect(committed[0]?.n).toBe(0)
  })

  test('a stream left open when its transaction callback returns is closed before COMMIT', async () => {
    const { primary } = servers.cluster
    const name = `left open in a transaction (${via})`
    let rows: AsyncIterator<unknown> | undefined
    await database.db.transaction().execute(async (trx) => {
      await trx.insertInto('items').values({ name }).execute()
      rows = trx.selectFrom('items').selectAll().stream(1)[Symbol.asyncIterator]()
      await rows.next() // and never again: COMMIT would wait behind the open portal
    })
    const committed = await primary.query<{ n: number }>(
      'select count(*)::int as n from items where name = $1',
      [name],
    )
    expect(committed[0]?.n).toBe(1)
    // Nothing of ours is left running or idle in a transaction on the primary.
    expect(await busyBackends(primary, APPLICATION)).toBe(0)
    await expect(rows?.next()).rejects.toMatchObject({ code: 'STREAM_CLOSED' })
  })
})
