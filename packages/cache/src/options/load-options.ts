import { TIMER_DURATION } from '@sluice/core/internal'
import { CacheError, clipped, quoted } from '../errors.js'
import type { Duration, ResolvedCacheOptions } from './cache-options.js'
import { callDuration, MAX_TTL_MS, TTL_DURATION } from './duration.js'

/** Options of one `getOrLoad` (and, for `ttlMs` and `tags`, of `set`). Durations as in `createCache`. */
export interface LoadOptions {
  /** Default: the cache's `defaultTtlMs`. */
  readonly ttlMs?: Duration
  /** Invalidating any of these tags makes the entry a miss. */
  readonly tags?: readonly string[]
  /** After the TTL, serve the old value this much longer while one caller refreshes it. Default 0. */
  readonly graceMs?: Duration
  /** Cache a loader's `undefined` ("not found") this long. Default 0: not cached. */
  readonly negativeTtlMs?: Duration
  /** Overrides the cache's `lockTimeoutMs` for this key. */
  readonly lockTimeoutMs?: Duration
  /** Overrides the cache's `loadTimeoutMs` for this key. */
  readonly loadTimeoutMs?: Duration
}

/** A load's options with the cache's defaults, in milliseconds. */
export interface ResolvedLoad {
  readonly ttlMs: number
  readonly graceMs: number
  readonly negativeTtlMs: number
  readonly lockTimeoutMs: number
  readonly loadTimeoutMs: number
}

const optionalTtl = { min: 0, max: MAX_TTL_MS }

/**
 * Checks one call's options and fills in the cache's defaults.
 *
 * @throws CacheError `CACHE_OPTION_INVALID` naming the field (`ttlMs`, `graceMs`...).
 * @example
 * ```ts
 * resolveLoadOptions({ ttlMs: '30s' }, cacheOptions).ttlMs // 30000
 * ```
 */
export function resolveLoadOptions(
  options: LoadOptions,
  defaults: Pick<ResolvedCacheOptions, 'defaultTtlMs' | 'lockTimeoutMs' | 'loadTimeoutMs'>,
): ResolvedLoad {
  return {
    ttlMs: callDuration(options.ttlMs, 'ttlMs', TTL_DURATION, defaults.defaultTtlMs),
    graceMs: callDuration(options.graceMs, 'graceMs', optionalTtl, 0),
    negativeTtlMs: callDuration(options.negativeTtlMs, 'negativeTtlMs', optionalTtl, 0),
    lockTimeoutMs: callDuration(
      options.lockTimeoutMs,
      'lockTimeoutMs',
      TIMER_DURATION,
      defaults.lockTimeoutMs,
    ),
    loadTimeoutMs: callDuration(
      options.loadTimeoutMs,
      'loadTimeoutMs',
      TIMER_DURATION,
      defaults.loadTimeoutMs,
    ),
  }
}

/** The options of `getOrLoad`. */
export const LOAD_OPTIONS: ReadonlySet<string> = new Set([
  'ttlMs',
  'tags',
  'graceMs',
  'negativeTtlMs',
  'lockTimeoutMs',
  'loadTimeoutMs',
])

/**
 * A call's options object: `{}` when left out; anything but an object (`null`, a string...)
 * is refused rather than read as no options, and so is a name not in `known` (a misspelt
 * `ttl` would otherwise be the default TTL, silently).
 *
 * @throws CacheError `CACHE_OPTION_INVALID` naming `field`, or the unknown option.
 * @example
 * ```ts
 * const { ttlMs, tags } = callOptions<LoadOptions>(options, 'options', LOAD_OPTIONS)
 * ```
 */
export function callOptions<T extends object>(
  input: T | undefined,
  field: string,
  known: ReadonlySet<string>,
): T {
  if (input === undefined) return {} as T
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new CacheError('CACHE_OPTION_INVALID', `${field} must be an object`, {
      context: { field },
    })
  }
  // for-in, not Object.keys: no array per call on the L1 hit path.
  for (const name in input) {
    if (known.has(name)) continue
    const named = field.endsWith('[]') ? `${field}.${name}` : name
    throw new CacheError(
      'CACHE_OPTION_INVALID',
      `${quoted(named)} is not an option here (${[...known].join(', ')})`,
      { context: { field: clipped(named) } },
    )
  }
  return input
}
