import type { Dialect } from 'kysely'
import { z } from 'zod'
import { dialectOptions } from './config/client-options.js'
import type { SluiceConfig } from './config/parse-config.js'
import { parseOptions } from './config/parse-options.js'
import type { AfterCommit } from './driver/commit-tracker.js'
import { postgresDialect } from './driver/postgres-dialect.js'
import { SluiceDriver } from './driver/sluice-driver.js'
import { ConfigError } from './errors/errors.js'
import { checkTarget, type HealthReport, healthReport } from './health.js'
import type { Instrumentation } from './instrumentation/events.js'
import { closeOnce } from './internal/close-once.js'
import { timeoutOption } from './internal/timeout-option.js'
import { createPool } from './pool/create-pool.js'
import { checkReady, type ReadyOptions } from './ready.js'

/** Options of {@link sluiceDialect} (and so of `createDatabase`). */
export interface SluiceDialectOptions {
  /** Hooks for query and pool events; none by default (and then no instrumentation work). */
  readonly instrumentation?: Instrumentation | readonly Instrumentation[]
  /**
   * Called with the tables each committed write touched, before the commit returns (e.g.
   * `cache.invalidateOnCommit` from `@sluice/cache`). Off by default; see {@link AfterCommit}.
   */
  readonly afterCommit?: AfterCommit
}

// The hooks and afterCommit are checked where they are used (hookChannels, checkAfterCommit).
const dialectSchema = z.strictObject({
  instrumentation: z.custom<SluiceDialectOptions['instrumentation']>().optional(),
  afterCommit: z.custom<AfterCommit>().optional(),
})

/** Options of `close()`. */
export interface CloseOptions {
  /** How long to wait for running queries and transactions before cutting them off. Default 10 s. */
  readonly timeoutMs?: number
}

/**
 * The health check and graceful shutdown of the servers a Sluice client owns: what a database
 * (`createDatabase`) and a dialect (`sluiceDialect`) both offer.
 *
 * @example
 * ```ts
 * const lifecycle: DatabaseLifecycle = createDatabase<DB>(parseConfig())
 * await lifecycle.ready({ timeoutMs: 5000 })
 * await lifecycle.close({ timeoutMs: 2000 })
 * ```
 */
export interface DatabaseLifecycle {
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
   * `timeoutMs`, then ends the pool. Idempotent. Kysely's `db.destroy()` ends it at once.
   *
   * @throws ConfigError for a `timeoutMs` that is not a number of milliseconds, 0 or more.
   */
  close(options?: CloseOptions): Promise<void>
}

/** A Kysely `Dialect` over Sluice's pool and driver, with the lifecycle of the pool it owns. */
export interface SluiceDialect extends Dialect, DatabaseLifecycle {}

/**
 * A Kysely `Dialect` for the configuration's primary: Kysely's PostgreSQL adapter, compiler
 * and introspector over Sluice's pool and driver (typed errors, deadlines, PgBouncer settings,
 * instrumentation, `afterCommit`). For code that builds its own `Kysely` (its own `log`,
 * plugins, or a framework that takes a dialect); `createDatabase` is this plus `new Kysely`.
 * A dialect serves one `Kysely` (`db.withPlugin()` and the like share it); a second
 * `new Kysely` on it is a `ConfigError`, and so are an unknown option and Kysely's own (`log`,
 * `plugins`: give them to `new Kysely`).
 *
 * @example
 * ```ts
 * const dialect = sluiceDialect(parseConfig())
 * const db = new Kysely<DB>({ dialect, log: ['query', 'error'] })
 * await dialect.ready()
 * await db.selectFrom('users').selectAll().execute()
 * await dialect.close()
 * ```
 */
export function sluiceDialect(
  config: SluiceConfig,
  options: SluiceDialectOptions = {},
): SluiceDialect {
  const { instrumentation, afterCommit } = parseOptions(dialectSchema, dialectOptions(options))
  const target = config.primary
  const pool = createPool(target, instrumentation)
  const driver = new SluiceDriver(pool, target, {
    instrumentation,
    afterCommit,
  })
  const closeWithin = closeOnce(
    (timeoutMs) => driver.drain(timeoutMs).then(() => driver.destroy()),
    () => void driver.destroy(),
  )
  let used = false
  return {
    ...postgresDialect(() => {
      if (used) {
        throw new ConfigError([
          {
            field: 'dialect',
            message:
              'a sluiceDialect serves one Kysely instance (Kysely wraps its connections): use db.withPlugin() or db.withSchema() for variants, or make another dialect',
          },
        ])
      }
      used = true
      return driver
    }),
    health: async () => healthReport([await checkTarget(pool, target, 'primary')]),
    ready: (readyOptions) => checkReady([{ pool, target, role: 'primary' }], readyOptions),
    close: async (closeOptions = {}) => {
      // Each call keeps its own budget, also while an earlier close() with a longer one runs.
      return closeWithin(timeoutOption('timeoutMs', closeOptions.timeoutMs, 10_000))
    },
  }
}
