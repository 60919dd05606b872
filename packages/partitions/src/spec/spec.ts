import { parseOptions } from '@sluice/core/internal'
import { z } from 'zod'
import { type Interval, isTimeZone } from './calendar.js'
import { parseIdentifier, parseQualified } from './identifiers.js'

/** What happens to partitions past retention. */
export type RetentionMode = 'drop' | 'detach' | 'archive'

/** How much past data retention keeps: `count` calendar `unit`s. */
export interface RetentionKeep {
  readonly count: number
  readonly unit: Interval
}

/** An index every partition gets (created on the parent, so new partitions inherit it). */
export interface IndexSpec {
  readonly columns: readonly string[]
  /** Default `btree`; `brin` suits the time column of append-mostly tables. */
  readonly using: 'btree' | 'brin' | 'hash' | 'gin'
}

/** A validated, frozen partition spec: what {@link definePartitions} returns. */
export interface PartitionSpec {
  readonly schema: string
  readonly table: string
  readonly column: string
  readonly interval: Interval
  readonly premake: number
  readonly retention?: {
    /** How much past data to keep, as a count of calendar units. */
    readonly keep: RetentionKeep
    readonly mode: RetentionMode
    readonly archiveSchema?: string
  }
  readonly timeZone: string
  readonly defaultPartition: boolean
  readonly indexes: readonly IndexSpec[]
  /** A table whose storage options (`fillfactor`, autovacuum settings...) new partitions copy. */
  readonly template?: { readonly schema: string; readonly table: string }
}

/** What {@link definePartitions} accepts. */
export interface PartitionSpecInput {
  /**
   * `table` or `schema.table`, as written in SQL: unquoted names fold to lower case, quoted
   * ones (`'"Audit Log"'`) keep their case.
   */
  readonly table: string
  /** The time column partitions are ranged on (`timestamptz`, `timestamp` or `date`). */
  readonly column: string
  readonly interval: Interval
  /** Future partitions kept ready past the current one. Default 4. */
  readonly premake?: number
  /**
   * Keep this much past data, e.g. `{ keep: 24, mode: 'drop' }` (24 intervals) or
   * `{ keep: '90 days', mode: 'archive', archiveSchema: 'archive' }`.
   */
  readonly retention?: {
    readonly keep: number | string
    readonly mode: RetentionMode
    readonly archiveSchema?: string
  }
  /** The zone partition boundaries are computed in. Default `UTC`. */
  readonly timeZone?: string
  /** Keep a default partition for rows outside every range. Default false. */
  readonly defaultPartition?: boolean
  readonly indexes?: ReadonlyArray<{
    readonly columns: readonly string[]
    readonly using?: IndexSpec['using']
  }>
  /**
   * `table` or `schema.table` of a template: new partitions get its storage options
   * (`alter table ... set (fillfactor = 70)`), as pg_partman's template table does. It must
   * exist when maintenance runs.
   */
  readonly template?: string
}

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

const keep = z.union([
  z.number().int().positive({ error: 'must be a positive whole number of intervals' }),
  z.string().regex(/^\s*\d+\s*(day|week|month|quarter|year)s?\s*$/, {
    error: "must be a count of intervals or a duration like '24 months'",
  }),
])

const schema = z
  .object({
    table: qualifiedName('table', 53),
    column: identifier('column'),
    interval: z.enum(INTERVALS, { error: `interval must be one of ${INTERVALS.join(', ')}` }),
    premake: z.number().int().min(1, { error: 'premake must be at least 1' }).default(4),
    retention: z
      .object({
        keep,
        mode: z.enum(['drop', 'detach', 'archive'], {
          error: "retention.mode must be 'drop', 'detach' or 'archive'",
        }),
        archiveSchema: identifier('archiveSchema').optional(),
      })
      .optional(),
    timeZone: z
      .string()
      .refine(isTimeZone, { error: 'timeZone must be an IANA time zone such as Europe/Berlin' })
      .default('UTC'),
    defaultPartition: z.boolean().default(false),
    indexes: z
      .array(
        z.object({
          columns: z.array(identifier('index column')).min(1),
          using: z.enum(['btree', 'brin', 'hash', 'gin']).default('btree'),
        }),
      )
      .default([]),
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
  })

function parseKeep(keep: number | string, interval: Interval): RetentionKeep {
  if (typeof keep === 'number') return { count: keep, unit: interval }
  const [, count = '0', unit = 'day'] = /(\d+)\s*(\w+?)s?\s*$/.exec(keep.trim()) ?? []
  return { count: Number(count), unit: unit as Interval }
}

/**
 * Validates a partition spec and freezes it. Nothing touches the database.
 *
 * @throws ConfigError (`CONFIG_INVALID`) naming each bad field: an unknown interval, premake
 *   below 1, retention shorter than one interval, an archive without a schema, a bad time
 *   zone, or a table / column / schema name that is not a plain identifier.
 * @example
 * ```ts
 * const messages = definePartitions({
 *   table: 'messages',
 *   column: 'sent_at',
 *   interval: 'month',
 *   premake: 4,
 *   retention: { keep: 24, mode: 'drop' },
 *   indexes: [{ columns: ['sent_at'], using: 'brin' }, { columns: ['author_id'] }],
 * })
 * ```
 */
export function definePartitions(input: PartitionSpecInput): PartitionSpec {
  const parsed = parseOptions(schema, input)
  const retention = parsed.retention && {
    keep: parseKeep(parsed.retention.keep, parsed.interval),
    mode: parsed.retention.mode,
    ...(parsed.retention.archiveSchema ? { archiveSchema: parsed.retention.archiveSchema } : {}),
  }
  return deepFreeze({
    schema: parsed.table.schema,
    table: parsed.table.table,
    column: parsed.column,
    interval: parsed.interval,
    premake: parsed.premake,
    ...(retention ? { retention } : {}),
    timeZone: parsed.timeZone,
    defaultPartition: parsed.defaultPartition,
    indexes: parsed.indexes,
    ...(parsed.template ? { template: parsed.template } : {}),
  })
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}
