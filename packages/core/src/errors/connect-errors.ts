import type { TargetConfig } from '../config/target.js'
import { ConnectionError } from './errors.js'
import { isDatabaseError, toSluiceError } from './pg-errors.js'
import { refusalError } from './refusal-error.js'
import { SluiceError } from './sluice-error.js'

// Node's TLS layer names a certificate it rejects in `code`; pg says so when the server has no TLS.
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL/
const NO_TLS = 'The server does not support SSL connections'

/**
 * Turns any error raised while a connection is being opened (before the server is ready for a
 * query) into a {@link ConnectionError} naming the target, with the original as `cause`.
 * Unlike {@link toSluiceError} it knows the phase, so the server's refusals (SQLSTATE 3D000,
 * 28000, 28P01, 53300, 55000, 42501, ...) are typed while a query's errors stay pg's
 * `DatabaseError`. Behind PgBouncer, which answers refusals with its own 08P01, they are
 * recognised by PgBouncer's texts (see `refusalError`). Codes: `AUTHENTICATION_FAILED`, `DATABASE_NOT_FOUND`,
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
  if (isDatabaseError(error)) return refusalError(error, target)
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
