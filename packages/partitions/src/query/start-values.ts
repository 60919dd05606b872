/**
 * Values PostgreSQL knows when a query starts, so that it prunes partitions with them (at
 * plan time for a constant, at executor startup for a stable function such as `now()`):
 * parameters and literals, the transaction's clock (`now()`, `current_timestamp`,
 * `current_date`, `localtimestamp`, `transaction_timestamp()`, `statement_timestamp()`),
 * `date_trunc`, casts, and `+`/`-`/`*` of those, in Kysely's nodes or in raw SQL.
 * `clock_timestamp()` and `random()` are volatile (nothing is pruned with them) and a column
 * is not a value: both are refused.
 */

type AnyNode = { readonly kind?: string; readonly [key: string]: unknown }

const VALUES = new Set(['ValueNode', 'ValueListNode', 'PrimitiveValueListNode', 'DefaultValueNode'])
const FUNCTIONS = new Set([
  'now',
  'current_timestamp',
  'current_date',
  'localtimestamp',
  'transaction_timestamp',
  'statement_timestamp',
  'date_trunc',
])
const ARITHMETIC = new Set(['+', '-', '*'])
/** SQL's keywords for the clock: they take no parentheses, and no column has their name. */
const KEYWORDS = new Set(['current_timestamp', 'current_date', 'localtimestamp'])
/** Types of a literal (`interval '1 day'`) or a cast (`::date`), never alone: a column may be called `date`. */
const TYPES = new Set(['interval', 'timestamptz', 'timestamp', 'date', 'time'])

/** A placeholder for a raw fragment's parameter in the text {@link rawTokens} reads (private use: no SQL has it). */
const PARAMETER = '\uE000'

/**
 * True when `node` is a value known at the query's start.
 *
 * @example
 * ```ts
 * isStartValue(sql`now() - interval '1 day'`.toOperationNode()) // true
 * ```
 */
export function isStartValue(value: object | undefined): boolean {
  const node = value as AnyNode | undefined
  if (!node) return false
  switch (node.kind) {
    case 'ParensNode':
      return isStartValue(node.node as AnyNode)
    case 'AndNode': // between's bounds
      return isStartValue(node.left as AnyNode) && isStartValue(node.right as AnyNode)
    case 'CastNode':
      return isStartValue(node.expression as AnyNode)
    case 'BinaryOperationNode':
      return (
        ARITHMETIC.has((node.operator as AnyNode).operator as string) &&
        isStartValue(node.leftOperand as AnyNode) &&
        isStartValue(node.rightOperand as AnyNode)
      )
    case 'FunctionNode':
      return (
        FUNCTIONS.has((node.func as string).toLowerCase()) &&
        (node.arguments as AnyNode[]).every(isStartValue)
      )
    case 'RawNode': {
      const parameters = node.parameters as AnyNode[]
      const tokens = rawTokens(node)
      return tokens !== undefined && isStartTokens(tokens, (n) => isStartValue(parameters[n]))
    }
    default:
      return VALUES.has(node.kind ?? '')
  }
}

/** A token of raw SQL: a word (lower-cased), a literal, an operator, or parameter `n`. */
export type Token =
  | { readonly kind: 'word' | 'literal' | 'operator'; readonly text: string }
  | { readonly kind: 'parameter'; readonly index: number }

const TOKEN =
  /\s+|(?<literal>'(?:[^']|'')*'|\d+(?:\.\d+)?)|(?<word>[A-Za-z_][A-Za-z0-9_]*)|(?<operator>::|>=|<=|<>|!=|[-+*/(),.=<>])|(?<parameter>\uE000)/y

/**
 * The tokens of a raw node's SQL, its parameters in place, or `undefined` for text outside
 * the little language of comparisons and start values (quoted names, comments, `;`...).
 *
 * @example
 * ```ts
 * rawTokens(sql`now() - interval '1 day'`.toOperationNode())?.length // 6
 * ```
 */
export function rawTokens(raw: object): Token[] | undefined {
  const node = raw as AnyNode
  const fragments = node.sqlFragments as readonly string[]
  const text = fragments.join(PARAMETER)
  if (fragments.some((fragment) => fragment.includes(PARAMETER))) return undefined
  if (text.includes('--') || text.includes('/*')) return undefined
  const tokens: Token[] = []
  let parameters = 0
  TOKEN.lastIndex = 0
  while (TOKEN.lastIndex < text.length) {
    const match = TOKEN.exec(text)
    if (!match) return undefined
    const { literal, word, operator, parameter } = match.groups ?? {}
    if (literal !== undefined) tokens.push({ kind: 'literal', text: literal })
    else if (word !== undefined) tokens.push({ kind: 'word', text: word.toLowerCase() })
    else if (operator !== undefined) tokens.push({ kind: 'operator', text: operator })
    else if (parameter !== undefined) tokens.push({ kind: 'parameter', index: parameters++ })
  }
  return tokens
}

/**
 * True when `tokens` are a start value: only clock functions and type names, literals, arithmetic, casts,
 * parentheses and commas, and parameters that `parameter` accepts.
 *
 * @example
 * ```ts
 * isStartTokens(rawTokens(sql`current_date - 7`.toOperationNode()) ?? [], () => false) // true
 * ```
 */
export function isStartTokens(
  tokens: readonly Token[],
  parameter: (index: number) => boolean,
): boolean {
  if (tokens.length === 0) return false
  return tokens.every((token, i) => {
    if (token.kind === 'parameter') return parameter(token.index)
    if (token.kind === 'word') return wordFits(tokens, i)
    if (token.kind === 'operator') return ['::', '(', ')', ',', ...ARITHMETIC].includes(token.text)
    return true
  })
}

/** A word of a start value where it stands: a clock function, or part of a type. */
function wordFits(tokens: readonly Token[], i: number): boolean {
  const text = (at: number) => {
    const token = tokens[at]
    return token && token.kind !== 'parameter' ? token.text : undefined
  }
  const word = text(i) ?? ''
  if (KEYWORDS.has(word)) return true
  if (FUNCTIONS.has(word)) return text(i + 1) === '(' // `now` alone may be a column
  if (word === 'with' || word === 'without') return text(i + 1) === 'time'
  if (word === 'zone') return text(i - 1) === 'time'
  if (word === 'at') return text(i + 1) === 'time' && text(i + 2) === 'zone'
  if (!TYPES.has(word)) return false
  const before = text(i - 1)
  return (
    before === '::' ||
    tokens[i + 1]?.kind === 'literal' ||
    (word === 'time' && (before === 'with' || before === 'without' || before === 'at')) ||
    text(i + 1) === 'with' ||
    text(i + 1) === 'without'
  )
}
