import { describe, expect, test } from 'vitest'
import { definePartitions, type Interval, type PartitionRange, partitionFor } from '../src/index.js'
import { isoDate } from '../src/spec/calendar.js'
import { rangeStarting } from '../src/spec/partition-for.js'

const spec = (interval: Interval, timeZone = 'UTC') =>
  definePartitions({ table: 't', column: 'at', interval, timeZone })

/** `count` consecutive ranges from the one holding `start`. */
function ranges(interval: Interval, timeZone: string, start: string, count: number) {
  const s = spec(interval, timeZone)
  const first = partitionFor(s, new Date(start))
  return Array.from({ length: count }, (_, i) => rangeStarting(s, first.from, i))
}

/** No gaps, no overlaps: each range ends exactly where the next starts, and has positive length. */
function expectContiguous(list: readonly PartitionRange[]) {
  for (const [i, range] of list.entries()) {
    expect(range.toInstant.getTime()).toBeGreaterThan(range.fromInstant.getTime())
    const next = list[i + 1]
    if (next) {
      expect(next.fromInstant.getTime()).toBe(range.toInstant.getTime())
      expect(next.from).toEqual(range.to)
    }
  }
  expect(new Set(list.map((r) => r.name)).size).toBe(list.length)
}

describe('partition boundaries', () => {
  test.each([
    ['day', '2028-02-28T12:00:00Z', ['2028-02-28', '2028-02-29', '2028-03-01']],
    ['week', '2026-12-30T00:00:00Z', ['2026-12-28', '2027-01-04', '2027-01-11']],
    ['month', '2026-01-31T23:59:59Z', ['2026-01-01', '2026-02-01', '2026-03-01']],
    ['quarter', '2026-12-31T12:00:00Z', ['2026-10-01', '2027-01-01', '2027-04-01']],
    ['year', '2028-02-29T00:00:00Z', ['2028-01-01', '2029-01-01', '2030-01-01']],
  ] as const)(
    '%s partitions in UTC (month ends, leap years, year ends)',
    (interval, at, starts) => {
      const list = ranges(interval, 'UTC', at, 3)
      expect(list.map((r) => isoDate(r.from))).toEqual(starts)
      expectContiguous(list)
      expect(list[0]?.fromInstant.toISOString()).toBe(`${starts[0]}T00:00:00.000Z`)
    },
  )

  test('a leap day belongs to February, and February 2028 is 29 days long', () => {
    const february = partitionFor(spec('month'), new Date('2028-02-29T23:59:59.999Z'))
    expect(february.name).toBe('t_p20280201')
    expect((february.toInstant.getTime() - february.fromInstant.getTime()) / 86_400_000).toBe(29)
  })

  test.each([
    ['Europe/Berlin', '2026-03-29', '2026-10-25'],
    ['America/New_York', '2026-03-08', '2026-11-01'],
  ])(
    '%s: days across both DST changes are 23 and 25 hours long, with no gap',
    (zone, spring, autumn) => {
      const days = ranges('day', zone, '2026-01-01T12:00:00Z', 365)
      expectContiguous(days)
      const hours = (r: PartitionRange) =>
        (r.toInstant.getTime() - r.fromInstant.getTime()) / 3_600_000
      const byDate = new Map(days.map((r) => [isoDate(r.from), hours(r)]))
      expect(byDate.get(spring)).toBe(23)
      expect(byDate.get(autumn)).toBe(25)
      expect([...byDate.values()].filter((h) => h !== 24)).toHaveLength(2)
      // Months and weeks over the same year stay contiguous too.
      expectContiguous(ranges('month', zone, '2026-01-01T12:00:00Z', 24))
      expectContiguous(ranges('week', zone, '2026-01-01T12:00:00Z', 104))
    },
  )

  test("boundaries are local midnights of the spec's zone, whatever the process zone is", () => {
    const berlin = partitionFor(spec('month', 'Europe/Berlin'), new Date('2026-03-31T22:30:00Z'))
    expect(berlin.name).toBe('t_p20260401') // 00:30 on April 1st in Berlin
    expect(berlin.fromInstant.toISOString()).toBe('2026-03-31T22:00:00.000Z')
    const newYork = partitionFor(spec('day', 'America/New_York'), new Date('2026-11-01T12:00:00Z'))
    expect(newYork.fromInstant.toISOString()).toBe('2026-11-01T04:00:00.000Z') // still EDT at midnight
    expect(newYork.toInstant.toISOString()).toBe('2026-11-02T05:00:00.000Z') // EST after
  })
})

describe('years 0-99 (Date.UTC reads them as 1900-1999)', () => {
  test.each([
    ['day', '0099-12-31T12:00:00Z', ['0099-12-31', '0100-01-01']],
    ['week', '0050-03-01T00:00:00Z', ['0050-02-28', '0050-03-07']],
    ['month', '0004-02-29T00:00:00Z', ['0004-02-01', '0004-03-01']],
    ['year', '0001-06-01T00:00:00Z', ['0001-01-01', '0002-01-01']],
  ] as const)('%s ranges at %s', (interval, start, starts) => {
    for (const timeZone of ['UTC', 'Europe/Berlin']) {
      const list = ranges(interval, timeZone, start, starts.length)
      expect(list.map((r) => isoDate(r.from))).toEqual(starts)
      expectContiguous(list)
      // The instants are the local midnights of those dates, not 1900 years later.
      const midnight = new Date(`${starts[0]}T00:00:00Z`).getTime()
      expect(Math.abs((list[0]?.fromInstant.getTime() ?? 0) - midnight)).toBeLessThan(2 * 3_600_000)
    }
  })
})
