import { parseOptions } from '@sluice/core/internal'
import { z } from 'zod'
import { MISPLACED } from '../options/options.js'
import type { Interval } from './calendar.js'
import { parseKeep, specSchema } from './spec-schema.js'

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

/**
 * Validates a partition spec and freezes it. Nothing touches the database.
 *
 * @throws ConfigError (`CONFIG_INVALID`) naming each bad field: an unknown interval, premake
 *   below 1, retention shorter than one interval, an archive without a schema, an
 *   `archiveSchema` with a mode other than `'archive'` (it would be ignored), a bad time
 *   zone, a table / column / schema name that is not a plain identifier, or a key it does not
 *   know, at any level (a key of another object, such as the run option `maxPartitionsPerRun`,
 *   says where it belongs).
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
  const parsed = parseOptions(specSchema, input, MISPLACED)
  const retention = parsed.retention && {
    keep: parseKeep(parsed.retention.keep, parsed.interval),
    mode: parsed.retention.mode,
    ...(parsed.retention.archiveSchema ? { archiveSchema: parsed.retention.archiveSchema } : {}),
  }
  const spec: PartitionSpec = deepFreeze({
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
  defined.add(spec)
  return spec
}

/** The specs {@link definePartitions} made: frozen, so nothing was added to them since. */
const defined = new WeakSet<PartitionSpec>()

/**
 * Checks that every spec given to an entry point was made by {@link definePartitions} (a
 * hand-made object was never validated: its unknown keys would be ignored).
 *
 * @throws ConfigError (`CONFIG_INVALID`, field `specs.<n>`, or `specs.<n>.<key>` naming a key
 *   a spec does not have and where it belongs).
 * @example
 * ```ts
 * checkSpecs([messages]) // a spec from definePartitions passes
 * ```
 */
export function checkSpecs(specs: readonly PartitionSpec[]): void {
  parseOptions(specList, { specs }, MISPLACED)
}

const fields = new Set(['schema', ...Object.keys(specSchema.shape)])
const specList = z.strictObject({
  specs: z.array(
    z.unknown().superRefine((spec, ctx) => {
      if (defined.has(spec as PartitionSpec)) return
      const keys = typeof spec === 'object' && spec !== null ? Object.keys(spec) : []
      const unknown = keys.filter((key) => !fields.has(key))
      if (unknown.length > 0)
        ctx.addIssue({
          code: 'unrecognized_keys',
          keys: unknown,
          input: spec as Record<string, unknown>,
        })
      ctx.addIssue({
        code: 'custom',
        message: 'must be made by definePartitions(), which validates a spec and freezes it',
      })
    }),
    { error: 'must be an array of definePartitions() specs' },
  ),
})

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}
