import { SluiceError, type SluiceErrorOptions } from './sluice-error.js'

/** One invalid configuration field and why it is invalid (the value itself is never echoed). */
export interface ConfigIssue {
  /** The field as the caller spelled it: an environment name or a dotted object path. */
  readonly field: string
  readonly message: string
}

/**
 * Thrown by `parseConfig` with every invalid field at once (code `CONFIG_INVALID`).
 *
 * @example
 * ```ts
 * try {
 *   parseConfig({ DATABASE_URL: 'nope', DB_POOL_SIZE: '0' })
 * } catch (error) {
 *   if (error instanceof ConfigError) console.error(error.issues)
 * }
 * ```
 */
export class ConfigError extends SluiceError {
  readonly issues: readonly ConfigIssue[]

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map((issue) => `  - ${issue.field}: ${issue.message}`)
    super('CONFIG_INVALID', `Invalid Sluice configuration:\n${lines.join('\n')}`)
    this.issues = Object.freeze([...issues])
  }
}

/** Stable codes of {@link ConnectionError}. */
export type ConnectionErrorCode =
  | 'CONNECTION_FAILED'
  | 'CONNECTION_LOST'
  | 'CONNECT_TIMEOUT'
  | 'AUTHENTICATION_FAILED'
  | 'DATABASE_NOT_FOUND'
  | 'TOO_MANY_CONNECTIONS'
  | 'CONNECTION_REJECTED'
  | 'TLS_FAILED'
  /** The server did not answer a statement within its deadline; the connection was closed. */
  | 'DEADLINE_EXCEEDED'

/**
 * The server could not be reached, refused the session (credentials, database name, too many
 * connections, TLS, ...), or dropped the connection. The message names the target; `cause`
 * holds the socket or TLS error or the server's `DatabaseError`, and `context.sqlState` the
 * SQLSTATE of a refusal.
 *
 * @example
 * ```ts
 * if (error instanceof ConnectionError && error.code === 'AUTHENTICATION_FAILED') {
 *   alertOnCall('database credentials rotated?')
 * }
 * ```
 */
export class ConnectionError extends SluiceError {
  declare readonly code: ConnectionErrorCode

  constructor(code: ConnectionErrorCode, message: string, options?: SluiceErrorOptions) {
    super(code, message, options)
  }
}

/**
 * No pooled connection became free within the acquire timeout (code `POOL_TIMEOUT`).
 *
 * @example
 * ```ts
 * if (error instanceof PoolTimeoutError) reply.code(503).send('busy, retry')
 * ```
 */
export class PoolTimeoutError extends SluiceError {
  constructor(message: string, options?: SluiceErrorOptions) {
    super('POOL_TIMEOUT', message, options)
  }
}

/**
 * A statement ran longer than the configured statement timeout and was cancelled on the
 * server (code `STATEMENT_TIMEOUT`). `cause` is pg's `DatabaseError` (SQLSTATE 57014).
 *
 * @example
 * ```ts
 * if (error instanceof StatementTimeoutError) metrics.slowQueryKilled.inc()
 * ```
 */
export class StatementTimeoutError extends SluiceError {
  constructor(message: string, options?: SluiceErrorOptions) {
    super('STATEMENT_TIMEOUT', message, options)
  }
}

/**
 * The database was closed; no new query is accepted (code `DATABASE_CLOSED`).
 *
 * @example
 * ```ts
 * await database.close()
 * await database.db.selectFrom('users').selectAll().execute() // throws DatabaseClosedError
 * ```
 */
export class DatabaseClosedError extends SluiceError {
  constructor(message = 'The database has been closed') {
    super('DATABASE_CLOSED', message)
  }
}
