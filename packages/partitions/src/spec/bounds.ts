import { isoDate, type LocalDate, localDate, utcTime } from './calendar.js'
import type { PartitionRange, TimeType } from './partition-for.js'

/**
 * A point on a partition key's axis, as a number: epoch milliseconds of the instant for
 * `timestamptz`; of the wall-clock value read as UTC for `timestamp` and `date` (they carry
 * no zone). Catalog bounds and planned ranges meet on this axis, so plans compare bounds,
 * never names. `-Infinity` / `Infinity` stand for `MINVALUE` / `MAXVALUE`.
 */
export type KeyValue = number

/** `[lower, upper)` on the key's axis. */
export interface KeySpan {
  readonly lower: KeyValue
  readonly upper: KeyValue
}

/**
 * The span of a planned range on the key's axis.
 *
 * @example
 * ```ts
 * rangeSpan(partitionFor(messages, new Date()), 'timestamp with time zone').lower // epoch ms
 * ```
 */
export function rangeSpan(range: PartitionRange, type: TimeType): KeySpan {
  const at = (date: LocalDate, instant: Date) =>
    type === 'timestamp with time zone'
      ? instant.getTime()
      : utcTime(date.year, date.month - 1, date.day)
  return { lower: at(range.from, range.fromInstant), upper: at(range.to, range.toInstant) }
}

/**
 * A key value as a SQL literal of the key's type.
 *
 * @example
 * ```ts
 * keyLiteral(Date.UTC(2026, 0, 1), 'date') // "'2026-01-01'"
 * ```
 */
export function keyLiteral(value: KeyValue, type: TimeType): string {
  if (value === -Infinity) return 'MINVALUE'
  if (value === Infinity) return 'MAXVALUE'
  const iso = new Date(value).toISOString()
  if (type === 'timestamp with time zone') return `'${iso}'`
  if (type === 'date') return `'${iso.slice(0, 10)}'`
  return `'${iso.slice(0, 10)} ${iso.slice(11, 23)}'`
}

/**
 * The local date a key value falls on (for partition names), in `timeZone` for
 * `timestamptz`.
 *
 * @example
 * ```ts
 * keyDate(Date.UTC(2026, 0, 1), 'date', 'UTC') // { year: 2026, month: 1, day: 1 }
 * ```
 */
export function keyDate(value: KeyValue, type: TimeType, timeZone: string): LocalDate {
  return localDate(new Date(value), type === 'timestamp with time zone' ? timeZone : 'UTC')
}

/**
 * The parts of `span` that none of `taken` covers, in order: where a planned range meets
 * existing partitions (of any name or size), only the uncovered rest is created.
 *
 * @example
 * ```ts
 * uncovered({ lower: 0, upper: 10 }, [{ lower: 2, upper: 5 }]) // [{0, 2}, {5, 10}]
 * ```
 */
export function uncovered(span: KeySpan, taken: readonly KeySpan[]): KeySpan[] {
  let pieces: KeySpan[] = [span]
  for (const cut of taken) {
    pieces = pieces.flatMap((piece) => {
      if (cut.upper <= piece.lower || cut.lower >= piece.upper) return [piece]
      const rest: KeySpan[] = []
      if (cut.lower > piece.lower) rest.push({ lower: piece.lower, upper: cut.lower })
      if (cut.upper < piece.upper) rest.push({ lower: cut.upper, upper: piece.upper })
      return rest
    })
  }
  return pieces
}

/**
 * The SQL predicate of a span on `column` (a quoted name).
 *
 * @example
 * ```ts
 * spanPredicate('"at"', { lower: 0, upper: 86_400_000 }, 'date') // `"at" >= '1970-01-01' and "at" < '1970-01-02'`
 * ```
 */
export function spanPredicate(column: string, span: KeySpan, type: TimeType): string {
  const parts: string[] = []
  if (span.lower !== -Infinity) parts.push(`${column} >= ${keyLiteral(span.lower, type)}`)
  if (span.upper !== Infinity) parts.push(`${column} < ${keyLiteral(span.upper, type)}`)
  return parts.length > 0 ? parts.join(' and ') : 'true'
}

/** `isoDate` without dashes: the `YYYYMMDD` of partition names. */
export function nameDate(date: LocalDate): string {
  return isoDate(date).replaceAll('-', '')
}
