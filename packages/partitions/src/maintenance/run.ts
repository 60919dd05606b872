import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { setTimeout as delay } from 'node:timers/promises'
import { isDatabaseError } from '@sluice/core/internal'
import { sql } from 'kysely'
import type { AnyKysely } from '../any-kysely.js'
import {
  checkSpecChange,
  ensureMetadata,
  type Lease,
  releaseLease,
  renewLease,
  takeLease,
} from '../catalog/metadata.js'
import { PartitionError } from '../errors.js'
import { type Checked, checkOptions } from '../options/options.js'
import { checkSpecs, type PartitionSpec } from '../spec/spec.js'
import { type PartitionEvents, type PartitionInstrumentation, partitionEvents } from './events.js'
import { type MaintenanceStep, type PlanOptions, planTable, type Statement } from './plan.js'
import {
  asMaintenance,
  inTransaction,
  maintenanceSettings,
  type Settings,
  setSettings,
} from './settings.js'

/** Options of {@link runMaintenance}. */
export interface RunOptions extends PlanOptions {
  /** Tries of a statement that hit the lock timeout (or a deadlock), before its step is given up. Default 20. */
  readonly attempts?: number
  /** Wait before the first retry; it doubles (with jitter), up to 5 s. Default 100 ms. */
  readonly retryDelayMs?: number | string
  /** How long a runner's lease on a table lasts (at least 1 ms); renewed before every step. Default 2 min. */
  readonly leaseMs?: number | string
  /** Wait up to this long for another runner's lease on a table, instead of skipping it. Default 0. */
  readonly waitMs?: number | string
  /** Apply a retention that keeps less (or drops what it kept) than at the last run. Default false. */
  readonly acceptSpecChanges?: boolean
  /** Hooks for maintenance events (one object or several). */
  readonly instrumentation?: PartitionInstrumentation | readonly PartitionInstrumentation[]
}

/** What a maintenance run did. */
export interface MaintenanceResult {
  /** `skipped`: every table was held by another runner, so this one did nothing. */
  readonly status: 'done' | 'skipped'
  readonly created: readonly string[]
  readonly finalized: readonly string[]
  /** Partitions detached by retention (then dropped, archived, or left detached). */
  readonly detached: readonly string[]
  readonly dropped: readonly string[]
  readonly archived: readonly string[]
  /** Rows moved out of a default partition into new partitions. */
  readonly movedRows: number
  /**
   * Per table with a default partition: the rows that stay there, as planned (outside the
   * window maintenance creates partitions for, or keyed null / `±infinity`). Also recorded
   * in the database (see {@link maintenanceStatus}), and in the `run` event's result.
   */
  readonly defaultRows: ReadonlyArray<{ readonly table: string; readonly rows: number }>
  /** Tables another runner held: who, and until when its lease runs. */
  readonly skipped: ReadonlyArray<{
    readonly table: string
    readonly heldBy: string
    readonly until: Date
  }>
  /**
   * What failed, per table (`step` missing: the table could not be planned); the other steps
   * and tables still ran. The next run tries again.
   */
  readonly errors: ReadonlyArray<{
    readonly table: string
    readonly step?: MaintenanceStep
    readonly error: unknown
  }>
  /** The longest time a transaction of this run held a parent table's lock, in ms. */
  readonly longestLockMs: number
  readonly durationMs: number
}

const RETRYABLE = new Set(['55P03', '40P01']) // lock_not_available, deadlock_detected

/**
 * Brings partitions in line with their specs, table by table: finishes what earlier runs
 * left, creates partitions up to `now + premake` (filling gaps and taking rows out of the
 * default partition), and applies retention. Idempotent. One runner at a time per table: a
 * lease row in `sluice_partitions.tables` (it works through PgBouncer in transaction mode);
 * a table another runner holds is listed in `skipped`, never silently. Every statement runs
 * in a transaction (except `DETACH ... CONCURRENTLY`, which cannot) with maintenance's own
 * `statementTimeoutMs` instead of the application's, and DDL with a short `lock_timeout`,
 * retried with backoff. A table that fails (missing, not
 * partitioned, a step refused) is reported in `errors`; the others still run. Each table's
 * last run, success and error are recorded in the database (see {@link maintenanceStatus}).
 *
 * @throws ConfigError (`CONFIG_INVALID`) before anything runs, for a spec not made by
 *   `definePartitions`, or an option of the wrong type or unknown (a spec field such as
 *   `premake` given here says where it belongs).
 *
 * @example
 * ```ts
 * const result = await runMaintenance(db, [messages, auditLog], { now: new Date() })
 * console.log(result.status, result.created, result.dropped, result.errors)
 * ```
 */
export async function runMaintenance(
  db: AnyKysely,
  specs: readonly PartitionSpec[],
  options: RunOptions = {},
): Promise<MaintenanceResult> {
  checkSpecs(specs)
  const checked = checkOptions('runMaintenance', options)
  return asMaintenance(checked, () => maintain(db, specs, checked))
}

async function maintain(
  db: AnyKysely,
  specs: readonly PartitionSpec[],
  options: Checked<RunOptions>,
): Promise<MaintenanceResult> {
  const started = performance.now()
  // The metadata and the lease rows: maintenance's statement timeout, no lock_timeout (their
  // row locks are held only until another runner's commit).
  const settings = maintenanceSettings(options, false)
  const own = <T>(fn: (trx: AnyKysely) => Promise<T>) => inTransaction(db, settings, fn)
  await ensureMetadata(db, settings)
  const result = emptyResult()
  const runner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  const leaseMs = options.leaseMs ?? 120_000
  // A hook that throws is reported once and skipped: it never fails a run nor loses its result.
  const events = partitionEvents(options.instrumentation)
  for (const spec of specs) {
    const table = `${spec.schema}.${spec.table}`
    const take = () => own((trx) => takeLease(trx, spec, runner, leaseMs))
    const lease = await waitForLease(take, options.waitMs ?? 0)
    if (!lease.taken) {
      result.skipped.push({ table, heldBy: lease.heldBy, until: lease.until })
      continue
    }
    const errorsBefore = result.errors.length
    const now = options.now ?? new Date()
    try {
      if (!options.acceptSpecChanges) await own((trx) => checkSpecChange(trx, spec))
      const { steps, defaultRows, findings } = await planTable(db, spec, { ...options, now })
      for (const error of findings) result.errors.push({ table, error })
      if (defaultRows > 0) result.defaultRows.push({ table, rows: defaultRows })
      // The lease is renewed before every step and checked in every transaction of it: a
      // runner that lost it (paused past leaseMs) stops, and what it was doing rolls back.
      const lease = (trx?: AnyKysely) =>
        trx
          ? renewLease(trx, spec, runner, leaseMs)
          : own((t) => renewLease(t, spec, runner, leaseMs))
      const run = new Runner(db, options, result, events, lease)
      for (const step of steps) {
        await lease()
        await run.step(step)
      }
    } catch (error) {
      result.errors.push({ table, error })
    } finally {
      const stayed = result.defaultRows.find((d) => d.table === table)?.rows ?? 0
      const error = result.errors[errorsBefore]?.error
      await own((trx) => releaseLease(trx, spec, runner, error, stayed, now))
    }
  }
  if (specs.length > 0 && result.skipped.length === specs.length) result.status = 'skipped'
  const done = { ...result, durationMs: performance.now() - started }
  events.onMaintenance.emit?.({ kind: 'run', result: done })
  return done
}

async function waitForLease(take: () => Promise<Lease>, waitMs: number): Promise<Lease> {
  const deadline = performance.now() + waitMs
  for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
    const lease = await take()
    if (lease.taken || performance.now() + pause > deadline) return lease
    await delay(pause)
  }
}

type Mutable<T> = {
  -readonly [K in keyof T]: T[K] extends ReadonlyArray<infer U> ? U[] : T[K]
}

function emptyResult(): Mutable<MaintenanceResult> {
  return {
    status: 'done',
    created: [],
    finalized: [],
    detached: [],
    dropped: [],
    archived: [],
    movedRows: 0,
    defaultRows: [],
    skipped: [],
    errors: [],
    longestLockMs: 0,
    durationMs: 0,
  }
}

/**
 * A step's statements as the runner runs them: each alone, except consecutive ones of the
 * same `group`, which share a transaction.
 *
 * @example
 * ```ts
 * const [step] = await planMaintenance(db, [messages])
 * for (const batch of batches(step?.statements ?? [])) console.log(batch.map((s) => s.sql))
 * ```
 */
export function* batches(statements: readonly Statement[]): Generator<Statement[]> {
  for (let start = 0; start < statements.length; ) {
    const group = statements[start]?.group
    let end = start + 1
    while (group !== undefined && statements[end]?.group === group) end++
    yield statements.slice(start, end)
    start = end
  }
}

/**
 * The rows a move's delete took out of the default, once they are the same as the copy
 * (else the switch rolls back: the rows stay in the default and the next run copies again).
 */
function checkMoved(text: string, outcome: { moved: number; same: boolean } | undefined): number {
  if (outcome?.same) return outcome.moved
  throw new PartitionError(
    'PARTITION_MOVE_CHANGED',
    `the rows in the default no longer match their copy; rolled back, the next run copies again: ${text.slice(0, 200)}`,
  )
}

/**
 * A retirement PostgreSQL refused because rows of the partition are still referenced
 * (`23503` on DETACH: a foreign key's `ON DELETE` action is never run by it), as a typed
 * refusal naming the key and the fix; any other error as it is.
 */
function refusal(step: MaintenanceStep, error: unknown): unknown {
  if (step.kind !== 'retire' || !isDatabaseError(error) || error.code !== '23503') return error
  const key = (error as { constraint?: string }).constraint ?? 'a foreign key'
  return new PartitionError(
    'PARTITION_RETENTION_REFUSED',
    `${step.table}: ${step.partition} is past retention, but rows of it are still referenced (${key}): PostgreSQL refuses to detach it, nothing was removed; delete or re-point the referencing rows (or drop the key), and the next run retires it`,
    { cause: error, context: { table: step.table } },
  )
}

/** Runs planned steps, transaction by transaction, retrying lock timeouts with backoff. */
class Runner {
  readonly #db: AnyKysely
  readonly #options: Checked<RunOptions>
  readonly #settings: Settings
  readonly #result: Mutable<MaintenanceResult>
  readonly #events: PartitionEvents
  /** Renews this runner's lease: in `trx`, or in a transaction of its own. */
  readonly #lease: (trx?: AnyKysely) => Promise<void>

  constructor(
    db: AnyKysely,
    options: Checked<RunOptions>,
    result: Mutable<MaintenanceResult>,
    events: PartitionEvents,
    lease: (trx?: AnyKysely) => Promise<void>,
  ) {
    this.#db = db
    this.#options = options
    this.#settings = maintenanceSettings(options)
    this.#result = result
    this.#events = events
    this.#lease = lease
  }

  /** Runs one step; its failure is recorded and the run goes on. */
  async step(step: MaintenanceStep): Promise<void> {
    if (step.refused) {
      this.#result.errors.push({ table: step.table, step, error: step.refused })
      return
    }
    try {
      for (const batch of batches(step.statements)) {
        await this.#withRetries(batch[0]?.sql ?? '', () => this.#runBatch(batch))
      }
      this.#record(step)
    } catch (error) {
      // A lost lease: the holder may be mid-move on the same default; no cleanup, no more steps.
      if (error instanceof PartitionError && error.code === 'PARTITION_BUSY') throw error
      this.#result.errors.push({ table: step.table, step, error: refusal(step, error) })
      await this.#cleanUp(step)
    }
  }

  /** Undoes what a failed step left that would get in the way (its `cleanup`). */
  async #cleanUp(step: MaintenanceStep): Promise<void> {
    for (const statement of step.cleanup ?? []) {
      try {
        await this.#withRetries(statement.sql, () => this.#runBatch([statement]))
      } catch (error) {
        this.#result.errors.push({ table: step.table, step, error }) // the next run retries
      }
    }
  }

  /** One statement outside a transaction, or a transaction of one or more. */
  async #runBatch(batch: readonly Statement[]): Promise<void> {
    const [first] = batch
    if (first?.outside) {
      await this.#lease()
      const text = await inTransaction(this.#db, this.#settings, (trx) => this.#sqlFor(trx, first))
      await this.#db.connection().execute(async (connection) => {
        const restore = await this.#setSession(connection)
        try {
          await sql.raw(text).execute(connection)
        } finally {
          if (restore) await sql.raw(restore).execute(connection)
        }
      })
      return
    }
    let locked: number | undefined
    let moved = 0
    await inTransaction(this.#db, this.#settings, async (trx) => {
      for (const statement of batch) {
        const outcome = await sql.raw<{ moved: number; same: boolean }>(statement.sql).execute(trx)
        if (statement.counts === 'moved') moved += checkMoved(statement.sql, outcome.rows[0])
        if (locked === undefined && statement.sql.endsWith(' in access exclusive mode'))
          locked = performance.now()
      }
      // Last, so the lease row is locked only until the commit, not during a long copy.
      await this.#lease(trx)
    })
    this.#result.movedRows += moved
    if (locked !== undefined) {
      this.#result.longestLockMs = Math.max(this.#result.longestLockMs, performance.now() - locked)
    }
  }

  /**
   * DETACH CONCURRENTLY / FINALIZE cannot run in a transaction: where the pooler keeps
   * sessions, maintenance's settings become session settings of `connection` for the one
   * statement; returns the statement that puts back the connection's own (the application's
   * statement timeout: a `RESET` would drop one that a session pooler's setup `SET`). In
   * PgBouncer transaction mode no session setting is safe (it would reach other clients): no
   * `lock_timeout` there, and the statement timeout is the client-side deadline alone.
   */
  async #setSession(connection: AnyKysely): Promise<string | undefined> {
    const mode = this.#options.poolerMode ?? process.env.DB_POOLER_MODE
    if (mode === 'transaction') return undefined
    const names = this.#settings.map(([name]) => name)
    const current = names.map((name) => `current_setting('${name}')`).join(', ')
    const { rows } = await sql
      .raw<{ before: string[] }>(`select array[${current}] as before`)
      .execute(connection)
    await sql.raw(setSettings(this.#settings, false)).execute(connection)
    const before = rows[0]?.before ?? []
    return setSettings(
      names.map((name, i) => [name, (before[i] ?? '0').replaceAll("'", "''")] as const),
      false,
    )
  }

  /** The statement's SQL, or its `resume` SQL when an earlier attempt did the first half. */
  async #sqlFor(db: AnyKysely, { sql: text, resume }: Statement): Promise<string> {
    if (!resume) return text
    const { rows } = await sql<{ pending: boolean }>`
      select inhdetachpending as pending from pg_inherits
      where inhrelid = to_regclass(${resume.partition})`.execute(db)
    return rows[0]?.pending ? resume.finalize : text
  }

  async #withRetries(sqlText: string, attempt: () => Promise<void>): Promise<void> {
    const attempts = this.#options.attempts ?? 20
    let wait = this.#options.retryDelayMs ?? 100
    for (let tried = 1; ; tried++) {
      try {
        return await attempt()
      } catch (error) {
        if (!isDatabaseError(error) || !RETRYABLE.has(error.code ?? '')) throw error
        if (tried >= attempts) {
          throw new PartitionError(
            'PARTITION_LOCK_TIMEOUT',
            `gave up after ${tried} lock timeouts: ${sqlText.slice(0, 200)}`,
            { cause: error },
          )
        }
        const pause = wait / 2 + Math.random() * (wait / 2)
        this.#events.onMaintenance.emit?.({
          kind: 'retry',
          sql: sqlText,
          attempt: tried,
          delayMs: pause,
        })
        await delay(pause)
        wait = Math.min(wait * 2, 5000)
      }
    }
  }

  #record(step: MaintenanceStep): void {
    const result = this.#result
    if (step.kind === 'create') result.created.push(step.partition)
    if (step.kind === 'finalize') result.finalized.push(step.partition)
    if (step.kind !== 'retire' && !(step.kind === 'finalize' && step.mode)) return
    if (step.kind === 'retire') result.detached.push(step.partition)
    if (step.mode === 'drop') result.dropped.push(step.partition)
    if (step.mode === 'archive') result.archived.push(step.partition)
  }
}
