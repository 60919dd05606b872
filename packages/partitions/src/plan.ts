import type { AnyKysely } from './any-kysely.js'
import { addIntervals, compareDates, type LocalDate, localDate } from './calendar.js'
import { listPartitions, type PartitionInfo, partitionKeyType } from './catalog.js'
import {
  attachPartition,
  createPartitionTable,
  detachPartition,
  lockDefault,
  moveFromDefault,
  retire,
} from './ddl.js'
import { qualified } from './identifiers.js'
import { type PartitionRange, partitionFor, rangeStarting } from './partition-for.js'
import type { PartitionSpec } from './spec.js'

/**
 * One SQL statement of a step. Consecutive statements with the same `transaction` number run
 * in one transaction; `repeat` ones run until they affect no row (batched moves).
 */
export interface Statement {
  readonly sql: string
  readonly transaction?: number
  readonly repeat?: boolean
  /**
   * For `DETACH ... CONCURRENTLY`: once `partition` is pending detach (an earlier attempt did
   * the first half, then hit the lock timeout), `finalize` runs instead.
   */
  readonly resume?: { readonly partition: string; readonly finalize: string }
}

/** One thing maintenance does to one partition. */
export interface MaintenanceStep {
  /** `create` a partition; `finalize` an interrupted detach; `retire` one past retention. */
  readonly kind: 'create' | 'finalize' | 'retire'
  /** The parent, `schema.table`. */
  readonly table: string
  readonly partition: string
  readonly statements: readonly Statement[]
  /** For `retire`: what happens after the detach. */
  readonly mode?: 'drop' | 'detach' | 'archive'
}

/** Options of {@link planMaintenance}. */
export interface PlanOptions {
  /** The time maintenance plans for. Default: now. */
  readonly now?: Date
  /** Rows moved out of a default partition per statement. Default 10,000. */
  readonly batchSize?: number
}

/**
 * What maintenance would do now, as data: the exact statements, in order, without running
 * any. Finalizes interrupted detaches, creates missing partitions up to `now + premake`
 * (moving rows for them out of a default partition first), and retires partitions past
 * retention.
 *
 * @throws PartitionError when a table is not range-partitioned on its column or the column
 *   is not a time type (before anything runs).
 * @example
 * ```ts
 * for (const step of await planMaintenance(db, [messages], { now: new Date() })) {
 *   console.log(step.kind, step.partition, step.statements.map((s) => s.sql))
 * }
 * ```
 */
export async function planMaintenance(
  db: AnyKysely,
  specs: readonly PartitionSpec[],
  { now = new Date(), batchSize = 10_000 }: PlanOptions = {},
): Promise<MaintenanceStep[]> {
  const steps: MaintenanceStep[] = []
  for (const spec of specs) {
    const type = await partitionKeyType(db, spec)
    const target = { spec, type }
    const existing = await listPartitions(db, `${spec.schema}.${spec.table}`)
    const attached = new Set(existing.filter((p) => p.attached).map((p) => p.name))
    // What the table has, whatever the spec says: a default partition rules out concurrent
    // detaches and holds rows that new partitions must take over.
    const defaultName = existing.find((p) => p.attached && p.isDefault)?.name
    const table = `${spec.schema}.${spec.table}`
    for (const pending of existing.filter((p) => p.detachPending)) {
      steps.push({
        kind: 'finalize',
        table,
        partition: pending.name,
        statements: [{ sql: detachPartition(spec, pending.name, 'finalize') }],
      })
    }
    const current = partitionFor(spec, now)
    for (let i = 0; i <= spec.premake; i++) {
      const range = rangeStarting(spec, current.from, i)
      if (attached.has(range.name)) continue
      steps.push({
        kind: 'create',
        table,
        partition: range.name,
        statements: creation(target, range, defaultName, batchSize),
      })
    }
    for (const partition of pastRetention(spec, existing, now)) {
      const how = defaultName ? 'plain' : 'concurrently'
      steps.push({
        kind: 'retire',
        table,
        partition: partition.name,
        mode: spec.retention?.mode ?? 'drop',
        statements: [
          {
            sql: detachPartition(spec, partition.name, how),
            ...(how === 'concurrently' && {
              resume: {
                partition: qualified(spec.schema, partition.name),
                finalize: detachPartition(spec, partition.name, 'finalize'),
              },
            }),
          },
          ...retire(spec, partition.name).map((sql) => ({ sql })),
        ],
      })
    }
  }
  return steps
}

function creation(
  target: Parameters<typeof createPartitionTable>[0],
  range: PartitionRange,
  defaultName: string | undefined,
  batchSize: number,
): Statement[] {
  const create = createPartitionTable(target, range).map((sql) => ({ sql }))
  const attach = attachPartition(target, range)
  if (!defaultName) return [...create, ...attach.map((sql) => ({ sql }))]
  // Rows for the range already in the default partition move out in batches, then once more
  // under a lock with the ATTACH, so none can arrive in between.
  const move = moveFromDefault(target, range, defaultName, batchSize)
  return [
    ...create,
    { sql: move, repeat: true },
    { sql: lockDefault(target, defaultName), transaction: 1 },
    { sql: move, transaction: 1, repeat: true },
    ...attach.map((sql) => ({ sql, transaction: 1 })),
  ]
}

/** Attached partitions named by Sluice whose whole range is older than the retention. */
function pastRetention(
  spec: PartitionSpec,
  existing: readonly PartitionInfo[],
  now: Date,
): PartitionInfo[] {
  const retention = spec.retention
  if (!retention) return []
  const cutoff = addIntervals(
    retention.keep.unit,
    localDate(now, spec.timeZone),
    -retention.keep.count,
  )
  return existing.filter((partition) => {
    const from = startOf(spec, partition.name)
    if (!partition.attached || partition.detachPending || !from) return false
    return compareDates(addIntervals(spec.interval, from, 1), cutoff) <= 0
  })
}

/** The start date a Sluice partition name carries (`<table>_pYYYYMMDD`). */
function startOf(spec: PartitionSpec, name: string): LocalDate | undefined {
  if (!name.startsWith(`${spec.table}_p`)) return undefined
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(name.slice(spec.table.length + 2))
  if (!match) return undefined
  const [, year, month, day] = match.map(Number) as [number, number, number, number]
  return { year, month, day }
}
