import type { SluiceDatabase } from '@sluice/core'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { freshDatabase, testCache } from './helpers.js'
import type { CounterDB } from './workloads/lagging-cluster.js'
import { createCounters, staleSetTorture, TORTURE_CACHE_OPTIONS } from './workloads/stale-set.js'

const ITERATIONS = 10_000
const WORKERS = 32
let database: SluiceDatabase<CounterDB>

beforeAll(async () => {
  database = (await freshDatabase('stale_set')).open<CounterDB>()
  await createCounters(database)
})

afterAll(() => database?.close())

test(`stale-set torture: ${ITERATIONS} loads overtaken by an update + invalidation (${WORKERS} keys at once), no stale value served after it`, {
  timeout: 900_000, // generous: under a minute idle, much longer on a shared machine
}, async () => {
  const result = await staleSetTorture(database, testCache(TORTURE_CACHE_OPTIONS), {
    iterations: ITERATIONS,
    workers: WORKERS,
  })
  expect(result.violations, result.format()).toEqual([])
  expect(result.reads).toBe(3 * ITERATIONS)
  // What the database holds: every row reached its last version.
  expect(result.rows.stored).toEqual(result.rows.written)
})
