import { Kysely, type KyselyConfig, type KyselyPlugin } from 'kysely'
import { splitKyselyOptions } from './config/client-options.js'
import type { SluiceConfig } from './config/parse-config.js'
import { type DatabaseLifecycle, type SluiceDialectOptions, sluiceDialect } from './dialect.js'

/** Options of {@link createDatabase}: the dialect's, and Kysely's own `plugins` and `log`. */
export interface DatabaseOptions extends SluiceDialectOptions {
  /** Kysely plugins, e.g. `CamelCasePlugin`. */
  readonly plugins?: readonly KyselyPlugin[]
  /**
   * Kysely's own `log` option (`['query', 'error']` or a function), passed through. It sees every
   * statement Kysely sends, `BEGIN`, `COMMIT`, `ROLLBACK` and savepoints included.
   */
  readonly log?: KyselyConfig['log']
}

/**
 * A Kysely client with its pool, health check and graceful shutdown.
 *
 * @example
 * ```ts
 * const database: SluiceDatabase<DB> = createDatabase<DB>(parseConfig())
 * const users = await database.db.selectFrom('users').selectAll().execute()
 * await database.close()
 * ```
 */
export interface SluiceDatabase<DB> extends DatabaseLifecycle {
  readonly db: Kysely<DB>
}

/**
 * Creates a Kysely client for the configuration's primary only (no routing; see
 * `@sluice/router` for replicas), on {@link sluiceDialect}. Errors are typed: `POOL_TIMEOUT`, `CONNECTION_FAILED`,
 * `AUTHENTICATION_FAILED`, `STATEMENT_TIMEOUT`, `DATABASE_CLOSED`; SQL errors stay pg's
 * `DatabaseError`. `.stream()` works through pg-cursor.
 *
 * @throws ConfigError (`CONFIG_INVALID`) naming each bad option: an unknown key, `plugins` that
 * are not Kysely plugins, a `log` that is not Kysely's, a hook that is not a function.
 *
 * @example
 * ```ts
 * interface DB { users: { id: number; name: string } }
 * const database = createDatabase<DB>(parseConfig(), { instrumentation: { onQueryEnd: console.log } })
 * for await (const user of database.db.selectFrom('users').selectAll().stream(500)) {
 *   console.log(user.name)
 * }
 * ```
 */
export function createDatabase<DB>(
  config: SluiceConfig,
  options: DatabaseOptions = {},
): SluiceDatabase<DB> {
  const { kysely, rest } = splitKyselyOptions(options)
  const dialect = sluiceDialect(config, rest)
  const db = new Kysely<DB>({ dialect, ...kysely })
  return { db, health: dialect.health, ready: dialect.ready, close: dialect.close }
}
