import type { CompiledQuery, OperationNode, RootOperationNode } from 'kysely'
import { ShapeCache } from '../instrumentation/shape-cache.js'

/** The operation name and tables of a query, as instrumentation reports them. */
export interface QueryInfo {
  /** `SELECT`, `INSERT`, ..., or the first keyword of raw SQL (`START` reads as `BEGIN`). */
  readonly operation: string
  /** Every table the query names (read or written), sorted; CTE names are not tables. */
  readonly tables: readonly string[]
  /**
   * The tables it writes: targets of INSERT, UPDATE, DELETE and MERGE, data-modifying CTEs
   * included, sorted. Empty for raw SQL, whose tables are not known.
   */
  readonly writes: readonly string[]
}

/**
 * What Sluice's packages need to know about one query, read from Kysely's operation tree in
 * one walk: the router's classification, the instrumentation's query info, the cache's table
 * tags, the commit tracker's written tables and the partitions' strict plugin all read it.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 */
export interface QueryAnalysis extends QueryInfo {
  /** The root is raw SQL (`sql\`...\`.execute(db)`), whose statement is not known. */
  readonly rawRoot: boolean
  /** An INSERT, UPDATE, DELETE or MERGE below the root: a data-modifying CTE or subquery. */
  readonly nestedWrite: boolean
  /** A locking clause (`FOR UPDATE`, `FOR NO KEY UPDATE`, `FOR SHARE`, `FOR KEY SHARE`). */
  readonly locking: boolean
  /** Functions called through Kysely's `fn`, lower-cased, without schema or quotes, sorted. */
  readonly functions: readonly string[]
  /** The text of every raw fragment (`sql\`...\``), the root's first; its parts joined by a space. */
  readonly raw: readonly string[]
}

/**
 * A table a statement reads or changes directly (see {@link queryTables}).
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 */
export interface QueryTable {
  /** `name`, or `schema.name` when the query qualifies it. */
  readonly table: string
  /** The name it goes by in the query, when aliased. */
  readonly alias?: string
  /** A joined table's ON condition. */
  readonly on?: OperationNode
}

type AnyNode = { readonly kind?: string; readonly [key: string]: unknown }

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

/** Where each kind of write node names the table it writes. */
const WRITE_TARGETS: Readonly<Record<string, (node: AnyNode) => unknown>> = {
  InsertQueryNode: (node) => node.into,
  UpdateQueryNode: (node) => node.table,
  DeleteQueryNode: (node) => (node.from as { froms: unknown } | undefined)?.froms,
  MergeQueryNode: (node) => node.into,
}

const LOCKS = new Set(['ForUpdate', 'ForNoKeyUpdate', 'ForShare', 'ForKeyShare'])

/** Parameters are values, not SQL: their contents (a 1 MB buffer, say) are never walked. */
const VALUE_NODES = new Set(['ValueNode', 'PrimitiveValueListNode'])

/**
 * Analyses a query's operation tree in one walk (see {@link QueryAnalysis}). Reads SQL text
 * only for the first keyword of a raw query. Use {@link cachedAnalysis} on hot paths.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * const { query, sql } = db.selectFrom('users').innerJoin('posts', 'posts.user_id', 'users.id').selectAll().compile()
 * analyzeQuery(query, sql).tables // ['posts', 'users']
 * ```
 */
export function analyzeQuery(root: RootOperationNode, sql: string): QueryAnalysis {
  const tables = new Set<string>()
  const writes = new Set<string>()
  const cteNames = new Set<string>()
  const functions = new Set<string>()
  const raw: string[] = []
  let nestedWrite = false
  let locking = false
  forEachNode(root, (node) => {
    switch (node.kind) {
      case 'TableNode':
        tables.add(qualifiedName(node.table))
        return false
      case 'CommonTableExpressionNameNode':
        cteNames.add(qualifiedName((node.table as AnyNode).table))
        return false
      case 'SelectModifierNode':
        if (LOCKS.has(node.modifier as string)) locking = true
        return true
      case 'FunctionNode':
        functions.add(baseName(node.func as string))
        return true
      case 'RawNode':
        raw.push((node.sqlFragments as readonly string[]).join(' '))
        return true
    }
    const target = WRITE_TARGETS[node.kind]?.(node)
    if (target === undefined) return true
    if (node !== root) nestedWrite = true
    for (const table of [target].flat()) {
      const named = unalias(table)
      if (named?.kind === 'TableNode') writes.add(qualifiedName(named.table))
    }
    return true
  })
  const real = (name: string) => !cteNames.has(name)
  return Object.freeze({
    operation: OPERATIONS[root.kind] ?? firstKeyword(sql),
    tables: Object.freeze([...tables].filter(real).sort()),
    writes: Object.freeze([...writes].filter(real).sort()),
    rawRoot: root.kind === 'RawNode',
    nestedWrite,
    locking,
    functions: Object.freeze([...functions].sort()),
    raw: Object.freeze(raw),
  })
}

/**
 * A node of Kysely's operation tree, read reflectively.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 */
export type TreeNode = { readonly kind: string; readonly [key: string]: unknown }

/**
 * Calls `visit` for every node of an operation tree, parents before children, the root
 * included; `visit` returns false to skip a node's children. Parameter values are never
 * walked (a 1 MB buffer is a value, not SQL). The one walk of Kysely's trees in Sluice.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * const kinds = new Set<string>()
 * forEachNode(db.selectFrom('users').selectAll().compile().query, (node) => kinds.add(node.kind).size > 0)
 * ```
 */
export function forEachNode(root: unknown, visit: (node: TreeNode) => boolean): void {
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item)
      return
    }
    if (value === null || typeof value !== 'object') return
    const node = value as AnyNode
    if (node.kind !== undefined) {
      if (VALUE_NODES.has(node.kind) || !visit(node as TreeNode)) return
    }
    for (const key in node) if (key !== 'kind') walk(node[key])
  }
  walk(root)
}

const shapes = new ShapeCache<QueryAnalysis>()

/**
 * {@link analyzeQuery} of a compiled query, walked once per query shape (see {@link ShapeCache}):
 * every package that asks about the same shape gets the same frozen object.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * cachedAnalysis(db.selectFrom('users').selectAll().compile()).tables // ['users']
 * ```
 */
export function cachedAnalysis(query: Pick<CompiledQuery, 'query' | 'sql'>): QueryAnalysis {
  return shapes.get(query, analyzeQuery)
}

/**
 * A function's name as written in a call or a list, lower-cased, without schema or quotes:
 * `pg_catalog."nextval"` is `nextval`.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * baseName('pg_catalog."NextVal"') // 'nextval'
 * ```
 */
export function baseName(name: string): string {
  return (name.split('.').pop() ?? name).replaceAll('"', '').toLowerCase()
}

/**
 * The tables a statement reads or changes directly: its FROM, UPDATE and DELETE targets and
 * its joins (not subqueries or CTEs). Reads only the root, so it costs little per execution.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * const { query } = db.selectFrom('users as u').innerJoin('posts', 'posts.user_id', 'u.id').selectAll().compile()
 * queryTables(query).map((scanned) => scanned.table) // ['users', 'posts']
 * ```
 */
export function queryTables(node: OperationNode): QueryTable[] {
  const root = node as AnyNode
  const candidates: Array<{ node: unknown; on?: OperationNode }> = []
  if (root.kind === 'SelectQueryNode' || root.kind === 'DeleteQueryNode') {
    const froms = (root.from as { froms?: unknown[] } | undefined)?.froms ?? []
    candidates.push(...froms.map((node) => ({ node })))
  }
  if (root.kind === 'UpdateQueryNode') candidates.push({ node: root.table })
  for (const join of (root.joins as AnyNode[] | undefined) ?? []) {
    const on = (join.on as AnyNode | undefined)?.on as OperationNode | undefined
    candidates.push({ node: join.table, ...(on ? { on } : {}) })
  }
  return candidates.flatMap(({ node, on }) => {
    const named = node as AnyNode
    const table = unalias(named)
    if (table?.kind !== 'TableNode') return []
    const alias = named !== table ? ((named.alias as AnyNode).name as string) : undefined
    return [
      { table: qualifiedName(table.table), ...(alias ? { alias } : {}), ...(on ? { on } : {}) },
    ]
  })
}

// `START TRANSACTION` is BEGIN by another name (the only SQL command that starts with START).
function firstKeyword(sql: string): string {
  const match = /^\s*(?:\/\*[\s\S]*?\*\/\s*|--[^\n]*\n\s*)*([a-zA-Z]+)/.exec(sql)
  const keyword = match?.[1]?.toUpperCase() ?? 'UNKNOWN'
  return keyword === 'START' ? 'BEGIN' : keyword
}

function unalias(node: unknown): AnyNode | undefined {
  const named = node as AnyNode | undefined
  return named?.kind === 'AliasNode' ? (named.node as AnyNode) : named
}

/**
 * `name`, or `schema.name`, of a Kysely `SchemableIdentifierNode`.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * qualifiedName({ schema: { name: 'app' }, identifier: { name: 'users' } }) // 'app.users'
 * ```
 */
export function qualifiedName(table: unknown): string {
  const { schema, identifier } = table as {
    schema?: { name: string }
    identifier: { name: string }
  }
  return schema ? `${schema.name}.${identifier.name}` : identifier.name
}
