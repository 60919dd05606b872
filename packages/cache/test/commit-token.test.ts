import { parseConfig } from '@sluice/core'
import { createRoutedDatabase, type RoutedDatabase, type RouterOptions } from '@sluice/router'
import { databaseName, type FaultProxy, startFaultProxy } from '@sluice/testing'
import { withProfile } from '@sluice/testing/profile'
import { sharedPostgres } from '@sluice/testing/vitest'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { freshNamespace, redisClient, testCache } from './helpers.js'

interface DB {
  items: { id: number; name: string }
}

// Every statement to the database goes through a fault proxy, which counts round trips: what
// the server was asked, not what the cache believes it asked.
let proxy: FaultProxy
let cached: RoutedDatabase<DB>
let plain: RoutedDatabase<DB>
let cache: ReturnType<typeof testCache>

let env: Readonly<Record<string, string>>
const routed = (url: string, afterCommit: RouterOptions['afterCommit']) => {
  const options: RouterOptions = { afterCommit }
  return createRoutedDatabase<DB>(parseConfig({ ...env, DATABASE_URL: url }), withProfile(options))
}

beforeAll(async () => {
  const created = await sharedPostgres().createDatabase(databaseName('commit_token'))
  env = created.env
  const url = created.url
  const target = new URL(url)
  proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port) })
  target.host = `${proxy.host}:${proxy.port}`
  cached = routed(target.href, (tables, commit) => cache.invalidateOnCommit(tables, commit))
  plain = routed(target.href, () => {})
  cache = testCache({ consistency: cached })
  await sql`create table items (id int primary key, name text not null)`.execute(plain.primary)
  await plain.primary.insertInto('items').values({ id: 1, name: 'v0' }).execute()
})

afterAll(async () => {
  await Promise.all([cached?.close(), plain?.close()])
  await proxy?.stop()
})

/** Round trips the proxy saw while `fn` ran. */
async function roundTrips(fn: () => Promise<unknown>): Promise<number> {
  const before = (await proxy.stats()).roundTrips
  await fn()
  return (await proxy.stats()).roundTrips - before
}

const rename = (database: RoutedDatabase<DB>, name: string) => () =>
  database.db.updateTable('items').set({ name }).where('id', '=', 1).execute()
const renameInTransaction = (database: RoutedDatabase<DB>, name: string) => () =>
  database.db
    .transaction()
    .execute((trx) => trx.updateTable('items').set({ name }).where('id', '=', 1).execute())

describe('invalidateOnCommit takes the commit’s token from the router (no extra query)', () => {
  test.each([
    ['a statement', rename],
    ['a transaction', renameInTransaction],
  ] as const)('%s inside session(): as many round trips as without the cache', async (_, write) => {
    const inSession = (database: RoutedDatabase<DB>, name: string) =>
      roundTrips(() => database.session(write(database, name)))
    // Once each first: connections opened, the cluster's identity learned.
    await inSession(plain, 'warm')
    await inSession(cached, 'warm')
    const without = await inSession(plain, 'a')
    const withCache = await inSession(cached, 'b')
    expect(withCache).toBe(without)
    // The floor it recorded is the session's: the invalidation happened, with that token.
    const token = await cached.session(async () => {
      await write(cached, 'c')()
      return cached.consistencyToken()
    })
    expect(token).toBeDefined()
    expect(cache.events.filter((event) => event.kind === 'error')).toEqual([])
  })

  test('outside a session: one query for the position, on the committing connection', async () => {
    await roundTrips(rename(cached, 'warm'))
    const without = await roundTrips(rename(plain, 'd'))
    const withCache = await roundTrips(rename(cached, 'e'))
    expect(withCache).toBe(without + 1)
  })
})

describe('a load that must read at a floor but can get none', () => {
  test('serves what it loaded and stores nothing (the primary unreachable: no latest position)', async () => {
    const namespace = freshNamespace()
    const cache = testCache({ namespace, consistency: cached })
    // Never loaded: Redis holds no floor for it, so the load asks the primary for one.
    const key = 'profile:1'
    let loads = 0
    const loader = async () => `loaded ${++loads}`
    await proxy.blackhole()
    try {
      expect(await cache.getOrLoad(key, loader)).toBe('loaded 1')
    } finally {
      await proxy.restore()
    }
    expect(cache.events.filter((event) => event.kind === 'load')).toMatchObject([
      { key, stored: false, reason: 'no-floor' },
    ])
    expect(cache.events).toContainEqual(
      expect.objectContaining({ kind: 'error', source: 'consistency' }),
    )
    // What Redis holds: no value for the key.
    expect(await redisClient().exists(`${namespace}:{k${key}}:v`)).toBe(0)
    // With the primary back, the load (not a copy of the first) reads at its latest position
    // and stores.
    expect(await cache.getOrLoad(key, loader)).toBe('loaded 2')
    await vi.waitFor(() =>
      expect(cache.events.filter((event) => event.kind === 'load').at(-1)).toMatchObject({
        stored: true,
      }),
    )
    expect(await cache.getOrLoad(key, loader)).toBe('loaded 2')
  })
})
