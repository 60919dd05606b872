import { CompiledQuery, type Expression, type SqlBool, sql } from 'kysely'
import type { AnyKysely } from '../any-kysely.js'
import type { PartitionSpec } from '../spec/spec.js'

/**
 * `column >= from and column < to` on the spec's partition key: a predicate PostgreSQL's
 * partition pruning understands, so the query scans only the partitions of that range.
 *
 * @example
 * ```ts
 * const february = await db
 *   .selectFrom('messages')
 *   .selectAll()
 *   .where(partitionRange(messages, { from: new Date('2026-02-01'), to: new Date('2026-03-01') }))
 *   .execute()
 * ```
 */
export function partitionRange(
  spec: PartitionSpec,
  { from, to }: { readonly from: Date; readonly to: Date },
): Expression<SqlBool> {
  const column = sql.ref(spec.column)
  return sql<SqlBool>`(${column} >= ${from} and ${column} < ${to})`
}

interface PlanNode {
  readonly 'Relation Name'?: string
  readonly Plans?: readonly PlanNode[]
}

/**
 * The tables (partitions) a query would scan, from PostgreSQL's own plan (`EXPLAIN`, with
 * the query's parameters), sorted. Use it in tests to prove a query is pruned.
 *
 * @example
 * ```ts
 * const query = db.selectFrom('messages').selectAll().where(partitionRange(messages, { from: new Date('2026-02-01'), to: new Date('2026-03-01') }))
 * await explainPartitions(db, query) // ['messages_p20260201']
 * ```
 */
export async function explainPartitions(
  db: AnyKysely,
  query: { compile(): CompiledQuery },
): Promise<string[]> {
  const compiled = query.compile()
  const explain = CompiledQuery.raw(`explain (format json) ${compiled.sql}`, [
    ...compiled.parameters,
  ])
  const { rows } = await db.executeQuery<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(explain)
  const scanned = new Set<string>()
  const visit = (node: PlanNode) => {
    if (node['Relation Name']) scanned.add(node['Relation Name'])
    for (const child of node.Plans ?? []) visit(child)
  }
  for (const { Plan } of rows[0]?.['QUERY PLAN'] ?? []) visit(Plan)
  return [...scanned].sort()
}
