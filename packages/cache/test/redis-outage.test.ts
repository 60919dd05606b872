import { execFileSync } from 'node:child_process'
import type { SluiceDatabase } from '@sluice/core'
import { type RedisServer, startRedis, testProfile } from '@sluice/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import type { CacheEvent } from '../src/index.js'
import { freshDatabase, freshNamespace, redisClient, testCache } from './helpers.js'

const CALLERS = 200
const KEYS = 50
const RUN_MS = 10_000

let redis: RedisServer
let database: SluiceDatabase<Record<string, never>>

beforeAll(async () => {
  redis = await startRedis(testProfile().redis)
  database = (await freshDatabase('redis_outage')).open({ DB_POOL_SIZE: '10' })
})
afterAll(async () => {
  await database?.close()
  await redis?.stop()
})

/** Counts of what happened, by phase; `at` of each event for windows. */
function tally(events: readonly (CacheEvent & { at: number })[], from: number, to = Infinity) {
  const inWindow = events.filter((event) => event.at >= from && event.at < to)
  const count = (kind: CacheEvent['kind'], tier?: 'l1' | 'l2') =>
    inWindow.filter(
      (event) => event.kind === kind && (!tier || ('tier' in event && event.tier === tier)),
    ).length
  const hits = count('hit')
  return {
    hits,
    l2Hits: count('hit', 'l2'),
    misses: count('miss'),
    ratio: hits / (hits + count('miss')),
  }
}

describe.each([
  ['a Redis URL (the cache owns the client)', () => redis.url],
  ['an ioredis client with default options', () => redisClient(redis.url)],
])('Redis killed under load: %s', (_name, redisOption) => {
  test(`${CALLERS} callers for ${RUN_MS / 1000} s: no call fails; after a restart the hit rate recovers`, {
    timeout: 120_000,
  }, async () => {
    const events: (CacheEvent & { at: number })[] = []
    const cache = testCache({
      redis: redisOption(),
      namespace: freshNamespace(),
      l1: { maxAgeMs: 1000 }, // L1 copies expire within the run, so the outage reaches Redis
      instrumentation: { onCache: (event) => events.push({ ...event, at: Date.now() }) },
    })
    let calls = 0
    let failed = 0
    let wrong = 0
    const loading = new Map<number, number>()
    let maxLoadingOneKey = 0
    // The loader asks PostgreSQL, so a broken single-flight would show as load on the database.
    const load = async (n: number) => {
      const now = (loading.get(n) ?? 0) + 1
      loading.set(n, now)
      maxLoadingOneKey = Math.max(maxLoadingOneKey, now)
      try {
        const { rows } = await sql<{ n: number }>`select ${n}::int as n`.execute(database.db)
        return rows[0]?.n
      } finally {
        loading.set(n, (loading.get(n) ?? 1) - 1)
      }
    }
    const started = Date.now()
    let running = true
    const caller = async () => {
      while (running) {
        const n = Math.floor(Math.random() * KEYS)
        try {
          if ((await cache.getOrLoad(`item:${n}`, () => load(n))) !== n) wrong++
        } catch {
          failed++
        }
        calls++
        await new Promise(setImmediate) // let timers and sockets run between calls
      }
    }
    const callers = Array.from({ length: CALLERS }, caller)

    let warm = tally(events, started)
    let killedAt = Infinity
    let restartedAt = Infinity
    let recoveredAt = Infinity
    try {
      // Warm before the outage, however long a loaded machine takes to get there (its first
      // calls, while the client connects, may time out and open the breaker for a while).
      await vi.waitFor(
        () => {
          expect(tally(events, started).hits).toBeGreaterThan(1000)
          expect(Date.now() - started).toBeGreaterThan(2000)
        },
        { timeout: 30_000 },
      )
      warm = tally(events, started)
      await redis.kill()
      killedAt = Date.now()
      // Down long enough for the breaker to open and for L1 copies to run out: calls miss.
      await vi.waitFor(
        () => {
          expect(cache.storeState).toBe('open')
          expect(tally(events, killedAt).misses).toBeGreaterThan(KEYS)
        },
        { timeout: 8000 },
      )
      await redis.start()
      restartedAt = Date.now()
      const storedSince = (at: number) =>
        events.filter((event) => event.at >= at && event.kind === 'load' && event.stored).length
      await vi.waitFor(() => expect(storedSince(restartedAt)).toBeGreaterThan(0), {
        timeout: 10_000,
      })
      recoveredAt = Date.now()
      // Back without restarting the app: entries reach Redis again and, once their L1 copies
      // expire, Redis serves them. The run goes on until it does (and lasts RUN_MS at least).
      await vi.waitFor(
        () => {
          const after = tally(events, recoveredAt)
          expect(after.l2Hits).toBeGreaterThan(KEYS)
          expect(after.hits).toBeGreaterThan(1000)
          expect(Date.now() - started).toBeGreaterThan(RUN_MS)
        },
        { timeout: 20_000 },
      )
    } finally {
      running = false
      await Promise.all(callers)
    }

    expect({ failed, wrong }).toEqual({ failed: 0, wrong: 0 })
    expect(calls).toBeGreaterThan(CALLERS * 10)
    // Redis down: misses, not errors to callers. Single-flight kept one load per key at a time,
    // plus one when the bus reconnected (it drops this instance's loads: messages were missed).
    expect(tally(events, killedAt, restartedAt).misses).toBeGreaterThan(0)
    expect(maxLoadingOneKey).toBeLessThanOrEqual(2)
    expect(tally(events, recoveredAt).ratio).toBeGreaterThan(Math.min(0.9, warm.ratio))
    expect(cache.storeState).toBe('closed')
    expect(Number(await redis.nodes[0]?.cli('dbsize'))).toBeGreaterThan(0)
  })
})

/**
 * `key` = `value` in Redis through a cache on `namespace` whose store calls may take as long
 * as a loaded machine needs (a short storeTimeoutMs could leave the key unset), checked on
 * the server.
 */
async function stored(namespace: string, key: string, value: string) {
  const writer = testCache({ redis: redis.url, namespace, l1: false, storeTimeoutMs: '10s' })
  await writer.set(key, value)
  const node = redis.nodes[0]
  if (!node) throw new Error('no node')
  expect(await node.cli('exists', `${namespace}:{k${key}}:v`)).toBe('1')
  return node
}

test('invalidations the breaker kept from Redis are sent before anything is read from it again', async () => {
  const namespace = freshNamespace()
  const node = await stored(namespace, 'profile', 'old')
  const cache = testCache({
    redis: redis.url,
    namespace,
    l1: false,
    storeTimeoutMs: 200,
    breakerThreshold: 1,
    breakerOpenMs: 300,
  })
  await cache.ready()
  expect(cache.storeState).toBe('closed')
  // Redis stops answering (its data stays) until the test thaws it, however long the steps
  // take on a loaded machine: one timeout opens the breaker...
  await node.freeze()
  try {
    expect(await cache.get('other')).toBeUndefined()
    expect(cache.storeState).toBe('open')
    // ...so this invalidation is not even sent: it waits in the process.
    await cache.delete('profile')
  } finally {
    await node.thaw()
  }
  // Redis is back with the old value still in it. The kept invalidation goes out on the retry
  // timer or before the first read, whichever comes first: no read may see the old value.
  await vi.waitFor(() => expect(cache.storeState).not.toBe('open'), { timeout: 5000 })
  expect(await cache.get('profile')).toBeUndefined()
  expect(await cache.getOrLoad('profile', async () => 'new')).toBe('new')
})

test('an answer Redis sent in time is read after a long busy turn of the event loop, not taken for a timeout', async () => {
  const namespace = freshNamespace()
  await stored(namespace, 'busy', 'stored')
  const cache = testCache({
    redis: redisClient(redis.url),
    namespace,
    storeTimeoutMs: 100,
    l1: false,
  })
  await cache.ready() // connected: the GET below goes on the socket at once
  const started = performance.now()
  const reading = cache.get('busy') // the GET is on the socket now
  // A busy process: the turn outlasts storeTimeoutMs while Redis answers. The turn blocks on a
  // second client's PING first, so Redis has served the GET (it came earlier) before the turn
  // ends, however loaded the machine; then it lasts past the store's deadline.
  const { hostname, port, password } = new URL(redis.url)
  const auth = password ? ['-a', decodeURIComponent(password), '--no-auth-warning'] : []
  execFileSync('redis-cli', ['-h', hostname, '-p', port, ...auth, 'ping'])
  while (performance.now() < started + 1000) {}
  expect(await reading).toBe('stored')
  expect(cache.events.filter((event) => event.kind === 'error')).toEqual([])
  expect(cache.storeState).toBe('closed')
})
