// The caches the cache benchmarks compare, each set up the way its documentation recommends,
// in three shapes: in-process only (`l1`), Redis only (`l2`), and both tiers (`tiered`).
import KeyvRedis from '@keyv/redis'
import { createCache } from '@sluice/cache'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import { createCache as createCacheManager } from 'cache-manager'
import { CacheableMemory } from 'cacheable'
import { Redis } from 'ioredis'
import { Keyv } from 'keyv'

export type Shape = 'l1' | 'l2' | 'tiered'
export type Library = 'bentocache' | 'cache-manager' | 'sluice' | 'sluice-baseline'
/**
 * The contenders: with BENCH_CACHE_BASELINE=/path/to/cache/dist/index.js, also that other build
 * of `@sluice/cache` (say, the last release), for the before/after ratio of a change in one run.
 */
export const LIBRARIES: readonly Library[] = [
  'bentocache',
  'cache-manager',
  'sluice',
  ...(process.env.BENCH_CACHE_BASELINE ? (['sluice-baseline'] as const) : []),
]

/** One cache, reduced to what the benchmarks do with it. */
export interface Contender {
  getOrLoad(key: string, loader: () => Promise<unknown>): Promise<unknown>
  close(): Promise<void>
}

const TTL_MS = 3_600_000
const MEMORY_ENTRIES = 10_000

/** A cache of `library` in `shape`, on the Redis at `redisUrl`, under `namespace`. */
export async function contender(
  library: Library,
  shape: Shape,
  redisUrl: string,
  namespace: string,
): Promise<Contender> {
  switch (library) {
    case 'sluice':
      return sluice(createCache, shape, redisUrl, namespace)
    case 'sluice-baseline': {
      const module = new URL(process.env.BENCH_CACHE_BASELINE ?? '', 'file:///')
      const baseline = (await import(module.href)) as { createCache: typeof createCache }
      return sluice(baseline.createCache, shape, redisUrl, namespace)
    }
    case 'bentocache':
      return bento(shape, redisUrl, namespace)
    case 'cache-manager':
      return cacheManager(shape, redisUrl, namespace)
  }
}

function sluice(
  create: typeof createCache,
  shape: Shape,
  redisUrl: string,
  namespace: string,
): Contender {
  const redis = shape === 'l1' ? undefined : new Redis(redisUrl)
  const cache = create({
    // A build from before `redis` was required reads `false` as "no Redis" too.
    redis: redis ?? false,
    namespace,
    defaultTtlMs: TTL_MS,
    l1: shape === 'l2' ? false : { maxEntries: MEMORY_ENTRIES },
  })
  return {
    getOrLoad: (key, loader) => cache.getOrLoad(key, loader),
    close: async () => {
      await cache.close()
      redis?.disconnect()
    },
  }
}

function bento(shape: Shape, redisUrl: string, namespace: string): Contender {
  const redis = shape === 'l1' ? undefined : new Redis(redisUrl)
  let store = bentostore()
  if (shape !== 'l2') store = store.useL1Layer(memoryDriver({ maxItems: MEMORY_ENTRIES }))
  if (redis) store = store.useL2Layer(redisDriver({ connection: redis, prefix: namespace }))
  if (redis && shape === 'tiered') {
    store = store.useBus(
      redisBusDriver({ connection: { host: redis.options.host, port: redis.options.port } }),
    )
  }
  const cache = new BentoCache({ default: 'cache', stores: { cache: store } })
  return {
    getOrLoad: (key, loader) => cache.getOrSet({ key, factory: loader, ttl: TTL_MS }),
    close: async () => {
      await cache.disconnectAll()
      redis?.disconnect()
    },
  }
}

function cacheManager(shape: Shape, redisUrl: string, namespace: string): Contender {
  const stores: Keyv[] = []
  if (shape !== 'l2') {
    stores.push(new Keyv({ store: new CacheableMemory({ ttl: TTL_MS, lruSize: MEMORY_ENTRIES }) }))
  }
  if (shape !== 'l1') stores.push(new Keyv({ store: new KeyvRedis(redisUrl), namespace }))
  const cache = createCacheManager({ stores, ttl: TTL_MS })
  return {
    getOrLoad: (key, loader) => cache.wrap(key, loader),
    close: async () => {
      await cache.disconnect()
    },
  }
}
