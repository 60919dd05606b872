import type { Kysely } from 'kysely'

/**
 * Any Kysely instance, whatever its database interface (`Kysely<DB>`, a transaction, a
 * single connection): partition functions work on catalog tables and raw SQL, not on `DB`.
 *
 * @example
 * ```ts
 * const db: AnyKysely = createDatabase<DB>(parseConfig()).db
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: as Kysely's own migrator does, accept every Kysely<DB>.
export type AnyKysely = Kysely<any>
