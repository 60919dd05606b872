import type { CompiledQuery, OperationNode, RootOperationNode } from 'kysely'
import { ShapeCache } from './shape-cache.js'

/** The operation name and tables of a query, as instrumentation reports them. */
export interface QueryInfo {
  readonly operation: string
  readonly tables: readonly string[]
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
 * queryInfo(query, 'select ...') // { operation: 'SELECT', tables: ['posts', 'users'] }
 * ```
 */
export function queryInfo(node: RootOperationNode, sql: string): QueryInfo {
  return Object.freeze({
    operation: OPERATIONS[node.kind] ?? firstKeyword(sql),
    tables: Object.freeze(tableNames(node)),
  })
}

const shapes = new ShapeCache<QueryInfo>()

/**
 * {@link queryInfo} of a compiled query, walked once per query shape (see {@link ShapeCache}).
 *
 * @example
 * ```ts
 * cachedQueryInfo(db.selectFrom('users').selectAll().compile()).tables // ['users']
 * ```
 */
export function cachedQueryInfo(query: CompiledQuery): QueryInfo {
  return shapes.get(query, queryInfo)
}

function firstKeyword(sql: string): string {
  const match = /^\s*(?:\/\*[\s\S]*?\*\/\s*|--[^\n]*\n\s*)*([a-zA-Z]+)/.exec(sql)
  return match?.[1]?.toUpperCase() ?? 'UNKNOWN'
}

function tableNames(root: OperationNode): string[] {
  const tables = new Set<string>()
  const cteNames = new Set<string>()
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item)
      return
    }
    if (value === null || typeof value !== 'object') return
    const node = value as { kind?: string; [key: string]: unknown }
    if (node.kind === 'TableNode') {
      tables.add(qualifiedName(node.table))
      return
    }
    if (node.kind === 'CommonTableExpressionNameNode') {
      cteNames.add(qualifiedName((node.table as { table: unknown }).table))
      return
    }
    for (const key in node) if (key !== 'kind') visit(node[key])
  }
  visit(root)
  return [...tables].filter((name) => !cteNames.has(name)).sort()
}

function qualifiedName(table: unknown): string {
  const { schema, identifier } = table as {
    schema?: { name: string }
    identifier: { name: string }
  }
  return schema ? `${schema.name}.${identifier.name}` : identifier.name
}
