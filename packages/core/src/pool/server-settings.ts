import type { TargetConfig } from '../config/target.js'

/**
 * How the server settings of a target reach the server. Directly, they are startup
 * parameters (free). PgBouncer rejects those, so in `session` mode they are `SET` once per
 * new connection, and in `transaction` mode `SET LOCAL` at every `BEGIN` (in the same round
 * trip) plus a client-side deadline that cancels statements running outside a transaction.
 */
export function startupParameters(target: TargetConfig): Record<string, string | number> {
  const { applicationName, statementTimeoutMs, idleInTransactionTimeoutMs, options } = target.server
  if (target.poolerMode !== 'none') return { application_name: applicationName }
  return {
    application_name: applicationName,
    statement_timeout: statementTimeoutMs,
    idle_in_transaction_session_timeout: idleInTransactionTimeoutMs,
    ...(options !== undefined && { options }),
  }
}

/** `SET` statements for a new connection, in `session` pooler mode; else `undefined`. */
export function connectionSetupSql(target: TargetConfig): string | undefined {
  return target.poolerMode === 'session' ? timeoutSql(target, 'set') : undefined
}

/** `SET LOCAL` statements to append to `BEGIN`, in `transaction` pooler mode; else `''`. */
export function transactionSetupSql(target: TargetConfig): string {
  return target.poolerMode === 'transaction' ? `; ${timeoutSql(target, 'set local')}` : ''
}

function timeoutSql(target: TargetConfig, verb: 'set' | 'set local'): string {
  const { statementTimeoutMs, idleInTransactionTimeoutMs } = target.server
  return [
    `${verb} statement_timeout = ${Math.trunc(statementTimeoutMs)}`,
    `${verb} idle_in_transaction_session_timeout = ${Math.trunc(idleInTransactionTimeoutMs)}`,
  ].join('; ')
}
