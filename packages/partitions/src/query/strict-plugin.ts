import { forEachNode, qualifiedName, queryTables } from '@sluice/core/internal'
import type {
  KyselyPlugin,
  OperationNode,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely'
import { PartitionError } from '../errors.js'
import { checkSpecs, type PartitionSpec } from '../spec/spec.js'
import { type KeyTest, rawPrunes } from './raw-predicate.js'
import { isStartValue } from './start-values.js'

type AnyNode = { readonly kind?: string; readonly [key: string]: unknown }

/**
 * A Kysely plugin that rejects a SELECT, UPDATE or DELETE on a registered partitioned table
 * unless its WHERE (or, for a joined table, its ON) prunes partitions: a conjunct comparing
 * the table's own key (`=`, `<`, `<=`, `>`, `>=`, `in`, `between`, or
 * {@link partitionRange}) with a value known when the query starts (a parameter, a literal,
 * or the transaction's clock with interval arithmetic: `sent_at > now() - interval '1 day'`,
 * in Kysely's expressions or raw SQL), where an OR prunes only if each side does. `key is
 * not null`, `key > x or other = 1`, `key > clock_timestamp()` (volatile: PostgreSQL prunes
 * nothing with it), or another table's column of the same name do not prune, so they are
 * rejected. A table the query names without a schema is read as `public`'s, as a spec's
 * table is (Kysely's `withSchema` runs before this plugin). Every query of the statement is checked: CTEs, subqueries,
 * UNION arms, `INSERT ... SELECT`, `UPDATE ... FROM`, `DELETE ... USING` and `MERGE`. Opt in per Kysely instance with `db.withPlugin(...)`.
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
    // Qualified names only: `app.messages` must not claim a query's bare `messages`, which
    // is `public.messages` (the default a spec's own bare table name gets).
    this.#keys = new Map(specs.map((spec) => [`${spec.schema}.${spec.table}`, spec.column]))
  }

  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    // Every query of the statement: a CTE, a subquery, a UNION's arm or an INSERT ... SELECT
    // scans its tables as the root does.
    for (const query of queriesIn(node as unknown as AnyNode)) this.#check(query)
    return node
  }

  #check(query: AnyNode): void {
    const tables = queryTables(scannedTablesNode(query) as unknown as OperationNode)
    for (const { table, alias, on } of tables) {
      const qualified = table.includes('.') ? table : `public.${table}`
      const key = this.#keys.get(qualified)
      if (!key) continue
      const scope: Scope = {
        key,
        names: new Set([alias ?? table.split('.').at(-1) ?? table, table, qualified]),
        alone: tables.length === 1,
      }
      const where = (query.where as AnyNode | undefined)?.where as AnyNode | undefined
      if (!prunes(where, scope) && !prunes(on as AnyNode | undefined, scope)) {
        throw new PartitionError(
          'PARTITION_KEY_REQUIRED',
          `${table} is partitioned: the query needs a WHERE predicate that prunes on ${key} (compare it with a value), or it scans every partition`,
        )
      }
    }
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

const QUERIES = new Set(['SelectQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode'])

/** Each query node in `node`'s tree, the root included. */
function queriesIn(node: unknown): AnyNode[] {
  const found: AnyNode[] = []
  forEachNode(node, (child) => {
    if (QUERIES.has(child.kind)) found.push(child)
    return true
  })
  return found
}

/**
 * `query` as a node whose FROM and joins list every table it scans, for `queryTables`:
 * an UPDATE's FROM, a DELETE's USING, a MERGE's target and source (both under its ON).
 */
function scannedTablesNode(query: AnyNode): AnyNode {
  const joins = (query.joins as AnyNode[] | undefined) ?? []
  if (query.kind === 'UpdateQueryNode' && query.from) {
    const froms = (query.from as AnyNode).froms as AnyNode[]
    return { ...query, joins: [...froms.map((table) => ({ table })), ...joins] }
  }
  if (query.kind === 'DeleteQueryNode' && query.using) {
    const using = (query.using as AnyNode).tables as AnyNode[]
    return { ...query, joins: [...using.map((table) => ({ table })), ...joins] }
  }
  if (query.kind === 'MergeQueryNode') {
    const using = query.using as AnyNode
    return { kind: 'SelectQueryNode', joins: [{ table: query.into, on: using.on }, using] }
  }
  return query
}

const PRUNING = new Set(['=', '<', '<=', '>', '>=', 'in', 'between', 'between symmetric'])
const FLIPPABLE = new Set(['=', '<', '<=', '>', '>='])

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
      if (isKey(left, scope) && isStartValue(right)) return true
      return FLIPPABLE.has(operator) && isKey(right, scope) && isStartValue(left)
    }
    case 'RawNode':
      return rawPrunes(node, rawKey(scope))
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

/** A raw comparison's side is the key: `sql.ref(key)` as a parameter, `key`, or `name.key`. */
function rawKey(scope: Scope): KeyTest {
  return (side, parameters) => {
    const [first, dot, column] = side
    if (side.length === 1 && first?.kind === 'parameter')
      return isKey(parameters[first.index], scope)
    if (side.length === 1 && first?.kind === 'word') return scope.alone && first.text === scope.key
    return (
      side.length === 3 &&
      first?.kind === 'word' &&
      dot?.kind === 'operator' &&
      dot.text === '.' &&
      column?.kind === 'word' &&
      column.text === scope.key &&
      scope.names.has(first.text)
    )
  }
}
