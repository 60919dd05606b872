const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/

/**
 * Parses a duration given as milliseconds (`250`, `'250'`) or with a unit (`'500ms'`, `'30s'`,
 * `'5m'`, `'1h'`). Bare numbers are milliseconds, as in PostgreSQL's own timeout settings.
 * Returns `undefined` when the input is not a duration.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * parseDuration('30s') // 30000
 * parseDuration(250) // 250
 * ```
 */
export function parseDuration(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined
  if (typeof input !== 'string') return undefined
  const match = DURATION.exec(input.trim())
  if (!match) return undefined
  return Math.round(Number(match[1]) * (UNITS[match[2] ?? 'ms'] ?? 1))
}
