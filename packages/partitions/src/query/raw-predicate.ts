import { isStartTokens, isStartValue, rawTokens, type Token } from './start-values.js'

type AnyNode = { readonly kind?: string; readonly [key: string]: unknown }

/** Reads whether a side of a comparison is the table's key: a column's words or a parameter. */
export type KeyTest = (side: readonly Token[], parameters: readonly AnyNode[]) => boolean

const COMPARISONS = new Set(['=', '<', '<=', '>', '>='])

/**
 * True when a raw predicate (`sql\`created_at > now() - interval '1 day'\``,
 * {@link partitionRange}'s `(key >= $1 and key < $2)`) is a conjunction of which one part
 * compares the key with a start value (`=`, `<`, `<=`, `>`, `>=`, `between`). A top-level
 * `or` or `not` makes it prune nothing that can be proved here, so it is refused.
 *
 * @example
 * ```ts
 * const isKey: KeyTest = (side) => side.length === 1 && side[0]?.kind === 'word' && side[0].text === 'sent_at'
 * rawPrunes(sql`sent_at >= now() - interval '1 day'`.toOperationNode(), isKey) // true
 * ```
 */
export function rawPrunes(raw: object, isKey: KeyTest): boolean {
  const node = raw as AnyNode
  const parameters = node.parameters as AnyNode[]
  const tokens = rawTokens(node)
  if (!tokens) return false
  const start = (side: readonly Token[]) =>
    isStartTokens(side, (index) => isStartValue(parameters[index]))
  const key = (side: readonly Token[]) => isKey(unparenthesized(side), parameters)
  return conjuncts(unparenthesized(tokens)).some((conjunct) => {
    const part = unparenthesized(conjunct)
    const between = topLevel(part, (t) => word(t, 'between'))
    if (between >= 0) {
      const rest = part.slice(between + 1)
      const and = topLevel(rest, (t) => word(t, 'and'))
      return key(part.slice(0, between)) && start(rest.slice(0, and)) && start(rest.slice(and + 1))
    }
    const at = topLevel(part, (t) => t.kind === 'operator' && COMPARISONS.has(t.text))
    if (at < 0) return false
    const [left, right] = [part.slice(0, at), part.slice(at + 1)]
    return (key(left) && start(right)) || (key(right) && start(left))
  })
}

const word = (token: Token, text: string) => token.kind === 'word' && token.text === text

/** The index of the first token at parenthesis depth 0 that `test` accepts, or -1. */
function topLevel(tokens: readonly Token[], test: (token: Token) => boolean): number {
  let depth = 0
  for (const [i, token] of tokens.entries()) {
    if (token.kind === 'operator' && token.text === '(') depth++
    else if (token.kind === 'operator' && token.text === ')') depth--
    else if (depth === 0 && test(token)) return i
  }
  return -1
}

/** The parts of a top-level `and` (a `between`'s own `and` kept), none with a top-level `or` or `not`. */
function conjuncts(tokens: readonly Token[]): Token[][] {
  if (topLevel(tokens, (t) => word(t, 'or') || word(t, 'not')) >= 0) return []
  const parts: Token[][] = [[]]
  let depth = 0
  let between = false
  for (const token of tokens) {
    if (token.kind === 'operator' && token.text === '(') depth++
    if (token.kind === 'operator' && token.text === ')') depth--
    if (depth === 0 && word(token, 'between')) between = true
    if (depth === 0 && word(token, 'and') && !between) {
      parts.push([])
      continue
    }
    if (depth === 0 && word(token, 'and')) between = false
    parts.at(-1)?.push(token)
  }
  return parts
}

/** `tokens` without parentheses around all of them. */
function unparenthesized(tokens: readonly Token[]): readonly Token[] {
  let inner = tokens
  while (
    inner.length >= 2 &&
    inner[0]?.kind === 'operator' &&
    inner[0].text === '(' &&
    closing(inner) === inner.length - 1
  ) {
    inner = inner.slice(1, -1)
  }
  return inner
}

/** The index of the parenthesis closing the one `tokens` opens with. */
function closing(tokens: readonly Token[]): number {
  let depth = 0
  for (const [i, token] of tokens.entries()) {
    if (token.kind !== 'operator') continue
    if (token.text === '(') depth++
    if (token.text === ')' && --depth === 0) return i
  }
  return -1
}
