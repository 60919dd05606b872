import {
  addIntervals,
  intervalStart,
  isoDate,
  type LocalDate,
  localDate,
  startInstant,
} from './calendar.js'
import type { PartitionSpec } from './spec.js'

/** One partition's place in time: `[from, to)` in the spec's time zone. */
export interface PartitionRange {
  /** `<table>_pYYYYMMDD`, after the local date the range starts on. */
  readonly name: string
  readonly from: LocalDate
  readonly to: LocalDate
  /** The instants the bounds stand for. */
  readonly fromInstant: Date
  readonly toInstant: Date
}

/**
 * The partition of `spec` that holds `date`, whether or not it exists yet.
 *
 * @example
 * ```ts
 * partitionFor(messages, new Date('2026-02-14T12:00:00Z'))
 * // { name: 'messages_p20260201', from: 2026-02-01, to: 2026-03-01, ... }
 * ```
 */
export function partitionFor(spec: PartitionSpec, date: Date): PartitionRange {
  return rangeStarting(spec, intervalStart(spec.interval, localDate(date, spec.timeZone)))
}

/**
 * The partition of `spec` that starts on `from` (an interval start), moved by `offset`
 * intervals.
 *
 * @example
 * ```ts
 * rangeStarting(messages, { year: 2026, month: 1, day: 1 }, 1).name // 'messages_p20260201'
 * ```
 */
export function rangeStarting(spec: PartitionSpec, from: LocalDate, offset = 0): PartitionRange {
  const start = addIntervals(spec.interval, from, offset)
  const end = addIntervals(spec.interval, start, 1)
  return {
    name: `${spec.table}_p${isoDate(start).replaceAll('-', '')}`,
    from: start,
    to: end,
    fromInstant: startInstant(start, spec.timeZone),
    toInstant: startInstant(end, spec.timeZone),
  }
}

/** The SQL types a partition key may have, as `format_type` names them. */
export type TimeType = 'timestamp with time zone' | 'timestamp without time zone' | 'date'

const TIME_TYPES = new Map<string, TimeType>([
  ['timestamp with time zone', 'timestamp with time zone'],
  ['timestamptz', 'timestamp with time zone'],
  ['timestamp without time zone', 'timestamp without time zone'],
  ['timestamp', 'timestamp without time zone'],
  ['date', 'date'],
])

/** What a partition key may be, for error messages. */
export const TIME_TYPES_TEXT = 'timestamptz, timestamp or date'

/**
 * The time type a type name (as PostgreSQL prints it, or as written in DDL) stands for, or
 * `undefined` for a type that cannot be a time partition key.
 *
 * @example
 * ```ts
 * timeType('timestamptz') // 'timestamp with time zone'
 * timeType('timestamp(3) with time zone') // 'timestamp with time zone'
 * timeType('integer') // undefined
 * ```
 */
export function timeType(name: string): TimeType | undefined {
  // A precision (`timestamptz(3)`, `timestamp(0) with time zone`) does not change the bounds.
  return TIME_TYPES.get(
    name
      .toLowerCase()
      .replace(/\s*\(\s*\d+\s*\)/, '')
      .trim(),
  )
}
