export type { Cache, CacheableQuery, CacheHealth, QueryOptions } from './cache.js'
export { createCache } from './create-cache.js'
export { CacheError, type CacheErrorCode } from './errors.js'
export {
  type CacheEvent,
  type CacheInstrumentation,
  cacheChannels,
  type NotStoredReason,
} from './events.js'
export type { CacheOptions, Duration } from './options/cache-options.js'
export type { LoadOptions } from './options/load-options.js'
export { deserialize, serialize } from './serialize.js'
export type { CacheStore, Floor, Versioned } from './store/cache-store.js'
export type { StoreHealth } from './store/guarded-store.js'
export { MemoryStore } from './store/memory-store.js'
export { RedisStore } from './store/redis-store.js'
export type { TableDependencies } from './write-path/dependencies.js'
export { tableTag } from './write-path/table-tag.js'
