import { parseDuration } from '@sluice/core/internal'
import { CacheError } from '../errors.js'

/** The longest TTL accepted: 365 days. */
export const MAX_TTL_MS = 365 * 24 * 60 * 60 * 1000

/** Bounds of one duration option. */
export interface DurationRule {
  /** Smallest value; 1 unless the option may be 0. */
  readonly min: number
  readonly max: number
}

/**
 * Reads a duration option the same way everywhere: a whole number of milliseconds (`250`) or
 * a string with a unit (`'250ms'`, `'30s'`, `'5m'`, `'1h'`), within `rule`; a problem is
 * described in words (for a `ConfigError` issue or a {@link CacheError}).
 *
 * @example
 * ```ts
 * readDuration('30s', { min: 1, max: MAX_TTL_MS }) // { ms: 30000 }
 * readDuration(0.5, { min: 1, max: MAX_TTL_MS }) // { problem: 'must be a whole number of milliseconds' }
 * ```
 */
export function readDuration(
  input: unknown,
  rule: DurationRule,
): { ms: number; problem?: undefined } | { ms?: undefined; problem: string } {
  const ms = parseDuration(input)
  if (ms === undefined) {
    return {
      problem: "must be a duration: milliseconds (250) or a string with a unit ('30s', '5m')",
    }
  }
  if (!Number.isInteger(ms)) return { problem: 'must be a whole number of milliseconds' }
  if (ms < rule.min) return { problem: `must be at least ${rule.min} ms` }
  if (ms > rule.max) return { problem: `must be at most ${rule.max} ms` }
  return { ms }
}

/**
 * A duration option of a single call, or its default.
 *
 * @throws CacheError `CACHE_OPTION_INVALID` naming `field`.
 * @example
 * ```ts
 * const ttlMs = callDuration(options.ttlMs, 'ttlMs', { min: 1, max: MAX_TTL_MS }, 60_000)
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
    throw new CacheError('CACHE_OPTION_INVALID', `${field} ${problem}`, { field })
  }
  return ms
}
