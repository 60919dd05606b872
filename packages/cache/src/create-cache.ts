import type { CommittedWrite } from '@sluice/core'
import { cachedAnalysis, TIMER_DURATION, withDeadline } from '@sluice/core/internal'
import { Redis } from 'ioredis'
import type { Cache, CacheableQuery, QueryOptions } from './cache.js'
import { CacheError, storeError, storeTimeout } from './errors.js'
import type { CacheEvent } from './events.js'
import { InvalidationBus } from './invalidation-bus.js'
import { newestFloor } from './load/floor.js'
import { type CacheOptions, resolveCacheOptions } from './options/cache-options.js'
import { callDuration } from './options/duration.js'
import { callOptions, LOAD_OPTIONS } from './options/load-options.js'
import { checkIoredis } from './peers.js'
import { databaseProblem, queryKey } from './query-key.js'
import { describeRedis } from './redis-description.js'
import type { CacheStore } from './store/cache-store.js'
import { GuardedStore } from './store/guarded-store.js'
import { MemoryStore } from './store/memory-store.js'
import { RedisStore } from './store/redis-store.js'
import { TieredCache } from './tiered-cache.js'
import { TableNames } from './write-path/table-names.js'

const READY_PROBE = 'sluice:ready'
const WARM_ENTRY = new Set(['key', 'value', 'ttlMs', 'tags'])
const QUERY_OPTIONS = new Set([...LOAD_OPTIONS, 'key', 'database'])
const READY_OPTIONS = new Set(['timeoutMs'])

/**
 * Creates a cache. `redis` (a URL, an ioredis client or Cluster, or `false` for in-process
 * only) is required unless `store` is given. See {@link CacheOptions} for the knobs and
 * defaults.
 *
 * @throws ConfigError (`CONFIG_INVALID`) for bad options, naming each.
 * @throws PeerVersionError (`PEER_VERSION_UNSUPPORTED`) when ioredis is older than 5.4.0.
 * @example
 * ```ts
 * const cache = createCache({ redis: 'redis://localhost:6379', namespace: 'app', database: 'main' })
 * const posts = await cache.query(db.selectFrom('posts').selectAll().where('author', '=', id), { ttlMs: '30s' })
 * await cache.invalidateTags(['table:posts'])
 * ```
 */
export function createCache(options: CacheOptions): Cache {
  checkIoredis()
  const resolved = resolveCacheOptions(options)
  const onCache = resolved.events.onCache
  let warned = false
  // Without a subscriber, the first absorbed error is still said once, as a process warning.
  const emit = (event: CacheEvent) => {
    const publish = onCache.emit
    if (publish) return publish(event)
    if (event.kind !== 'error' || warned) return
    warned = true
    process.emitWarning(
      `${event.error.message} (later cache errors are not printed: pass instrumentation.onCache to see them)`,
      { code: 'SLUICE_CACHE_ERROR', detail: `source: ${event.source}` },
    )
  }
  let lastRedisError: unknown
  const owned =
    !options.store && typeof options.redis === 'string'
      ? new Redis(options.redis, { maxRetriesPerRequest: 1 })
      : undefined
  const report = (source: 'store' | 'bus') => (error: unknown) => {
    lastRedisError = error
    emit({ kind: 'error', source, error: storeError(error) })
  }
  owned?.on('error', report('store'))
  const given = typeof options.redis === 'object' ? options.redis : undefined
  const store: CacheStore =
    options.store ??
    (owned || given ? new RedisStore(owned ?? given!, resolved.namespace) : new MemoryStore())
  // A RedisStore, whether the cache made it or was given it, brings its client for the bus.
  const client = store instanceof RedisStore ? store.client : undefined
  if (client && !owned) client.on('error', (error: unknown) => (lastRedisError = error))
  const shared = new GuardedStore(
    store,
    {
      timeoutMs: resolved.storeTimeoutMs,
      failureThreshold: resolved.breakerThreshold,
      openMs: resolved.breakerOpenMs,
      maxPayloadBytes: resolved.maxEntryBytes,
      newest: options.consistency
        ? (a: string, b: string) => newestFloor(options.consistency!, a, b)
        : undefined,
    },
    emit,
    // Sent late: other instances may hold copies since; tell them now.
    (batch) => void bus?.publish(batch),
  )
  let bus: InvalidationBus | undefined
  const cache = new TieredCache(shared, resolved, options.consistency, (invalidation) =>
    bus?.publish(invalidation),
  )
  if (client) {
    const member = resolved.l1 !== false
    bus = new InvalidationBus(
      client,
      resolved.namespace,
      { leaseMs: resolved.busLeaseMs, member },
      {
        onInvalidation: (invalidation) => cache.dropLocal(invalidation),
        onMissedMessages: () => cache.clear(),
        onError: report('bus'),
      },
    )
    const leased = bus
    cache.gateL1((now) => leased.leasedAt(now))
  }
  const tables = new TableNames(options.dependencies ?? {})
  let closed: Promise<void> | undefined
  const host = client ? describeRedis(client) : store.name
  return {
    getOrLoad: (key, loader, loadOptions) => cache.getOrLoad(key, loader, loadOptions),
    get: (key) => cache.get(key),
    set: (key, value, setOptions) => cache.set(key, value, setOptions),
    delete: async (keys) => cache.delete(keys),
    invalidateTags: (tags) => cache.invalidateTags(tags),
    warm: async (entries) => {
      if (!Array.isArray(entries))
        throw notA('entries', 'an array of { key, value, ttlMs?, tags? }')
      const each = entries.map((entry) => callOptions(entry ?? null, 'entries[]', WARM_ENTRY))
      if (each.length === 0) return
      // Every entry checked (and its value serialized) before any is stored.
      const stores = await Promise.all(
        each.map(({ key, value, ...rest }) => cache.prepareSet(key, value, rest)),
      )
      const floor = cache.floor()
      await Promise.all(stores.map((store) => store(floor)))
    },
    async query<R>(query: CacheableQuery<R>, given?: QueryOptions): Promise<R[]> {
      const queryOptions = callOptions(given, 'options', QUERY_OPTIONS)
      const { key, database = resolved.database, tags = [], ...loadOptions } = queryOptions
      if (typeof query?.compile !== 'function' || typeof query.execute !== 'function') {
        throw notA('query', 'a Kysely query (with compile() and execute())')
      }
      const compiled = query.compile()
      if (key === undefined && database === undefined) {
        throw new CacheError(
          'CACHE_OPTION_INVALID',
          'cache.query needs the name of the database it runs on (the `database` option of createCache or of the call), or a key',
          { context: { field: 'database' } },
        )
      }
      const problem = database === undefined ? undefined : databaseProblem(database)
      if (problem) {
        throw new CacheError('CACHE_OPTION_INVALID', `database ${problem}`, {
          context: { field: 'database' },
        })
      }
      const read = cachedAnalysis(compiled).tables.map((table) => tables.tag(table))
      const value = await cache.getOrLoad(
        key ?? queryKey(database as string, compiled),
        () => query.execute(),
        { ...loadOptions, tags: [...new Set([...read, ...tags])] },
      )
      return value as R[]
    },
    invalidateOnCommit: async (written, commit = NO_COMMIT) => {
      if (!Array.isArray(written) || written.some((table) => typeof table !== 'string')) {
        throw notA('tables', 'an array of table names')
      }
      if (typeof commit?.token !== 'function') {
        throw notA('commit', 'what afterCommit was given (a CommittedWrite with token())')
      }
      return cache.invalidateTags(tables.dependents(written), commit)
    },
    learnDependencies: (db) => tables.learn(db as never),
    tableTag: (table) => {
      if (typeof table !== 'string') throw notA('table', 'a table name')
      return tables.tag(table)
    },
    get storeState() {
      return shared.breakerState
    },
    ready: async (given) => {
      const { timeoutMs: input } = callOptions(given, 'options', READY_OPTIONS)
      const timeoutMs = callDuration(input, 'timeoutMs', TIMER_DURATION, 5000)
      try {
        await withDeadline(Promise.all([store.get(READY_PROBE), bus?.ready()]), timeoutMs, () => {
          throw storeTimeout(timeoutMs)
        })
      } catch (error) {
        throw readyError(host, timeoutMs, error, lastRedisError)
      }
    },
    health: async () => ({
      ...(await shared.health(READY_PROBE)),
      mode: client ? 'redis' : store instanceof MemoryStore ? 'memory' : 'custom',
      bus: bus?.subscribed,
      closed: closed !== undefined,
    }),
    close: () => {
      closed ??= (async () => {
        cache.close()
        bus?.close()
        const sent = await shared.close(resolved.closeTimeoutMs)
        if (!sent) {
          emit({
            kind: 'error',
            source: 'store',
            error: new CacheError(
              'CACHE_STORE_UNAVAILABLE',
              `close(): invalidations could not be sent to ${host} within ${resolved.closeTimeoutMs} ms`,
            ),
          })
        }
        await store.close()
        owned?.disconnect()
      })()
      return closed
    },
  }
}

/** A call's argument that is not what it must be, as `CACHE_OPTION_INVALID` naming it. */
/** The commit of an `invalidateOnCommit` called without one: its token is asked of the source. */
const NO_COMMIT: CommittedWrite = { token: async () => undefined }

function notA(field: string, what: string): CacheError {
  return new CacheError('CACHE_OPTION_INVALID', `${field} must be ${what}`, { context: { field } })
}

/** A `ready()` failure naming the store's host and the cause (never a password). */
function readyError(host: string, timeoutMs: number, error: unknown, last: unknown): CacheError {
  const cause = storeError(last ?? error)
  if (cause.code === 'CACHE_STORE_AUTH_FAILED') {
    return new CacheError('CACHE_STORE_AUTH_FAILED', `${host}: ${cause.message}`)
  }
  const why = cause.message.replace(/^The cache store failed: /, '')
  return new CacheError(
    'CACHE_STORE_UNAVAILABLE',
    `The cache store at ${host} is not ready after ${timeoutMs} ms: ${why}`,
  )
}
