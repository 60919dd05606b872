import type { TargetConfig } from '../config/target.js'
import { ConnectionError } from './errors.js'
import { classifyRefusal, PGBOUNCER_SQLSTATE, type Refusal, type RefusalCode } from './refusals.js'

// The last refusal each target passed on, for PgBouncer's "server login has been failing",
// which does not say why before 1.24; forgotten when a connection to the target opens.
const lastRefusals = new WeakMap<TargetConfig, { code: RefusalCode; message: string }>()

/**
 * The {@link ConnectionError} for a refusal of a session by the server or PgBouncer (see
 * `classifyRefusal`), naming the target, with the refusal as `cause`. PgBouncer's "server
 * login has been failing" takes the code of the target's refusal before it, if any.
 *
 * @example
 * ```ts
 * if (isDatabaseError(error)) throw refusalError(error, config.primary) // DATABASE_NOT_FOUND for 3D000
 * ```
 */
export function refusalError(error: Refusal, target: TargetConfig): ConnectionError {
  const where = `${target.label} (${target.address})`
  const refusal = classifyRefusal(error)
  const earlier = refusal.loginFailing ? lastRefusals.get(target) : undefined
  const code = earlier?.code ?? refusal.code
  if (!refusal.loginFailing) lastRefusals.set(target, { code, message: error.message })
  const reason = earlier
    ? `${error.message}; the refusal before: ${earlier.message}`
    : refusal.loginFailing
      ? `${error.message}; PgBouncer's log has the server's reason`
      : error.message
  const message =
    code === 'AUTHENTICATION_FAILED'
      ? `Authentication failed for user "${target.user}" at ${where}`
      : `${where} refused the connection: ${reason} (SQLSTATE ${error.code})`
  return new ConnectionError(code, message, {
    cause: error,
    context: { target: target.label, sqlState: error.code },
  })
}

/**
 * True for a refusal PgBouncer sends in place of a query's answer (in transaction mode a
 * client's session opens at once, and the server login waits for its first query).
 *
 * @example
 * ```ts
 * if (isDatabaseError(error) && isPgBouncerRefusal(error)) throw refusalError(error, target)
 * ```
 */
export function isPgBouncerRefusal(error: Refusal): boolean {
  if (error.code !== PGBOUNCER_SQLSTATE) return false
  const { code, loginFailing } = classifyRefusal(error)
  return loginFailing || code !== 'CONNECTION_REJECTED'
}

/**
 * Forgets the refusal `target` last passed on: a connection to it has opened.
 *
 * @example
 * ```ts
 * await client.connect().then(() => connectSucceeded(config.primary))
 * ```
 */
export function connectSucceeded(target: TargetConfig): void {
  lastRefusals.delete(target)
}
