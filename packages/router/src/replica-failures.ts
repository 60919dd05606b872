import { ConnectionError, PoolTimeoutError, StatementTimeoutError } from '@sluice/core'
import { isDatabaseError } from '@sluice/core/internal'

/**
 * What a failed statement says about where it ran.
 * - `replica`: that server could not serve it, another could (it is unreachable, frozen, its
 *   pool is jammed, it cancelled the read to replay WAL, it is short of memory, disk or
 *   connections, its I/O failed, its copy of the data is corrupted): retry elsewhere.
 * - `standby-write`: a standby refused it because it writes; nothing ran: retry on the primary.
 * - `behind`: the replica does not know a table, column, function, type or schema the
 *   statement names, or refuses a privilege: it may not have replayed the migration or GRANT
 *   yet. The primary answers for the catalog: retry there (its error, if it fails too, is the
 *   caller's).
 * - `standby-timeout`: the read ran into its statement timeout on a standby. Replay there may
 *   hold a lock the read waits for (the primary's DDL or VACUUM truncation replayed behind a
 *   long read of the table): the other replicas replay the same record, so retry once, on the
 *   primary only. A read slow everywhere then costs two timeouts, never three, and the
 *   primary's `STATEMENT_TIMEOUT` is the caller's.
 * - `standby-unsupported`: the standby refused what it does not support (0A000), for a read a
 *   serializable snapshot: the database's or role's `default_transaction_isolation` is
 *   `serializable` and this session could not be told otherwise (behind PgBouncer). Every
 *   standby refuses it: retry on the primary (a feature no server supports fails there, one
 *   round trip later).
 * - `undefined`: the statement itself failed; any server would say the same.
 */
export type FailureKind =
  | 'replica'
  | 'standby-write'
  | 'behind'
  | 'standby-timeout'
  | 'standby-unsupported'
  | undefined

// Only for SQLSTATEs that mean many things (55000 "object not in prerequisite state", e.g.
// currval before nextval; XX000, any internal error): the text says it is the standby
// refusing a write. A server with a non-English lc_messages says it in its language, and
// then the statement fails as it would on any server (not retried on the primary).
const IN_RECOVERY = /recovery is in progress|during recovery/i

/**
 * SQLSTATEs with which one server fails a read that another would serve, each for its reason.
 * Core reports 57P01 / 57P02 (the server shutting down: a fast or crash shutdown,
 * `pg_terminate_backend`) and 57P03 (cannot connect now: starting up, shutting down, a standby
 * not yet consistent) as `ConnectionError`, which is replica-specific as such.
 */
const REPLICA_SPECIFIC: ReadonlySet<string> = new Set([
  // Recovery conflicts: a read-only statement on a standby fails with 40001 for no other
  // reason (SERIALIZABLE is refused there with 0A000); reads take no row locks, and the
  // advisory locks route to the primary, so a 40P01 is a buffer-pin deadlock with recovery.
  '40001', // a recovery conflict cancelled it (snapshot, lock, tablespace)
  '40P01', // a buffer-pin deadlock with recovery
  '57P04', // replay dropped its database
  // Class 53: this server is short of a resource at the moment; another has its own.
  '53000', // the server is short of a resource
  '53100', // the server's disk is full (temporary files of a sort or hash)
  '53200', // the server is out of memory
  '53300', // the server has too many connections
  // Class 58: the server's own system call or file failed.
  '58000', // the server's system call failed
  '58030', // the server's I/O failed
  '58P01', // a file the server needs is missing
  '58P02', // a file the server creates exists already
  // Corruption is in one server's storage: a standby's pages are its own copy.
  'XX001', // the server's data is corrupted
  'XX002', // the server's index is corrupted
])
// Not replica-specific, so never retried:
// - 53400 configuration_limit_exceeded (temp_file_limit, max_locks_per_transaction): a limit
//   the statement itself exceeds, on any server configured alike; a retry multiplies its cost.
// - 57014 query_canceled by a pg_cancel_backend (someone meant to stop it). One that ran for
//   its statement_timeout is a `StatementTimeoutError` (core tells them apart by the time it
//   ran), retried once on the primary (`standby-timeout`). The router's own deadline is a
//   ConnectionError `DEADLINE_EXCEEDED`, retried as any unreachable server is.
// - 42501 insufficient_privilege goes to the primary as `behind` (below): privileges are
//   catalog rows replayed from it, and a replica that has not replayed a GRANT yet refuses
//   what the primary allows.

/**
 * A replica that has not replayed what the primary's catalog says: an undefined table,
 * column, function, type or schema (a migration), or a privilege not granted yet there.
 */
const BEHIND = new Set(['42P01', '42703', '42883', '42704', '3F000', '42501'])

/**
 * Classifies a failure on a standby, by SQLSTATE wherever it suffices: connection-level
 * failures (`ConnectionError`, `PoolTimeoutError`) and the SQLSTATEs of `REPLICA_SPECIFIC`
 * (recovery conflicts, classes 53 but 53400 and 58, XX001, XX002) are replica-specific; 25006
 * (read-only transaction) is a write rejection, and so are 55000 "recovery is in progress"
 * and XX000 "cannot assign ... during recovery"; an undefined table, column, function, type or
 * schema (42P01, 42703, 42883, 42704, 3F000) or a missing privilege (42501) is a replica
 * behind the primary's catalog. A statement timeout (`StatementTimeoutError`) is
 * `standby-timeout`, 0A000 (a refused serializable snapshot) `standby-unsupported`. Anything
 * else, a cancel (57014 sooner than the timeout) and 53400 included, is the statement's own
 * failure.
 *
 * @example
 * ```ts
 * const tryAnotherServer = failureKind(error) === 'replica'
 * ```
 */
export function failureKind(error: unknown): FailureKind {
  if (error instanceof ConnectionError || error instanceof PoolTimeoutError) return 'replica'
  if (error instanceof StatementTimeoutError) return 'standby-timeout'
  if (!isDatabaseError(error)) return undefined
  if (error.code === '0A000') return 'standby-unsupported'
  if (REPLICA_SPECIFIC.has(error.code)) return 'replica'
  if (BEHIND.has(error.code)) return 'behind'
  if (error.code === '25006') return 'standby-write'
  if (error.code === '55000' || error.code === 'XX000') {
    return IN_RECOVERY.test(error.message) ? 'standby-write' : undefined
  }
  return undefined
}
