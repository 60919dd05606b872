import { ConnectionError, PoolTimeoutError } from '@sluice/core'
import { isDatabaseError } from '@sluice/core/internal'

/**
 * What a failed statement says about where it ran.
 * - `replica`: that server could not serve it, another could (it is unreachable, frozen, its
 *   pool is jammed, it cancelled the read to replay WAL): retry elsewhere.
 * - `standby-write`: a standby refused it because it writes; nothing ran: retry on the primary.
 * - `behind`: the replica does not know a table, column, function, type or schema the
 *   statement names: it may not have replayed the migration that made it yet. The primary
 *   answers for the schema: retry there (its error, if it fails too, is the caller's).
 * - `undefined`: the statement itself failed; any server would say the same.
 */
export type FailureKind = 'replica' | 'standby-write' | 'behind' | undefined

// Only for SQLSTATEs that mean many things (55000 "object not in prerequisite state", e.g.
// currval before nextval; XX000, any internal error): the text says it is the standby
// refusing a write. A server with a non-English lc_messages says it in its language, and
// then the statement fails as it would on any server (not retried on the primary).
const IN_RECOVERY = /recovery is in progress|during recovery/i
const TOO_MANY_CONNECTIONS = '53300'
// undefined_table, undefined_column, undefined_function, undefined_object, invalid_schema_name.
const UNDEFINED_OBJECTS = new Set(['42P01', '42703', '42883', '42704', '3F000'])

/**
 * Classifies a failure on a standby, by SQLSTATE wherever it suffices. Recovery conflicts are
 * replica-specific: 40001 (a snapshot, lock or tablespace conflict; on a standby, a read-only
 * statement can fail with 40001 for no other reason, SERIALIZABLE being refused there with
 * 0A000), 40P01 (a buffer-pin deadlock with recovery; reads take no row locks, and the
 * advisory locks route to the primary) and 57P04 (its database was dropped by replay); so are
 * connection-level failures and 53300. 25006 (read-only transaction) is a write rejection, and
 * so are 55000 "recovery is in progress" and XX000 "cannot assign ... during recovery". An
 * undefined table, column, function, type or schema (42P01, 42703, 42883, 42704, 3F000) is a
 * replica behind the primary's schema.
 *
 * @example
 * ```ts
 * const tryAnotherServer = failureKind(error) === 'replica'
 * ```
 */
export function failureKind(error: unknown): FailureKind {
  if (error instanceof ConnectionError || error instanceof PoolTimeoutError) return 'replica'
  if (!isDatabaseError(error)) return undefined
  switch (error.code) {
    case '25006':
      return 'standby-write'
    case '55000':
    case 'XX000':
      return IN_RECOVERY.test(error.message) ? 'standby-write' : undefined
    case '40001':
    case '40P01':
    case '57P04':
    case TOO_MANY_CONNECTIONS:
      return 'replica'
    default:
      return UNDEFINED_OBJECTS.has(error.code) ? 'behind' : undefined
  }
}
