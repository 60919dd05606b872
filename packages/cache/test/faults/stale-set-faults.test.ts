import type { SluiceDatabase } from '@sluice/core'
import { type RedisServer, startRedis } from '@sluice/testing'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { freshDatabase, gate, redisClient, testCache } from '../helpers.js'

interface DB {
  counters: { id: number; value: number }
}

const ITERATIONS = Number(process.env.SLUICE_TORTURE_ITERATIONS ?? 10_000)
let database: SluiceDatabase<DB>
let redis: RedisServer

beforeAll(async () => {
  redis = await startRedis({ proxied: true })
  database = (await freshDatabase('stale_set_faults')).open<DB>()
  await database.db.schema
    .createTable('counters')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('value', 'integer', (c) => c.notNull())
    .execute()
  await database.db.insertInto('counters').values({ id: 1, value: 0 }).execute()
})

afterAll(async () => {
  await database?.close()
  await redis?.stop()
})

const readValue = async () =>
  (
    await database.db
      .selectFrom('counters')
      .select('value')
      .where('id', '=', 1)
      .executeTakeFirstOrThrow()
  ).value

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

test(`stale-set torture, ${ITERATIONS} iterations, with Redis restarted empty, flushed and cut off at random moments`, {
  timeout: 900_000,
}, async () => {
  const node = redis.nodes[0]
  const network = node?.network
  if (!node || !network) throw new Error('not proxied')
  const cache = testCache({
    redis: redisClient(redis.url),
    storeTimeoutMs: 200,
    breakerOpenMs: 200,
  })
  const injected = { restarts: 0, flushes: 0, cuts: 0 }
  let running = true
  // Faults at random moments of the run, between and inside iterations.
  const chaos = (async () => {
    while (running) {
      await pause(300 + Math.random() * 1200) // a fault's spacing, not a wait for a condition
      const pick = Math.random()
      if (pick < 0.2) {
        await redis.kill()
        await redis.start()
        injected.restarts++
      } else if (pick < 0.6) {
        await node.cli('flushall')
        injected.flushes++
      } else {
        await network.cut()
        await pause(Math.random() * 100)
        await network.restore()
        injected.cuts++
      }
    }
  })()
  let stale = 0
  try {
    for (let i = 1; i <= ITERATIONS; i++) {
      await cache.delete('counter')
      const loaderRead = gate()
      const release = gate()
      const slow = cache.getOrLoad('counter', async () => {
        const value = await readValue()
        loaderRead.open()
        await release.promise
        return value
      })
      await loaderRead.promise
      await database.db.updateTable('counters').set({ value: i }).where('id', '=', 1).execute()
      await cache.delete('counter')
      release.open()
      await slow
      const after = await cache.getOrLoad('counter', readValue)
      const again = await cache.getOrLoad('counter', readValue)
      if (after !== i || again !== i) stale++
    }
  } finally {
    running = false
    await chaos
    await network.restore()
  }
  expect(stale).toBe(0)
  expect(injected.restarts).toBeGreaterThan(0)
  expect(injected.flushes).toBeGreaterThan(0)
  expect(injected.cuts).toBeGreaterThan(0)
})
