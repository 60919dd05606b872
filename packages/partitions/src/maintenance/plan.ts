import { isDatabaseError } from '@sluice/core/internal'
import type { AnyKysely } from '../any-kysely.js'
import { lastCovered, retiringPartitions } from '../catalog/metadata.js'
import { type ParentTable, readParent } from '../catalog/parent.js'
import { checkTimeZone } from '../catalog/time-zone.js'
import { PartitionError } from '../errors.js'
import { type Checked, checkOptions } from '../options/options.js'
import { type KeySpan, keyDate, nameDate, rangeSpan, uncovered } from '../spec/bounds.js'
import { literal, qualified } from '../spec/identifiers.js'
import { type PartitionRange, partitionFor } from '../spec/partition-for.js'
import { checkSpecs, type PartitionSpec } from '../spec/spec.js'
import { copyRows, isRecording, recordChanges, stopRecording } from './copy.js'
import {
  attachPartition,
  createPartitionTable,
  detachPartition,
  dropLeftover,
  lockParent,
  lockReferenced,
  type NewPartition,
} from './ddl.js'
import { dropDefaultCheck, excludeFromDefault, hasDefaultCheck } from './default-check.js'
import { checkMovable, deleteTriggers, moveRows, validateKeys } from './move.js'
import { candidates, defaultRows, retentionCutoff } from './ranges.js'
import { freeName, relationNames } from './relations.js'
import { forget, retireStatements } from './retire.js'
import {
  asMaintenance,
  DEFAULT_LOCK_TIMEOUT_MS,
  inTransaction,
  maintenanceSettings,
} from './settings.js'

/**
 * One SQL statement of a step. Each runs in its own transaction with a bounded
 * `lock_timeout`, except that consecutive statements with the same `group` share one, and
 * `outside` ones (`DETACH ... CONCURRENTLY` / `FINALIZE`) run outside any transaction.
 */
export interface Statement {
  readonly sql: string
  readonly group?: number
  readonly outside?: boolean
  /**
   * It returns `moved` (rows moved out of the default partition) and `same` (a move's check
   * held); the runner rolls the transaction back unless `same`.
   */
  readonly counts?: 'moved'
  /**
   * For `DETACH ... CONCURRENTLY`: once `partition` is pending detach (an earlier attempt did
   * the first half, then hit the lock timeout), `finalize` runs instead.
   */
  readonly resume?: { readonly partition: string; readonly finalize: string }
}

/** One thing maintenance does to one partition. */
export interface MaintenanceStep {
  /**
   * `create` a partition; `finalize` what an interrupted run left (a detach, or the helper
   * CHECK on the default partition); `retire` one past retention.
   */
  readonly kind: 'create' | 'finalize' | 'retire'
  /** The parent, `schema.table`. */
  readonly table: string
  readonly partition: string
  readonly statements: readonly Statement[]
  /** For `retire`: what happens after the detach. */
  readonly mode?: 'drop' | 'detach' | 'archive'
  /** For `create`: rows of its range found in the default partition when planned. */
  readonly rows?: number
  /** Why this step will not run (PostgreSQL offers no safe way); the message names the fix. */
  readonly refused?: PartitionError
  /** What undoes a half-done step when one of its statements fails (each with retries). */
  readonly cleanup?: readonly Statement[]
}

/** Options of {@link planMaintenance}. */
export interface PlanOptions {
  /** The time maintenance plans for. Default: now. */
  readonly now?: Date
  /**
   * How the connection reaches PostgreSQL: core's `poolerMode` (`config.primary.poolerMode`).
   * In `transaction` mode (PgBouncer) no session setting survives a statement, so the
   * statements that cannot run in a transaction (`DETACH ... CONCURRENTLY` / `FINALIZE`, which
   * never block reads or writes) run without `lock_timeout`. Default: `DB_POOLER_MODE` from
   * the environment, as `parseConfig` reads it, else `none`.
   */
  readonly poolerMode?: 'none' | 'session' | 'transaction'
  /**
   * ATTACH checks that the default partition holds no row of the new range, under its lock.
   * Set this to prove a default of more than this many rows free of the range beforehand, by
   * a helper CHECK validated while reads and writes go on, so that the lock does not grow with
   * the default; the cost: while the helper exists, an insert of a row for that range that
   * PostgreSQL routes to the default is rejected (`23514`, see the README). Default: never
   * (no insert is ever rejected; the default's rows are reported as `defaultRows`).
   */
  readonly defaultScanRows?: number
  /**
   * `lock_timeout` of every statement (`SET LOCAL`, so it holds through PgBouncer in
   * transaction mode): DDL never queues long behind a query, nor makes queries queue long
   * behind it; planning's count of the default partition's rows never waits longer behind a
   * lock on it. Milliseconds or a string with a unit (`'250ms'`), at least 1 (0 would turn
   * PostgreSQL's `lock_timeout` off). Default 100 ms.
   */
  readonly lockTimeoutMs?: number | string
  /**
   * `statement_timeout` of maintenance's own statements (`SET LOCAL` in each of its
   * transactions, and the client-side deadline of each statement), in place of the
   * application's `DB_STATEMENT_TIMEOUT`, which stays as it is for every other query:
   * planning reads the whole default partition, and a move copies its rows, which may take
   * far longer than an OLTP timeout. Lock waits stay bounded by `lockTimeoutMs`. Milliseconds,
   * or a string with a unit (`'10m'`); 0 for none. Default 2 min (the default `leaseMs`).
   */
  readonly statementTimeoutMs?: number | string
  /**
   * At most this many partitions are created per table and run, the ones nearest to now
   * first (current and premade, then gaps and waiting rows); more is reported as
   * `PARTITION_LIMIT_REACHED` and the next run goes on. Default 100.
   */
  readonly maxPartitionsPerRun?: number
}

/** The plan of one table, with what it found that is not a step. */
export interface TablePlan {
  readonly steps: MaintenanceStep[]
  /** Rows that stay in the default partition: outside the window, or keyed null / ±infinity. */
  readonly defaultRows: number
  /** `PARTITION_LIMIT_REACHED` when more partitions were due than `maxPartitionsPerRun`. */
  readonly findings: PartitionError[]
}

/**
 * What maintenance would do now, as data: the exact statements, in order, without running
 * any. Works from the catalog's real bounds, never from names: partitions of any name
 * (pg_partman's `_p2026_08`, hand-made ones) count, and only what none of them covers is
 * created. Finishes what earlier runs left (interrupted detaches, partitions detached but
 * not dropped or archived), creates missing partitions from the oldest retained one up to
 * `now + premake` (gaps too), creates partitions for rows waiting in the default partition
 * (moving them, see the README), and retires partitions past retention.
 *
 * @throws ConfigError (`CONFIG_INVALID`) for a spec not made by `definePartitions`, or an
 *   option of the wrong type or unknown (a run option such as `attempts` says where it
 *   belongs); PartitionError for the first table that cannot be planned (missing, not
 *   range-partitioned on a time column, missing template), before anything runs.
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
  options: PlanOptions = {},
): Promise<MaintenanceStep[]> {
  checkSpecs(specs)
  const checked = checkOptions('planMaintenance', options)
  return asMaintenance(checked, async () => {
    const steps: MaintenanceStep[] = []
    for (const spec of specs) steps.push(...(await planTable(db, spec, checked)).steps)
    return steps
  })
}

/**
 * The steps of one table (see {@link planMaintenance}), read in one transaction (DateStyle
 * ISO, whatever the session's; maintenance's own statement timeout) whose `lock_timeout`
 * bounds every wait: the catalog reads lock the partitions (ACCESS SHARE), so a session
 * holding the default or a partition (a `VACUUM FULL`, a migration) makes the table's plan
 * fail with `PARTITION_LOCK_TIMEOUT` instead of waiting for it.
 *
 * @example
 * ```ts
 * const { steps, defaultRows } = await planTable(db, messages, { now: new Date(), lockTimeoutMs: 100 })
 * ```
 */
export async function planTable(
  db: AnyKysely,
  spec: PartitionSpec,
  options: Checked<PlanOptions>,
): Promise<TablePlan> {
  // DateStyle ISO: bounds are read back from their text (catalog/parent.ts), and the other
  // styles print zone abbreviations that read back wrong ('IST' of Asia/Kolkata is Israel's).
  const settings = [...maintenanceSettings(options), ['datestyle', 'ISO, YMD']] as const
  try {
    return await inTransaction(db, settings, (trx) => planIn(trx, spec, options))
  } catch (error) {
    if (!isDatabaseError(error) || error.code !== '55P03') throw error
    const table = `${spec.schema}.${spec.table}`
    throw new PartitionError(
      'PARTITION_LOCK_TIMEOUT',
      `${table}: a partition stayed locked by another session past lock_timeout (${options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS} ms) while maintenance read it; the next run tries again`,
      { cause: error, context: { table } },
    )
  }
}

async function planIn(
  db: AnyKysely,
  spec: PartitionSpec,
  options: PlanOptions,
): Promise<TablePlan> {
  const {
    now = new Date(),
    defaultScanRows = Number.POSITIVE_INFINITY,
    maxPartitionsPerRun = 100,
  } = options
  const parent = await readParent(db, spec)
  const table = `${spec.schema}.${spec.table}`
  const names = await relationNames(db, spec)
  const steps: MaintenanceStep[] = []
  const retire = (schema: string, name: string) => retireStatements(spec, schema, name, names)

  // What earlier runs left half done.
  const leftovers = await retiringPartitions(db, spec)
  const cutoff = retentionCutoff(parent, now)
  for (const left of leftovers) {
    if (left.state === 'attached') {
      // Still attached: retention below decides again. A record retention no longer backs
      // (the spec keeps more now) goes, or a later manual detach would get the table dropped.
      const attached = parent.partitions.find(
        (p) => p.schema === left.schema && p.name === left.name,
      )
      const due = cutoff !== undefined && attached?.upper !== undefined && attached.upper <= cutoff
      if (!due) {
        steps.push({
          kind: 'finalize',
          table,
          partition: left.name,
          statements: [forget(left.schema, left.name)],
        })
      }
      continue
    }
    const finalize =
      left.state === 'pending'
        ? [{ sql: detachPartition(spec, left.schema, left.name, 'finalize'), outside: true }]
        : []
    steps.push({
      kind: left.state === 'pending' ? 'finalize' : 'retire',
      table,
      partition: left.name,
      mode: spec.retention?.mode ?? 'drop',
      statements: [
        ...finalize,
        ...(left.state === 'gone' ? [] : retire(left.schema, left.name)),
        forget(left.schema, left.name),
      ],
    })
  }
  for (const pending of parent.partitions.filter((p) => p.detachPending)) {
    if (leftovers.some((l) => l.schema === pending.schema && l.name === pending.name)) continue
    const past = cutoff !== undefined && pending.upper !== undefined && pending.upper <= cutoff
    steps.push({
      kind: 'finalize',
      table,
      partition: pending.name,
      ...(past ? { mode: spec.retention?.mode ?? 'drop' } : {}),
      statements: [
        { sql: detachPartition(spec, pending.schema, pending.name, 'finalize'), outside: true },
        ...(past ? retire(pending.schema, pending.name) : []),
      ],
    })
  }

  // Creation: every uncovered piece of the ranges maintenance keeps.
  const defaultPartition = parent.partitions.find((p) => p.isDefault && !p.detachPending)
  if (defaultPartition && (await hasDefaultCheck(db, parent, defaultPartition.name))) {
    // An interrupted run's helper CHECK: it would reject inserts of its range.
    steps.push({
      kind: 'finalize',
      table,
      partition: defaultPartition.name,
      statements: [{ sql: dropDefaultCheck(parent, defaultPartition.name) }],
    })
  }
  if (defaultPartition && (await isRecording(db, parent, defaultPartition.name))) {
    // An interrupted move's recorder: it would log the default's writes forever.
    steps.push({
      kind: 'finalize',
      table,
      partition: defaultPartition.name,
      statements: stopRecording(parent, defaultPartition.name).map((sql) => ({ sql, group: 0 })),
    })
  }
  const taken: KeySpan[] = parent.partitions.flatMap((p) =>
    p.lower !== undefined && p.upper !== undefined ? [{ lower: p.lower, upper: p.upper }] : [],
  )
  const since = await lastCovered(db, spec)
  // Node computes the bounds, the server groups the default's rows by range: they must agree.
  const window = [...candidates(parent, now, cutoff, taken, new Map(), since)]
  await checkTimeZone(
    db,
    parent,
    window.map((c) => c.range),
  )
  const { ranges: waiting, total: defaultTotal } = defaultPartition
    ? await defaultRows(db, parent, defaultPartition.name)
    : { ranges: new Map(), total: 0 }
  const prove = defaultTotal > defaultScanRows
  const planned: Array<{ partition: NewPartition; rows: number; near: boolean; waiting: boolean }> =
    []
  const currentLower = rangeSpan(partitionFor(spec, now), parent.type).lower
  const older: PartitionRange[] = []
  for (const candidate of candidates(parent, now, cutoff, taken, waiting, since)) {
    const { range, rows } = candidate
    if (candidate.waiting) older.push(range)
    const span = rangeSpan(range, parent.type)
    const pieces = uncovered(span, taken)
    for (const piece of pieces) {
      taken.push(piece)
      const whole = piece.lower === span.lower && piece.upper === span.upper
      const base = whole
        ? range.name
        : `${spec.table}_p${nameDate(keyDate(piece.lower, parent.type, spec.timeZone))}`
      const name = freeName(base, names)
      const leftover = names.get(name) === 'reusable'
      names.set(name, 'planned')
      const partition: NewPartition = { name, span: piece, ...(leftover ? { leftover } : {}) }
      const near = span.lower >= currentLower
      planned.push({ partition, rows, near, waiting: candidate.waiting && !near })
    }
  }
  await checkTimeZone(db, parent, older)
  // An interrupted move's copy that no range takes any more (the interval changed, its rows
  // went): it would stay forever, a stale copy of rows. Only names Sluice gives, of ranges
  // retention keeps: a partition retention left detached is never taken for one.
  const prefix = `${spec.table}_p`
  const kept = cutoff === undefined ? '' : nameDate(keyDate(cutoff, parent.type, spec.timeZone))
  const own = (name: string) => {
    const date = /^(\d{8})(_\d+)?$/.exec(name.slice(prefix.length))?.[1]
    return name.startsWith(prefix) && date !== undefined && date >= kept
  }
  for (const [name, state] of names) {
    if (state !== 'reusable' || !own(name)) continue
    steps.push({
      kind: 'finalize',
      table,
      partition: name,
      statements: [{ sql: dropLeftover(qualified(spec.schema, name)) }],
    })
  }
  const findings: PartitionError[] = []
  // The current and premade ranges first: a backlog never delays them; then gap fill, from
  // its oldest; then older rows' ranges, nearest first.
  const backlog = planned
    .filter((p) => p.waiting)
    .sort((a, b) => b.partition.span.lower - a.partition.span.lower)
  const fill = planned.filter((p) => !p.near && !p.waiting)
  const ordered = [...planned.filter((p) => p.near), ...fill, ...backlog]
  if (ordered.length > maxPartitionsPerRun) {
    findings.push(
      new PartitionError(
        'PARTITION_LIMIT_REACHED',
        `${table}: ${ordered.length} partitions are due, more than maxPartitionsPerRun (${maxPartitionsPerRun}); the ${maxPartitionsPerRun} nearest to now are created, the next run goes on`,
        { context: { field: 'maxPartitionsPerRun', table } },
      ),
    )
  }
  let group = 0
  let moved = 0
  for (const { partition, rows } of ordered.slice(0, maxPartitionsPerRun)) {
    group++
    const into = defaultPartition && { name: defaultPartition.name, prove }
    const step = await creation(db, parent, partition, into, rows, group)
    if (!step.refused) moved += rows
    steps.push(step)
  }

  // Retention, by real bounds.
  const mode = spec.retention?.mode ?? 'drop'
  for (const partition of parent.partitions) {
    if (cutoff === undefined || partition.isDefault || partition.detachPending) continue
    if (partition.upper === undefined || partition.upper > cutoff) continue
    const how = defaultPartition ? 'plain' : 'concurrently'
    const detach = detachPartition(spec, partition.schema, partition.name, how)
    const remember =
      mode === 'detach'
        ? []
        : [
            {
              sql: `insert into sluice_partitions.retiring values (${literal(partition.schema)}, ${literal(partition.name)}, ${literal(spec.schema)}, ${literal(spec.table)}, ${literal(mode)}) on conflict do nothing`,
            },
          ]
    steps.push({
      kind: 'retire',
      table,
      partition: partition.name,
      mode,
      statements: [
        ...remember,
        how === 'concurrently'
          ? {
              sql: detach,
              outside: true,
              resume: {
                partition: qualified(partition.schema, partition.name),
                finalize: detachPartition(spec, partition.schema, partition.name, 'finalize'),
              },
            }
          : { sql: detach },
        ...retire(partition.schema, partition.name),
        ...(mode === 'detach' ? [] : [forget(partition.schema, partition.name)]),
      ],
    })
  }
  return { steps, defaultRows: defaultTotal - moved, findings }
}

async function creation(
  db: AnyKysely,
  parent: ParentTable,
  partition: NewPartition,
  defaultPartition: { name: string; prove: boolean } | undefined,
  rows: number,
  group: number,
): Promise<MaintenanceStep> {
  const table = `${parent.spec.schema}.${parent.spec.table}`
  const create = createPartitionTable(parent, partition).map((sql) => ({ sql }))
  const attach = attachPartition(parent, partition)
  const grouped = (statements: readonly string[], part = 0) =>
    statements.map((sql) => ({ sql, group: group * 3 + part }))
  const step = { kind: 'create' as const, table, partition: partition.name, rows }
  // The referenced tables first: waiting behind their writers never holds the parent.
  const referenced = lockReferenced(parent)
  if (!defaultPartition)
    return { ...step, statements: [...create, ...grouped([...referenced, ...attach])] }
  // With a default partition the switch happens under a brief lock on the parent, so that no
  // query planned before it can miss rows or route an insert to the default (README).
  const locks = [...referenced, lockParent(parent)]
  if (rows === 0 && defaultPartition.prove) {
    const drop = dropDefaultCheck(parent, defaultPartition.name)
    const prove = excludeFromDefault(parent, defaultPartition.name, partition)
    return {
      ...step,
      statements: [
        ...create,
        ...[drop, ...prove].map((sql) => ({ sql })),
        ...grouped([...locks, ...attach, drop]),
      ],
      cleanup: [{ sql: drop }],
    }
  }
  if (rows === 0) return { ...step, statements: [...create, ...grouped([...locks, ...attach])] }
  let refused: PartitionError | undefined
  try {
    checkMovable(parent, partition, rows)
  } catch (error) {
    refused = error as PartitionError
  }
  const triggers = await deleteTriggers(db, parent.spec.schema, defaultPartition.name)
  const from = defaultPartition.name
  const move = moveRows(parent, partition, from, triggers, attach).map((s) => ({
    ...s,
    group: group * 3,
  }))
  return {
    ...step,
    statements: [
      ...create,
      // The rows are copied outside any lock on the parent, the writes meanwhile recorded;
      // the switch under the lock only applies those and checks the copy (README).
      ...grouped(recordChanges(parent, from), 1),
      ...grouped(copyRows(parent, partition, from), 2),
      ...grouped(locks),
      ...move,
      ...validateKeys(parent).map((sql) => ({ sql })),
    ],
    cleanup: stopRecording(parent, from).map((sql) => ({ sql })),
    ...(refused ? { refused } : {}),
  }
}
