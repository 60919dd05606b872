import { afterAll, describe, expect, test, vi } from 'vitest'
import { RedisStore } from '../src/index.js'
import { freshNamespace, gate, redisClient, testCache } from './helpers.js'

const never = gate() // a promise nobody resolves: a loader that never settles
afterAll(() => never.open())

describe('loadTimeoutMs: a loader that never settles does not block its key', () => {
  test('every waiter gets CACHE_LOAD_TIMEOUT; the next call loads again', async () => {
    const cache = testCache({ loadTimeoutMs: 300 })
    const hung = Array.from({ length: 10 }, () =>
      cache.getOrLoad('stuck', async () => {
        await never.promise
        return 'never'
      }),
    )
    for (const call of hung) {
      await expect(call).rejects.toMatchObject({ code: 'CACHE_LOAD_TIMEOUT' })
    }
    expect(await cache.getOrLoad('stuck', async () => 'loaded')).toBe('loaded')
  })

  test('per call, with the same duration forms', async () => {
    const cache = testCache()
    const call = cache.getOrLoad('stuck', () => never.promise.then(() => 'x'), {
      loadTimeoutMs: '200ms',
    })
    await expect(call).rejects.toMatchObject({ code: 'CACHE_LOAD_TIMEOUT' })
  })

  test('under grace, callers keep getting the stale value while the refresh times out', async () => {
    const cache = testCache({ l1: false, jitter: 0, loadTimeoutMs: 200 })
    const options = { ttlMs: 50, graceMs: 60_000 }
    await cache.getOrLoad('feed', async () => 'old', options)
    await vi.waitFor(async () => expect(await cache.get('feed')).toBeUndefined()) // past its TTL
    const stuck = () => never.promise.then(() => 'new')
    expect(await cache.getOrLoad('feed', stuck, options)).toBe('old')
    await vi.waitFor(() =>
      expect(cache.events).toContainEqual(
        expect.objectContaining({
          kind: 'error',
          source: 'refresh',
          error: expect.objectContaining({ code: 'CACHE_LOAD_TIMEOUT' }),
        }),
      ),
    )
    expect(await cache.getOrLoad('feed', stuck, options)).toBe('old')
  })
})

// Extended every half period: long enough that a loaded machine's late timers and slow Redis
// answers (a generous storeTimeoutMs below) still extend it in time.
const LOCK_MS = 500

test('a loader slower than lockTimeoutMs keeps its lock: four instances, one load', async () => {
  const namespace = freshNamespace()
  const instances = Array.from({ length: 4 }, () =>
    testCache({ namespace, redis: redisClient(), lockTimeoutMs: LOCK_MS, storeTimeoutMs: '5s' }),
  )
  await Promise.all(instances.map((cache) => cache.ready()))
  let loads = 0
  const release = gate()
  const loader = async () => {
    loads++
    await release.promise
    return 'slow value'
  }
  const first = instances[0]?.getOrLoad('slow', loader)
  await vi.waitFor(() => expect(loads).toBe(1))
  const others = instances.slice(1).map((cache) => cache.getOrLoad('slow', loader))
  // Five lock periods: without extension the lock would have expired four times over.
  const started = Date.now()
  await vi.waitFor(() => expect(Date.now() - started).toBeGreaterThan(5 * LOCK_MS), {
    timeout: 20 * LOCK_MS,
  })
  expect(loads).toBe(1)
  release.open()
  expect(await Promise.all([first, ...others])).toEqual(Array(4).fill('slow value'))
  expect(loads).toBe(1)
})

describe('close()', () => {
  test('afterwards every call rejects with CACHE_CLOSED', async () => {
    const cache = testCache()
    await cache.close()
    for (const call of [
      () => cache.getOrLoad('k', async () => 1),
      () => cache.get('k'),
      () => cache.set('k', 1),
      () => cache.delete('k'),
      () => cache.invalidateTags(['t']),
      () => cache.warm([{ key: 'k', value: 1 }]),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'CACHE_CLOSED' })
    }
  })

  test('a load waiting for another instance’s lock stops polling Redis and rejects', async () => {
    const namespace = freshNamespace()
    // Generous: on a loaded machine a store call timing out would skip the lock altogether.
    const options = { namespace, storeTimeoutMs: '5s', lockTimeoutMs: '30s' }
    const holder = testCache({ ...options, redis: redisClient() })
    const waiter = testCache({ ...options, redis: redisClient() })
    const release = gate()
    const holding = holder.getOrLoad('k', async () => {
      await release.promise
      return 'held'
    })
    await vi.waitFor(
      async () => expect(await redisClient().exists(`${namespace}:{kk}:l`)).toBe(1),
      { timeout: 10_000 },
    )
    const waiting = waiter.getOrLoad('k', async () => 'waiter loaded')
    await vi.waitFor(
      () => expect(waiter.events.some((event) => event.kind === 'miss')).toBe(true),
      {
        timeout: 10_000,
      },
    )
    await waiter.close()
    await expect(waiting).rejects.toMatchObject({ code: 'CACHE_CLOSED' })
    release.open()
    expect(await holding).toBe('held')
    expect(waiter.events.filter((event) => event.kind === 'load')).toEqual([])
  })
})

test('createCache({ store: new RedisStore(...) }) gets the invalidation bus too', async () => {
  const namespace = freshNamespace()
  const first = testCache({ namespace, store: new RedisStore(redisClient(), namespace) })
  const second = testCache({ namespace, store: new RedisStore(redisClient(), namespace) })
  await Promise.all([first.ready(), second.ready()])
  await second.getOrLoad('shared', async () => 'v1')
  expect(await second.getOrLoad('shared', async () => 'not loaded')).toBe('v1') // from L1
  await first.delete('shared')
  // delete() resolved: the second instance's L1 copy is already gone.
  expect(await second.getOrLoad('shared', async () => 'v2')).toBe('v2')
  expect((await second.health()).bus).toBe(true)
})
