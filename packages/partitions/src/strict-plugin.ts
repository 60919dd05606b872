import type {
  KyselyPlugin,
  OperationNode,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely'
import { PartitionError } from './errors.js'
import type { PartitionSpec } from './spec.js'

type AnyNode = { readonly kind?: string; readonly [key: string]: unknown }

/**
 * A Kysely plugin that rejects a SELECT, UPDATE or DELETE on a registered partitioned table
 * whose WHERE has no predicate on the table's partition key: such a query scans every
 * partition. Opt in per Kysely instance with `db.withPlugin(...)`.
 *
 * @example
 * ```ts
 * const strict = db.withPlugin(new RequirePartitionKeyPlugin([messages]))
 * await strict.selectFrom('messages').selectAll().execute()
 * // throws PartitionError PARTITION_KEY_REQUIRED: messages needs a predicate on sent_at
 * ```
 */
export class RequirePartitionKeyPlugin implements KyselyPlugin {
  readonly #keys: ReadonlyMap<string, string>

  constructor(specs: readonly PartitionSpec[]) {
    this.#keys = new Map(
      specs.flatMap((spec) => [
        [spec.table, spec.column],
        [`${spec.schema}.${spec.table}`, spec.column],
      ]),
    )
  }

  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    const tables = targetTables(node as unknown as AnyNode)
    for (const table of tables) {
      const key = this.#keys.get(table)
      if (key && !mentions((node as unknown as AnyNode).where, key)) {
        throw new PartitionError(
          'PARTITION_KEY_REQUIRED',
          `${table} is partitioned: the query needs a WHERE predicate on ${key}, or it scans every partition`,
        )
      }
    }
    return node
  }

  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result
  }
}

/** Tables a statement reads or changes directly: FROM, UPDATE / DELETE targets, and joins. */
function targetTables(node: AnyNode): string[] {
  const candidates: unknown[] = []
  if (node.kind === 'SelectQueryNode' || node.kind === 'DeleteQueryNode') {
    candidates.push(...((node.from as { froms?: unknown[] } | undefined)?.froms ?? []))
  }
  if (node.kind === 'UpdateQueryNode') candidates.push(node.table)
  for (const join of (node.joins as AnyNode[] | undefined) ?? []) candidates.push(join.table)
  return candidates.flatMap((candidate) => {
    const table = unalias(candidate as AnyNode)
    if (table?.kind !== 'TableNode') return []
    const { schema, identifier } = table.table as {
      schema?: { name: string }
      identifier: { name: string }
    }
    return [schema ? `${schema.name}.${identifier.name}` : identifier.name]
  })
}

function unalias(node: AnyNode | undefined): AnyNode | undefined {
  return node?.kind === 'AliasNode' ? (node.node as AnyNode) : node
}

/** True when `column` is referenced anywhere under `node`. */
function mentions(node: unknown, column: string): boolean {
  if (Array.isArray(node)) return node.some((child) => mentions(child, column))
  if (node === null || typeof node !== 'object') return false
  const operation = node as AnyNode & OperationNode
  if (operation.kind === 'ColumnNode') {
    return (operation.column as { name: string }).name === column
  }
  return Object.entries(operation).some(([key, child]) => key !== 'kind' && mentions(child, column))
}
