import { monitorEventLoopDelay } from 'node:perf_hooks'
import { type RedisServer, startRedis } from '@sluice/testing'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { freshNamespace, redisClient, testCache } from '../helpers.js'

const CALLERS = 200
const KEYS = 100
const RUN_MS = 10_000
const STORE_TIMEOUT_MS = 300
const LOAD_MS = 2
// A call's latency: the store's share is at most STORE_TIMEOUT_MS, the loader's LOAD_MS; the
// rest is a 2-core machine running 200 callers (and other test files) at once, and on top of
// it the longest time the process was kept from running (the event loop's longest stall, which
// a machine shared by several suites makes longer than any store timeout).
const SLACK_MS = 400

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis({ proxied: true })
})
afterAll(() => redis?.stop())

const network = () => {
  const proxy = redis.nodes[0]?.network
  if (!proxy) throw new Error('not proxied')
  return proxy
}

const faults = [
  [
    'frozen (SIGSTOP: connections open, nothing answers)',
    () => redis.nodes[0]?.freeze(),
    () => redis.nodes[0]?.thaw(),
  ],
  ['blackholed (bytes go nowhere)', () => network().blackhole(), () => network().restore()],
  ['200 ms of latency each way', () => network().latency(200), () => network().latency(0)],
] as const

describe.each(faults)('Redis %s under 200 callers for 10 s', (_name, inject, heal) => {
  test('no call fails; each call’s extra latency stays within storeTimeoutMs', {
    timeout: 90_000,
  }, async () => {
    const cache = testCache({
      redis: redisClient(redis.url),
      namespace: freshNamespace(),
      storeTimeoutMs: STORE_TIMEOUT_MS,
      l1: { maxAgeMs: 200 }, // L1 copies expire during the run, so calls keep reaching Redis
    })
    await cache.ready()
    let calls = 0
    let failed = 0
    let wrong = 0
    let slowest = 0
    const load = async (n: number) => {
      await vi.waitFor(() => true) // one tick, as a query would take
      return n
    }
    let running = true
    const stalls = monitorEventLoopDelay({ resolution: 10 })
    const caller = async () => {
      while (running) {
        const n = Math.floor(Math.random() * KEYS)
        const started = performance.now()
        try {
          if ((await cache.getOrLoad(`item:${n}`, () => load(n), { ttlMs: 500 })) !== n) wrong++
        } catch {
          failed++
        }
        slowest = Math.max(slowest, performance.now() - started)
        calls++
        await new Promise(setImmediate)
      }
    }
    const callers = Array.from({ length: CALLERS }, caller)
    try {
      await vi.waitFor(() => expect(calls).toBeGreaterThan(CALLERS * 5), { timeout: 20_000 })
      slowest = 0
      stalls.enable()
      await inject()
      const started = Date.now()
      await vi.waitFor(() => expect(Date.now() - started).toBeGreaterThan(RUN_MS), {
        timeout: RUN_MS * 3,
        interval: 100,
      })
    } finally {
      await heal()
      running = false
      await Promise.all(callers)
      stalls.disable()
    }
    expect({ failed, wrong }).toEqual({ failed: 0, wrong: 0 })
    expect(calls).toBeGreaterThan(CALLERS * 10)
    const stalledMs = stalls.max / 1e6
    expect(slowest, `the event loop stalled for up to ${stalledMs} ms`).toBeLessThan(
      STORE_TIMEOUT_MS + LOAD_MS + SLACK_MS + stalledMs,
    )
    // Healed: Redis serves again (what the server saw: entries written after the fault).
    await vi.waitFor(
      async () => expect(Number(await redis.nodes[0]?.cli('dbsize'))).toBeGreaterThan(0),
      {
        timeout: 10_000,
      },
    )
  })
})
