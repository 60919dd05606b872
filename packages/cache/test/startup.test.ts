import { type RedisServer, startRedis } from '@sluice/testing'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { createCache } from '../src/index.js'
import { freshNamespace, testCache } from './helpers.js'

const PASSWORD = 'start-Pa55word'
let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis({ password: PASSWORD })
})
afterAll(() => redis?.stop())

describe('Redis down at start-up', () => {
  test('each first request waits at most storeTimeoutMs for the store; ready() names the host and the cause', async () => {
    const storeTimeoutMs = 300
    const cache = testCache({ redis: 'redis://:secret-pw@127.0.0.1:1', storeTimeoutMs })
    for (let i = 0; i < 5; i++) {
      const started = performance.now()
      expect(await cache.getOrLoad(`k${i}`, async () => i)).toBe(i)
      // The bound: storeTimeoutMs of store waits per call, plus room for a loaded machine.
      expect(performance.now() - started).toBeLessThan(storeTimeoutMs + 700)
    }
    const error = (await cache.ready({ timeoutMs: 500 }).catch((e: unknown) => e)) as Error
    expect(error).toMatchObject({ code: 'CACHE_STORE_UNAVAILABLE' })
    expect(error.message).toContain('127.0.0.1:1')
    // The cause: the connection error ioredis reported, or the failed or unanswered probe.
    expect(error.message, error.message).toMatch(
      /: (connect ECONNREFUSED|.*did not answer within|Reached the max retries per request)/,
    )
    expect(error.message).not.toContain('secret-pw')
  })

  test('without instrumentation the first store error is printed once as a process warning', async () => {
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    const cache = createCache({
      redis: 'redis://127.0.0.1:1',
      namespace: freshNamespace(),
      storeTimeoutMs: 100,
    })
    try {
      await cache.getOrLoad('k', async () => 1)
      await cache.getOrLoad('j', async () => 1)
      await vi.waitFor(() => expect(warnings.length).toBeGreaterThan(0))
      expect(
        warnings.filter((w) => (w as { code?: string }).code === 'SLUICE_CACHE_ERROR'),
      ).toHaveLength(1)
    } finally {
      process.off('warning', onWarning)
      await cache.close()
    }
  })
})

describe('health()', () => {
  test('reachable with a latency and a closed breaker; then the server is killed: unreachable, with the cause', async () => {
    const cache = testCache({ redis: redis.url, storeTimeoutMs: 300 })
    await cache.ready()
    const up = await cache.health()
    expect(up).toMatchObject({
      mode: 'redis',
      reachable: true,
      breaker: 'closed',
      bus: true,
      pendingInvalidations: 0,
      closed: false,
    })
    expect(up.latencyMs).toBeGreaterThanOrEqual(0)
    // What the server saw: the probe reached it.
    expect(
      Number(await redis.nodes[0]?.cli('-a', PASSWORD, '--no-auth-warning', 'dbsize')),
    ).toBeGreaterThanOrEqual(0)
    await redis.kill()
    try {
      const down = await cache.health()
      expect(down.reachable).toBe(false)
      expect(down.latencyMs).toBeUndefined()
      expect(down.error).toBeDefined()
      expect(down.error).not.toContain(PASSWORD)
    } finally {
      await redis.start()
    }
  })
})
