import type { Socket } from 'node:net'
import pg from 'pg'
import type { TargetConfig } from '../config/target.js'
import { connectError } from '../errors/connect-errors.js'
import { ConnectionError, StatementTimeoutError } from '../errors/errors.js'
import { isDatabaseError } from '../errors/pg-errors.js'
import { connectSucceeded } from '../errors/refusal-error.js'
import { MAX_TIMER_MS, withDeadline } from '../internal/deadline.js'
import { sendCancelRequest } from './cancel-request.js'
import { scopedStatementTimeout } from './statement-timeout-scope.js'
import { serverOffersTls } from './tls-options.js'

const QUERY_CANCELED = '57014'
type QueryCallback = (error: Error | undefined, result: unknown) => void

/** pg client options plus the target whose statement timeout the client enforces. */
export interface SluiceClientConfig extends pg.ClientConfig {
  readonly sluiceTarget: TargetConfig
}

/**
 * The pg `Client` every Sluice pool uses (one class for all targets, so pg's hot paths stay
 * monomorphic when a process talks to a primary and replicas). It turns a statement cancelled
 * for running past the statement timeout into a {@link StatementTimeoutError}, and it puts a
 * client-side deadline on every statement, in every pooler mode, because a server that is
 * frozen (processes stopped, sockets open) or behind a dead link never answers, not even to
 * its own timeout:
 * - in PgBouncer `transaction` mode, where `statement_timeout` cannot be a session setting, a
 *   cancel request goes out a little after the timeout;
 * - a statement that has still not ended a little after that has its connection closed and
 *   fails with `ConnectionError` (`DEADLINE_EXCEEDED`); pg-pool then discards the client.
 * A statement timeout of 0 turns both off. Inside a `withStatementTimeout` scope
 * (`@sluice/core/internal`), the scope's timeout stands in for the target's.
 */
export class SluiceClient extends pg.Client {
  readonly #target: TargetConfig
  /** The target's statement timeout. */
  readonly #timeoutMs: number
  /** The running (or last) statement's timeout: the target's, or its scope's. */
  #statementTimeoutMs: number
  readonly #cancelFirst: boolean
  #deadlineFired = false
  #destroyed = false
  /** Statements started on this client; identifies the running one for the watchdog. */
  #statement = 0
  /** A statement is running (a client runs one at a time). */
  #busy = false
  #startedAt = 0
  #watchdog: NodeJS.Timeout | undefined
  /** The watchdog's delay, to re-arm it as it is when the next statement has the same timeout. */
  #watchdogMs = 0
  // Bound once: the hot path allocates no closures.
  // It expires after the next poll (setImmediate): an answer that came in time but is still
  // unread after a long event-loop turn wins (see withDeadline).
  readonly #onWatchdog = () => {
    const statement = this.#statement
    setImmediate(() => this.#expire(statement, this.#cancelFirst)) // referenced: see withDeadline
  }
  readonly #onResult = <T>(result: T): T => {
    this.#busy = false
    return result
  }
  readonly #onError = (error: unknown): never => {
    this.#busy = false
    throw this.#settle(error)
  }

  constructor(config: SluiceClientConfig) {
    super(config)
    const target = config.sluiceTarget
    this.#target = target
    this.#timeoutMs = target.server.statementTimeoutMs
    this.#statementTimeoutMs = this.#timeoutMs
    this.#cancelFirst = target.poolerMode === 'transaction'
  }

  /**
   * True once a client-side deadline sent a cancel request on this connection or closed it.
   * A cancel request travels on its own socket and may land after the statement ended, on
   * whatever this connection runs next (a ROLLBACK, another request's query): such a client
   * must not be reused, and {@link SluiceConnection} destroys it on release.
   */
  get deadlineFired(): boolean {
    return this.#deadlineFired
  }

  /**
   * Opens the connection; whatever fails before the server is ready for queries (its refusal
   * of the database, the credentials or one more session, TLS, the socket) rejects with a
   * `ConnectionError` naming the target (see {@link connectError}). With `sslmode=prefer`, a
   * server that offers no TLS gets plain TCP.
   */
  override connect(): Promise<pg.Client>
  override connect(callback: (error: Error | null) => void): void
  override connect(callback?: (error: Error | null) => void): Promise<pg.Client> | undefined {
    const target = this.#target
    const opened = (target.ssl.mode === 'prefer' ? this.#preferTls() : Promise.resolve())
      .then(() => super.connect())
      .then(
        (client) => {
          connectSucceeded(target)
          return client
        },
        (error: unknown) => {
          throw connectError(error, target)
        },
      )
    if (!callback) return opened
    opened.then(
      () => callback(null),
      (error: Error) => callback(error),
    )
    return undefined
  }

  /**
   * Closes the connection. pg sends Terminate and then waits for the server to close its side
   * of the socket, which a frozen server or a dead link never does: the open socket would keep
   * the process from exiting after `close()`, for as long as the fault lasts. libpq closes its
   * socket as soon as Terminate is sent; here the server gets one grace period to close first,
   * then the socket is destroyed (which ends the client as a close by the server would).
   */
  override end(): Promise<void>
  override end(callback: (error: Error) => void): void
  override end(callback?: (error: Error) => void): Promise<void> | undefined {
    const stream = (this as unknown as { connection: { stream: Socket } }).connection.stream
    if (!stream.destroyed) {
      const timer = setTimeout(() => stream.destroy(), this.#graceMs)
      timer.unref()
      stream.once('close', () => clearTimeout(timer))
    }
    if (!callback) return super.end()
    super.end(callback)
    return undefined
  }

  async #preferTls(): Promise<void> {
    if (await serverOffersTls(this.#target)) return
    // pg reads its TLS choice from these two fields when the socket connects.
    const self = this as unknown as { ssl: unknown; connection: { ssl: unknown } }
    self.ssl = false
    self.connection.ssl = false
  }

  /**
   * Starts the deadline of one statement. The watchdog fires the deadline after the latest
   * start; since a client runs one statement at a time, a statement still running then is
   * the one that started it.
   */
  #start(timeoutMs: number): void {
    this.#statement++
    this.#busy = true
    this.#startedAt = performance.now()
    this.#statementTimeoutMs = timeoutMs
    // One timer per client, re-armed (not re-created) for each statement of the same timeout.
    // Capped: a timeout near MAX_TIMER_MS plus its grace would overflow, and Node fires an
    // overflowing timer after 1 ms (every statement's connection destroyed at once).
    const waitMs = Math.min(timeoutMs + this.#graceMs, MAX_TIMER_MS)
    if (this.#watchdog && this.#watchdogMs === waitMs) this.#watchdog.refresh()
    else {
      clearTimeout(this.#watchdog)
      this.#watchdog = setTimeout(this.#onWatchdog, waitMs)
      this.#watchdog.unref()
      this.#watchdogMs = waitMs
    }
  }

  /** The timeout a statement started now gets: its scope's, else the target's. */
  #timeoutNow(): number {
    return scopedStatementTimeout() ?? this.#timeoutMs
  }

  /** The grace period after the current statement's timeout. */
  get #graceMs(): number {
    return Math.max(100, this.#statementTimeoutMs / 10)
  }

  /** A failed statement's error: the deadline's, a statement timeout, or as it is. */
  #settle(error: unknown): unknown {
    if (this.#destroyed) return this.deadlineError(error)
    const elapsedMs = this.#deadlineFired
      ? Number.POSITIVE_INFINITY
      : performance.now() - this.#startedAt
    return statementTimeoutError(error, this.#target, elapsedMs, this.#statementTimeoutMs)
  }

  /**
   * Runs a parameterized statement for {@link SluiceConnection} (the hot path: pg's own
   * `query` with the deadline around it, and no allocation of its own).
   */
  run<R extends pg.QueryResultRow>(sql: string, parameters: unknown[]): Promise<pg.QueryResult<R>> {
    const timeoutMs = this.#timeoutNow()
    if (timeoutMs === 0) return super.query<R>(sql, parameters)
    this.#start(timeoutMs)
    return super.query<R>(sql, parameters).then(this.#onResult, this.#onError)
  }

  override query(...args: unknown[]): never {
    const query = super.query as (...a: unknown[]) => unknown
    const first = args[0] as { submit?: unknown } | undefined
    const timeoutMs = this.#timeoutNow()
    if (timeoutMs === 0 || typeof first?.submit === 'function') {
      return query.apply(this, args) as never
    }
    this.#start(timeoutMs)
    const callbackAt = args.findIndex((arg) => typeof arg === 'function')
    if (callbackAt >= 0) {
      const callback = args[callbackAt] as QueryCallback
      args[callbackAt] = (error: Error | undefined, result: unknown) => {
        this.#busy = false
        callback(error && (this.#settle(error) as Error), result)
      }
      return query.apply(this, args) as never
    }
    return (query.apply(this, args) as Promise<unknown>).then(
      this.#onResult,
      this.#onError,
    ) as never
  }

  /**
   * How long the current (or last) statement may go unanswered before this client closes its
   * connection: its statement timeout plus one grace period (two in `transaction` mode, where
   * a cancel request goes first). 0 when that timeout is 0.
   */
  get deadlineMs(): number {
    if (this.#statementTimeoutMs === 0) return 0
    return this.#statementTimeoutMs + (this.#cancelFirst ? 2 : 1) * this.#graceMs
  }

  /**
   * Waits for `work` (a cursor read or close, which pg runs outside `query`) within
   * {@link deadlineMs}; past it, the connection is closed and `work`'s caller gets
   * `ConnectionError` (`DEADLINE_EXCEEDED`).
   */
  bounded<T>(work: Promise<T>): Promise<T> {
    const timeoutMs = this.#timeoutNow()
    if (timeoutMs === 0) return work
    this.#statementTimeoutMs = timeoutMs
    return withDeadline(work, this.deadlineMs, () => {
      this.#deadlineFired = true
      this.#destroy()
      throw this.deadlineError(undefined)
    })
  }

  /** `error` as the {@link ConnectionError} of a deadline that closed this connection, if one did. */
  deadlineError(error: unknown): unknown {
    if (!this.#destroyed) return error
    const target = this.#target
    return new ConnectionError(
      'DEADLINE_EXCEEDED',
      `${target.label} (${target.address}) did not answer within ${this.deadlineMs} ms; the connection was closed`,
      { cause: error, context: { target: target.label } },
    )
  }

  #destroy(): void {
    this.#destroyed = true
    // With a statement running, pg's end() destroys the socket at once: the statement fails.
    void this.end().catch(() => undefined)
  }

  /** The watchdog fired for `statement`: cancel it first (once) or close the connection. */
  #expire(statement: number, cancel: boolean): void {
    if (!this.#busy || this.#statement !== statement) return
    this.#deadlineFired = true
    if (cancel) {
      void this.#cancelRunningStatement()
      setTimeout(() => this.#expire(statement, false), this.#graceMs).unref()
      return
    }
    this.#destroy()
  }

  #cancelRunningStatement(): Promise<void> {
    const target = this.#target
    const keys = this as unknown as { processID: number | null; secretKey: number | null }
    if (keys.processID === null || keys.secretKey === null) return Promise.resolve()
    return sendCancelRequest({
      host: target.host,
      port: target.port,
      processId: keys.processID,
      secretKey: keys.secretKey,
      timeoutMs: target.pool.acquireTimeoutMs,
    })
  }
}

/**
 * `error` as a {@link StatementTimeoutError} when it is a cancelled statement (57014) that ran
 * for about its statement timeout or longer (the server's timeout, or the client-side
 * deadline in PgBouncer transaction mode); any other error, or a cancellation that came
 * clearly sooner (someone else's `pg_cancel_backend`), is returned as is. "About": the server
 * starts its clock at its first message of the statement, which it may have had before this
 * client's clock started (seen: 196 ms into a 200 ms timeout), so 90 % of it counts. The
 * timeout is the target's, or that of the caller's `withStatementTimeout` scope.
 */
export function statementTimeoutError(
  error: unknown,
  target: TargetConfig,
  elapsedMs: number,
  timeoutMs = scopedStatementTimeout() ?? target.server.statementTimeoutMs,
): unknown {
  if (timeoutMs === 0 || elapsedMs < timeoutMs * 0.9) return error
  if (!isDatabaseError(error) || error.code !== QUERY_CANCELED) return error
  return new StatementTimeoutError(
    `The statement ran past the ${timeoutMs} ms statement timeout on ${target.label} and was cancelled`,
    { cause: error, context: { target: target.label } },
  )
}
