import { type RedisServer, startRedis } from '@sluice/testing'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type Floor, MemoryStore, RedisStore } from '../src/index.js'
import { freshNamespace, gate, redisClient, testCache } from './helpers.js'

// A Redis of this file's own: these tests flush it.
let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

const node = () => {
  const first = redis.nodes[0]
  if (!first) throw new Error('no node')
  return first
}

/** A load that has read "the database" and waits; resolve it with `release.open()`. */
function stalledLoad(value: string) {
  const read = gate()
  const release = gate()
  const loader = async () => {
    read.open()
    await release.promise
    return value
  }
  return { read: read.promise, release: release.open, loader }
}

describe('Redis loses its data: generations and tag versions never repeat', () => {
  test('a load that began before FLUSHALL cannot store after a later delete (key generation)', async () => {
    const cache = testCache({ redis: redisClient(redis.url), l1: false })
    await cache.delete('profile') // the key has a generation that moved once
    const stale = stalledLoad('old')
    const loading = cache.getOrLoad('profile', stale.loader)
    await stale.read
    await node().cli('flushall') // Redis restarted without persistence, or failed over empty
    await cache.delete('profile') // the update's invalidation: a counter would be back at 1
    stale.release()
    expect(await loading).toBe('old') // its caller gets what it loaded...
    expect(await cache.get('profile')).toBeUndefined() // ...but it was not stored
    expect(await cache.getOrLoad('profile', async () => 'new')).toBe('new')
  })

  test('a load under a tag that began before FLUSHALL cannot store after a later bump', async () => {
    const cache = testCache({ redis: redisClient(redis.url), l1: false })
    const options = { tags: ['feed'] }
    await cache.invalidateTags(['feed'])
    const stale = stalledLoad('old')
    const loading = cache.getOrLoad('home', stale.loader, options)
    await stale.read
    await node().cli('flushall')
    await cache.invalidateTags(['feed'])
    stale.release()
    await loading
    expect(await cache.get('home')).toBeUndefined()
    expect(await cache.getOrLoad('home', async () => 'new', options)).toBe('new')
  })

  test('an evicted tag key does not resurrect the entries it invalidated; tag keys expire', async () => {
    const namespace = freshNamespace()
    const cache = testCache({ redis: redisClient(redis.url), namespace, l1: false })
    const options = { tags: ['feed'] }
    await cache.getOrLoad('home', async () => 'old', options)
    await cache.invalidateTags(['feed'])
    const client = redisClient(redis.url)
    const tagKeys = await client.keys(`${namespace}:{tfeed}:*`)
    expect(tagKeys.length).toBeGreaterThan(0)
    for (const key of tagKeys) expect(Number(await client.pttl(key))).toBeGreaterThan(0)
    // An allkeys-* policy evicts the tag's version (the entry survives): still a miss.
    await client.del(`${namespace}:{tfeed}:tag`)
    expect(await cache.get('home')).toBeUndefined()
    expect(await cache.getOrLoad('home', async () => 'new', options)).toBe('new')
  })
})

describe('set() and warm() store with the generation check', () => {
  const writes = {
    set: (c: ReturnType<typeof testCache>) => c.set('k', 'set value'),
    warm: (c: ReturnType<typeof testCache>) => c.warm([{ key: 'k', value: 'warm value' }]),
  }
  // Where the other instance's delete lands: just after the write's own generation move (the
  // write used to read the generation again afterwards, and stored under the delete's), or
  // just before its store reaches Redis.
  test.each([
    ['set', 'just after its generation move'],
    ['warm', 'just after its generation move'],
    ['set', 'just before its store'],
    ['warm', 'just before its store'],
  ] as const)('%s: a delete that lands %s wins', async (name, moment) => {
    const namespace = freshNamespace()
    const client = redisClient(redis.url)
    const other = testCache({ redis: client, namespace, l1: false })
    let interleaved = false
    const interleave = async (key: string) => {
      if (interleaved) return
      interleaved = true
      await other.delete(key)
    }
    // The real RedisStore, with a delete from another instance slipped in: what a concurrent
    // request does on a loaded machine (or while the write waits for its invalidation's
    // confirmations from the other instances).
    class Interleaving extends RedisStore {
      override async invalidate(keys: readonly string[], floor?: Floor) {
        const generations = await super.invalidate(keys, floor)
        if (moment === 'just after its generation move') await interleave(keys[0] as string)
        return generations
      }
      override async setIfGeneration(key: string, payload: string, ttl: number, gen: string) {
        if (moment === 'just before its store') await interleave(key)
        return super.setIfGeneration(key, payload, ttl, gen)
      }
    }
    const cache = testCache({ store: new Interleaving(client, namespace), namespace, l1: false })
    await writes[name](cache)
    expect(interleaved).toBe(true)
    expect(await other.get('k')).toBeUndefined()
    expect(await cache.get('k')).toBeUndefined()
    expect(await client.exists(`${namespace}:{kk}:v`)).toBe(0) // what Redis holds
  })
})

test('in-process mode: past maxVersions keys (generations forgotten), a running load still cannot store after a delete', async () => {
  const store = new MemoryStore({ maxVersions: 100 })
  const cache = testCache({ store, l1: false })
  const stale = stalledLoad('old')
  const loading = cache.getOrLoad('profile', stale.loader)
  await stale.read
  // Enough other keys to make the store forget every generation, 'profile' included.
  for (let i = 0; i < 250; i++) await cache.getOrLoad(`other:${i}`, async () => i)
  await cache.delete('profile')
  stale.release()
  await loading
  expect(await cache.get('profile')).toBeUndefined()
})

test('in-process mode with the default store: 100,000 distinct keys, then a stale load does not store', {
  timeout: 120_000,
}, async () => {
  const cache = testCache({ redis: false, l1: false })
  const stale = stalledLoad('old')
  const loading = cache.getOrLoad('profile', stale.loader)
  await stale.read
  // 100,001 other keys get a generation each, past the store's 100,000: in one invalidation,
  // which records them as loads of each would (one call: 100,001 loads took minutes under load).
  await cache.delete(Array.from({ length: 100_001 }, (_, i) => `other:${i}`))
  await cache.delete('profile')
  stale.release()
  await loading
  expect(await cache.get('profile')).toBeUndefined()
})
