import type { ReplicaServer } from '@sluice/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { RoutedDatabase } from '../src/index.js'
import {
  type DB,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'

const DELAY_MS = 3000

interface TagsDB extends DB {
  tags: { name: string }
}

describe.each(VIAS)('scopes and pinned connections (%s)', (via) => {
  let servers: TestCluster
  let database: RoutedDatabase<TagsDB>
  let other: RoutedDatabase<TagsDB>

  beforeAll(async () => {
    servers = await startTestCluster(via)
    await servers.cluster.primary.query('create table tags (name text primary key)')
    await servers.cluster.waitForReplay()
    // replica-1 replays at once, replica-2 DELAY_MS late: both stay eligible (maxLagMs).
    await (servers.cluster.replicas[1] as ReplicaServer).setApplyDelay(DELAY_MS)
    const options = { lagCheckIntervalMs: 100, maxLagMs: 60_000 }
    database = testRoutedDatabase<TagsDB>(servers.config(), options)
    other = testRoutedDatabase<TagsDB>(servers.config(), options)
    await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
  })

  afterAll(async () => {
    await Promise.all([database?.close(), other?.close()])
    await servers?.stop()
  })

  const seen = (db: Pick<RoutedDatabase<TagsDB>['db'], 'selectFrom'>, name: string) =>
    db
      .selectFrom('items')
      .select([sql<number>`inet_server_port()`.as('port'), sql<boolean>`count(*) > 0`.as('found')])
      .where('name', '=', name)
      .executeTakeFirstOrThrow()

  test('db.connection() runs every read on one server: time never goes backwards', async () => {
    for (let round = 0; round < 6; round++) {
      const name = `pinned ${via} ${round}`
      await database.primary.insertInto('items').values({ name }).execute()
      await waitFor(async () => {
        const rows = await servers.cluster.replicas[0]?.query(
          'select 1 from items where name = $1',
          [name],
        )
        return (rows?.length ?? 0) > 0
      })
      const reads = await database.db.connection().execute(async (connection) => {
        const results = []
        for (let read = 0; read < 10; read++) results.push(await seen(connection, name))
        return results
      })
      expect(new Set(reads.map((read) => read.port)).size).toBe(1)
      const firstSeen = reads.findIndex((read) => read.found)
      if (firstSeen >= 0) expect(reads.slice(firstSeen).every((read) => read.found)).toBe(true)
    }
  })

  test('a pinned connection inside a session moves forward to see the session’s later writes', async () => {
    await database.session(async () => {
      const name = `later write ${via}`
      await database.db.connection().execute(async (connection) => {
        await seen(connection, name) // pins a replica
        // A parallel branch of the same session writes, outside the connection.
        await Promise.all([
          database.db.insertInto('items').values({ name }).execute(),
          database.withConsistency({}, async () => {
            await database.db.selectFrom('items').select('id').limit(1).execute()
          }),
        ])
        expect((await seen(connection, name)).found).toBe(true)
        // Nested scopes inside the connection see it too.
        await database.withConsistency({ maxLagMs: 60_000 }, async () => {
          expect((await seen(connection, name)).found).toBe(true)
          expect((await seen(database.db, name)).found).toBe(true)
        })
      })
    })
  })

  test('a write that fails on the primary still moves the session token (23505)', async () => {
    const name = `taken ${via}`
    // Another instance wins the race; the replicas replay it DELAY_MS later (replica-2) or so.
    await other.primary.insertInto('tags').values({ name }).execute()
    await database.session(async () => {
      await expect(database.db.insertInto('tags').values({ name }).execute()).rejects.toMatchObject(
        { code: '23505' },
      )
      expect(database.consistencyToken()).toBeDefined()
      const row = await database.db
        .selectFrom('tags')
        .selectAll()
        .where('name', '=', name)
        .executeTakeFirst()
      expect(row).toEqual({ name })
    })
  })

  test('so does a transaction rolled back after its write failed', async () => {
    const name = `taken in transaction ${via}`
    await other.primary.insertInto('tags').values({ name }).execute()
    await database.session(async () => {
      await expect(
        database.db
          .transaction()
          .execute((trx) => trx.insertInto('tags').values({ name }).execute()),
      ).rejects.toMatchObject({ code: '23505' })
      const rows = await Promise.all(
        Array.from({ length: 10 }, () =>
          database.db.selectFrom('tags').selectAll().where('name', '=', name).executeTakeFirst(),
        ),
      )
      expect(rows).toEqual(Array.from({ length: 10 }, () => ({ name })))
    })
  })
})
