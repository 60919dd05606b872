/**
 * A table name as Kysely and Sluice's query analysis report it (`name` or `schema.name`, each
 * part an exact identifier), split into its parts; a part in double quotes is read as SQL
 * reads it (`"Users"` is the identifier `Users`, `""` inside is one `"`).
 *
 * @example
 * ```ts
 * nameParts('app."Users"') // { schema: 'app', name: 'Users' }
 * ```
 */
export function nameParts(table: string): { readonly schema?: string; readonly name: string } {
  const parts: string[] = []
  let part = ''
  let quoted = false
  for (let i = 0; i < table.length; i++) {
    const char = table[i] as string
    if (char === '"' && quoted && table[i + 1] === '"') {
      part += '"'
      i++
    } else if (char === '"') quoted = !quoted
    else if (char === '.' && !quoted && parts.length === 0) {
      parts.push(part)
      part = ''
    } else part += char
  }
  const [schema] = parts
  return schema === undefined ? { name: part } : { schema, name: part }
}

/**
 * The tag of a table in schema `schema` (none: unresolved), `public` left out.
 *
 * @example
 * ```ts
 * tagOf('app', 'users') // 'table:app.users'
 * ```
 */
export function tagOf(schema: string | undefined, name: string): string {
  return `table:${schema === undefined || schema === 'public' ? name : `${schema}.${name}`}`
}

/**
 * The tag `cache.query` puts on an entry for each table its query reads, and that
 * `cache.invalidateOnCommit` invalidates for each table a committed write touched:
 * `table:<name>` for a table in `public`, `table:<schema>.<name>` in another schema. The name
 * is read as Kysely takes it (each part an exact identifier; a part in double quotes as SQL
 * reads it, so `"Users"` and `Users` are one table, `users` another). Without the catalog an
 * unqualified name is taken to be in `public`; `cache.learnDependencies` reads the search path,
 * and the cache's own tags then name the table it finds there (`users` under
 * `search_path = app, public` is `app.users`'s tag when that table exists).
 *
 * @example
 * ```ts
 * tableTag('public.users') // 'table:users'
 * tableTag('app.users') // 'table:app.users'
 * await cache.invalidateTags([tableTag('users')]) // after a write Sluice did not see (raw SQL)
 * ```
 */
export function tableTag(table: string): string {
  const { schema, name } = nameParts(table)
  return tagOf(schema, name)
}
