import type { ConnectionErrorCode } from './errors.js'

/** A refusal the server or PgBouncer sent while a session was being opened. */
export type Refusal = Error & { code: string }

/** The codes a refusal is classified as (any other refusal is `CONNECTION_REJECTED`). */
export type RefusalCode = Extract<
  ConnectionErrorCode,
  'AUTHENTICATION_FAILED' | 'DATABASE_NOT_FOUND' | 'TOO_MANY_CONNECTIONS' | 'CONNECTION_REJECTED'
>

// The server's own refusals, by SQLSTATE. PgBouncer 1.20+ passes the server's SQLSTATE on.
const BY_SQLSTATE: Readonly<Record<string, RefusalCode>> = {
  '28000': 'AUTHENTICATION_FAILED',
  '28P01': 'AUTHENTICATION_FAILED',
  '3D000': 'DATABASE_NOT_FOUND',
  '53300': 'TOO_MANY_CONNECTIONS',
}

/** SQLSTATE protocol_violation: what PgBouncer answers every refusal of its own with. */
export const PGBOUNCER_SQLSTATE = '08P01'

// Under 08P01, by message: PgBouncer's own refusals (the texts of its src/client.c and
// src/objects.c), and the server's refusals that PgBouncer before 1.20 passed on with the
// server's text under 08P01 (PostgreSQL's English texts; a server with another lc_messages
// is recognised through its SQLSTATE only, which needs PgBouncer 1.20+).
const BY_PGBOUNCER_TEXT: readonly (readonly [RegExp, RefusalCode])[] = [
  // PgBouncer: "password authentication failed", "SASL authentication failed", "\"trust\"
  // authentication failed", "certificate authentication failed", "login rejected",
  // "no such user"; the server: 'password authentication failed for user "app"',
  // 'no pg_hba.conf entry for host ...', 'role "app" does not exist', 'role "app" is not
  // permitted to log in'.
  [
    /authentication failed|^login rejected|^no such user|^no pg_hba\.conf entry|^role ".*" (does not exist|is not permitted to log in)/i,
    'AUTHENTICATION_FAILED',
  ],
  // PgBouncer: "no such database: app" (not in its [databases]); the server: 'database "app"
  // does not exist'.
  [/^no such database|^database ".*" does not exist/i, 'DATABASE_NOT_FOUND'],
  // PgBouncer: "no more connections allowed (max_client_conn)", "client connections exceeded
  // (max_db_client_connections)"; the server: 'too many connections for role "app"', 'too
  // many connections for database "app"', 'sorry, too many clients already', 'remaining
  // connection slots are reserved ...'.
  [
    /^no more connections allowed|^client connections exceeded|^too many connections for|^sorry, too many clients|^remaining connection slots are reserved/i,
    'TOO_MANY_CONNECTIONS',
  ],
]

// PgBouncer refuses every new client of a pool whose last login to the server failed, until
// one succeeds: 1.24+ quotes the server's error ("server login has been failing, cached
// error: <text> (server_login_retry)"), older versions say "try again later".
const LOGIN_FAILING =
  /^server login has been failing(?:, cached error: (.*) \(server_login_retry\))?/

/**
 * What a refusal means: from the server's SQLSTATE, or, for PgBouncer's 08P01, from its text.
 * `loginFailing` is set when PgBouncer says its logins to the server keep failing without
 * saying why: the caller may know the reason from an earlier refusal of the same target.
 *
 * @example
 * ```ts
 * if (isDatabaseError(error)) classifyRefusal(error) // { code: 'DATABASE_NOT_FOUND', loginFailing: false }
 * ```
 */
export function classifyRefusal(error: Refusal): { code: RefusalCode; loginFailing: boolean } {
  const bySqlState = BY_SQLSTATE[error.code]
  if (bySqlState) return { code: bySqlState, loginFailing: false }
  if (error.code !== PGBOUNCER_SQLSTATE) return { code: 'CONNECTION_REJECTED', loginFailing: false }
  const failing = LOGIN_FAILING.exec(error.message)
  const text = failing ? (failing[1] ?? '') : error.message
  const byText = BY_PGBOUNCER_TEXT.find(([pattern]) => pattern.test(text))?.[1]
  return { code: byText ?? 'CONNECTION_REJECTED', loginFailing: failing !== null && !byText }
}
