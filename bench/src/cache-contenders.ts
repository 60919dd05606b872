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
export const LIBRARIES = ['bentocache', 'cache-manager', 'sluice'] as const
export type Library = (typeof LIBRARIES)[number]

/** One cache, reduced to what the benchmarks do with it. */
export interface Contender {
  getOrLoad(key: string, loader: () => Promise<unknown>): Promise<unknown>
  close(): Promise<void>
}

const TTL_MS = 3_600_000
const MEMORY_ENTRIES = 10_000

/** A cache of `library` in `shape`, on the Redis at `redisUrl`, under `namespace`. */
export function contender(
  library: Library,
  shape: Shape,
  redisUrl: string,
  namespace: string,
): Contender {
  switch (library) {
    case 'sluice':
      return sluice(shape, redisUrl, namespace)
    case 'bentocache':
      return bento(shape, redisUrl, namespace)
    case 'cache-manager':
      return cacheManager(shape, redisUrl, namespace)
  }
}

function sluice(shape: Shape, redisUrl: string, namespace: string): Contender {
  const redis = shape === 'l1' ? undefined : new Redis(redisUrl)
  const cache = createCache({
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
