import type { SluiceConfig } from '@sluice/core'
import { dialectOptions } from '@sluice/core/internal'
import type { Dialect } from 'kysely'
import type { RoutedDialectOptions } from './options.js'
import { type Routing, startRouter } from './start-router.js'

/**
 * A Kysely `Dialect` that routes each statement (see `createRoutedDatabase`), with the
 * router's controls. Every `Kysely` made from it, and from `primaryDialect`, shares one router:
 * its pools, replica monitor and read-your-writes scopes; `close()` (or `destroy()` on any of
 * them) ends it for all.
 */
export interface RoutedDialect extends Dialect, Routing {
  /** The same router, with every statement on the primary (writes count for read-your-writes). */
  readonly primaryDialect: Dialect
}

/**
 * The router as a Kysely `Dialect`, for code that builds its own `Kysely` (its own `log` and
 * plugins, a framework that takes a dialect, Kysely's `Migrator`): writes go to the primary,
 * reads across replicas that are up and within the lag bounds, read-your-writes through
 * `session()`. `createRoutedDatabase` is this plus two `new Kysely` calls.
 *
 * @throws ConfigError (`CONFIG_INVALID`) for bad options, Kysely's own options (`log`,
 * `plugins`: give them to `new Kysely`), or more than 31 replicas.
 * @example
 * ```ts
 * const dialect = routedDialect(parseConfig(), { maxLagMs: '2s' })
 * const db = new Kysely<DB>({ dialect, log: ['query', 'error'] })
 * const primary = new Kysely<DB>({ dialect: dialect.primaryDialect })
 * await dialect.session(async () => {
 *   await db.insertInto('posts').values(post).execute()
 *   return db.selectFrom('posts').selectAll().execute() // sees the insert
 * })
 * await primary.selectFrom('posts').selectAll().execute() // always the primary
 * await dialect.close()
 * ```
 */
export function routedDialect(
  config: SluiceConfig,
  options: RoutedDialectOptions = {},
): RoutedDialect {
  const { routing, dialect } = startRouter(config, dialectOptions(options))
  return { ...routing, ...dialect(false), primaryDialect: dialect(true) }
}
