import type { TargetConfig } from '../config/target.js'
import { ConnectionError, type ConnectionErrorCode } from './errors.js'
import { isAuthenticationFailure, isDatabaseError, toSluiceError } from './pg-errors.js'
import { SluiceError } from './sluice-error.js'

// What the server says when it refuses a session for a reason of its own, or PgBouncer, which
// answers 08P01 with a message: its own ('no such database: x') or, when the server refused
// PgBouncer's login, the server's ('database "x" does not exist'). Anything else said while
// connecting is CONNECTION_REJECTED.
const REFUSALS: readonly {
  test: (error: Error & { code: string }) => boolean
  code: ConnectionErrorCode
}[] = [
  { test: isAuthenticationFailure, code: 'AUTHENTICATION_FAILED' },
  {
    test: (error) =>
      error.code === '3D000' ||
      /^(no such database|database ".*" does not exist)/i.test(error.message),
    code: 'DATABASE_NOT_FOUND',
  },
  {
    test: (error) =>
      error.code === '53300' ||
      /^no more connections allowed|too many (clients|connections)|connection slots are reserved/i.test(
        error.message,
      ),
    code: 'TOO_MANY_CONNECTIONS',
  },
]
// Node's TLS layer names a certificate it rejects in `code`; pg says so when the server has no TLS.
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL/
const NO_TLS = 'The server does not support SSL connections'

/**
 * Turns any error raised while a connection is being opened (before the server is ready for a
 * query) into a {@link ConnectionError} naming the target, with the original as `cause`.
 * Unlike {@link toSluiceError} it knows the phase, so the server's refusals (SQLSTATE 3D000,
 * 28000, 28P01, 53300, 55000, 42501, ...) are typed while a query's errors stay pg's
 * `DatabaseError`. Codes: `AUTHENTICATION_FAILED`, `DATABASE_NOT_FOUND`,
 * `TOO_MANY_CONNECTIONS`, `CONNECTION_REJECTED` (any other refusal), `TLS_FAILED`,
 * `CONNECT_TIMEOUT`, `CONNECTION_FAILED`.
 *
 * @example
 * ```ts
 * await client.connect().catch((error) => {
 *   throw connectError(error, config.primary)
 * })
 * ```
 */
export function connectError(error: unknown, target: TargetConfig): SluiceError {
  if (error instanceof SluiceError) return error
  const where = `${target.label} (${target.address})`
  if (isDatabaseError(error)) {
    const options = {
      cause: error,
      context: { target: target.label, sqlState: error.code },
    }
    const code = REFUSALS.find((refusal) => refusal.test(error))?.code ?? 'CONNECTION_REJECTED'
    const message =
      code === 'AUTHENTICATION_FAILED'
        ? `Authentication failed for user "${target.user}" at ${where}`
        : `${where} refused the connection: ${error.message} (SQLSTATE ${error.code})`
    return new ConnectionError(code, message, options)
  }
  const mapped = toSluiceError(error, target)
  if (mapped instanceof SluiceError) return mapped
  const options = { cause: error, context: { target: target.label } }
  const reason = error instanceof Error ? error.message : String(error)
  const errorCode = String((error as { code?: unknown } | undefined)?.code ?? '')
  if (TLS_CODE.test(errorCode) || reason === NO_TLS) {
    return new ConnectionError('TLS_FAILED', `TLS with ${where} failed: ${reason}`, options)
  }
  if (reason === 'timeout expired') {
    return new ConnectionError(
      'CONNECT_TIMEOUT',
      `Connecting to ${where} took longer than ${target.pool.acquireTimeoutMs} ms`,
      options,
    )
  }
  return new ConnectionError('CONNECTION_FAILED', `Cannot connect to ${where}: ${reason}`, options)
}
