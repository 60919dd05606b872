/**
 * The tag `cache.query` puts on an entry for each table its query reads, and that
 * `cache.invalidateOnCommit` invalidates for each table a committed write touched:
 * `table:<name>`, with the default `public.` schema left out so that `users` and
 * `public.users` are one table.
 *
 * @example
 * ```ts
 * tableTag('public.users') // 'table:users'
 * await cache.invalidateTags([tableTag('users')]) // after a write Sluice did not see (raw SQL)
 * ```
 */
export function tableTag(table: string): string {
  return `table:${table.startsWith('public.') ? table.slice('public.'.length) : table}`
}
