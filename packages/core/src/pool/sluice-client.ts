import pg from 'pg'
import type { TargetConfig } from '../config/target.js'
import { connectError } from '../errors/connect-errors.js'
import { StatementTimeoutError } from '../errors/errors.js'
import { isDatabaseError } from '../errors/pg-errors.js'
import { sendCancelRequest } from './cancel-request.js'
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
 * for running past the statement timeout into a {@link StatementTimeoutError}, and in
 * PgBouncer `transaction` mode (where `statement_timeout` cannot be a session setting) it
 * enforces the timeout itself by sending a cancel request when the deadline passes.
 */
export class SluiceClient extends pg.Client {
  readonly #target: TargetConfig
  readonly #timeoutMs: number
  readonly #enforceDeadline: boolean
  #deadlineFired = false

  constructor(config: SluiceClientConfig) {
    super(config)
    const target = config.sluiceTarget
    this.#target = target
    this.#timeoutMs = target.session.statementTimeoutMs
    this.#enforceDeadline = target.poolerMode === 'transaction' && this.#timeoutMs > 0
  }

  /**
   * True once a client-side deadline sent a cancel request on this connection. The request
   * travels on its own socket and may land after the statement ended, on whatever this
   * connection runs next (a ROLLBACK, another request's query): such a client must not be
   * reused, and {@link SluiceConnection} destroys it on release.
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
      .catch((error: unknown) => {
        throw connectError(error, target)
      })
    if (!callback) return opened
    opened.then(
      () => callback(null),
      (error: Error) => callback(error),
    )
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
   * Runs a parameterized statement for {@link SluiceConnection}, which maps a timed-out
   * statement itself (see {@link statementTimeoutError}): without a client-side deadline to
   * enforce, this is pg's own `query`, with nothing wrapped around it.
   */
  run<R extends pg.QueryResultRow>(sql: string, parameters: unknown[]): Promise<pg.QueryResult<R>> {
    if (this.#enforceDeadline) return this.query(sql, parameters) as Promise<pg.QueryResult<R>>
    return super.query<R>(sql, parameters)
  }

  override query(...args: unknown[]): never {
    const query = super.query as (...a: unknown[]) => unknown
    const target = this.#target
    const timeoutMs = this.#timeoutMs
    const first = args[0] as { submit?: unknown } | undefined
    if (timeoutMs === 0 || typeof first?.submit === 'function') {
      return query.apply(this, args) as never
    }
    const started = performance.now()
    let cancelled = false
    // A little after the timeout: inside a transaction the server's own (SET LOCAL) timeout
    // then answers first, and no cancel request is left to race the ROLLBACK that follows.
    const timer = this.#enforceDeadline
      ? setTimeout(
          () => {
            cancelled = true
            this.#deadlineFired = true
            void this.#cancelRunningStatement()
          },
          timeoutMs + Math.max(100, timeoutMs / 10),
        )
      : undefined
    const settle = (error: unknown): unknown => {
      clearTimeout(timer)
      const elapsedMs = cancelled ? Number.POSITIVE_INFINITY : performance.now() - started
      return statementTimeoutError(error, target, elapsedMs)
    }
    const callbackAt = args.findIndex((arg) => typeof arg === 'function')
    if (callbackAt >= 0) {
      const callback = args[callbackAt] as QueryCallback
      args[callbackAt] = (error: Error | undefined, result: unknown) =>
        callback(settle(error) as Error | undefined, result)
      return query.apply(this, args) as never
    }
    return (query.apply(this, args) as Promise<unknown>).then(
      (result) => {
        clearTimeout(timer)
        return result
      },
      (error: unknown) => {
        throw settle(error)
      },
    ) as never
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
 * for about the target's statement timeout or longer (the server's timeout, or the client-side
 * deadline in PgBouncer transaction mode); any other error, or a cancellation that came
 * clearly sooner (someone else's `pg_cancel_backend`), is returned as is. "About": the server
 * starts its clock at its first message of the statement, which it may have had before this
 * client's clock started (seen: 196 ms into a 200 ms timeout), so 90 % of it counts.
 */
export function statementTimeoutError(
  error: unknown,
  target: TargetConfig,
  elapsedMs: number,
): unknown {
  const timeoutMs = target.session.statementTimeoutMs
  if (timeoutMs === 0 || elapsedMs < timeoutMs * 0.9) return error
  if (!isDatabaseError(error) || error.code !== QUERY_CANCELED) return error
  return new StatementTimeoutError(
    `The statement ran past the ${timeoutMs} ms statement timeout on ${target.label} and was cancelled`,
    { cause: error, context: { target: target.label } },
  )
}
