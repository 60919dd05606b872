import { ConfigError, type ConfigIssue, type ConsistencySource } from '@sluice/core'
import {
  durationOption,
  hookChannels,
  MAX_TIMER_MS,
  parseOptions,
  TIMER_DURATION,
} from '@sluice/core/internal'
import type { Cluster, Redis } from 'ioredis'
import { z } from 'zod'
import { type CacheEvents, type CacheInstrumentation, cacheChannels } from '../events.js'
import { databaseProblem } from '../query-key.js'
import type { CacheStore } from '../store/cache-store.js'
import type { TableDependencies } from '../write-path/dependencies.js'
import { TTL_DURATION } from './duration.js'

/** A duration: milliseconds (`250`) or a string with a unit (`'500ms'`, `'30s'`, `'5m'`, `'1h'`). */
export type Duration = number | string

/**
 * Options of `createCache`. Durations take milliseconds or a string with a unit, everywhere.
 *
 * @example
 * ```ts
 * createCache({ redis: process.env.REDIS_URL, namespace: 'app', defaultTtlMs: '1m' })
 * ```
 */
export interface CacheOptions {
  /**
   * Required unless `store` is given: a Redis URL (the cache's own client), an ioredis client
   * or Cluster (yours to close), or `false` for an in-process cache whose instances do not see
   * each other's invalidations. An empty or missing URL is a `ConfigError`.
   */
  // `| undefined`: `redis: process.env.REDIS_URL` type-checks under exactOptionalPropertyTypes.
  readonly redis?: Redis | Cluster | string | false | undefined
  /** Any other shared store (a `RedisStore` gets the invalidation bus too); overrides `redis`. */
  readonly store?: CacheStore
  /** Prefix of every Redis key. Required, so that services sharing a Redis do not collide. */
  readonly namespace: string
  /**
   * The router (`createRoutedDatabase(...)`), or any {@link ConsistencySource}: invalidations
   * record the invalidating write's token, and the loads after them read at least that write.
   */
  readonly consistency?: ConsistencySource
  /**
   * The name of the database `cache.query` runs on (part of its keys, so that one SQL on two
   * databases never shares an entry); a call's own `database` overrides it.
   */
  readonly database?: string
  /**
   * Tables a write to a table also changes, beyond what `learnDependencies` reads from the
   * catalog (a trigger's effects): `{ orders: ['order_totals'] }`.
   */
  readonly dependencies?: TableDependencies
  /** Default 60 s. */
  readonly defaultTtlMs?: Duration
  /** TTLs vary by up to this fraction either way, so that keys filled together do not expire together. Default 0.1. */
  readonly jitter?: number
  /**
   * The in-process tier; `false` for none. Default 10,000 entries, 64 MiB of estimated heap,
   * and copies kept at most `maxAgeMs` (5 s). Invalidations reach other instances' L1 over
   * Redis pub/sub; `maxAgeMs` bounds how long a copy can outlive one whose message was lost.
   */
  readonly l1?:
    | { readonly maxEntries?: number; readonly maxBytes?: number; readonly maxAgeMs?: Duration }
    | false
  /** Values whose serialized form is larger are returned but not cached. Default 1 MiB. */
  readonly maxEntryBytes?: number
  /** How long a loader holds a key's cross-process lock before extending it. Default 5 s. */
  readonly lockTimeoutMs?: Duration
  /** How long a loader may run before its callers get `CACHE_LOAD_TIMEOUT`. Default 10 s. */
  readonly loadTimeoutMs?: Duration
  /** Time allowed for one store call before it counts as a failure. Default 500 ms. */
  readonly storeTimeoutMs?: Duration
  /** Store failures in a row that open the circuit breaker. Default 5. */
  readonly breakerThreshold?: number
  /** How long the open breaker skips the store. Default 2 s. */
  readonly breakerOpenMs?: Duration
  /**
   * With Redis: an instance serves L1 copies only while its invalidation channel answered a
   * ping within this long, and an invalidation waits at most this long for every instance to
   * confirm it dropped its copies. Default 1 s.
   */
  readonly busLeaseMs?: Duration
  /** How long `close()` keeps trying to send invalidations Redis has not received. Default 2 s. */
  readonly closeTimeoutMs?: Duration
  readonly instrumentation?: CacheInstrumentation | readonly CacheInstrumentation[]
}

const count = (max: number) =>
  z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(max, { error: `must be at most ${max}` })

const URL_SHAPE =
  'must be redis://[user:password@]host[:port][/db] (or rediss://), with / ? # @ % in the user and password percent-encoded'

/**
 * What is wrong with a Redis URL, or `undefined` (the value itself is never echoed). A
 * password holding an unencoded `/`, `?` or `#` ends the host early: the rest of the URL would
 * be read as a path or a fragment, and the password's first part as the host, which every
 * connection error and message then names.
 */
function redisUrlProblem(text: string): string | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return 'must be a redis:// or rediss:// URL'
  }
  if (!['redis:', 'rediss:'].includes(url.protocol)) return 'must be a redis:// or rediss:// URL'
  if (url.hash !== '' || !/^(\/\d*)?$/.test(url.pathname)) return URL_SHAPE
  try {
    // ioredis decodes both; a stray % (as in 'pa%ss') would throw a bare URIError.
    decodeURIComponent(url.username)
    decodeURIComponent(url.password)
  } catch {
    return URL_SHAPE
  }
  return undefined
}

const l1Defaults = { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, maxAgeMs: 5000 }

// Strict: a misspelt option (`ttl` for `defaultTtlMs`) is an error, never silently the default.
const schema = z.strictObject({
  namespace: z
    .string({ error: 'namespace is required' })
    .regex(/^[\w.-]{1,64}$/, { error: 'namespace must be 1-64 letters, digits, _ . or -' }),
  database: z
    .string({ error: 'must be a string' })
    .superRefine((name, context) => {
      const problem = databaseProblem(name)
      if (problem) context.addIssue({ code: 'custom', message: problem })
    })
    .optional(),
  dependencies: z
    .record(z.string(), z.array(z.string({ error: 'must list table names' })), {
      error: 'must map table names to the tables a write to them also changes',
    })
    .optional(),
  defaultTtlMs: durationOption(TTL_DURATION).default(60_000),
  jitter: z
    .number({ error: 'must be a number' })
    .min(0, { error: 'must be from 0 to 0.5' })
    .max(0.5, { error: 'must be from 0 to 0.5' })
    .default(0.1),
  maxEntryBytes: count(512 * 1024 * 1024).default(1024 * 1024),
  lockTimeoutMs: durationOption(TIMER_DURATION).default(5000),
  loadTimeoutMs: durationOption(TIMER_DURATION).default(10_000),
  storeTimeoutMs: durationOption(TIMER_DURATION).default(500),
  breakerThreshold: count(1_000_000).default(5),
  breakerOpenMs: durationOption(TIMER_DURATION).default(2000),
  busLeaseMs: durationOption({ min: 10, max: MAX_TIMER_MS }).default(1000),
  closeTimeoutMs: durationOption({ min: 0, max: MAX_TIMER_MS }).default(2000),
  // `false` is handled before parsing: a union would report `l1`, not `l1.maxAgeMs`.
  l1: z
    .strictObject({
      // lru-cache allocates its index for maxEntries up front (about 16 bytes each).
      maxEntries: count(10_000_000).default(l1Defaults.maxEntries),
      maxBytes: count(Number.MAX_SAFE_INTEGER).default(l1Defaults.maxBytes),
      maxAgeMs: durationOption(TIMER_DURATION).default(l1Defaults.maxAgeMs),
    })
    .default(l1Defaults),
})

/** {@link CacheOptions} with defaults filled in and durations in milliseconds. */
export type ResolvedCacheOptions = Omit<z.infer<typeof schema>, 'l1'> & {
  readonly l1: z.infer<typeof schema>['l1'] | false
  readonly events: CacheEvents
}

/**
 * Validates cache options.
 *
 * @throws ConfigError (`CONFIG_INVALID`) naming every bad option.
 * @example
 * ```ts
 * resolveCacheOptions({ redis: false, namespace: 'app' }).defaultTtlMs // 60000
 * ```
 */
export function resolveCacheOptions(options: CacheOptions): ResolvedCacheOptions {
  const { store, redis, consistency, instrumentation, ...rest } = options ?? {}
  const issues: ConfigIssue[] = []
  const problem = redisProblem(redis, store)
  if (problem) issues.push({ field: store === undefined ? 'redis' : 'store', message: problem })
  if (consistency !== undefined && !isConsistencySource(consistency)) {
    issues.push({
      field: 'consistency',
      message:
        'must be a routed database (consistencyToken, latestToken, newestToken, withConsistency)',
    })
  }
  if (!isInstrumentation(instrumentation)) {
    issues.push({
      field: 'instrumentation',
      message: 'must be an object of hooks ({ onCache }) or an array of them',
    })
  }
  let parsed: Omit<ResolvedCacheOptions, 'events'> | undefined
  const { l1, ...others } = rest
  try {
    parsed =
      l1 === false ? { ...parseOptions(schema, others), l1: false } : parseOptions(schema, rest)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    issues.push(...error.issues)
  }
  if (issues.length > 0 || !parsed) throw new ConfigError(issues)
  return {
    ...parsed,
    events: hookChannels(instrumentation, cacheChannels),
  }
}

function redisProblem(redis: unknown, store: unknown): string | undefined {
  if (store !== undefined) {
    const methods = ['get', 'generation', 'setIfGeneration', 'invalidate', 'tryLock']
    const valid = typeof store === 'object' && store !== null
    return valid &&
      methods.every((name) => typeof (store as Record<string, unknown>)[name] === 'function')
      ? undefined
      : 'store must implement CacheStore'
  }
  if (redis === false) return undefined
  if (redis === undefined || redis === '') {
    return 'is required: a Redis URL, an ioredis client, or false for an in-process cache (is REDIS_URL set?)'
  }
  if (typeof redis === 'string') {
    return redisUrlProblem(redis)
  }
  return typeof redis === 'object' &&
    redis !== null &&
    typeof (redis as { duplicate?: unknown }).duplicate === 'function'
    ? undefined
    : 'must be a Redis URL, an ioredis client or Cluster, or false'
}

function isInstrumentation(value: unknown): boolean {
  const isHooks = (one: unknown) => typeof one === 'object' && one !== null
  return value === undefined || (Array.isArray(value) ? value.every(isHooks) : isHooks(value))
}

function isConsistencySource(value: unknown): value is ConsistencySource {
  const methods = ['consistencyToken', 'latestToken', 'newestToken', 'withConsistency']
  return (
    typeof value === 'object' &&
    value !== null &&
    methods.every((name) => typeof (value as Record<string, unknown>)[name] === 'function')
  )
}
