import { qualifiedName, queryTargets } from '@sluice/core/internal'
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely'
import { PartitionError } from '../errors.js'
import { checkSpecs, type PartitionSpec } from '../spec/spec.js'

type AnyNode = { readonly kind?: string; readonly [key: string]: unknown }

/**
 * A Kysely plugin that rejects a SELECT, UPDATE or DELETE on a registered partitioned table
 * unless its WHERE (or, for a joined table, its ON) prunes partitions: a conjunct comparing
 * the table's own key (`=`, `<`, `<=`, `>`, `>=`, `in`, `between`, or
 * {@link partitionRange}) with a value, where an OR prunes only if each side does. `key is
 * not null`, `key > x or other = 1`, or another table's column of the same name do not
 * prune, so they are rejected. Opt in per Kysely instance with `db.withPlugin(...)`.
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

  /** @throws ConfigError (`CONFIG_INVALID`) for a spec not made by `definePartitions`. */
  constructor(specs: readonly PartitionSpec[]) {
    checkSpecs(specs)
    this.#keys = new Map(
      specs.flatMap((spec) => [
        [spec.table, spec.column],
        [`${spec.schema}.${spec.table}`, spec.column],
      ]),
    )
  }

  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    const root = node as unknown as AnyNode
    const tables = queryTargets(node)
    for (const { table, alias, on } of tables) {
      const key = this.#keys.get(table)
      if (!key) continue
      const scope: Scope = {
        key,
        names: new Set([alias ?? table.split('.').at(-1) ?? table, table]),
        alone: tables.length === 1,
      }
      const where = (root.where as AnyNode | undefined)?.where as AnyNode | undefined
      if (!prunes(where, scope) && !prunes(on as AnyNode | undefined, scope)) {
        throw new PartitionError(
          'PARTITION_KEY_REQUIRED',
          `${table} is partitioned: the query needs a WHERE predicate that prunes on ${key} (compare it with a value), or it scans every partition`,
        )
      }
    }
    return node
  }

  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result
  }
}

interface Scope {
  readonly key: string
  /** The names the table goes by in the query (its alias, or its name). */
  readonly names: ReadonlySet<string>
  /** The only table of the query: an unqualified column is its own. */
  readonly alone: boolean
}

const PRUNING = new Set(['=', '<', '<=', '>', '>=', 'in', 'between', 'between symmetric'])
const FLIPPABLE = new Set(['=', '<', '<=', '>', '>='])
const VALUES = new Set(['ValueNode', 'ValueListNode', 'PrimitiveValueListNode', 'DefaultValueNode'])

/** True when `node` restricts the table's key to values PostgreSQL can prune with. */
function prunes(node: AnyNode | undefined, scope: Scope): boolean {
  if (!node) return false
  switch (node.kind) {
    case 'ParensNode':
      return prunes(node.node as AnyNode, scope)
    case 'AndNode':
      return prunes(node.left as AnyNode, scope) || prunes(node.right as AnyNode, scope)
    case 'OrNode':
      return prunes(node.left as AnyNode, scope) && prunes(node.right as AnyNode, scope)
    case 'BinaryOperationNode': {
      const operator = (node.operator as AnyNode).operator as string
      if (!PRUNING.has(operator)) return false
      const left = node.leftOperand as AnyNode
      const right = node.rightOperand as AnyNode
      if (isKey(left, scope) && isValue(right)) return true
      return FLIPPABLE.has(operator) && isKey(right, scope) && isValue(left)
    }
    case 'RawNode': {
      // partitionRange(): `(key >= $1 and key < $2)`.
      const fragments = node.sqlFragments as readonly string[]
      const [lowerKey, lower, upperKey, upper] = node.parameters as AnyNode[]
      return (
        fragments.join('?') === '(? >= ? and ? < ?)' &&
        isKey(lowerKey, scope) &&
        isKey(upperKey, scope) &&
        isValue(lower) &&
        isValue(upper)
      )
    }
    default:
      return false
  }
}

function isKey(wrapped: AnyNode | undefined, scope: Scope): boolean {
  const node = unwrap(wrapped)
  if (node?.kind === 'ColumnNode') {
    return scope.alone && (node.column as AnyNode).name === scope.key
  }
  if (node?.kind !== 'ReferenceNode') return false
  const column = node.column as AnyNode
  if (column.kind !== 'ColumnNode' || (column.column as AnyNode).name !== scope.key) return false
  const table = node.table as AnyNode | undefined
  if (!table) return scope.alone
  return scope.names.has(qualifiedName(table.table))
}

/** `sql.ref(...)` is a raw node holding the reference alone. */
function unwrap(node: AnyNode | undefined): AnyNode | undefined {
  const fragments = node?.sqlFragments as readonly string[] | undefined
  const parameters = node?.parameters as AnyNode[] | undefined
  if (node?.kind === 'RawNode' && fragments?.join('') === '' && parameters?.length === 1) {
    return parameters[0]
  }
  return node
}

function isValue(node: AnyNode | undefined): boolean {
  if (!node) return false
  if (VALUES.has(node.kind ?? '')) return true
  if (node.kind === 'AndNode')
    return isValue(node.left as AnyNode) && isValue(node.right as AnyNode) // between
  if (node.kind === 'ParensNode') return isValue(node.node as AnyNode)
  return false
}
