import { ConfigError } from '../errors/errors.js'

/**
 * A `timeoutMs` option as given, or `fallback` when it is absent. NaN, infinite and negative
 * values are refused: a timer would fire at once and cut off what the caller meant to wait for.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`).
 * @throws ConfigError (`CONFIG_INVALID`) naming `field`.
 * @example
 * ```ts
 * const timeoutMs = timeoutOption('timeoutMs', 5_000, 10_000) // 5000
 * ```
 */
export function timeoutOption(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ConfigError([{ field, message: 'must be a number of milliseconds, 0 or more' }])
  }
  return value
}
