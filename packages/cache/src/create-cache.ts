import { createHash } from 'node:crypto'
import { type AfterCommit, cachedQueryInfo } from '@sluice/core'
import { Redis } from 'ioredis'
import type { CacheStore } from './cache-store.js'
import { storeError } from './errors.js'
import { GuardedStore } from './guarded-store.js'
import { InvalidationBus } from './invalidation-bus.js'
import { MemoryStore } from './memory-store.js'
import { type CacheOptions, resolveCacheOptions } from './options.js'
import { RedisStore } from './redis-store.js'
import { tableTag } from './table-tag.js'
import { type LoadOptions, TieredCache } from './tiered-cache.js'
import { within } from './within.js'

/** A Kysely query the cache can run: anything with `compile()` and `execute()`. */
export interface CacheableQuery<R> {
  compile(): {
    readonly sql: string
    readonly parameters: readonly unknown[]
    readonly query: Parameters<typeof cachedQueryInfo>[0]['query']
  }
  execute(): Promise<R[]>
}

/**
 * Cache-aside over an in-process LRU and a shared store (Redis, or memory without it).
 *
 * @example
 * ```ts
 * const cache: Cache = createCache({ redis: process.env.REDIS_URL, namespace: 'app' })
 * const user = await cache.getOrLoad(`user:${id}`, () => findUser(id), { ttlMs: 3_600_000, tags: [`user:${id}`] })
 * ```
 */
export interface Cache {
  /**
   * The cached value, or the loader's (run once per key across callers and processes). A
   * loader's `undefined` means "not found" (cached only with `negativeTtlMs`). A loader that
   * throws caches nothing; every caller waiting on it gets its error.
   */
  getOrLoad<T>(
    key: string,
    loader: () => Promise<T | undefined>,
    options?: LoadOptions,
  ): Promise<T | undefined>
  /** A fresh cached value, or `undefined`; never loads. */
  get<T>(key: string): Promise<T | undefined>
  /** Stores a value; loads of the key already running cannot overwrite it. */
  set<T>(key: string, value: T, options?: Pick<LoadOptions, 'ttlMs' | 'tags'>): Promise<void>
  /** Invalidates one key or several. */
  delete(keys: string | readonly string[]): Promise<void>
  /** Makes every entry loaded under any of these tags a miss. */
  invalidateTags(tags: readonly string[]): Promise<void>
  /** Stores many entries, e.g. at start-up. */
  warm(
    entries: ReadonlyArray<{
      key: string
      value: unknown
      ttlMs?: number
      tags?: readonly string[]
    }>,
  ): Promise<void>
  /**
   * Runs a Kysely query through the cache. The key defaults to a hash of its SQL and
   * parameters; each table it reads adds a {@link tableTag} (`table:<name>`).
   */
  query<R>(query: CacheableQuery<R>, options?: LoadOptions & { key?: string }): Promise<R[]>
  /**
   * Write-path invalidation: pass it as a Sluice database's `afterCommit`, and each committed
   * write to a table invalidates its {@link tableTag}, after COMMIT and before the commit
   * returns to the writer; a rolled-back transaction invalidates nothing.
   *
   * @example
   * ```ts
   * const database = createDatabase<DB>(parseConfig(), { afterCommit: cache.invalidateOnCommit })
   * ```
   */
  readonly invalidateOnCommit: AfterCommit
  /** The circuit breaker's state for the shared store. */
  readonly storeState: 'closed' | 'open' | 'half-open'
  /**
   * A start-up check: resolves once the shared store answers and this instance hears other
   * instances' invalidations. Rejects with `CacheError` `CACHE_STORE_AUTH_FAILED` when Redis
   * refuses the credentials, or `CACHE_STORE_UNAVAILABLE` when it does not answer within
   * `timeoutMs` (default 5 s). The cache works without it: calls just miss meanwhile.
   */
  ready(options?: { timeoutMs?: number }): Promise<void>
  /** Clears this instance's L1 and closes the Redis client it created from a URL. */
  close(): Promise<void>
}

/**
 * Creates a cache. With `redis` (a URL, an ioredis client or Cluster) the shared tier is
 * Redis; without it, the process's memory, which is a supported mode. See {@link CacheOptions}
 * for the knobs and defaults.
 *
 * @throws ConfigError (`CONFIG_INVALID`) for bad options.
 * @example
 * ```ts
 * const cache = createCache({ redis: 'redis://localhost:6379', namespace: 'app', defaultTtlMs: 60_000 })
 * const posts = await cache.query(db.selectFrom('posts').selectAll().where('author', '=', id), { ttlMs: 30_000 })
 * await cache.invalidateTags(['table:posts'])
 * ```
 */
export function createCache(options: CacheOptions): Cache {
  const resolved = resolveCacheOptions(options)
  const owned =
    typeof options.redis === 'string'
      ? new Redis(options.redis, { maxRetriesPerRequest: 1 })
      : undefined
  const report = (error: unknown) =>
    resolved.hooks?.onCache?.({ kind: 'error', error: storeError(error) })
  owned?.on('error', report)
  const client = owned ?? (typeof options.redis === 'object' ? options.redis : undefined)
  const store: CacheStore =
    options.store ?? (client ? new RedisStore(client, resolved.namespace) : new MemoryStore())
  const shared = new GuardedStore(
    store,
    {
      timeoutMs: resolved.storeTimeoutMs,
      failureThreshold: resolved.breakerThreshold,
      openMs: resolved.breakerOpenMs,
    },
    (event) => resolved.hooks?.onCache?.(event),
  )
  let bus: InvalidationBus | undefined
  const cache = new TieredCache(shared, resolved, (invalidation) => bus?.publish(invalidation))
  if (client && !options.store && resolved.l1 !== false) {
    bus = new InvalidationBus(client, `${resolved.namespace}:invalidations`, {
      onInvalidation: (invalidation) => cache.dropLocal(invalidation),
      onMissedMessages: () => cache.clear(),
      onError: report,
    })
  }
  return {
    getOrLoad: (key, loader, loadOptions) => cache.getOrLoad(key, loader, loadOptions),
    get: (key) => cache.get(key),
    set: (key, value, setOptions) => cache.set(key, value, setOptions),
    delete: (keys) => cache.delete(typeof keys === 'string' ? [keys] : keys),
    invalidateTags: (tags) => cache.invalidateTags(tags),
    warm: async (entries) => {
      await Promise.all(entries.map(({ key, value, ...rest }) => cache.set(key, value, rest)))
    },
    query<R>(
      query: CacheableQuery<R>,
      { key, tags = [], ...loadOptions }: LoadOptions & { key?: string } = {},
    ) {
      const compiled = query.compile()
      const tables = cachedQueryInfo(compiled).tables.map(tableTag)
      return cache.getOrLoad(key ?? queryKey(compiled), () => query.execute(), {
        ...loadOptions,
        tags: [...new Set([...tables, ...tags])],
      }) as Promise<R[]>
    },
    invalidateOnCommit: (tables) => cache.invalidateTags(tables.map(tableTag)),
    get storeState() {
      return shared.breakerState
    },
    ready: async ({ timeoutMs = 5000 } = {}) => {
      try {
        await within(Promise.all([store.get(READY_PROBE), bus?.ready()]), timeoutMs)
      } catch (error) {
        throw storeError(error)
      }
    },
    close: async () => {
      bus?.close()
      cache.clear()
      await store.close()
      owned?.disconnect()
    },
  }
}

const READY_PROBE = 'sluice:ready'

/** `query:` and a hash of the statement's SQL and parameters (JSON, with bigints as `123n`). */
function queryKey(compiled: {
  readonly sql: string
  readonly parameters: readonly unknown[]
}): string {
  const parameters = JSON.stringify(compiled.parameters, (_key, value: unknown) =>
    typeof value === 'bigint' ? `${value}n` : value,
  )
  return `query:${createHash('sha256').update(compiled.sql).update(parameters).digest('base64url')}`
}
