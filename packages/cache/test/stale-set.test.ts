import type { SluiceDatabase } from '@sluice/core'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { freshDatabase, testCache } from './helpers.js'
import type { CounterDB } from './workloads/lagging-cluster.js'
import { createCounters, staleSetTorture } from './workloads/stale-set.js'

const ITERATIONS = 10_000
const WORKERS = 32
let database: SluiceDatabase<CounterDB>

beforeAll(async () => {
  database = (await freshDatabase('stale_set')).open<CounterDB>()
  await createCounters(database)
})

afterAll(() => database?.close())

test(`stale-set torture: ${ITERATIONS} loads overtaken by an update + invalidation (${WORKERS} keys at once), no stale value served after it`, {
  timeout: 300_000,
}, async () => {
  const result = await staleSetTorture(database, testCache(), {
    iterations: ITERATIONS,
    workers: WORKERS,
  })
  expect(result.violations, result.format()).toEqual([])
  expect(result.reads).toBe(3 * ITERATIONS)
  // What the database holds: every row reached its last version.
  expect(result.rows.stored).toEqual(result.rows.written)
})
