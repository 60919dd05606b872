import { z } from 'zod'
import { MAX_TIMER_MS } from '../internal/deadline.js'

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/

// A duration given as milliseconds (`250`, `'250'`) or with a unit (`'500ms'`, `'30s'`, `'5m'`,
// `'1h'`: '30s' is 30000); bare numbers are milliseconds, as in PostgreSQL's own timeout
// settings. `undefined` when the input is not a duration. Only readDuration below calls it.
function parseDuration(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined
  if (typeof input !== 'string') return undefined
  const match = DURATION.exec(input.trim())
  if (!match) return undefined
  const ms = Number(match[1]) * (UNITS[match[2] ?? 'ms'] ?? 1)
  // '1.1s' is 1100.0000000000002 in floating point: whole up to that error, else fractional
  // ('1.5ms', '1.0005s'), which readDuration refuses as it refuses the number 1.5.
  const whole = Math.round(ms)
  return Math.abs(ms - whole) < 1e-6 ? whole : ms
}

/** Bounds of one duration option, in milliseconds. */
export interface DurationRule {
  /** The smallest value: 1 for a timer or a TTL, 0 where 0 means "none". */
  readonly min: number
  readonly max: number
}

/**
 * The bounds of a duration that becomes a timer: 1 ms up to the longest a timer can wait
 * ({@link MAX_TIMER_MS}, about 24.8 days; a longer `setTimeout` fires at once).
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`).
 * @example
 * ```ts
 * const schema = z.object({ probeTimeoutMs: durationOption(TIMER_DURATION).default(2000) })
 * ```
 */
export const TIMER_DURATION: DurationRule = Object.freeze({ min: 1, max: MAX_TIMER_MS })

/**
 * Reads a duration option the same way in every package: a whole number of milliseconds
 * (`250`) or a string with a unit (`'250ms'`, `'30s'`, `'5m'`, `'1h'`), within `rule`. A
 * problem (NaN, negative, fractional, out of range, an unknown unit) is described in words,
 * for a `ConfigError` issue or a package's own error.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`).
 * @example
 * ```ts
 * readDuration('30s', { min: 1, max: 60_000 }) // { ms: 30000 }
 * readDuration(0.5, { min: 1, max: 60_000 }) // { problem: 'must be a whole number of milliseconds' }
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
 * A zod schema for a duration option (see {@link readDuration}): its output is milliseconds,
 * and a bad value is an issue on the option's own path, so `parseOptions` names it in its
 * `ConfigError`. Add `.default(ms)` for an optional option.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`).
 * @example
 * ```ts
 * const schema = z.object({ ttlMs: durationOption({ min: 1, max: 86_400_000 }).default(60_000) })
 * parseOptions(schema, { ttlMs: '5m' }).ttlMs // 300000
 * ```
 */
export function durationOption(rule: DurationRule) {
  return z.unknown().transform((input, context) => {
    const { ms, problem } = readDuration(input, rule)
    if (problem === undefined) return ms
    context.addIssue({ code: 'custom', message: problem })
    return z.NEVER
  })
}
