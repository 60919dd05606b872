// Cache hit throughput, in one run on one Redis: Sluice against bentocache and cache-manager,
// in-process hits (`l1`), Redis hits with no in-process tier (`l2`), and both tiers
// (`tiered`). Prints ratios to bentocache; the target is >= 1.0x.
import { startRedis } from '@sluice/testing'
import { type Contender, contender, LIBRARIES, type Shape } from './cache-contenders.js'
import { compare } from './compare.js'

const KEYS = 1000
const WORKLOADS = {
  l1: { concurrency: 50, operations: 200_000, rounds: 9, warmup: 50_000 },
  l2: { concurrency: 50, operations: 10_000, rounds: 9, warmup: 5_000 },
  tiered: { concurrency: 50, operations: 200_000, rounds: 9, warmup: 50_000 },
}

const redis = await startRedis()
try {
  for (const shape of ['l1', 'l2', 'tiered'] as const satisfies readonly Shape[]) {
    const caches = Object.fromEntries(
      LIBRARIES.map((library) => [
        library,
        contender(library, shape, redis.url, `bench-${library}`),
      ]),
    ) as Record<string, Contender>
    const value = { id: 1, name: 'a cached row', tags: ['x', 'y'], at: 1_700_000_000_000 }
    const operations = Object.fromEntries(
      Object.entries(caches).map(([name, cache]) => [
        name,
        (i: number) => cache.getOrLoad(`item:${i % KEYS}`, async () => value),
      ]),
    )
    console.log(`cache hits: ${shape}`)
    await compare(operations, 'bentocache', WORKLOADS[shape], 'get')
    await Promise.all(Object.values(caches).map((cache) => cache.close()))
  }
} finally {
  await redis.stop()
}
