import { type RawBuilder, type RootOperationNode, sql } from 'kysely'

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
const WRITE_NODES = new Set([
  'InsertQueryNode',
  'UpdateQueryNode',
  'DeleteQueryNode',
  'MergeQueryNode',
])
const LOCKS = new Set(['ForUpdate', 'ForNoKeyUpdate', 'ForShare', 'ForKeyShare'])
const RAW_LOCK = /\bfor\s+(?:no\s+key\s+update|key\s+share|update|share)\b/i
// A data-modifying statement written out in a raw fragment (a raw CTE body, say).
const RAW_DML =
  /\b(?:insert\s+into|update\s+(?:only\s+)?[\w."]+(?:\s+(?:as\s+)?\w+)?\s+set|delete\s+from|merge\s+into)\b/i
const READ: Classification = Object.freeze({ kind: 'read', reason: 'select' })
const MARKED_READ: Classification = Object.freeze({ kind: 'read', reason: 'marked-read' })

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
 * Classifies a query by its Kysely operation tree. Builder statements other than SELECT are
 * writes; a SELECT is a write when it has a locking clause, a data-modifying CTE or subquery,
 * or calls a function in `writeFunctions`. Raw SQL at the root is a write unless marked with
 * {@link asRead}; raw fragments inside a builder query are scanned for write functions and
 * locking clauses, since they carry no tree.
 *
 * @example
 * ```ts
 * const writes = compileWriteFunctions(['refresh_feed'])
 * classifyQuery(db.selectFrom('t').selectAll().forUpdate().compile().query, writes)
 * // { kind: 'write', reason: 'locking-clause' }
 * ```
 */
export function classifyQuery(node: RootOperationNode, writes: WriteFunctions): Classification {
  switch (node.kind) {
    case 'SelectQueryNode':
      return findWrite(node, writes) ?? READ
    case 'RawNode':
      return node.sqlFragments[0]?.startsWith(READ_MARKER)
        ? MARKED_READ
        : { kind: 'write', reason: 'raw-sql' }
    default:
      return { kind: 'write', reason: 'statement' }
  }
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

function baseName(name: string): string {
  return (name.split('.').pop() ?? name).replaceAll('"', '').toLowerCase()
}

function findWrite(root: RootOperationNode, writes: WriteFunctions): Classification | undefined {
  let found: Classification['reason'] | undefined
  const visit = (value: unknown): void => {
    if (found) return
    if (Array.isArray(value)) {
      for (const item of value) visit(item)
      return
    }
    if (value === null || typeof value !== 'object') return
    const node = value as { readonly kind?: string; readonly [key: string]: unknown }
    switch (node.kind) {
      case 'SelectModifierNode':
        if (LOCKS.has(node.modifier as string)) found = 'locking-clause'
        break
      case 'FunctionNode':
        if (writes.names.has(baseName(node.func as string))) found = 'write-function'
        break
      case 'RawNode': {
        const text = (node.sqlFragments as readonly string[]).join(' ')
        if (writes.rawCall.test(text)) found = 'write-function'
        else if (RAW_LOCK.test(text)) found = 'locking-clause'
        else if (RAW_DML.test(text)) found = 'raw-dml'
        break
      }
      default:
        if (node.kind !== undefined && WRITE_NODES.has(node.kind)) found = 'data-modifying-cte'
    }
    for (const key in node) if (key !== 'kind') visit(node[key])
  }
  visit(root)
  return found && { kind: 'write', reason: found }
}
