import { type RedisServer, startRedis } from '@sluice/testing'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { freshNamespace, redisClient, testCache } from './helpers.js'

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

/** The writer's own connection, which the test cuts and restores (a network blip at the writer). */
function writerConnection(): Redis {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true })
  client.on('error', () => {})
  return client
}

async function setUp() {
  const namespace = freshNamespace()
  const connection = writerConnection()
  await connection.connect()
  const writer = testCache({ namespace, redis: connection, storeTimeoutMs: 200 })
  const reader = testCache({ namespace, redis: redisClient(redis.url) })
  await Promise.all([writer.ready(), reader.ready()])
  await reader.getOrLoad('profile', async () => 'old')
  const probe = redisClient(redis.url)
  const stored = async () => probe.exists(`${namespace}:{kprofile}:v`)
  expect(await stored()).toBe(1)
  return { connection, writer, reader, stored }
}

describe('an invalidation that could not reach Redis is not lost', () => {
  test('it is retried on a timer: the other instance sees it without the writer calling again', async () => {
    const { connection, writer, reader, stored } = await setUp()
    connection.disconnect() // the writer's link to Redis goes down...
    await writer.delete('profile') // ...so this resolves with the invalidation pending
    expect((await writer.health()).pendingInvalidations).toBe(1)
    expect(await stored()).toBe(1)
    await connection.connect() // the link comes back; nobody calls the writer
    await vi.waitFor(async () => expect(await stored()).toBe(0), { timeout: 10_000 })
    expect((await writer.health()).pendingInvalidations).toBe(0)
    // The reader's L1 copy was dropped when the retried invalidation was announced.
    await vi.waitFor(
      async () => expect(await reader.getOrLoad('profile', async () => 'new')).toBe('new'),
      { timeout: 5000 },
    )
  })

  test('close() flushes it, trying for closeTimeoutMs', async () => {
    const { connection, writer, stored } = await setUp()
    connection.disconnect()
    await writer.delete('profile')
    await connection.connect()
    await writer.close() // without a flush, the invalidation would die with the process
    expect(await stored()).toBe(0)
  })

  test('Redis unreachable for good: close() gives up after closeTimeoutMs and says so', async () => {
    const namespace = freshNamespace()
    const connection = writerConnection()
    await connection.connect()
    const writer = testCache({ namespace, redis: connection, closeTimeoutMs: 300 })
    connection.disconnect()
    await writer.delete('profile')
    const started = Date.now()
    await writer.close()
    expect(Date.now() - started).toBeLessThan(300 + 2000) // the bound, with room for a loaded machine
    expect(writer.events).toContainEqual(
      expect.objectContaining({
        kind: 'error',
        error: expect.objectContaining({ message: expect.stringMatching(/close\(\)/) }),
      }),
    )
  })
})
