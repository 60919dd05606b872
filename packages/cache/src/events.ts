import type { Instrumentation } from '@sluice/core'

/**
 * What happened in the cache. `tier` says which tier answered a hit; `key` is the cache key
 * (keys must not hold secrets); `error` is a store failure that was absorbed.
 */
export interface CacheEvent {
  readonly kind: 'hit' | 'miss' | 'stale-served' | 'load' | 'lock-wait' | 'invalidation' | 'error'
  readonly key?: string
  readonly tags?: readonly string[]
  readonly tier?: 'l1' | 'l2'
  /** How long a load or a lock wait took. */
  readonly durationMs?: number
  /** For `load`: whether the value was stored. */
  readonly stored?: boolean
  /**
   * For a `load` that stored nothing, why: `invalidated` while loading, `too-large` (over
   * `maxEntryBytes`), `store-unavailable`, or `not-found` (`undefined` without `negativeTtlMs`).
   */
  readonly reason?: 'invalidated' | 'too-large' | 'store-unavailable' | 'not-found'
  readonly error?: unknown
}

/**
 * Core's hooks plus the cache's events.
 *
 * @example
 * ```ts
 * const hits: CacheInstrumentation = { onCache: (e) => e.kind === 'hit' && counter.inc({ tier: e.tier }) }
 * createCache({ namespace: 'app', instrumentation: hits })
 * ```
 */
export interface CacheInstrumentation extends Instrumentation {
  onCache?(event: CacheEvent): void
}
