import { baseName, type QueryAnalysis } from '@sluice/core/internal'
import { type RawBuilder, sql } from 'kysely'

/** Where a query must run, and why. */
export interface Classification {
  readonly kind: 'read' | 'write'
  readonly reason:
    | 'select'
    | 'marked-read'
    | 'statement'
    | 'raw-sql'
    | 'locking-clause'
    | 'data-modifying-cte'
    | 'write-function'
    | 'raw-dml'
    /** A standby refused this statement shape as a write once; see `learnWrite`. */
    | 'standby-rejected'
}

/** Functions that write even when called from a SELECT; `writeFunctions` adds to these. */
export const DEFAULT_WRITE_FUNCTIONS: readonly string[] = Object.freeze([
  'nextval',
  'setval',
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_advisory_xact_lock',
  'pg_advisory_xact_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
  'pg_try_advisory_xact_lock',
  'pg_try_advisory_xact_lock_shared',
  'pg_advisory_unlock',
  'pg_advisory_unlock_shared',
  'pg_advisory_unlock_all',
  'pg_notify',
  'set_config',
  'txid_current',
  'pg_current_xact_id',
  // Large objects: every writer (lo_open and loread only read).
  'lo_creat',
  'lo_create',
  'lo_from_bytea',
  'lo_import',
  'lo_put',
  'lo_truncate',
  'lo_truncate64',
  'lo_unlink',
  'lowrite',
  // WAL functions that fail during recovery.
  'pg_current_wal_lsn',
  'pg_current_wal_insert_lsn',
  'pg_current_wal_flush_lsn',
  'pg_walfile_name',
  'pg_walfile_name_offset',
  'pg_switch_wal',
  'pg_create_restore_point',
  'pg_logical_emit_message',
  'pg_replication_origin_create',
  'pg_replication_origin_drop',
  'pg_replication_origin_advance',
  'pg_replication_origin_session_setup',
])

const READ_MARKER = '/* sluice:read */ '
const RAW_LOCK = /\bfor\s+(?:no\s+key\s+update|key\s+share|update|share)\b/i
// A data-modifying statement written out in a raw fragment (a raw CTE body, say).
const RAW_DML =
  /\b(?:insert\s+into|update\s+(?:only\s+)?[\w."]+(?:\s+(?:as\s+)?\w+)?\s+set|delete\s+from|merge\s+into)\b/i
const READ: Classification = Object.freeze({ kind: 'read', reason: 'select' })
const MARKED_READ: Classification = Object.freeze({ kind: 'read', reason: 'marked-read' })
const WRITES = Object.fromEntries(
  (
    [
      'statement',
      'raw-sql',
      'locking-clause',
      'data-modifying-cte',
      'write-function',
      'raw-dml',
    ] as const
  ).map((reason) => [reason, Object.freeze({ kind: 'write', reason })]),
) as Readonly<Record<WriteReason, Classification>>

type WriteReason = Exclude<Classification['reason'], 'select' | 'marked-read' | 'standby-rejected'>

/**
 * Marks a raw `sql` query as a read, so the router may send it to a replica (raw SQL goes to
 * the primary otherwise). It prefixes the comment `/* sluice:read *\/`, which also shows in
 * `pg_stat_activity`.
 *
 * @example
 * ```ts
 * const { rows } = await asRead(sql<{ n: number }>`select count(*) as n from posts`).execute(database.db)
 * ```
 */
export function asRead<T>(query: RawBuilder<T>): RawBuilder<T> {
  return sql<T>`/* sluice:read */ ${query}`
}

/**
 * Classifies a query from core's analysis of its operation tree. Builder statements other
 * than SELECT are writes; a SELECT is a write when it has a locking clause, a data-modifying
 * CTE or subquery, or calls a function in `writeFunctions`. Raw SQL at the root is a write
 * unless marked with {@link asRead}; raw fragments inside a builder query are scanned for
 * write functions, locking clauses and data-modifying statements, since they carry no tree.
 *
 * @example
 * ```ts
 * const { query, sql } = db.selectFrom('t').selectAll().forUpdate().compile()
 * classifyQuery(analyzeQuery(query, sql), compileWriteFunctions(['refresh_feed']))
 * // { kind: 'write', reason: 'locking-clause' }
 * ```
 */
export function classifyQuery(analysis: QueryAnalysis, writes: WriteFunctions): Classification {
  if (analysis.rawRoot)
    return analysis.raw[0]?.startsWith(READ_MARKER) ? MARKED_READ : WRITES['raw-sql']
  if (analysis.operation !== 'SELECT') return WRITES.statement
  const reason = writeReason(analysis, writes)
  return reason ? WRITES[reason] : READ
}

/** Write-function names, lower-cased, and a pattern that finds their calls in raw SQL. */
export interface WriteFunctions {
  readonly names: ReadonlySet<string>
  readonly rawCall: RegExp
}

/**
 * Prepares the write-function list: the defaults plus the caller's (schema-qualified names
 * match on their last part).
 *
 * @example
 * ```ts
 * const writes = compileWriteFunctions(['refresh_feed'])
 * ```
 */
export function compileWriteFunctions(extra: readonly string[] = []): WriteFunctions {
  const names = new Set([...DEFAULT_WRITE_FUNCTIONS, ...extra].map(baseName))
  const alternatives = [...names].map((name) => name.replace(/[^a-z0-9_$]/g, '\\$&')).join('|')
  // A call, the name quoted or not, schema-qualified or not: nextval(, "nextval"(, pg_catalog."nextval"(
  return {
    names,
    rawCall: new RegExp(`(?:^|[^\\w$"])"?(?:${alternatives})"?\\s*\\(`, 'i'),
  }
}

function writeReason(analysis: QueryAnalysis, writes: WriteFunctions): WriteReason | undefined {
  if (analysis.locking) return 'locking-clause'
  if (analysis.nestedWrite) return 'data-modifying-cte'
  if (analysis.functions.some((name) => writes.names.has(name))) return 'write-function'
  for (const text of analysis.raw) {
    if (writes.rawCall.test(text)) return 'write-function'
    if (RAW_LOCK.test(text)) return 'locking-clause'
    if (RAW_DML.test(text)) return 'raw-dml'
  }
  return undefined
}
