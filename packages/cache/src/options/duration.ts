import { type DurationRule, readDuration } from '@sluice/core/internal'
import { CacheError } from '../errors.js'

/** The longest TTL accepted: 365 days. */
export const MAX_TTL_MS = 365 * 24 * 60 * 60 * 1000

/** A TTL's bounds: 1 ms to {@link MAX_TTL_MS}. */
export const TTL_DURATION: DurationRule = Object.freeze({ min: 1, max: MAX_TTL_MS })

/**
 * A duration option of a single call, or its default.
 *
 * @throws CacheError `CACHE_OPTION_INVALID` naming `field`.
 * @example
 * ```ts
 * const ttlMs = callDuration(options.ttlMs, 'ttlMs', TTL_DURATION, 60_000)
 * ```
 */
export function callDuration(
  input: unknown,
  field: string,
  rule: DurationRule,
  fallback: number,
): number {
  if (input === undefined) return fallback
  const { ms, problem } = readDuration(input, rule)
  if (problem !== undefined) {
    throw new CacheError('CACHE_OPTION_INVALID', `${field} ${problem}`, { context: { field } })
  }
  return ms
}
