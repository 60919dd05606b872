import { combineInstrumentation, parseOptions } from '@sluice/core'
import type { Cluster, Redis } from 'ioredis'
import { z } from 'zod'
import type { CacheStore } from './cache-store.js'
import type { CacheInstrumentation } from './events.js'

/**
 * Options of `createCache`.
 *
 * @example
 * ```ts
 * createCache({ redis: process.env.REDIS_URL, namespace: 'app', defaultTtlMs: 60_000 })
 * ```
 */
export interface CacheOptions {
  /** An ioredis client or Cluster (yours to close), or a Redis URL (the cache's own client). Without it: in-process only. */
  readonly redis?: Redis | Cluster | string
  /** Any other shared store; overrides `redis`. */
  readonly store?: CacheStore
  /** Prefix of every Redis key. Required, so that services sharing a Redis do not collide. */
  readonly namespace: string
  /** Default 60 s. */
  readonly defaultTtlMs?: number
  /** TTLs vary by up to this fraction either way, so that keys filled together do not expire together. Default 0.1. */
  readonly jitter?: number
  /**
   * The in-process tier; `false` for none. Default 10,000 entries, 64 MiB, and copies kept at
   * most `maxAgeMs` (5 s). Invalidations reach other instances' L1 over Redis pub/sub;
   * `maxAgeMs` bounds how long a copy can outlive one whose message was lost.
   */
  readonly l1?:
    | { readonly maxEntries?: number; readonly maxBytes?: number; readonly maxAgeMs?: number }
    | false
  /** Values whose serialized form is larger are returned but not cached. Default 1 MiB. */
  readonly maxEntryBytes?: number
  /** How long a loader may hold a key's cross-process lock. Default 5 s. */
  readonly lockTimeoutMs?: number
  /** Time allowed for one store call before it counts as a failure. Default 500 ms. */
  readonly storeTimeoutMs?: number
  /** Store failures in a row that open the circuit breaker. Default 5. */
  readonly breakerThreshold?: number
  /** How long the open breaker skips the store. Default 2 s. */
  readonly breakerOpenMs?: number
  readonly instrumentation?: CacheInstrumentation | readonly CacheInstrumentation[]
}

const positive = (name: string) =>
  z.number({ error: `${name} must be a number` }).positive({ error: `${name} must be positive` })

/** A `redis://` or `rediss://` URL (the value itself is never echoed in errors). */
function isRedisUrl(url: string): boolean {
  try {
    return ['redis:', 'rediss:'].includes(new URL(url).protocol)
  } catch {
    return false
  }
}

const schema = z.object({
  redis: z
    .unknown()
    .refine((redis) => typeof redis !== 'string' || isRedisUrl(redis), {
      error: 'must be a redis:// or rediss:// URL',
    })
    .optional(),
  namespace: z
    .string({ error: 'namespace is required' })
    .regex(/^[\w.-]{1,64}$/, { error: 'namespace must be 1-64 letters, digits, _ . or -' }),
  defaultTtlMs: positive('defaultTtlMs').default(60_000),
  jitter: z.number().min(0).max(0.5, { error: 'jitter must be from 0 to 0.5' }).default(0.1),
  maxEntryBytes: positive('maxEntryBytes').default(1024 * 1024),
  lockTimeoutMs: positive('lockTimeoutMs').default(5000),
  storeTimeoutMs: positive('storeTimeoutMs').default(500),
  breakerThreshold: z.number().int().positive().default(5),
  breakerOpenMs: positive('breakerOpenMs').default(2000),
  l1: z
    .union([
      z.literal(false),
      z.object({
        maxEntries: z.number().int().positive().default(10_000),
        maxBytes: positive('l1.maxBytes').default(64 * 1024 * 1024),
        maxAgeMs: positive('l1.maxAgeMs').default(5000),
      }),
    ])
    .default({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, maxAgeMs: 5000 }),
})

/** {@link CacheOptions} with defaults filled in. */
export type ResolvedCacheOptions = Omit<z.infer<typeof schema>, 'redis'> & {
  readonly hooks: CacheInstrumentation | undefined
}

/**
 * Validates cache options.
 *
 * @throws ConfigError (`CONFIG_INVALID`) naming every bad option.
 * @example
 * ```ts
 * resolveCacheOptions({ namespace: 'app' }).defaultTtlMs // 60000
 * ```
 */
export function resolveCacheOptions(options: CacheOptions): ResolvedCacheOptions {
  const { store: _store, instrumentation, ...rest } = options ?? {}
  const { redis: _redis, ...parsed } = parseOptions(schema, rest)
  return {
    ...parsed,
    hooks: combineInstrumentation<CacheInstrumentation>(...[instrumentation ?? []].flat()),
  }
}
