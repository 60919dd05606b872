import type { ChannelNames, HookChannels } from '@sluice/core/internal'
import type { CacheError } from './errors.js'

/** Why a load stored nothing. */
export type NotStoredReason =
  /** Invalidated while loading (its value may predate the invalidation). */
  | 'invalidated'
  /** Over `maxEntryBytes`. */
  | 'too-large'
  /** The shared store did not answer, or the cache was closed meanwhile. */
  | 'store-unavailable'
  /** `undefined` without `negativeTtlMs`. */
  | 'not-found'
  /**
   * Read without the consistency floor an invalidation recorded (the database could give no
   * token): it may predate the invalidation, so it is served to this load's callers only.
   */
  | 'no-floor'

/**
 * What happened in the cache, keyed on `kind`. `key` is the cache key (keys must not hold
 * secrets); `tier` says which tier answered a hit.
 *
 * - `error`: a failure that was absorbed: `source` `store` (Redis did not answer, refused the
 *   credentials), `bus` (the invalidation channel), `refresh` (a background refresh's loader),
 *   `consistency` (no token could be had for an invalidation: its reload reads without a floor)
 *   or `payload` (an entry in Redis that this version cannot read: served as a miss).
 *
 * @example
 * ```ts
 * const log = (event: CacheEvent) => {
 *   if (event.kind === 'error') logger.warn({ source: event.source, code: event.error.code }, event.error.message)
 * }
 * ```
 */
export type CacheEvent =
  | { readonly kind: 'hit'; readonly key: string; readonly tier: 'l1' | 'l2' }
  | { readonly kind: 'miss'; readonly key: string }
  | { readonly kind: 'stale-served'; readonly key: string; readonly tier: 'l2' }
  | {
      readonly kind: 'load'
      readonly key: string
      readonly durationMs: number
      readonly stored: boolean
      readonly reason?: NotStoredReason
    }
  | { readonly kind: 'lock-wait'; readonly key: string; readonly durationMs: number }
  | {
      readonly kind: 'invalidation'
      readonly keys: readonly string[]
      readonly tags: readonly string[]
    }
  | {
      readonly kind: 'error'
      readonly source: 'store' | 'bus' | 'refresh' | 'consistency' | 'payload'
      readonly error: CacheError
      readonly key?: string
    }

/**
 * The cache's hook: typed sugar over {@link cacheChannels}, for one cache. A hook that throws
 * never fails a cache call (it is reported once, as a `SLUICE_HOOK_ERROR` process warning).
 *
 * @example
 * ```ts
 * const hits: CacheInstrumentation = { onCache: (e) => e.kind === 'hit' && counter.inc({ tier: e.tier }) }
 * createCache({ redis: false, namespace: 'app', instrumentation: hits })
 * ```
 */
export interface CacheInstrumentation {
  onCache?(event: CacheEvent): void
}

/**
 * The `node:diagnostics_channel` channel the cache publishes every {@link CacheEvent} on, of
 * every cache in the process; nothing is built while nobody listens.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel'
 * subscribe(cacheChannels.onCache, (event) => console.log((event as CacheEvent).kind))
 * ```
 */
export const cacheChannels = {
  onCache: 'sluice:cache',
} as const satisfies ChannelNames<CacheInstrumentation>

/** The cache's events: the hooks given, and {@link cacheChannels}. */
export type CacheEvents = HookChannels<CacheInstrumentation>
