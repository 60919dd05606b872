import type { TargetConfig } from '../config/target.js'
import { ConnectionError, PoolTimeoutError } from './errors.js'
import { isPgBouncerRefusal, refusalError } from './refusal-error.js'
import { SluiceError } from './sluice-error.js'

const AUTH_SQLSTATES = new Set(['28000', '28P01'])
const SOCKET_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
])
// The server is going away (admin_shutdown, crash_shutdown) or not accepting sessions yet
// (cannot_connect_now): the connection is lost, not the statement wrong.
const SHUTDOWN_SQLSTATES = new Set(['57P01', '57P02'])
const CANNOT_CONNECT_NOW = '57P03'
const CONNECTION_EXCEPTION_CLASS = '08'

/** True for pg's `DatabaseError`: an error the server sent, with a SQLSTATE `code`.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 */
export function isDatabaseError(error: unknown): error is Error & { code: string } {
  return (
    error instanceof Error &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { severity?: unknown }).severity === 'string'
  )
}

/**
 * Turns what pg or pg-pool threw into a typed {@link SluiceError} when it is a connection or
 * pool failure. SQL errors (pg's `DatabaseError`) and unknown errors pass through untouched.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * try {
 *   await pool.query('select 1')
 * } catch (error) {
 *   throw toSluiceError(error, config.primary)
 * }
 * ```
 */
export function toSluiceError(error: unknown, target: TargetConfig): unknown {
  if (error instanceof SluiceError || !(error instanceof Error)) return error
  const where = `${target.label} (${target.address})`
  const options = { cause: error, context: { target: target.label } }
  if (isDatabaseError(error)) {
    // A refused login (28000/28P01, PgBouncer's 08P01 texts), also where transaction pooling
    // makes it a query's answer.
    if (AUTH_SQLSTATES.has(error.code) || isPgBouncerRefusal(error)) {
      return refusalError(error, target)
    }
    if (SHUTDOWN_SQLSTATES.has(error.code)) {
      return new ConnectionError('CONNECTION_LOST', `${where} is shutting down`, options)
    }
    if (error.code.startsWith(CONNECTION_EXCEPTION_CLASS)) {
      // PgBouncer reports a lost or unreachable server this way ("server conn crashed?").
      return new ConnectionError('CONNECTION_LOST', `Lost the connection to ${where}`, options)
    }
    if (error.code === CANNOT_CONNECT_NOW) {
      return new ConnectionError(
        'CONNECTION_FAILED',
        `${where} is not accepting connections yet`,
        options,
      )
    }
    return error
  }
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && SOCKET_ERRORS.has(code)) {
    return new ConnectionError('CONNECTION_FAILED', `Cannot connect to ${where}: ${code}`, options)
  }
  if (error.message === 'timeout exceeded when trying to connect') {
    return new PoolTimeoutError(
      `No connection to ${where} became free within ${target.pool.acquireTimeoutMs} ms`,
      options,
    )
  }
  if (error.message.includes('due to connection timeout')) {
    return new ConnectionError(
      'CONNECT_TIMEOUT',
      `Connecting to ${where} took longer than ${target.pool.acquireTimeoutMs} ms`,
      options,
    )
  }
  if (/Connection terminated|Client has encountered a connection error/.test(error.message)) {
    return new ConnectionError('CONNECTION_LOST', `Lost the connection to ${where}`, options)
  }
  return error
}
