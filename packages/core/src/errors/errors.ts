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
 * if (error instanceof StatementTimeoutError) logger.warn('query killed by statement_timeout', error.context)
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

/**
 * A server is not in the role it was configured for (code `NOT_A_PRIMARY` for a "primary" in
 * recovery, `NOT_A_REPLICA` for a "replica" that is not: a promoted standby, or a URL that
 * points at a primary).
 *
 * @example
 * ```ts
 * const error = new TargetRoleError('replica', config.replicas[0])
 * error.code // 'NOT_A_REPLICA'
 * ```
 */
export class TargetRoleError extends SluiceError {
  declare readonly code: 'NOT_A_PRIMARY' | 'NOT_A_REPLICA'

  constructor(role: 'primary' | 'replica', target: { label: string; address: string }) {
    const where = `${target.label} (${target.address})`
    super(
      role === 'primary' ? 'NOT_A_PRIMARY' : 'NOT_A_REPLICA',
      role === 'primary'
        ? `${where} is in recovery (a standby), not a primary`
        : `${where} is not in recovery, so it is a primary, not a replica`,
      { context: { target: target.label } },
    )
  }
}

/** One server that `ready()` found not ready, and why (a typed error). */
export interface ReadinessFailure {
  readonly target: string
  readonly error: unknown
}

/**
 * `ready()` found servers unreachable, misconfigured or in the wrong role (code
 * `DATABASE_NOT_READY`). The message names each one with the reason; `failures` holds their
 * typed errors (`ConnectionError`, `TargetRoleError`, ...), `cause` the first of them.
 *
 * @example
 * ```ts
 * await database.ready().catch((error) => {
 *   if (error instanceof DatabaseNotReadyError) for (const f of error.failures) console.error(f.target, f.error)
 *   process.exit(1)
 * })
 * ```
 */
export class DatabaseNotReadyError extends SluiceError {
  readonly failures: readonly ReadinessFailure[]

  constructor(failures: readonly ReadinessFailure[]) {
    const reasons = failures.map(({ error }) => {
      const code = error instanceof SluiceError ? `${error.code}: ` : ''
      return `  - ${code}${error instanceof Error ? error.message : String(error)}`
    })
    super('DATABASE_NOT_READY', `The database is not ready:\n${reasons.join('\n')}`, {
      cause: failures[0]?.error,
      context: { target: failures[0]?.target },
    })
    this.failures = Object.freeze([...failures])
  }
}

/**
 * An installed peer dependency is older than Sluice supports (code
 * `PEER_VERSION_UNSUPPORTED`); upgrade it to at least `minimum`.
 *
 * @example
 * ```ts
 * if (error instanceof PeerVersionError) console.error(`npm install ${error.peer}@^${error.minimum}`)
 * ```
 */
export class PeerVersionError extends SluiceError {
  readonly peer: string
  readonly installed: string
  readonly minimum: string

  constructor(peer: string, installed: string, minimum: string) {
    super(
      'PEER_VERSION_UNSUPPORTED',
      `${peer} ${installed} is installed; Sluice needs ${peer} ${minimum} or newer (npm install ${peer}@^${minimum})`,
      { context: { peer, installed, minimum } },
    )
    this.peer = peer
    this.installed = installed
    this.minimum = minimum
  }
}

/**
 * A `.stream()` was closed before its consumer finished it (code `STREAM_IDLE_TIMEOUT`: no
 * `next()` came within the stream idle timeout, so its connection was destroyed;
 * `STREAM_CLOSED`: the transaction it ran in committed or rolled back). The `next()` after
 * that rejects with it.
 *
 * @example
 * ```ts
 * const rows = database.db.selectFrom('users').selectAll().stream(100)[Symbol.asyncIterator]()
 * await rows.next()
 * // ... more than the idle timeout later:
 * await rows.next().catch((error) => error instanceof StreamClosedError) // true
 * ```
 */
export class StreamClosedError extends SluiceError {
  declare readonly code: 'STREAM_IDLE_TIMEOUT' | 'STREAM_CLOSED'

  constructor(
    code: 'STREAM_IDLE_TIMEOUT' | 'STREAM_CLOSED',
    message: string,
    options?: SluiceErrorOptions,
  ) {
    super(code, message, options)
  }
}
