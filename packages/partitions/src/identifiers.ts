/** What PostgreSQL accepts unquoted, within its 63-byte limit: letters, digits, `_` and `$`. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/

/**
 * True for a plain SQL identifier. Sluice accepts only these for tables, schemas and columns,
 * so no name can carry a quote, a semicolon or a comment into DDL.
 *
 * @example
 * ```ts
 * isIdentifier('messages') // true
 * isIdentifier('messages"; drop table users; --') // false
 * ```
 */
export function isIdentifier(name: string): boolean {
  return IDENTIFIER.test(name)
}

/**
 * A validated identifier, double-quoted for SQL (quoting also keeps its case).
 *
 * @example
 * ```ts
 * quote('messages_p20260101') // '"messages_p20260101"'
 * ```
 */
export function quote(name: string): string {
  if (!isIdentifier(name)) throw new TypeError(`not a plain SQL identifier: ${name.slice(0, 70)}`)
  return `"${name}"`
}

/**
 * `"schema"."name"`.
 *
 * @example
 * ```ts
 * qualified('public', 'messages') // '"public"."messages"'
 * ```
 */
export function qualified(schema: string, name: string): string {
  return `${quote(schema)}.${quote(name)}`
}
