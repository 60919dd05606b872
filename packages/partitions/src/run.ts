import { setTimeout as delay } from 'node:timers/promises'
import { isDatabaseError } from '@sluice/core'
import { sql } from 'kysely'
import type { AnyKysely } from './any-kysely.js'
import { PartitionError } from './errors.js'
import type { PartitionInstrumentation } from './events.js'
import { type MaintenanceStep, type PlanOptions, planMaintenance, type Statement } from './plan.js'
import type { PartitionSpec } from './spec.js'

/** Options of {@link runMaintenance}. */
export interface RunOptions extends PlanOptions {
  /** `lock_timeout` of every statement: DDL never queues long behind a query. Default 1000 ms. */
  readonly lockTimeoutMs?: number
  /** Tries of a statement that hit the lock timeout, before its step is given up. Default 10. */
  readonly attempts?: number
  /** Wait before the first retry; it doubles, up to 5 s. Default 200 ms. */
  readonly retryDelayMs?: number
  readonly instrumentation?: PartitionInstrumentation
}

/** What a maintenance run did. */
export interface MaintenanceResult {
  /** `skipped`: another runner held the lock, so this one did nothing. */
  readonly status: 'done' | 'skipped'
  readonly created: readonly string[]
  readonly finalized: readonly string[]
  /** Partitions detached by retention (then dropped, archived, or left detached). */
  readonly detached: readonly string[]
  readonly dropped: readonly string[]
  readonly archived: readonly string[]
  /** Rows moved out of a default partition into new partitions. */
  readonly movedRows: number
  /** Steps that failed; the others still ran. The next run tries them again. */
  readonly errors: ReadonlyArray<{ readonly step: MaintenanceStep; readonly error: unknown }>
  readonly durationMs: number
}

const LOCK_NOT_AVAILABLE = '55P03'
const RUNNER_LOCK = sql`hashtext('sluice.partitions.maintenance')`

/**
 * Brings partitions in line with their specs: finalizes interrupted detaches, creates
 * partitions up to `now + premake`, and applies retention. Idempotent. One runner at a time
 * per database (a session advisory lock): a second concurrent run returns `skipped`. Every
 * statement runs with `lock_timeout` and is retried, so maintenance never waits long behind a
 * running query (nor makes other queries wait behind it). Needs a session-level connection:
 * point it at PostgreSQL or a session-mode pooler, not PgBouncer in transaction mode.
 *
 * @throws PartitionError for a table that is not range-partitioned on its time column,
 *   before any DDL runs.
 * @example
 * ```ts
 * const result = await runMaintenance(db, [messages, auditLog], { now: new Date() })
 * console.log(result.status, result.created, result.dropped)
 * ```
 */
export async function runMaintenance(
  db: AnyKysely,
  specs: readonly PartitionSpec[],
  options: RunOptions = {},
): Promise<MaintenanceResult> {
  const started = performance.now()
  const result = await db.connection().execute(async (connection) => {
    const { rows } = await sql<{ locked: boolean }>`
      select pg_try_advisory_lock(${RUNNER_LOCK}) as locked`.execute(connection)
    if (!rows[0]?.locked) return emptyResult('skipped')
    try {
      await sql`select set_config('lock_timeout', ${`${options.lockTimeoutMs ?? 1000}ms`}, false)`.execute(
        connection,
      )
      const steps = await planMaintenance(connection, specs, options)
      return await new Runner(connection, options).run(steps)
    } finally {
      await sql`reset lock_timeout`.execute(connection).catch(() => undefined)
      await sql`select pg_advisory_unlock(${RUNNER_LOCK})`.execute(connection)
    }
  })
  const done = { ...result, durationMs: performance.now() - started }
  options.instrumentation?.onMaintenance?.({ kind: 'run', result: done })
  return done
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] }

function emptyResult(status: MaintenanceResult['status']): Mutable<MaintenanceResult> {
  return {
    status,
    created: [],
    finalized: [],
    detached: [],
    dropped: [],
    archived: [],
    movedRows: 0,
    errors: [],
    durationMs: 0,
  }
}

/** Runs planned steps on one connection, statement by statement, retrying lock timeouts. */
class Runner {
  readonly #connection: AnyKysely
  readonly #options: RunOptions
  readonly #result = emptyResult('done')

  constructor(connection: AnyKysely, options: RunOptions) {
    this.#connection = connection
    this.#options = options
  }

  async run(steps: readonly MaintenanceStep[]): Promise<Mutable<MaintenanceResult>> {
    for (const step of steps) {
      try {
        await this.#runStep(step)
        this.#record(step)
      } catch (error) {
        this.#result.errors.push({ step, error })
      }
    }
    return this.#result
  }

  /** Runs each statement, or each run of statements sharing a transaction, with retries. */
  async #runStep({ statements }: MaintenanceStep): Promise<void> {
    for (let start = 0; start < statements.length; ) {
      const transaction = statements[start]?.transaction
      let end = start + 1
      while (transaction !== undefined && statements[end]?.transaction === transaction) end++
      const group = statements.slice(start, end)
      start = end
      await this.#withRetries(group[0]?.sql ?? '', () => this.#runGroup(group))
    }
  }

  /** One statement, or a transaction of several; `repeat` ones until no row is affected. */
  async #runGroup(group: readonly Statement[]): Promise<void> {
    const inTransaction = group[0]?.transaction !== undefined
    const run = async (db: AnyKysely) => {
      for (const statement of group) {
        let affected: bigint
        do {
          const outcome = await sql.raw(await this.#sqlFor(statement)).execute(db)
          affected = outcome.numAffectedRows ?? 0n
          if (statement.repeat) this.#result.movedRows += Number(affected)
        } while (statement.repeat && affected > 0n)
      }
    }
    if (inTransaction) await this.#connection.transaction().execute(run)
    else await run(this.#connection)
  }

  /** The statement's SQL, or its `resume` SQL when an earlier attempt did the first half. */
  async #sqlFor({ sql: text, resume }: Statement): Promise<string> {
    if (!resume) return text
    const { rows } = await sql<{ pending: boolean }>`
      select inhdetachpending as pending from pg_inherits
      where inhrelid = to_regclass(${resume.partition})`.execute(this.#connection)
    return rows[0]?.pending ? resume.finalize : text
  }

  async #withRetries(sqlText: string, attempt: () => Promise<void>): Promise<void> {
    const attempts = this.#options.attempts ?? 10
    let wait = this.#options.retryDelayMs ?? 200
    for (let tried = 1; ; tried++) {
      try {
        return await attempt()
      } catch (error) {
        if (!isDatabaseError(error) || error.code !== LOCK_NOT_AVAILABLE) throw error
        if (tried >= attempts) {
          throw new PartitionError(
            'PARTITION_LOCK_TIMEOUT',
            `gave up after ${tried} lock timeouts: ${sqlText.slice(0, 200)}`,
            { cause: error },
          )
        }
        this.#options.instrumentation?.onMaintenance?.({
          kind: 'retry',
          sql: sqlText,
          attempt: tried,
          delayMs: wait,
        })
        await delay(wait)
        wait = Math.min(wait * 2, 5000)
      }
    }
  }

  #record(step: MaintenanceStep): void {
    const result = this.#result
    if (step.kind === 'create') result.created.push(step.partition)
    if (step.kind === 'finalize') result.finalized.push(step.partition)
    if (step.kind !== 'retire') return
    result.detached.push(step.partition)
    if (step.mode === 'drop') result.dropped.push(step.partition)
    if (step.mode === 'archive') result.archived.push(step.partition)
  }
}
