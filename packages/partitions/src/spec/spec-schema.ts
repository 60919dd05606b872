import { z } from 'zod'
import { type Interval, isTimeZone } from './calendar.js'
import { parseIdentifier, parseQualified } from './identifiers.js'
import type { RetentionKeep } from './spec.js'

const INTERVALS = ['day', 'week', 'month', 'quarter', 'year'] as const
/** Shortest length of each unit in days, to tell whether retention covers one interval. */
const MIN_DAYS: Record<Interval, number> = { day: 1, week: 7, month: 28, quarter: 89, year: 365 }
const MAX_DAYS: Record<Interval, number> = { day: 1, week: 7, month: 31, quarter: 92, year: 366 }

const identifier = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .refine((value) => parseIdentifier(value) !== undefined, {
      error: `${what} must be an identifier as written in SQL (plain, or double-quoted; at most 63 bytes)`,
    })
    .transform((value) => parseIdentifier(value) as string)

const qualifiedName = (what: string, maxBytes: number) =>
  z
    .string({ error: `${what} is required` })
    .refine(
      (value) => {
        const parsed = parseQualified(value)
        return parsed !== undefined && Buffer.byteLength(parsed[1]) <= maxBytes
      },
      {
        error: `${what} must be table or schema.table as written in SQL (plain or double-quoted identifiers), its name at most ${maxBytes} bytes${maxBytes < 63 ? ' (partitions add _pYYYYMMDD)' : ''}`,
      },
    )
    .transform((value) => {
      const [schema, table] = parseQualified(value) as [string | undefined, string]
      return { schema: schema ?? 'public', table }
    })

/** Planning walks every premade range: a mistyped premake must not make it run for hours. */
const MAX_PREMAKE = 1000
const MAX_KEEP_YEARS = 1000

const keep = z.union([
  z.number().int().positive({ error: 'must be a positive whole number of intervals' }),
  z.string().regex(/^\s*\d+\s*(day|week|month|quarter|year)s?\s*$/, {
    error: "must be a count of intervals or a duration like '24 months'",
  }),
])

/** The index objects of a spec's `indexes`. */
export const indexSchema = z.strictObject({
  columns: z.array(identifier('index column')).min(1),
  using: z.enum(['btree', 'brin', 'hash', 'gin']).default('btree'),
})

/** A spec's `retention` (what happens past it, and where archives go). */
export const retentionSchema = z.strictObject({
  keep,
  mode: z.enum(['drop', 'detach', 'archive'], {
    error: "retention.mode must be 'drop', 'detach' or 'archive'",
  }),
  archiveSchema: identifier('archiveSchema').optional(),
})

/** What `definePartitions` accepts; unknown keys are refused, at every level. */
export const specSchema = z
  .strictObject({
    table: qualifiedName('table', 53),
    column: identifier('column'),
    interval: z.enum(INTERVALS, { error: `interval must be one of ${INTERVALS.join(', ')}` }),
    premake: z
      .number()
      .int()
      .min(1, { error: 'premake must be at least 1' })
      .max(MAX_PREMAKE, { error: `premake must be at most ${MAX_PREMAKE}` })
      .default(4),
    retention: retentionSchema.optional(),
    timeZone: z
      .string()
      .refine(isTimeZone, { error: 'timeZone must be an IANA time zone such as Europe/Berlin' })
      .default('UTC'),
    defaultPartition: z.boolean().default(false),
    indexes: z.array(indexSchema).default([]),
    template: qualifiedName('template', 63).optional(),
  })
  .superRefine((spec, ctx) => {
    const retention = spec.retention
    if (!retention) return
    if (retention.mode === 'archive' && !retention.archiveSchema) {
      ctx.addIssue({
        code: 'custom',
        path: ['retention', 'archiveSchema'],
        message: "is required when retention.mode is 'archive'",
      })
    }
    if (retention.mode !== 'archive' && retention.archiveSchema !== undefined) {
      // It was ignored: an operator who wrote it expects archives that never appear.
      ctx.addIssue({
        code: 'custom',
        path: ['retention', 'archiveSchema'],
        message: `is only read when retention.mode is 'archive'; with mode '${retention.mode}' partitions past retention are ${retention.mode === 'drop' ? 'dropped' : 'only detached'}, never archived: remove archiveSchema, or use mode 'archive'`,
      })
    }
    if (retention.mode === 'archive' && retention.archiveSchema === spec.table.schema) {
      ctx.addIssue({
        code: 'custom',
        path: ['retention', 'archiveSchema'],
        message:
          "must differ from the table's schema (an archived partition would stay beside the live ones)",
      })
    }
    const { count, unit } = parseKeep(retention.keep, spec.interval)
    if (count * MAX_DAYS[unit] < MIN_DAYS[spec.interval]) {
      ctx.addIssue({
        code: 'custom',
        path: ['retention', 'keep'],
        message: `must be at least one ${spec.interval}`,
      })
    }
    // Past this the cutoff leaves the dates JavaScript and PostgreSQL can hold.
    if (count * MIN_DAYS[unit] > MAX_KEEP_YEARS * 365) {
      ctx.addIssue({
        code: 'custom',
        path: ['retention', 'keep'],
        message: `must be at most ${MAX_KEEP_YEARS} years`,
      })
    }
  })

/**
 * A retention's `keep` as a count of calendar units (a bare number counts the spec's interval).
 *
 * @example
 * ```ts
 * parseKeep('90 days', 'month') // { count: 90, unit: 'day' }
 * ```
 */
export function parseKeep(keep: number | string, interval: Interval): RetentionKeep {
  if (typeof keep === 'number') return { count: keep, unit: interval }
  const [, count = '0', unit = 'day'] = /(\d+)\s*(\w+?)s?\s*$/.exec(keep.trim()) ?? []
  return { count: Number(count), unit: unit as Interval }
}
