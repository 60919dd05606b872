import { type RedisServer, startRedis } from '@sluice/testing'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { freshNamespace, redisClient, testCache } from './helpers.js'

// A Redis of this file's own: these tests flush and freeze it.
let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

// FLUSHALL on a connection already open: the invalidation follows within milliseconds, before
// the members' next renewal (every busLeaseMs / 4) could register them again.
const flushAll = async () => {
  await redisClient(redis.url).flushall()
}

const node = () => {
  const first = redis.nodes[0]
  if (!first) throw new Error('no node')
  return first
}

/** Two instances of one namespace, both with L1; the reader holds `profile` = 'old' in L1. */
async function twoInstances(options: { storeTimeoutMs?: number; busLeaseMs?: number } = {}) {
  const namespace = freshNamespace()
  const writer = testCache({ namespace, redis: redisClient(redis.url), ...options })
  const reader = testCache({ namespace, redis: redisClient(redis.url), ...options })
  await Promise.all([writer.ready(), reader.ready()])
  let row = 'old'
  const load = () => reader.getOrLoad('profile', async () => row)
  // The reader serves its copy from L1 (once the load's store has landed: on a loaded machine
  // it may finish after the call returned).
  await vi.waitFor(
    async () => {
      expect(await load()).toBe('old')
      expect(reader.events.at(-1)).toMatchObject({ kind: 'hit', tier: 'l1' })
    },
    { timeout: 10_000 },
  )
  return { writer, reader, load, namespace, update: (value: string) => (row = value) }
}

describe('the invalidation bus when Redis loses its data or stops answering', () => {
  test('after FLUSHALL (the members hash lost too), a delete still reaches the other instance’s L1', async () => {
    const { writer, load, update } = await twoInstances()
    await flushAll()
    update('new')
    await writer.delete('profile')
    // The writer found no member to wait for; without the lost-registry wait it resolved at
    // once without telling anyone, and the reader served its L1 copy for l1.maxAgeMs.
    expect(await load()).toBe('new')
  })

  test('after FLUSHALL, once a third instance has created the members hash again (the reader not yet in it)', async () => {
    const { writer, load, update, namespace } = await twoInstances()
    const client = redisClient(redis.url)
    await client.flushall()
    // What another instance's renewal does first: the hash again, with its creation mark.
    const [seconds, micros] = await client.time()
    await client.hset(
      `${namespace}:{bus}:members`,
      '@',
      `${seconds}${String(Math.floor(Number(micros) / 1000)).padStart(3, '0')}`,
    )
    update('new')
    await writer.delete('profile')
    expect(await load()).toBe('new')
  })

  test('a tag invalidation after FLUSHALL likewise', async () => {
    const namespace = freshNamespace()
    const writer = testCache({ namespace, redis: redisClient(redis.url), l1: false })
    const reader = testCache({ namespace, redis: redisClient(redis.url) })
    await Promise.all([writer.ready(), reader.ready()])
    let row = 'old'
    const load = () => reader.getOrLoad('feed', async () => row, { tags: ['feeds'] })
    expect(await load()).toBe('old')
    await flushAll()
    row = 'new'
    await writer.invalidateTags(['feeds']) // a writer without L1 (not a member) too
    expect(await load()).toBe('new')
  })

  test('Redis frozen: delete resolves within storeTimeoutMs + busLeaseMs, and arrives once Redis answers', {
    timeout: 60_000,
  }, async () => {
    const storeTimeoutMs = 300
    const { writer, load, update } = await twoInstances({ storeTimeoutMs })
    await node().freeze()
    let resolved = false
    let deletion: Promise<void> | undefined
    try {
      update('new')
      deletion = writer.delete('profile').then(() => {
        resolved = true
      })
      // Without a bound on the announcement, delete waited on the frozen Redis until the thaw.
      await vi.waitFor(() => expect(resolved).toBe(true), {
        timeout: storeTimeoutMs + 1100 + 2000, // + busLeaseMs x 1.1 + a loaded machine's slack
        interval: 20,
      })
    } finally {
      await node().thaw()
    }
    await deletion
    expect((await writer.health()).pendingInvalidations).toBeLessThanOrEqual(1)
    await vi.waitFor(async () => expect(await load()).toBe('new'), { timeout: 10_000 })
  })
})

describe('the invalidation bus at the longest lease', () => {
  // busLeaseMs takes up to 2^31 - 1 ms; a publish waits for its confirmations 1.1 leases at
  // most. Past 2^31 - 1 ms, Node fired that timer after 1 ms (with a TimeoutOverflowWarning),
  // so an invalidation could return before the other instances had dropped their copies.
  test('a delete waits for the other instance and no timer overflows', async () => {
    const overflows: string[] = []
    const onWarning = (warning: Error) => {
      if (warning.name === 'TimeoutOverflowWarning') overflows.push(warning.message)
    }
    process.on('warning', onWarning)
    try {
      const { writer, load, update } = await twoInstances({ busLeaseMs: 2 ** 31 - 1 })
      update('new')
      await writer.delete('profile')
      expect(await load()).toBe('new')
      expect(overflows).toEqual([])
    } finally {
      process.off('warning', onWarning)
    }
  })
})
