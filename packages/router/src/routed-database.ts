import type { SluiceConfig, SluiceDatabase } from '@sluice/core'
import { splitKyselyOptions } from '@sluice/core/internal'
import { Kysely } from 'kysely'
import type { RouterOptions } from './options.js'
import { type Routing, startRouter } from './start-router.js'

/**
 * A Kysely client over a primary and its replicas. `db` routes each statement; `primary`
 * always uses the primary.
 *
 * @example
 * ```ts
 * const database: RoutedDatabase<DB> = createRoutedDatabase<DB>(parseConfig())
 * await database.session(async () => {
 *   await database.db.insertInto('posts').values(post).execute()
 *   return database.db.selectFrom('posts').selectAll().execute() // sees the insert
 * })
 * ```
 */
export interface RoutedDatabase<DB> extends SluiceDatabase<DB>, Routing {
  /** Always the primary (writes made through it still count for read-your-writes). */
  readonly primary: Kysely<DB>
}

/**
 * Creates a routed Kysely client: writes to the primary, reads round-robin (or by another
 * strategy) across replicas that are up and within the lag bounds, falling back to the
 * primary; read-your-writes through `session()` and consistency tokens. See {@link RouterOptions}
 * for the knobs and their defaults. Built on {@link routedDialect}, for code that makes its own
 * `Kysely`.
 *
 * @throws ConfigError (`CONFIG_INVALID`) naming each bad option (an unknown key, options that
 * are not an object, `plugins` that are not Kysely plugins, a `log` that is not Kysely's, a
 * hook that is not a function), or more than 31 replicas.
 * @example
 * ```ts
 * interface DB { posts: { id: number; body: string } }
 * const database = createRoutedDatabase<DB>(parseConfig(), { maxLagMs: 2000 })
 * const posts = await database.db.selectFrom('posts').selectAll().execute() // a replica
 * await database.db.insertInto('posts').values({ id: 1, body: 'hi' }).execute() // the primary
 * await database.close()
 * ```
 */
export function createRoutedDatabase<DB>(
  config: SluiceConfig,
  options: RouterOptions = {},
): RoutedDatabase<DB> {
  const { kysely: own, rest } = splitKyselyOptions(options)
  const { routing, dialect } = startRouter(config, rest)
  const kysely = (primaryOnly: boolean) =>
    new Kysely<DB>({ dialect: dialect(primaryOnly), ...own, plugins: [...own.plugins] })
  return { ...routing, db: kysely(false), primary: kysely(true) }
}
