import type { CompiledQuery, RootOperationNode } from 'kysely'

/**
 * Remembers something derived from a query's operation tree, per query shape: the root node's
 * kind plus the compiled SQL. Kysely builds a new tree for every execution, but equal SQL from
 * the same kind of root is the same statement, so what one tree said holds for the other.
 * Keeps at most `limit` shapes; when full it starts over, so the hot path does no bookkeeping.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * const operations = new ShapeCache<string>()
 * const operation = operations.get(compiled, (node) => node.kind)
 * ```
 */
export class ShapeCache<T> {
  readonly #byKind = new Map<string, Map<string, T>>()
  readonly #limit: number
  #size = 0

  constructor(limit = 5000) {
    this.#limit = limit
  }

  get(
    query: Pick<CompiledQuery, 'query' | 'sql'>,
    derive: (node: RootOperationNode, sql: string) => T,
  ): T {
    const cached = this.#byKind.get(query.query.kind)?.get(query.sql)
    if (cached !== undefined) return cached
    const value = derive(query.query, query.sql)
    this.set(query, value)
    return value
  }

  /** Replaces what is remembered for the query's shape (e.g. a verdict proven wrong). */
  set(query: Pick<CompiledQuery, 'query' | 'sql'>, value: T): void {
    const kind = query.query.kind
    let bySql = this.#byKind.get(kind)
    if (this.#size >= this.#limit) {
      this.#byKind.clear()
      this.#size = 0
      bySql = undefined
    }
    if (!bySql) {
      bySql = new Map()
      this.#byKind.set(kind, bySql)
    }
    if (!bySql.has(query.sql)) this.#size++
    bySql.set(query.sql, value)
  }
}
