import { isDatabaseError } from '@sluice/core/internal'
import { sql } from 'kysely'
import type { AnyKysely } from '../any-kysely.js'
import { PartitionError } from '../errors.js'
import { isoDate } from '../spec/calendar.js'
import type { PartitionRange } from '../spec/partition-for.js'
import type { ParentTable } from './parent.js'

const INVALID_PARAMETER = '22023' // PostgreSQL's "time zone ... not recognized"

/**
 * Checks that the server's time-zone data agrees with Node's (ICU's) for `ranges`, before
 * any DDL: each bound, an instant Node computed as the first of its local day in the spec's
 * zone, must be the first instant of that day for PostgreSQL's `AT TIME ZONE` too. Bounds
 * are computed in Node, while the rows waiting in the default partition are grouped by
 * range on the server: where the two disagree (different tzdata releases, or a name each
 * reads differently, such as `IST`), a range's rows would be counted for one partition and
 * belong to another. Only `timestamptz` keys in a zone other than UTC depend on zone data.
 *
 * @throws PartitionError `PARTITION_TIME_ZONE_UNKNOWN` or `PARTITION_TIME_ZONE_MISMATCH`
 *   (field `timeZone`), naming the bound, both readings and the fix.
 * @example
 * ```ts
 * await checkTimeZone(db, parent, [partitionFor(parent.spec, new Date())])
 * ```
 */
export async function checkTimeZone(
  db: AnyKysely,
  { spec, type }: ParentTable,
  ranges: readonly PartitionRange[],
): Promise<void> {
  if (type !== 'timestamp with time zone' || spec.timeZone === 'UTC' || ranges.length === 0) return
  const bounds = new Map<string, string>()
  for (const range of ranges) {
    bounds.set(range.fromInstant.toISOString(), isoDate(range.from))
    bounds.set(range.toInstant.toISOString(), isoDate(range.to))
  }
  const table = `${spec.schema}.${spec.table}`
  const zone = spec.timeZone
  let found: { at: string; day: string; local: string } | undefined
  try {
    const { rows } = await sql<{ at: string; day: string; local: string }>`
      select b.at, b.day::text as day, (b.at::timestamptz at time zone ${zone})::text as local
      from unnest(${[...bounds.keys()]}::text[], ${[...bounds.values()]}::date[]) as b(at, day)
      where (b.at::timestamptz at time zone ${zone})::date <> b.day
        or ((b.at::timestamptz - interval '1 microsecond') at time zone ${zone})::date >= b.day
      limit 1`.execute(db)
    found = rows[0]
  } catch (error) {
    if (!isDatabaseError(error) || error.code !== INVALID_PARAMETER) throw error
    throw new PartitionError(
      'PARTITION_TIME_ZONE_UNKNOWN',
      `${table}: the server does not know time zone ${zone}, which Node does; give the spec a zone both know (an IANA name from pg_timezone_names), or update the server's time-zone data`,
      { cause: error, context: { field: 'timeZone', table } },
    )
  }
  if (!found) return
  throw new PartitionError(
    'PARTITION_TIME_ZONE_MISMATCH',
    `${table}: Node (tzdata ${process.versions.tz ?? 'unknown'}) starts ${found.day} in ${zone} at ${found.at}, the server reads that instant as ${found.local}; nothing was changed. Bounds and the grouping of the default's rows would disagree: give both the same time-zone data (update the older of Node and the server's tzdata), or use an unambiguous IANA name (not an abbreviation such as IST)`,
    { context: { field: 'timeZone', table } },
  )
}
