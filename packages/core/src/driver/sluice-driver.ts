import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryCompiler,
  type TransactionSettings,
} from 'kysely'
import type pg from 'pg'
import type { TargetConfig } from '../config/target.js'
import { DatabaseClosedError, PoolTimeoutError } from '../errors/errors.js'
import { toSluiceError } from '../errors/pg-errors.js'
import { type CoreEvents, coreEvents } from '../instrumentation/channels.js'
import type { Instrumentation } from '../instrumentation/events.js'
import { withDeadline } from '../internal/deadline.js'
import { markClosing } from '../pool/pool-closing.js'
import { transactionSetupSql } from '../pool/server-settings.js'
import { type AfterCommit, type CommittedWrite, checkAfterCommit } from './commit-tracker.js'
import { savepointSql } from './savepoint-sql.js'
import {
  type ConnectionCommitToken,
  SluiceConnection,
  type StreamIdle,
} from './sluice-connection.js'
import { DEFAULT_STREAM_IDLE_TIMEOUT_MS } from './stream-portal.js'

/** Options of {@link SluiceDriver}.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 */
export interface DriverOptions {
  /** Hooks for query and pool events (one object or several). */
  readonly instrumentation?: Instrumentation | readonly Instrumentation[]
  /** Called with the tables of each committed write; see {@link AfterCommit}. */
  readonly afterCommit?: AfterCommit
  /**
   * Reads the consistency token of a write that just committed on `connection`, when
   * `afterCommit` asks for it (see {@link CommittedWrite}); the router passes its own.
   * Default: none.
   */
  readonly commitToken?: ConnectionCommitToken
  /**
   * How long a `.stream()` waits for its consumer's next `next()` before it is closed and its
   * connection destroyed (a consumer that stopped without `return()` would hold the
   * connection, mid-portal, for good). Default 60 s.
   */
  readonly streamIdleTimeoutMs?: number
}

/**
 * A Kysely `Driver` over one target's pool. Besides what Kysely's `PostgresDriver` does, it
 * maps pool and connection failures to typed errors, emits pool and query events, applies
 * transaction-level settings behind PgBouncer, and can drain in-flight work before closing.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * const driver = new SluiceDriver(createPool(config.primary), config.primary)
 * const db = new Kysely<DB>({
 *   dialect: {
 *     createAdapter: () => new PostgresAdapter(),
 *     createDriver: () => driver,
 *     createIntrospector: (db) => new PostgresIntrospector(db),
 *     createQueryCompiler: () => new PostgresQueryCompiler(),
 *   },
 * })
 * ```
 */
export class SluiceDriver implements Driver {
  readonly #pool: pg.Pool
  readonly #target: TargetConfig
  readonly #events: CoreEvents
  readonly #afterCommit: AfterCommit | undefined
  readonly #commitToken: ConnectionCommitToken | undefined
  readonly #streamIdle: StreamIdle
  // One connection object per pg client, reused on every checkout: no allocation per query,
  // and Kysely, which remembers every connection it sees (a WeakSet), sees only a few.
  readonly #connections = new WeakMap<pg.PoolClient, SluiceConnection>()
  readonly #checkedOut = new Set<SluiceConnection>()
  readonly #idleWaiters = new Set<() => void>()
  #closed = false

  /** @throws ConfigError when `afterCommit` is not a function or pg is older than 8.21. */
  constructor(pool: pg.Pool, target: TargetConfig, options: DriverOptions = {}) {
    this.#pool = pool
    this.#target = target
    this.#events = coreEvents(options.instrumentation)
    this.#afterCommit = checkAfterCommit(options.afterCommit)
    this.#commitToken = options.commitToken
    this.#streamIdle = {
      timeoutMs: options.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS,
      abandon: (connection) => void this.releaseConnection(connection),
    }
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<SluiceConnection> {
    if (this.#closed) throw new DatabaseClosedError()
    // Looked up once: each lookup asks the diagnostics channel for subscribers.
    const emit = this.#events.onPoolEvent.emit
    const started = emit ? performance.now() : 0
    const target = this.#target.label
    let client: pg.PoolClient
    try {
      client = await this.#pool.connect()
    } catch (error) {
      const mapped = toSluiceError(error, this.#target)
      if (mapped instanceof PoolTimeoutError) {
        emit?.({
          kind: 'acquire-timeout',
          target,
          waitMs: performance.now() - started,
        })
      }
      throw mapped
    }
    emit?.({ kind: 'acquire', target, waitMs: performance.now() - started })
    let connection = this.#connections.get(client)
    if (connection) connection.checkout()
    else {
      connection = new SluiceConnection(
        client,
        this.#target,
        this.#events,
        this.#streamIdle,
        this.#afterCommit,
        this.#commitToken,
      )
      this.#connections.set(client, connection)
    }
    this.#checkedOut.add(connection)
    return connection
  }

  // Each control statement is sent through `via` when given: the connection Kysely handed out
  // and logs (the router's), while `connection` is the server connection under it. Kysely's
  // `log` then sees BEGIN, COMMIT, ROLLBACK and savepoints as with its own PostgresDialect,
  // whose statement texts these are.
  async beginTransaction(
    connection: DatabaseConnection,
    settings: TransactionSettings,
    via: DatabaseConnection = connection,
  ) {
    await via.executeQuery(
      CompiledQuery.raw(beginSql(settings) + transactionSetupSql(this.#target)),
    )
  }

  // A stream left open in the transaction is closed first: COMMIT or ROLLBACK would wait
  // behind its portal for good.
  async commitTransaction(
    connection: DatabaseConnection,
    via: DatabaseConnection = connection,
  ): Promise<void> {
    const sluiceConnection = connection as SluiceConnection
    if (sluiceConnection.streaming) await sluiceConnection.closeStreams()
    await via.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction(
    connection: DatabaseConnection,
    via: DatabaseConnection = connection,
  ): Promise<void> {
    const sluiceConnection = connection as SluiceConnection
    if (sluiceConnection.streaming) await sluiceConnection.closeStreams()
    await via.executeQuery(CompiledQuery.raw('rollback'))
  }

  async savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
    via: DatabaseConnection = connection,
  ) {
    await via.executeQuery(savepointSql('savepoint', name, compile))
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
    via: DatabaseConnection = connection,
  ) {
    await via.executeQuery(savepointSql('rollback to', name, compile))
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
    via: DatabaseConnection = connection,
  ) {
    await via.executeQuery(savepointSql('release', name, compile))
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const sluiceConnection = connection as SluiceConnection
    this.#checkedOut.delete(sluiceConnection)
    sluiceConnection.release()
    if (this.#checkedOut.size === 0) for (const wake of this.#idleWaiters) wake()
  }

  /**
   * Stops accepting work, waits up to `timeoutMs` for checked-out connections to come back,
   * then destroys the ones that did not. Idempotent.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#closed = true
    markClosing(this.#pool)
    if (this.#checkedOut.size > 0) {
      let wake = () => {}
      const idle = new Promise<void>((resolve) => {
        wake = resolve
        this.#idleWaiters.add(resolve)
      })
      await withDeadline(idle, timeoutMs, () => undefined)
      this.#idleWaiters.delete(wake)
    }
    for (const connection of this.#checkedOut) connection.release(true)
    this.#checkedOut.clear()
  }

  async destroy(): Promise<void> {
    await this.drain(0)
    if (!this.#pool.ended && !this.#pool.ending) await this.#pool.end()
  }
}

/** Kysely's PostgresDriver's text for a BEGIN with these settings. */
function beginSql({ isolationLevel, accessMode }: TransactionSettings): string {
  if (!isolationLevel && !accessMode) return 'begin'
  let sql = 'start transaction'
  if (isolationLevel) sql += ` isolation level ${isolationLevel}`
  if (accessMode) sql += ` ${accessMode}`
  return sql
}
