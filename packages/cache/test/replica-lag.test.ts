import { parseConfig } from '@sluice/core'
import { createRoutedDatabase, type RoutedDatabase } from '@sluice/router'
import { type PostgresCluster, startPostgres, waitFor } from '@sluice/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { type Cache, tableTag } from '../src/index.js'
import { freshNamespace, redisClient, testCache } from './helpers.js'

interface DB {
  users: { id: number; name: string }
}

const APPLY_DELAY_MS = 500
let cluster: PostgresCluster
let database: RoutedDatabase<DB>
let url: string
let replicaUrls: readonly string[]
// Two app instances on one Redis, each with its own L1; the first writes, the second reads.
let writer: Cache
let reader: Cache
let namespace: string

beforeAll(async () => {
  cluster = await startPostgres({ replicas: 2 })
  ;({ url, replicaUrls } = await cluster.createDatabase('replica_lag'))
  database = createRoutedDatabase<DB>(
    parseConfig({ DATABASE_URL: url, DATABASE_REPLICA_URLS: replicaUrls.join(',') }),
    // The cache is created below: the closure reads it once writes commit.
    { lagCheckIntervalMs: 100, afterCommit: (tables) => writer.invalidateOnCommit(tables) },
  )
  await sql`create table users (id int primary key, name text not null)`.execute(database.primary)
  await database.primary.insertInto('users').values({ id: 1, name: 'v0' }).execute()
  await cluster.waitForReplay()
  for (const replica of cluster.replicas) await replica.setApplyDelay(APPLY_DELAY_MS)
  namespace = freshNamespace()
  writer = testCache({ namespace, consistency: database })
  reader = testCache({ namespace, consistency: database })
  await Promise.all([writer.ready(), reader.ready()])
}, 180_000)

afterAll(async () => {
  for (const replica of cluster?.replicas ?? []) await replica.setApplyDelay(0)
  await database?.close()
  await cluster?.stop()
})

let version = 0
beforeEach(() => {
  version++
})

/** The loader of the README's example: reads through the router, so from a replica. */
const findUser = async () =>
  (
    await database.db
      .selectFrom('users')
      .select(['name', sql<number>`inet_server_port()`.as('port')])
      .where('id', '=', 1)
      .executeTakeFirstOrThrow()
  ).name
const rename = (db: RoutedDatabase<DB>['db'], name: string) =>
  db.updateTable('users').set({ name }).where('id', '=', 1).execute()

describe(`replicas applying ${APPLY_DELAY_MS} ms late: the reload after an invalidation reads at least the invalidating write`, () => {
  test('getOrLoad with an explicit delete after the update (outside any session)', async () => {
    const key = `user:1:${version}`
    await reader.getOrLoad(key, findUser)
    await rename(database.db, `explicit-${version}`)
    await writer.delete(key)
    expect(await reader.getOrLoad(key, findUser)).toBe(`explicit-${version}`)
    expect(await writer.getOrLoad(key, findUser)).toBe(`explicit-${version}`)
  })

  test('a delete inside session() records the session’s token', async () => {
    const key = `user:1:${version}`
    await reader.getOrLoad(key, findUser)
    await database.session(async () => {
      await rename(database.db, `session-${version}`)
      expect(database.consistencyToken()).toBeDefined()
      await writer.delete(key)
    })
    expect(await reader.getOrLoad(key, findUser)).toBe(`session-${version}`)
  })

  test.each(['set', 'warm'] as const)(
    '%s() inside session() records the session’s token: the reload after the entry expired reads the write',
    async (call) => {
      const key = `user:1:${version}`
      const name = `${call}-${version}`
      await database.session(async () => {
        await rename(database.db, name)
        expect(database.consistencyToken()).toBeDefined()
        if (call === 'set') await writer.set(key, name, { ttlMs: 1 })
        else await writer.warm([{ key, value: name, ttlMs: 1 }])
      })
      // The entry expires (as if evicted) well before the replicas replay the update...
      await waitFor(async () => (await reader.get(key)) === undefined, {
        what: `${key} to expire`,
      })
      // ...and the other instance's reload reads at least the write the value came from.
      expect(await reader.getOrLoad(key, findUser)).toBe(name)
    },
  )

  // The shared Redis serves other files: what these lose is this namespace's keys (as after a
  // restart without persistence or a FLUSHALL), or one floor key (as an allkeys-* eviction).
  test.each([
    ['Redis lost the namespace’s keys', 'key', 'all'],
    ['the floor key was evicted', 'key', 'floor'],
    ['Redis lost the namespace’s keys, tags', 'tag', 'all'],
  ] as const)(
    'a floor lost after the invalidation (%s): the reload still reads the write',
    async (_, by, lost) => {
      const id = `lost-${version}`
      const [key, options] = by === 'key' ? [id, {}] : [`by-tag:${id}`, { tags: [id] }]
      await reader.getOrLoad(key, findUser, options)
      // Replay paused, not only late: however slow the steps below, the replicas lack the update.
      for (const replica of cluster.replicas) await replica.pauseReplay()
      try {
        await rename(database.db, id)
        await (by === 'key' ? writer.delete(key) : writer.invalidateTags([id]))
        const redis = redisClient()
        const names =
          lost === 'floor' ? [`${namespace}:{k${key}}:f`] : await redis.keys(`${namespace}:*`)
        expect(await redis.del(...names)).toBe(names.length)
        expect(await reader.getOrLoad(key, findUser, options)).toBe(id)
      } finally {
        for (const replica of cluster.replicas) await replica.resumeReplay()
      }
    },
  )

  test.each(['key', 'tag'] as const)(
    'an invalidation that gets no token at all (by %s): the reload still reads the write, not the floor an earlier load recorded',
    async (by) => {
      const id = `no-token-${by}-${version}`
      const [key, options] = by === 'key' ? [id, {}] : [`by-tag:${id}`, { tags: [id] }]
      const floorKey = by === 'key' ? `${namespace}:{k${key}}:f` : `${namespace}:{t${id}}:f`
      // An instance of the app whose router cannot reach the primary (the replicas it can): its
      // invalidations get neither the session's token nor the primary's latest position.
      const primary = new URL(url)
      primary.port = '1'
      const cut = createRoutedDatabase<DB>(
        parseConfig({ DATABASE_URL: primary.href, DATABASE_REPLICA_URLS: replicaUrls.join(',') }),
      )
      const blind = testCache({ namespace, consistency: cut, loadTimeoutMs: '2s' })
      await blind.ready()
      const redis = redisClient()
      try {
        // The first load recorded a floor (the primary's position then), which the replicas
        // have replayed; then they stop replaying.
        await reader.getOrLoad(key, findUser, options)
        await waitFor(async () => (await redis.exists(floorKey)) === 1, { what: 'the floor' })
        await cluster.waitForReplay()
        for (const replica of cluster.replicas) await replica.pauseReplay()
        await rename(database.db, id)
        await (by === 'key' ? blind.delete(key) : blind.invalidateTags([id]))
        expect(blind.events).toContainEqual(
          expect.objectContaining({ kind: 'error', source: 'consistency' }),
        )
        // Read at the older floor, the reload would come from a replica without the update.
        expect(await reader.getOrLoad(key, findUser, options)).toBe(id)
        expect(await writer.getOrLoad(key, findUser, options)).toBe(id)
        // The reload read the primary and left its position as the floor: later loads do not
        // ask the primary again.
        await waitFor(async () => !(await redis.get(floorKey))?.startsWith('unknown:'), {
          what: 'the load’s floor in place of the unknown one',
        })
      } finally {
        for (const replica of cluster.replicas) await replica.resumeReplay()
        await cut.close()
      }
    },
  )

  test('a floor in Redis this database cannot read (another cluster’s, altered) is replaced, never blocks the delete', async () => {
    const namespace = freshNamespace()
    const [a, b] = [0, 1].map(() => testCache({ namespace, consistency: database }))
    await Promise.all([a?.ready(), b?.ready()])
    const key = `user:1:${version}`
    await redisClient().set(`${namespace}:{k${key}}:f`, 'v1.1.1.0/1.abcd', 'PX', 60_000)
    await b?.getOrLoad(key, findUser)
    await rename(database.db, `foreign-floor-${version}`)
    await a?.delete(key)
    // The delete reached Redis (it was retried for ever, and the instance's every call with it).
    expect((await a?.health())?.pendingInvalidations).toBe(0)
    expect(await b?.getOrLoad(key, findUser)).toBe(`foreign-floor-${version}`)
  })

  test('tags: invalidateTags after the update', async () => {
    const key = `user-by-tag:${version}`
    const options = { tags: [`user:1:${version}`] }
    await reader.getOrLoad(key, findUser, options)
    await rename(database.db, `tag-${version}`)
    await writer.invalidateTags([`user:1:${version}`])
    expect(await reader.getOrLoad(key, findUser, options)).toBe(`tag-${version}`)
  })

  test('cache.query with afterCommit: cache.invalidateOnCommit, read from the other instance', async () => {
    const query = () =>
      reader.query(database.db.selectFrom('users').select('name').where('id', '=', 1))
    const name = async () => (await query())[0]?.name
    await name()
    await rename(database.db, `query-${version}`)
    expect(await name()).toBe(`query-${version}`)
    await database.db.transaction().execute((trx) => rename(trx, `query-trx-${version}`))
    expect(await name()).toBe(`query-trx-${version}`)
    // The floor is in Redis beside the tag's version, in the tag's slot.
    const health = await reader.health()
    expect(health.reachable).toBe(true)
    expect(tableTag('users')).toBe('table:users')
  })
})
