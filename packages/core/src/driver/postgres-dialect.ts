import {
  type Dialect,
  type Driver,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
} from 'kysely'

/**
 * A Kysely PostgreSQL `Dialect` around any driver: Kysely's own adapter, introspector and
 * compiler, with Sluice's driver underneath (`createDriver` is called once per `Kysely`). The
 * router uses it with its routing driver.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * const db = new Kysely<DB>({ dialect: postgresDialect(() => new SluiceDriver(pool, config.primary)) })
 * ```
 */
export function postgresDialect(createDriver: () => Driver): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver,
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  }
}
