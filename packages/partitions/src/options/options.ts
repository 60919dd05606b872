import { durationOption, MAX_TIMER_MS, parseOptions, TIMER_DURATION } from '@sluice/core/internal'
import { z } from 'zod'
import type { CreateOptions } from '../maintenance/create-table.js'
import type { PlanOptions } from '../maintenance/plan.js'
import type { RunOptions } from '../maintenance/run.js'
import type { ScheduleOptions } from '../maintenance/schedule.js'
import { indexSchema, retentionSchema, specSchema } from '../spec/spec-schema.js'

// Durations follow core's one rule (durationOption): whole milliseconds or a string with a
// unit ('250ms', '30s'), up to the longest a timer (and PostgreSQL's timeouts) can hold.
// 0 is allowed where it means "none" or "at once"; never for lock_timeout, where it would
// mean waiting forever, nor for a lease or a period.
const orNone = durationOption({ min: 0, max: MAX_TIMER_MS })
const timer = durationOption(TIMER_DURATION)
const count = z
  .number({ error: 'must be a whole number' })
  .int({ error: 'must be a whole number' })
  .min(1, { error: 'must be at least 1' })
const flag = z.boolean({ error: 'must be true or false' })

// zod refuses an invalid Date (its time NaN) too.
const now = z.date({ error: 'must be a valid Date' })
const planning = {
  poolerMode: z.enum(['none', 'session', 'transaction'], {
    error: "must be 'none', 'session' or 'transaction'",
  }),
  defaultScanRows: z.number({ error: 'must be a number of rows' }).min(0),
  lockTimeoutMs: timer,
  statementTimeoutMs: orNone,
  maxPartitionsPerRun: count,
}
const running = {
  ...planning,
  attempts: count,
  retryDelayMs: orNone,
  leaseMs: timer,
  waitMs: orNone,
  acceptSpecChanges: flag,
  // Hook objects are checked where they are subscribed (core's hookChannels).
  instrumentation: z.custom<RunOptions['instrumentation']>(
    (value) => typeof value === 'object' && value !== null,
    { error: 'must be an instrumentation object or an array of them' },
  ),
}

/** Every options object of an entry point, by entry point: each key is optional. */
const shapes = {
  planMaintenance: { now, ...planning },
  runMaintenance: { now, ...running },
  startMaintenance: { ...running, intervalMs: timer },
  createPartitionedTable: {
    now,
    ...running,
    primaryKey: z.array(z.string({ error: 'must list column names' })),
    ifNotExists: flag,
  },
}
type Entry = keyof typeof shapes
interface EntryOptions {
  planMaintenance: PlanOptions
  runMaintenance: RunOptions
  startMaintenance: ScheduleOptions
  createPartitionedTable: CreateOptions
}

const strict = (shape: Record<string, z.ZodType>) =>
  z.strictObject(
    Object.fromEntries(Object.entries(shape).map(([key, value]) => [key, value.optional()])),
  )
const schemas: Record<Entry, z.ZodType> = {
  planMaintenance: strict(shapes.planMaintenance),
  runMaintenance: strict(shapes.runMaintenance),
  startMaintenance: strict(shapes.startMaintenance),
  createPartitionedTable: strict(shapes.createPartitionedTable),
}

const places = new Map<string, string[]>()
for (const [entry, shape] of [
  ['definePartitions', specSchema.shape],
  ...Object.entries(shapes),
] as const) {
  for (const key of Object.keys(shape)) places.set(key, [...(places.get(key) ?? []), entry])
}
const nested = (shape: object, place: string) =>
  Object.fromEntries(Object.keys(shape).map((key) => [key, `a field of a spec's ${place}`]))

/**
 * Where each key the package knows belongs, for the message of a key given in the wrong
 * object (`maxPartitionsPerRun` in a spec: "an option of planMaintenance, runMaintenance...").
 *
 * @example
 * ```ts
 * MISPLACED.mode // "a field of a spec's retention: { retention: { keep, mode, archiveSchema } }"
 * ```
 */
export const MISPLACED: Readonly<Record<string, string>> = {
  ...nested(retentionSchema.shape, 'retention: { retention: { keep, mode, archiveSchema } }'),
  ...nested(indexSchema.shape, 'indexes: { indexes: [{ columns, using }] }'),
  ...Object.fromEntries(
    [...places].map(([key, where]) => [
      key,
      where[0] === 'definePartitions'
        ? `a field of the spec: give it to definePartitions({ ${key} })`
        : `an option of ${where.join(', ')}, not of a spec or of another entry point`,
    ]),
  ),
}

/**
 * Options as {@link checkOptions} returns them: every duration (each `...Ms` option) in
 * milliseconds, one given with a unit (`'10m'`) read as 600000.
 */
export type Checked<T> = {
  readonly [K in keyof T]: K extends `${string}Ms` ? Exclude<T[K], string> : T[K]
}

/**
 * Checks the options given to an entry point: each value's type, and no unknown key (a key
 * that belongs elsewhere, such as a spec field, says where). Returns them with durations in
 * milliseconds.
 *
 * @throws ConfigError (`CONFIG_INVALID`) naming each bad or unknown option.
 * @example
 * ```ts
 * const options = checkOptions('runMaintenance', { lockTimeoutMs: 250, statementTimeoutMs: '10m' })
 * options.statementTimeoutMs // 600000
 * ```
 */
export function checkOptions<E extends Entry>(
  entry: E,
  options: EntryOptions[E],
): Checked<EntryOptions[E]> {
  return parseOptions(schemas[entry], options ?? {}, MISPLACED) as Checked<EntryOptions[E]>
}
