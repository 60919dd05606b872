import { Kysely, type KyselyPlugin } from 'kysely'
import type { SluiceConfig } from './config/parse-config.js'
import type { AfterCommit } from './driver/commit-tracker.js'
import { postgresDialect } from './driver/postgres-dialect.js'
import { SluiceDriver } from './driver/sluice-driver.js'
import { checkTarget, type HealthReport, healthReport } from './health.js'
import type { Instrumentation } from './instrumentation/events.js'
import { timeoutOption } from './internal/timeout-option.js'
import { createPool } from './pool/create-pool.js'
import { checkReady, type ReadyOptions } from './ready.js'

/** Options of {@link createDatabase}. */
export interface DatabaseOptions {
  /** Hooks for query and pool events; none by default (and then no instrumentation work). */
  readonly instrumentation?: Instrumentation | readonly Instrumentation[]
  /** Kysely plugins, e.g. `CamelCasePlugin`. */
  readonly plugins?: readonly KyselyPlugin[]
  /**
   * Called with the tables each committed write touched, before the commit returns (e.g.
   * `cache.invalidateOnCommit` from `@sluice/cache`). Off by default; see {@link AfterCommit}.
   */
  readonly afterCommit?: AfterCommit
}

/** Options of `close()`. */
export interface CloseOptions {
  /** How long to wait for running queries and transactions before cutting them off. Default 10 s. */
  readonly timeoutMs?: number
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
export interface SluiceDatabase<DB> {
  readonly db: Kysely<DB>
  /**
   * Reachability, role, round-trip latency and pool counts of every server. Never throws;
   * from the moment `close()` is called (while in-flight work drains, too) every server is
   * `down` with `DATABASE_CLOSED`, and `ready()` rejects with it.
   */
  health(): Promise<HealthReport>
  /**
   * Resolves once every server accepts connections with the configured credentials and
   * database and is in its configured role, within `timeoutMs`; call it at start-up to fail
   * fast. Unlike `health()`, it throws.
   *
   * @throws DatabaseNotReadyError (`DATABASE_NOT_READY`) naming each server that is not ready.
   */
  ready(options?: ReadyOptions): Promise<void>
  /**
   * Stops accepting queries (they fail with `DATABASE_CLOSED`), waits for in-flight ones up to
   * `timeoutMs`, then ends the pool. Idempotent.
   *
   * @throws ConfigError for a `timeoutMs` that is not a number of milliseconds, 0 or more.
   */
  close(options?: CloseOptions): Promise<void>
}

/**
 * Creates a Kysely client for the configuration's primary only (no routing; see
 * `@sluice/router` for replicas). Errors are typed: `POOL_TIMEOUT`, `CONNECTION_FAILED`,
 * `AUTHENTICATION_FAILED`, `STATEMENT_TIMEOUT`, `DATABASE_CLOSED`; SQL errors stay pg's
 * `DatabaseError`. `.stream()` works through pg-cursor.
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
  const { instrumentation } = options
  const target = config.primary
  const pool = createPool(target, instrumentation)
  const driver = new SluiceDriver(pool, target, {
    instrumentation,
    afterCommit: options.afterCommit,
  })
  const db = new Kysely<DB>({
    dialect: postgresDialect(driver),
    plugins: [...(options.plugins ?? [])],
  })
  let closing: Promise<void> | undefined
  return {
    db,
    health: async () => healthReport([await checkTarget(pool, target, 'primary')]),
    ready: (readyOptions) => checkReady([{ pool, target, role: 'primary' }], readyOptions),
    close: async (closeOptions = {}) => {
      const timeoutMs = timeoutOption('timeoutMs', closeOptions.timeoutMs, 10_000)
      closing ??= driver.drain(timeoutMs).then(() => driver.destroy())
      return closing
    },
  }
}
