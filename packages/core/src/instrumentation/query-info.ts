import type { CompiledQuery, OperationNode, RootOperationNode } from 'kysely'
import { ShapeCache } from './shape-cache.js'

/** The operation name and tables of a query, as instrumentation reports them. */
export interface QueryInfo {
  readonly operation: string
  /** Every table the query names (read or written), sorted. */
  readonly tables: readonly string[]
  /**
   * The tables it writes: targets of INSERT, UPDATE, DELETE and MERGE, data-modifying CTEs
   * included. Empty for raw SQL, whose tables are not known.
   */
  readonly writes: readonly string[]
}

const OPERATIONS: Readonly<Record<string, string>> = {
  SelectQueryNode: 'SELECT',
  InsertQueryNode: 'INSERT',
  UpdateQueryNode: 'UPDATE',
  DeleteQueryNode: 'DELETE',
  MergeQueryNode: 'MERGE',
  CreateTableNode: 'CREATE TABLE',
  AlterTableNode: 'ALTER TABLE',
  DropTableNode: 'DROP TABLE',
  CreateIndexNode: 'CREATE INDEX',
  DropIndexNode: 'DROP INDEX',
}

/**
 * Reads the operation name and table names from Kysely's operation tree (never from SQL
 * text, except the first keyword of a raw query). CTE names are not tables; tables are sorted.
 * Use {@link cachedQueryInfo} on hot paths.
 *
 * @example
 * ```ts
 * const { query } = db.selectFrom('users').innerJoin('posts', 'posts.user_id', 'users.id').selectAll().compile()
 * queryInfo(query, 'select ...') // { operation: 'SELECT', tables: ['posts', 'users'], writes: [] }
 * ```
 */
export function queryInfo(node: RootOperationNode, sql: string): QueryInfo {
  const { tables, writes } = tableNames(node)
  return Object.freeze({
    operation: OPERATIONS[node.kind] ?? firstKeyword(sql),
    tables: Object.freeze(tables),
    writes: Object.freeze(writes),
  })
}

const shapes = new ShapeCache<QueryInfo>()

/**
 * {@link queryInfo} of a compiled query, walked once per query shape (see {@link ShapeCache}).
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * cachedQueryInfo(db.selectFrom('users').selectAll().compile()).tables // ['users']
 * ```
 */
export function cachedQueryInfo(query: Pick<CompiledQuery, 'query' | 'sql'>): QueryInfo {
  return shapes.get(query, queryInfo)
}

// `START TRANSACTION` is BEGIN by another name (the only SQL command that starts with START).
function firstKeyword(sql: string): string {
  const match = /^\s*(?:\/\*[\s\S]*?\*\/\s*|--[^\n]*\n\s*)*([a-zA-Z]+)/.exec(sql)
  const keyword = match?.[1]?.toUpperCase() ?? 'UNKNOWN'
  return keyword === 'START' ? 'BEGIN' : keyword
}

type AnyNode = { kind?: string; [key: string]: unknown }

/** Where each kind of write node names the table it writes. */
const WRITE_TARGETS: Readonly<Record<string, (node: AnyNode) => unknown>> = {
  InsertQueryNode: (node) => node.into,
  UpdateQueryNode: (node) => node.table,
  DeleteQueryNode: (node) => (node.from as { froms: unknown } | undefined)?.froms,
  MergeQueryNode: (node) => node.into,
}

function tableNames(root: OperationNode): { tables: string[]; writes: string[] } {
  const tables = new Set<string>()
  const writes = new Set<string>()
  const cteNames = new Set<string>()
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item)
      return
    }
    if (value === null || typeof value !== 'object') return
    const node = value as AnyNode
    if (node.kind === 'TableNode') {
      tables.add(qualifiedName(node.table))
      return
    }
    if (node.kind === 'CommonTableExpressionNameNode') {
      cteNames.add(qualifiedName((node.table as { table: unknown }).table))
      return
    }
    const target = node.kind ? WRITE_TARGETS[node.kind]?.(node) : undefined
    for (const table of [target ?? []].flat()) {
      const named = unalias(table)
      if (named?.kind === 'TableNode') writes.add(qualifiedName(named.table))
    }
    for (const key in node) if (key !== 'kind') visit(node[key])
  }
  visit(root)
  const real = (name: string) => !cteNames.has(name)
  return { tables: [...tables].filter(real).sort(), writes: [...writes].filter(real).sort() }
}

function unalias(node: unknown): AnyNode | undefined {
  const named = node as AnyNode | undefined
  return named?.kind === 'AliasNode' ? (named.node as AnyNode) : named
}

function qualifiedName(table: unknown): string {
  const { schema, identifier } = table as {
    schema?: { name: string }
    identifier: { name: string }
  }
  return schema ? `${schema.name}.${identifier.name}` : identifier.name
}
