import { sql } from 'kysely'
import type { AnyKysely } from '../any-kysely.js'
import type { ParentTable } from '../catalog/parent.js'
import { type KeySpan, keyDate, rangeSpan } from '../spec/bounds.js'
import {
  addIntervals,
  intervalStart,
  type LocalDate,
  localDate,
  startInstant,
  utcTime,
} from '../spec/calendar.js'
import { literal, qualified, quote } from '../spec/identifiers.js'
import { partitionFor, rangeStarting } from '../spec/partition-for.js'

/**
 * The ranges to have: gap fill, current + premake, and the ranges of rows waiting in the
 * default from the retention cutoff (without retention: all of the past) to
 * `now + premake`. Gap fill starts at the oldest partition retention keeps; without
 * retention at the current range of the last successful run (`since`: the `now` it planned
 * for; on a first run, at the newest partition before the current range): the ranges
 * skipped while maintenance was down, so that partitions made for old rows never bring empty
 * ones after them. Rows before the cutoff or beyond premake stay in the default (reported). Gap fill comes first, oldest first (a run cut short by `maxPartitionsPerRun`
 * leaves one gap, above the newest partition made); then, marked `waiting`, the ranges of
 * older rows.
 *
 * @example
 * ```ts
 * for (const { range, rows } of candidates(parent, new Date(), undefined, [], new Map(), undefined)) console.log(range.name, rows)
 * ```
 */
export function* candidates(
  parent: ParentTable,
  now: Date,
  cutoff: number | undefined,
  taken: readonly KeySpan[],
  waiting: ReadonlyMap<string, { start: LocalDate; rows: number }>,
  since: Date | undefined,
) {
  const { spec, type } = parent
  const current = partitionFor(spec, now)
  const currentLower = rangeSpan(current, type).lower
  // Gap fill (pg_partman's partition_gap_fill) from the oldest partition retention keeps, or
  // without retention from the last successful run's range (first run: the newest partition
  // before now).
  const resumed = cutoff === undefined && since !== undefined && since <= now ? since : undefined
  const past = taken.filter(
    (t) => Number.isFinite(t.lower) && t.lower < currentLower && t.upper > (cutoff ?? -Infinity),
  )
  const floors =
    cutoff === undefined
      ? past.map((t) => Math.min(t.upper, currentLower))
      : past.map((t) => Math.max(t.lower, cutoff))
  const floor = cutoff === undefined ? Math.max(...floors) : Math.min(...floors)
  const from = resumed
    ? partitionFor(spec, resumed).from
    : floors.length > 0
      ? intervalStart(spec.interval, keyDate(floor, type, spec.timeZone))
      : current.from
  const seen = new Set<string>()
  const rowsOf = (name: string) => waiting.get(name)?.rows ?? 0
  const last = rangeSpan(rangeStarting(spec, current.from, spec.premake), type).lower
  const first = cutoff ?? -Infinity
  for (let i = 0; i < 100_000; i++) {
    const range = rangeStarting(spec, from, i)
    if (rangeSpan(range, type).lower > last) break
    seen.add(range.name)
    yield { range, rows: rowsOf(range.name), waiting: false }
  }
  for (const [name, { start }] of waiting) {
    if (seen.has(name)) continue
    const range = rangeStarting(spec, start)
    const span = rangeSpan(range, type)
    // Before retention's cutoff, or beyond premake (premake reaches it later): the rows stay.
    if (span.upper <= first || span.lower > last) continue
    yield { range, rows: rowsOf(name), waiting: true }
  }
}

/**
 * The start of what retention keeps, on the key's axis (`undefined`: keep everything).
 *
 * @example
 * ```ts
 * retentionCutoff(parent, new Date('2026-11-22T00:00:00Z')) // epoch ms of 2024-11-22 for 24 months
 * ```
 */
export function retentionCutoff({ spec, type }: ParentTable, now: Date): number | undefined {
  const retention = spec.retention
  if (!retention) return undefined
  const date = addIntervals(
    retention.keep.unit,
    localDate(now, spec.timeZone),
    -retention.keep.count,
  )
  return type === 'timestamp with time zone'
    ? startInstant(date, spec.timeZone).getTime()
    : utcTime(date.year, date.month - 1, date.day)
}

/**
 * Rows of the default partition by the range they belong to, and how many it holds in all
 * (an index or one scan, no lock beyond ACCESS SHARE). Rows whose key is null or `±infinity`
 * belong to no range: they stay.
 *
 * @example
 * ```ts
 * const { ranges, total } = await defaultRows(db, parent, 'messages_default') // ranges: Map { 'messages_p20270101' => { rows: 12, ... } }
 * ```
 */
export async function defaultRows(db: AnyKysely, parent: ParentTable, defaultName: string) {
  const { spec, type } = parent
  const column = quote(spec.column)
  const local =
    type === 'timestamp with time zone'
      ? `${column} at time zone ${literal(spec.timeZone)}`
      : `${column}::timestamp`
  const { rows } = await sql<{ start: string | null; rows: number }>`
    select case when isfinite(${sql.raw(column)}) then to_char(date_trunc(${spec.interval}, ${sql.raw(local)}), 'YYYY-MM-DD') end as start,
      count(*)::int as rows
    from ${sql.raw(qualified(spec.schema, defaultName))} group by 1`.execute(db)
  const ranges = new Map<string, { start: LocalDate; rows: number }>()
  let total = 0
  for (const row of rows) {
    total += row.rows
    if (row.start === null) continue
    const [year = 0, month = 1, day = 1] = row.start.split('-').map(Number)
    const start = intervalStart(spec.interval, { year, month, day })
    const range = rangeStarting(spec, start)
    const before = ranges.get(range.name)?.rows ?? 0
    ranges.set(range.name, { start, rows: before + row.rows })
  }
  return { ranges, total }
}
