/** The lengths partitions can have. */
export type Interval = 'day' | 'week' | 'month' | 'quarter' | 'year'

/** A calendar date in some time zone (month 1-12). */
export interface LocalDate {
  readonly year: number
  readonly month: number
  readonly day: number
}

const formats = new Map<string, Intl.DateTimeFormat>()

function format(timeZone: string): Intl.DateTimeFormat {
  let found = formats.get(timeZone)
  if (!found) {
    found = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formats.set(timeZone, found)
  }
  return found
}

/**
 * True for a time zone name the runtime knows (IANA, e.g. `Europe/Berlin`, or `UTC`).
 *
 * @example
 * ```ts
 * isTimeZone('America/New_York') // true
 * ```
 */
export function isTimeZone(timeZone: string): boolean {
  try {
    format(timeZone)
    return true
  } catch {
    return false
  }
}

/**
 * Epoch ms of a UTC date and time, for every year: `Date.UTC` reads years 0-99 as
 * 1900-1999. Fields out of range carry over, as in `Date.UTC`.
 *
 * @example
 * ```ts
 * new Date(utcTime(99, 0, 1)).toISOString() // '0099-01-01T00:00:00.000Z'
 * ```
 */
export function utcTime(
  year: number,
  monthIndex: number,
  day: number,
  hour = 0,
  minute = 0,
  second = 0,
): number {
  const date = new Date(0)
  date.setUTCFullYear(year, monthIndex, day)
  date.setUTCHours(hour, minute, second, 0)
  return date.getTime()
}

/** Wall-clock fields of `instant` in `timeZone`, as if they were UTC: epoch ms. */
function wallClock(instant: number, timeZone: string): number {
  const parts: Record<string, number> = {}
  for (const { type, value } of format(timeZone).formatToParts(instant)) parts[type] = Number(value)
  const { year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = parts
  return utcTime(year, month - 1, day, hour, minute, second)
}

/**
 * The calendar date of `instant` in `timeZone`.
 *
 * @example
 * ```ts
 * localDate(new Date('2026-03-31T23:30:00Z'), 'Europe/Berlin') // { year: 2026, month: 4, day: 1 }
 * ```
 */
export function localDate(instant: Date, timeZone: string): LocalDate {
  const wall = new Date(wallClock(instant.getTime(), timeZone))
  return { year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1, day: wall.getUTCDate() }
}

/**
 * The instant `date` starts (its midnight) in `timeZone`. Where a DST change skips midnight,
 * the first instant of the day.
 *
 * @example
 * ```ts
 * startInstant({ year: 2026, month: 1, day: 1 }, 'Europe/Berlin').toISOString() // '2025-12-31T23:00:00.000Z'
 * ```
 */
export function startInstant(date: LocalDate, timeZone: string): Date {
  const wanted = utcTime(date.year, date.month - 1, date.day)
  let instant = wanted
  // Two corrections find the offset in force at that wall time (it can change in between).
  for (let i = 0; i < 2; i++) instant = wanted - (wallClock(instant, timeZone) - instant)
  if (wallClock(instant, timeZone) < wanted) {
    // Midnight does not exist that day (a DST gap): take the first instant after it.
    while (wallClock(instant, timeZone) < wanted) instant += 15 * 60_000
  }
  return new Date(instant)
}

/**
 * The first day of the interval that holds `date` (weeks start on Monday, as ISO weeks do).
 *
 * @example
 * ```ts
 * intervalStart('quarter', { year: 2026, month: 5, day: 17 }) // { year: 2026, month: 4, day: 1 }
 * ```
 */
export function intervalStart(interval: Interval, date: LocalDate): LocalDate {
  const { year, month, day } = date
  switch (interval) {
    case 'day':
      return date
    case 'week': {
      const weekday = (new Date(utcTime(year, month - 1, day)).getUTCDay() + 6) % 7 // Monday = 0
      return addDays(date, -weekday)
    }
    case 'month':
      return { year, month, day: 1 }
    case 'quarter':
      return { year, month: Math.floor((month - 1) / 3) * 3 + 1, day: 1 }
    case 'year':
      return { year, month: 1, day: 1 }
  }
}

/**
 * `date` moved by `count` intervals (negative: back). `date` is an interval start.
 *
 * @example
 * ```ts
 * addIntervals('month', { year: 2026, month: 12, day: 1 }, 2) // { year: 2027, month: 2, day: 1 }
 * ```
 */
export function addIntervals(interval: Interval, date: LocalDate, count: number): LocalDate {
  switch (interval) {
    case 'day':
      return addDays(date, count)
    case 'week':
      return addDays(date, 7 * count)
    case 'month':
      return addMonths(date, count)
    case 'quarter':
      return addMonths(date, 3 * count)
    case 'year':
      return addMonths(date, 12 * count)
  }
}

function addDays({ year, month, day }: LocalDate, days: number): LocalDate {
  const moved = new Date(utcTime(year, month - 1, day + days))
  return { year: moved.getUTCFullYear(), month: moved.getUTCMonth() + 1, day: moved.getUTCDate() }
}

function addMonths({ year, month, day }: LocalDate, months: number): LocalDate {
  const index = year * 12 + (month - 1) + months
  return { year: Math.floor(index / 12), month: (index % 12) + 1, day }
}

/**
 * `YYYY-MM-DD`.
 *
 * @example
 * ```ts
 * isoDate({ year: 2028, month: 2, day: 29 }) // '2028-02-29'
 * ```
 */
export function isoDate({ year, month, day }: LocalDate): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0')
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}`
}

/**
 * Orders two dates.
 *
 * @example
 * ```ts
 * compareDates({ year: 2026, month: 1, day: 1 }, { year: 2026, month: 2, day: 1 }) // negative
 * ```
 */
export function compareDates(a: LocalDate, b: LocalDate): number {
  return a.year - b.year || a.month - b.month || a.day - b.day
}
