import { type RedisServer, startRedis } from '@sluice/testing'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { CacheError, type CacheOptions } from '../src/index.js'
import { freshNamespace, gate, redisClient, testCache } from './helpers.js'

let cluster: RedisServer
const clusterClients: Cluster[] = []
beforeAll(async () => {
  cluster = await startRedis({ cluster: { masters: 3 } })
})
afterAll(async () => {
  for (const client of clusterClients) client.disconnect()
  await cluster?.stop()
})

function clusterClient(): Cluster {
  const client = new Cluster(cluster.startupNodes)
  clusterClients.push(client)
  return client
}

const MODES: ReadonlyArray<readonly [string, () => Partial<CacheOptions>]> = [
  ['redis', () => ({})],
  ['redis cluster, 3 masters', () => ({ redis: clusterClient() })],
  ['in-process only', () => ({ redis: false })],
]
const SHARED_MODES = MODES.filter(([name]) => name.startsWith('redis'))

describe.each(MODES)('getOrLoad (%s)', (_name, modeOptions) => {
  let mode: Partial<CacheOptions>
  beforeAll(() => {
    mode = modeOptions()
  })

  test('1,000 concurrent callers of one cold key: the loader runs once', async () => {
    const cache = testCache(mode)
    let loads = 0
    const release = gate()
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => {
        const call = cache.getOrLoad('cold', async () => {
          loads++
          await release.promise
          return { answer: 42 }
        })
        if (i === 999) release.open()
        return call
      }),
    )
    expect(loads).toBe(1)
    expect(results.every((r) => r?.answer === 42)).toBe(true)
    expect(await cache.getOrLoad('cold', async () => ({ answer: 0 }))).toEqual({ answer: 42 })
    expect(loads).toBe(1)
  })

  test('a loader that throws caches nothing and every waiter gets its error', async () => {
    const cache = testCache(mode)
    const failure = new Error('database unavailable')
    const release = gate()
    const calls = Array.from({ length: 20 }, () =>
      cache.getOrLoad('failing', async () => {
        await release.promise
        throw failure
      }),
    )
    release.open()
    const outcomes = await Promise.allSettled(calls)
    expect(outcomes.every((o) => o.status === 'rejected' && o.reason === failure)).toBe(true)
    expect(await cache.getOrLoad('failing', async () => 'recovered')).toBe('recovered')
  })

  test('an invalidation during a load keeps the loaded value out of the cache', async () => {
    const cache = testCache(mode)
    const loaderRead = gate()
    const release = gate()
    const first = cache.getOrLoad('profile', async () => {
      loaderRead.open()
      await release.promise
      return 'read before the update'
    })
    await loaderRead.promise
    await cache.delete('profile')
    release.open()
    expect(await first).toBe('read before the update') // its caller asked before the update
    expect(await cache.getOrLoad('profile', async () => 'fresh')).toBe('fresh')
  })

  test('tags: invalidating a tag turns every entry loaded under it into a miss', async () => {
    const cache = testCache(mode)
    await cache.getOrLoad('post:1', async () => 'one', { tags: ['author:ann'] })
    await cache.getOrLoad('post:2', async () => 'two', { tags: ['author:ann', 'table:posts'] })
    await cache.getOrLoad('post:3', async () => 'three', { tags: ['author:bob'] })
    await cache.invalidateTags(['author:ann'])
    const reload = async (key: string) => cache.getOrLoad(key, async () => `${key} reloaded`)
    expect(await reload('post:1')).toBe('post:1 reloaded')
    expect(await reload('post:2')).toBe('post:2 reloaded')
    expect(await reload('post:3')).toBe('three')
  })

  test('TTL, negative caching and grace', async () => {
    const cache = testCache({ ...mode, jitter: 0 })
    expect(await cache.getOrLoad('short', async () => 'v1', { ttlMs: 50 })).toBe('v1')
    await expect
      .poll(() => cache.getOrLoad('short', async () => 'v2', { ttlMs: 60_000 }))
      .toBe('v2')

    let lookups = 0
    const missing = async () => {
      lookups++
      return undefined
    }
    expect(await cache.getOrLoad('nobody', missing, { negativeTtlMs: 60_000 })).toBeUndefined()
    expect(await cache.getOrLoad('nobody', missing, { negativeTtlMs: 60_000 })).toBeUndefined()
    expect(lookups).toBe(1)

    const graceful = testCache({ ...mode, jitter: 0, l1: false })
    await graceful.getOrLoad('feed', async () => 'old feed', { ttlMs: 50, graceMs: 60_000 })
    await expect.poll(() => graceful.get('feed')).toBeUndefined() // no longer fresh
    const refreshed = gate()
    const refresh = async () => {
      refreshed.open()
      return 'new feed'
    }
    const options = { ttlMs: 60_000, graceMs: 60_000 }
    expect(await graceful.getOrLoad('feed', refresh, options)).toBe('old feed')
    expect(graceful.events.some((e) => e.kind === 'stale-served')).toBe(true)
    await refreshed.promise
    await expect.poll(() => graceful.get('feed')).toBe('new feed')
  })

  test('values keep their types; oversized ones are returned but not cached', async () => {
    const cache = testCache({ ...mode, maxEntryBytes: 1000 })
    const value = { at: new Date(5), n: 2n ** 70n, bytes: Buffer.from('hi'), none: null }
    await cache.set('typed', value)
    expect(await cache.get('typed')).toEqual(value)
    const big = 'x'.repeat(5000)
    expect(await cache.getOrLoad('big', async () => big)).toBe(big)
    expect(await cache.getOrLoad('big', async () => 'reloaded')).toBe('reloaded')
    const bigLoad = cache.events.find((e) => e.kind === 'load' && e.key === 'big')
    expect(bigLoad).toMatchObject({ stored: false, reason: 'too-large' })
  })

  test('L1 is bounded by the memory of what it holds', async () => {
    // A 3,000-character string holds about 6 kB of heap (two bytes a character, at most).
    const cache = testCache({ ...mode, l1: { maxBytes: 20_000 } })
    const keys = ['a', 'b', 'c', 'd', 'e']
    for (const key of keys) await cache.set(key, key.repeat(3000))
    const tiers: (string | undefined)[] = []
    for (const key of [...keys].reverse()) {
      cache.events.length = 0
      await cache.getOrLoad(key, async () => 'not cached?')
      tiers.push(cache.events.find((e) => e.kind === 'hit')?.tier)
    }
    // At most three of them fit in 20 kB of L1: the newest ones; the rest come from L2.
    expect(tiers).toEqual(['l1', 'l1', 'l1', 'l2', 'l2'])
  })

  test('bad keys and values are typed errors, and nothing is cached', async () => {
    const cache = testCache(mode)
    await expect(cache.getOrLoad('', async () => 1)).rejects.toMatchObject({
      code: 'CACHE_KEY_INVALID',
    })
    await expect(cache.getOrLoad('k'.repeat(2000), async () => 1)).rejects.toBeInstanceOf(
      CacheError,
    )
    await expect(cache.set('fn', { f: () => 1 })).rejects.toMatchObject({
      code: 'CACHE_VALUE_UNSERIALIZABLE',
    })
    expect(await cache.get('fn')).toBeUndefined()
  })
})

test.each(SHARED_MODES)(
  '%s: a second instance gets the first one’s value, and drops its L1 copy when the first invalidates',
  async (name, modeOptions) => {
    const namespace = freshNamespace()
    const first = testCache({ namespace, ...modeOptions() })
    const second = testCache({
      namespace,
      ...(name === 'redis' ? { redis: redisClient() } : modeOptions()),
    })
    await Promise.all([first.ready(), second.ready()])
    await first.getOrLoad('shared', async () => 'loaded once', { tags: ['t'] })
    expect(await second.getOrLoad('shared', async () => 'loaded twice')).toBe('loaded once')
    expect(await second.getOrLoad('shared', async () => 'loaded twice')).toBe('loaded once')
    expect(second.events.filter((e) => e.kind === 'hit').map((e) => e.tier)).toEqual(['l2', 'l1'])

    await first.invalidateTags(['t'])
    // The L1 copy is gone within 100 ms: the next read goes past L1 and loads.
    await expect
      .poll(() => second.getOrLoad('shared', async () => 'after invalidation'), {
        interval: 5,
        timeout: 100,
      })
      .toBe('after invalidation')
  },
)
