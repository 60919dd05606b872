// One cache of the hit benchmark, in its own process (see cache-hits.ts).
import { contender, type Library, type Shape } from './cache-contenders.js'
import { serveRuns } from './contender-process.js'

const KEYS = 1000
const VALUE = { id: 1, name: 'a cached row', tags: ['x', 'y'], at: 1_700_000_000_000 }
const library = process.env.BENCH_LIBRARY as Library
const cache = await contender(
  library,
  process.env.BENCH_SHAPE as Shape,
  process.env.BENCH_REDIS_URL ?? '',
  `bench-${library}`,
)
serveRuns(
  (i) => cache.getOrLoad(`item:${i % KEYS}`, async () => VALUE),
  () => cache.close(),
)
