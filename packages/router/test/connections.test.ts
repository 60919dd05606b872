import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { RoutedDatabase } from '../src/index.js'
import {
  type DB,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
} from './helpers.js'

const port = sql<number>`inet_server_port()`.as('port')

describe.each(VIAS)('transactions, connections and streams (%s)', (via) => {
  let servers: TestCluster
  let database: RoutedDatabase<DB>
  let replicaTransactions: RoutedDatabase<DB>

  beforeAll(async () => {
    servers = await startTestCluster(via)
    database = testRoutedDatabase<DB>(servers.config(), { lagCheckIntervalMs: 100 })
    replicaTransactions = testRoutedDatabase<DB>(servers.config(), {
      lagCheckIntervalMs: 100,
      readOnlyTransactions: 'replica',
    })
  })

  afterAll(async () => {
    await Promise.all([database?.close(), replicaTransactions?.close()])
    await servers?.stop()
  })

  const readOnlyTransactionPort = (db: RoutedDatabase<DB>['db']) =>
    db
      .transaction()
      .setAccessMode('read only')
      .execute(async (trx) => {
        const first = await trx.selectNoFrom(port).executeTakeFirstOrThrow()
        const second = await trx.selectNoFrom(port).executeTakeFirstOrThrow()
        expect(second.port).toBe(first.port) // one server for the whole transaction
        return first.port
      })

  test('READ ONLY transactions run on the primary unless replicas are allowed', async () => {
    expect(servers.labelOf(await readOnlyTransactionPort(database.db))).toBe('primary')
    expect(servers.labelOf(await readOnlyTransactionPort(replicaTransactions.db))).toMatch(
      /^replica-/,
    )
    // A write in a read-only transaction on a replica is refused by PostgreSQL, not rerouted.
    await expect(
      replicaTransactions.db
        .transaction()
        .setAccessMode('read only')
        .execute((trx) => trx.insertInto('items').values({ name: 'nope' }).execute()),
    ).rejects.toMatchObject({ code: '25006' })
  })

  test('savepoints and rollbacks work through the router, on the primary', async () => {
    const trx = await database.db.startTransaction().execute()
    await trx.insertInto('items').values({ name: 'kept' }).execute()
    const savepoint = await trx.savepoint('before').execute()
    await savepoint.insertInto('items').values({ name: 'rolled back' }).execute()
    await savepoint.rollbackToSavepoint('before').execute()
    const { port: trxPort } = await trx.selectNoFrom(port).executeTakeFirstOrThrow()
    await trx.commit().execute()
    expect(servers.labelOf(trxPort)).toBe('primary')
    const names = await database.primary
      .selectFrom('items')
      .select('name')
      .where('name', 'in', ['kept', 'rolled back'])
      .execute()
    expect(names.map((row) => row.name)).toEqual(['kept'])
  })

  test('inside db.connection(), reads after a write stay on the primary', async () => {
    const ports = await database.db.connection().execute(async (connection) => {
      const before = await readPort(connection)
      await connection.insertInto('items').values({ name: 'sticky' }).execute()
      const after = await readPort(connection)
      return [before, after]
    })
    expect(ports.map(servers.labelOf)).toEqual([expect.stringMatching(/^replica-/), 'primary'])
    // The connection object is handed out again; the next reads are not sticky.
    expect(servers.labelOf(await readPort(database.db))).toMatch(/^replica-/)
    const afterTransaction = await database.db.transaction().execute(async (trx) => {
      await trx.insertInto('items').values({ name: 'in a transaction' }).execute()
      return trx.selectNoFrom(port).executeTakeFirstOrThrow()
    })
    expect(servers.labelOf(afterTransaction.port)).toBe('primary')
    expect(servers.labelOf(await readPort(database.db))).toMatch(/^replica-/)
  })

  test('.stream() reads from a replica; a streamed write runs on the primary', async () => {
    const streamed: string[] = []
    for await (const row of database.db.selectNoFrom(port).stream()) {
      streamed.push(servers.labelOf(row.port))
    }
    expect(streamed).toEqual([expect.stringMatching(/^replica-/)])
    const written: string[] = []
    for await (const row of database.db
      .insertInto('items')
      .values({ name: 'streamed' })
      .returning(port)
      .stream()) {
      written.push(servers.labelOf(row.port))
    }
    expect(written).toEqual(['primary'])
  })

  test('after close(), every statement fails with DATABASE_CLOSED; close() is idempotent', async () => {
    const closing = testRoutedDatabase<DB>(servers.config())
    expect(servers.labelOf(await readPort(closing.db))).toMatch(/^replica-/)
    await Promise.all([closing.close(), closing.close()])
    await expect(readPort(closing.db)).rejects.toMatchObject({ code: 'DATABASE_CLOSED' })
    await expect(readPort(closing.primary)).rejects.toMatchObject({ code: 'DATABASE_CLOSED' })
  })

  test("afterCommit hears the primary's committed writes, in both db and primary", async () => {
    const committed: string[][] = []
    const tracked = testRoutedDatabase<DB>(servers.config(), {
      afterCommit: (tables) => {
        committed.push([...tables])
      },
    })
    try {
      await tracked.db.insertInto('items').values({ name: 'tracked' }).execute()
      await readPort(tracked.db) // a replica read: nothing to report
      await tracked.primary
        .transaction()
        .execute((trx) => trx.deleteFrom('items').where('name', '=', 'tracked').execute())
      const rolledBack = tracked.db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ name: 'undone' }).execute()
        throw new Error('undo')
      })
      await expect(rolledBack).rejects.toThrow('undo')
      expect(committed).toEqual([['items'], ['items']])
    } finally {
      await tracked.close()
    }
  })

  test('health() checks the primary and each replica', async () => {
    const report = await database.health()
    expect(report.status).toBe('up')
    expect(report.targets.map((t) => [t.target, t.role, t.status])).toEqual([
      ['primary', 'primary', 'up'],
      ['replica-1', 'replica', 'up'],
      ['replica-2', 'replica', 'up'],
    ])
  })
})
