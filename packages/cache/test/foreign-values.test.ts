import { type RedisServer, startRedis, testProfile } from '@sluice/testing'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { freshNamespace, testCache } from './helpers.js'

// Whatever Redis holds under a cache's key is a miss, never a store error nor a transfer of
// a value no instance would have stored. Own servers: the test reads their traffic counters.
let single: RedisServer
let cluster: RedisServer
const clients: (Redis | Cluster)[] = []
beforeAll(async () => {
  ;[single, cluster] = await Promise.all([
    startRedis(testProfile().redis),
    startRedis({ ...testProfile().redis, cluster: { masters: 3 } }),
  ])
})
afterAll(async () => {
  for (const client of clients) client.disconnect()
  await Promise.all([single?.stop(), cluster?.stop()])
})

const modes = {
  redis: () => new Redis(single.url),
  'redis cluster, 3 masters': () =>
    new Cluster(cluster.startupNodes, { redisOptions: { password: testProfile().redis.password } }),
}
function client(mode: keyof typeof modes): Redis | Cluster {
  const made = modes[mode]()
  made.on('error', () => {})
  clients.push(made)
  return made
}

/** Bytes the server has sent to its clients so far (`INFO stats`). */
async function bytesSent(redis: Redis): Promise<number> {
  const info = await redis.info('stats')
  return Number(/total_net_output_bytes:(\d+)/.exec(info)?.[1])
}

const payloadErrors = (events: readonly { kind: string; source?: string }[]) =>
  events.filter((event) => event.kind === 'error' && event.source === 'payload').length

describe.each(Object.keys(modes) as (keyof typeof modes)[])('foreign values (%s)', (mode) => {
  test('a key of another type (a hash) is a miss, not a store error: the breaker stays closed; a load replaces it', async () => {
    const namespace = freshNamespace()
    const admin = client(mode)
    const cache = testCache({ redis: client(mode), namespace, l1: false, storeTimeoutMs: '10s' })
    await admin.hset(`${namespace}:{kprofile}:v`, 'name', 'someone else')
    // Before: each read was GET's WRONGTYPE, a store failure; 5 in a row opened the breaker,
    // and every key of the cache skipped Redis.
    for (let i = 0; i < 8; i++) expect(await cache.get('profile')).toBeUndefined()
    expect(cache.storeState).toBe('closed')
    expect(
      cache.events.filter((event) => event.kind === 'error' && event.source === 'store'),
    ).toEqual([])
    expect(payloadErrors(cache.events)).toBe(8)
    expect(await cache.getOrLoad('profile', async () => 'loaded')).toBe('loaded')
    expect(await cache.get('profile')).toBe('loaded')
  })
})

describe.each(Object.keys(modes) as (keyof typeof modes)[])(
  'foreign keys beside an entry (%s)',
  (mode) => {
    test.each([
      ["the key's generation", '{kprofile}:g'],
      ["the key's floor", '{kprofile}:f'],
      ["the key's lock", '{kprofile}:l'],
      ["the tag's version", '{tteam}:tag'],
      ["the tag's floor", '{tteam}:f'],
    ])(
      'a hash where %s lives: loads store and hit, no store error, no wait for a lock holder',
      async (_name, suffix) => {
        const namespace = freshNamespace()
        const admin = client(mode)
        const cache = testCache({
          redis: client(mode),
          namespace,
          l1: false,
          storeTimeoutMs: '10s',
        })
        await admin.hset(`${namespace}:${suffix}`, 'owner', 'another program')
        let loads = 0
        const options = { tags: ['team'], lockTimeoutMs: '1s', loadTimeoutMs: '2s' } as const
        // Before: WRONGTYPE out of the scripts (store failures: nothing stored, the breaker opened),
        // or, for the lock, SET NX failing on it forever: each load waited 4 s for a holder.
        expect(await cache.getOrLoad('profile', async () => ++loads, options)).toBe(1)
        expect(await cache.getOrLoad('profile', async () => ++loads, options)).toBe(1)
        expect(cache.events.filter((event) => event.kind === 'error')).toEqual([])
        expect(cache.events.filter((event) => event.kind === 'lock-wait')).toEqual([])
        expect(cache.storeState).toBe('closed')
      },
    )

    test('a lock key with no expiry (ours always have one) is taken over, not waited for', async () => {
      const namespace = freshNamespace()
      const admin = client(mode)
      const cache = testCache({ redis: client(mode), namespace, l1: false, storeTimeoutMs: '10s' })
      await admin.set(`${namespace}:{kprofile}:l`, 'left by a process without PX')
      const options = { lockTimeoutMs: '1s', loadTimeoutMs: '2s' } as const
      expect(await cache.getOrLoad('profile', async () => 'loaded', options)).toBe('loaded')
      expect(cache.events.filter((event) => event.kind === 'lock-wait')).toEqual([])
      expect(await cache.get('profile')).toBe('loaded')
    })
  },
)

test('a read carries at most maxEntryBytes of a larger foreign value to the client', {
  timeout: 60_000,
}, async () => {
  const namespace = freshNamespace()
  const admin = client('redis') as Redis
  const cache = testCache({ redis: client('redis'), namespace, l1: false, storeTimeoutMs: '10s' })
  const huge = 'x'.repeat(8 * 1024 * 1024) // 8 x the default maxEntryBytes: no instance stored it
  await admin.set(`${namespace}:{kbig}:v`, huge)
  const before = await bytesSent(admin)
  for (let i = 0; i < 10; i++) expect(await cache.get('big')).toBeUndefined()
  const sent = (await bytesSent(admin)) - before
  // Before: 10 GETs, 80 MiB sent (and parsed): the same for each caller of a hot key. Now
  // each read is a GETRANGE of maxEntryBytes + 1 (1 MiB by default), and nothing is parsed.
  expect(sent).toBeLessThan(10 * (1024 * 1024 + 4096))
  expect(payloadErrors(cache.events)).toBe(10)
  expect(await cache.getOrLoad('big', async () => 'small')).toBe('small')
  expect(await cache.get('big')).toBe('small')
})
