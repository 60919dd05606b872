// Cache hit throughput, in one run on one Redis: Sluice against bentocache and cache-manager,
// in-process hits (`l1`), Redis hits with no in-process tier (`l2`), and both tiers
// (`tiered`), each cache in a process of its own. Prints ratios to bentocache; the target is
// >= 1.0x. BENCH_CACHE_SHAPES=l1,tiered runs only those shapes; BENCH_CACHE_BASELINE adds
// another build of the cache (see cache-contenders.ts).
import { startRedis } from '@sluice/testing'
import { LIBRARIES, type Shape } from './cache-contenders.js'
import { compare } from './compare.js'
import { type ContenderProcess, startContender } from './contender-process.js'

const CONCURRENCY = 50
const WORKLOADS = {
  l1: { concurrency: CONCURRENCY, operations: 200_000, rounds: 9, warmup: 50_000 },
  l2: { concurrency: CONCURRENCY, operations: 10_000, rounds: 9, warmup: 5_000 },
  tiered: { concurrency: CONCURRENCY, operations: 200_000, rounds: 9, warmup: 50_000 },
}
const CHILD = new URL('./cache-hits-child.js', import.meta.url)

const redis = await startRedis()
try {
  const shapes = (process.env.BENCH_CACHE_SHAPES?.split(',') ?? ['l1', 'l2', 'tiered']) as Shape[]
  for (const shape of shapes) {
    const caches: [string, ContenderProcess][] = []
    try {
      for (const library of LIBRARIES) {
        const env = { BENCH_LIBRARY: library, BENCH_SHAPE: shape, BENCH_REDIS_URL: redis.url }
        caches.push([library, await startContender(CHILD, env, CONCURRENCY)])
      }
      console.log(`cache hits: ${shape}`)
      const runners = Object.fromEntries(caches.map(([name, cache]) => [name, cache.runner]))
      await compare(runners, 'bentocache', WORKLOADS[shape], 'get')
    } finally {
      await Promise.all(caches.map(([, cache]) => cache.stop()))
    }
  }
} finally {
  await redis.stop()
}
