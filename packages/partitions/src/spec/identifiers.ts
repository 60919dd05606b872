/** What PostgreSQL accepts unquoted: letters, digits, `_` and `$`, not starting with a digit. */
const PLAIN = /^[A-Za-z_][A-Za-z0-9_$]*$/
/** A double-quoted identifier, with `""` standing for one `"`. */
const QUOTED = /^"((?:[^"]|"")+)"$/
/** PostgreSQL truncates longer names: Sluice refuses them instead. */
const MAX_BYTES = 63

/**
 * The name an identifier as written in SQL stands for, as PostgreSQL reads it: an unquoted
 * name folds to lower case (`Messages` is `messages`), a quoted one keeps its case and
 * characters (`"Messages"` is `Messages`). `undefined` for anything else (an empty name, a
 * control character, more than 63 bytes, a stray quote).
 *
 * @example
 * ```ts
 * parseIdentifier('Messages') // 'messages'
 * parseIdentifier('"Messages"') // 'Messages'
 * parseIdentifier('messages"; drop table users; --') // undefined
 * ```
 */
export function parseIdentifier(text: string): string | undefined {
  const quoted = QUOTED.exec(text)
  const name = quoted
    ? quoted[1]?.replaceAll('""', '"')
    : PLAIN.test(text)
      ? text.toLowerCase()
      : undefined
  return name !== undefined && isName(name) ? name : undefined
}

/**
 * `schema.table` or `table` as written in SQL (each part plain or quoted), split and read
 * as {@link parseIdentifier} does; `undefined` when it is not one or two identifiers.
 *
 * @example
 * ```ts
 * parseQualified('App."Audit.Log"') // ['app', 'Audit.Log']
 * parseQualified('messages') // [undefined, 'messages']
 * ```
 */
export function parseQualified(text: string): [string | undefined, string] | undefined {
  const parts = text.match(/"(?:[^"]|"")+"|[^."]+|\./g) ?? []
  if (parts.join('') !== text) return undefined
  if (parts.length === 1) {
    const name = parseIdentifier(parts[0] as string)
    return name === undefined ? undefined : [undefined, name]
  }
  if (parts.length !== 3 || parts[1] !== '.') return undefined
  const schema = parseIdentifier(parts[0] as string)
  const name = parseIdentifier(parts[2] as string)
  return schema === undefined || name === undefined ? undefined : [schema, name]
}

/** A name PostgreSQL keeps as it is: no NUL or control character, at most 63 bytes. */
function isName(name: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  return name.length > 0 && !/[\u0000-\u001f]/.test(name) && Buffer.byteLength(name) <= MAX_BYTES
}

/**
 * A name double-quoted for SQL (quoting keeps its case; a `"` inside is doubled), so no name
 * can carry SQL into a statement.
 *
 * @example
 * ```ts
 * quote('messages_p20260101') // '"messages_p20260101"'
 * quote('Audit "x"') // '"Audit ""x"""'
 * ```
 */
export function quote(name: string): string {
  if (!isName(name)) throw new TypeError('not a valid SQL identifier')
  return `"${name.replaceAll('"', '""')}"`
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

/**
 * A SQL string literal (`'` doubled), for names and values the catalog handed back.
 *
 * @example
 * ```ts
 * literal("it's") // "'it''s'"
 * ```
 */
export function literal(text: string): string {
  if (text.includes('\u0000')) throw new TypeError('a SQL literal cannot hold NUL')
  return `'${text.replaceAll("'", "''")}'`
}
