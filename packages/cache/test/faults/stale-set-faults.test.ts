import { setTimeout as until } from 'node:timers/promises'
import type { SluiceDatabase } from '@sluice/core'
import { type RedisServer, seededRandom, startRedis, testProfile } from '@sluice/testing'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { freshDatabase, redisClient, testCache } from '../helpers.js'
import type { CounterDB } from '../workloads/lagging-cluster.js'
import { createCounters, staleSetTorture, TORTURE_CACHE_OPTIONS } from '../workloads/stale-set.js'

const ITERATIONS = Number(process.env.SLUICE_TORTURE_ITERATIONS ?? 10_000)
const WORKERS = 32
const SEED = Number(process.env.SLUICE_FAULT_SEED ?? Date.now() % 2 ** 31)
type RedisFault = 'restart-empty' | 'flush' | 'cut'
const FAULTS: readonly RedisFault[] = ['restart-empty', 'flush', 'cut']

let database: SluiceDatabase<CounterDB>
let redis: RedisServer

beforeAll(async () => {
  // Its own Redis, behind a fault proxy (with the profile's password in the production one).
  redis = await startRedis({ proxied: true, ...testProfile().redis })
  database = (await freshDatabase('stale_set_faults')).open<CounterDB>()
  await createCounters(database)
})

afterAll(async () => {
  await database?.close()
  await redis?.stop()
})

/**
 * Faults one after another until `running()` is false: each shuffled round of three has every
 * kind once, 300-1500 ms apart, a cut lasting 0-400 ms (past the store timeout at times), all
 * drawn from the seed. Waiting for the next moment is the fault's spacing, not a wait for a
 * condition. Returns the log of what was done, with times from the start.
 */
async function injectFaults(random: () => number, running: () => boolean): Promise<string[]> {
  const node = redis.nodes[0]
  const network = node?.network
  if (!node || !network) throw new Error('the test Redis is not proxied')
  const started = Date.now()
  const log: string[] = []
  let round: RedisFault[] = []
  while (running()) {
    await until(300 + random() * 1200)
    if (!running()) break
    if (round.length === 0) round = [...FAULTS].sort(() => random() - 0.5)
    const fault = round.pop() as RedisFault
    const at = `+${((Date.now() - started) / 1000).toFixed(2)} s`
    if (fault === 'restart-empty') await redis.restartEmpty()
    else if (fault === 'flush') await redis.flushAll()
    else {
      const holdMs = Math.round(random() * 400)
      await network.cut()
      try {
        await until(holdMs)
      } finally {
        await network.restore()
      }
      log.push(`${at} cut for ${holdMs} ms`)
      continue
    }
    log.push(`${at} ${fault}`)
  }
  return log
}

test(`stale-set torture, ${ITERATIONS} iterations (${WORKERS} keys at once), with Redis restarted empty, flushed and cut off at random moments (seed ${SEED})`, {
  timeout: 1_200_000, // generous: ~2 min idle, much longer on a machine shared by several suites
}, async () => {
  console.info(`stale-set faults: seed ${SEED} (rerun with SLUICE_FAULT_SEED=${SEED})`)
  const cache = testCache({
    ...TORTURE_CACHE_OPTIONS,
    redis: redisClient(redis.url),
    storeTimeoutMs: 200,
    breakerOpenMs: 200,
    // An invalidation after the bus's members hash was lost (every flush and restart) waits a
    // whole lease: the default 1 s lease made those waits most of the run. The lease is judged
    // by bus-faults.test.ts; this workload judges the stale-set race.
    busLeaseMs: 250,
  })
  let running = true
  const faults = injectFaults(seededRandom(SEED), () => running)
  const result = await staleSetTorture(database, cache, {
    iterations: ITERATIONS,
    workers: WORKERS,
  }).finally(() => {
    running = false
  })
  const log = await faults
  const report = [result.format(), `faults (seed ${SEED}):`, ...log].join('\n')
  expect(result.violations, report).toEqual([])
  expect(result.reads).toBe(3 * ITERATIONS)
  expect(result.rows.stored).toEqual(result.rows.written)
  for (const kind of ['restart-empty', 'flush', 'cut'])
    expect(
      log.some((line) => line.includes(kind)),
      report,
    ).toBe(true)
  // What Redis says once the run is over: the cache works on it again.
  expect(Number(await redis.nodes[0]?.cli('dbsize'))).toBeGreaterThan(0)
})
