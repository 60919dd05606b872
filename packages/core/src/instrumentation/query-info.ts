import type { OperationNode, RootOperationNode } from 'kysely'

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
const cache = new WeakMap<RootOperationNode, QueryInfo>()

/**
 * Reads the operation name and table names from Kysely's operation tree (never from SQL
 * text, except the first keyword of a raw query). CTE names are not tables; tables are sorted. Results are
 * cached per node, so a reused compiled query costs one lookup.
 *
 * @example
 * ```ts
 * const { query } = db.selectFrom('users').innerJoin('posts', 'posts.user_id', 'users.id').selectAll().compile()
 * queryInfo(query, 'select ...') // { operation: 'SELECT', tables: ['posts', 'users'] }
 * ```
 */
export function queryInfo(node: RootOperationNode, sql: string): QueryInfo {
  const cached = cache.get(node)
  if (cached) return cached
  const info: QueryInfo = Object.freeze({
    operation: OPERATIONS[node.kind] ?? firstKeyword(sql),
    tables: Object.freeze(tableNames(node)),
  })
  cache.set(node, info)
  return info
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
