import { randomBytes } from 'node:crypto'
import { TestServerError } from '../errors.js'

/** The names of the test profiles: `default`, or `production`. */
export type TestProfileName = 'default' | 'production'

/** How the servers of a test run are set up, as {@link testProfile} describes it. */
export interface TestProfile {
  readonly name: TestProfileName
  /**
   * Options merged into `startPostgres`: in `production`, a supervised PgBouncer in
   * transaction mode in front of every server and replicas that apply each commit 75 ms late.
   */
  readonly postgres: {
    readonly pgbouncer?: 'transaction'
    readonly supervisePgBouncers?: boolean
    readonly applyDelayMs?: number
  }
  /**
   * Options merged into `startPgBouncer`: in `production`, `supervised` (restarted when it
   * exits on its own, as systemd's `Restart=always` does in production).
   */
  readonly pgbouncer: { readonly supervised?: boolean }
  /** Options merged into `startRedis`: in `production`, a password. */
  readonly redis: { readonly password?: string }
}

/** The apply delay of the production profile's replicas: small, but never zero. */
const PRODUCTION_APPLY_DELAY_MS = 75

let password: string | undefined

/**
 * The test profile named by `SLUICE_TEST_PROFILE` (`default` when unset). The production
 * profile runs the same tests the way production runs: every PostgreSQL server behind a real
 * PgBouncer in transaction mode, replicas with an apply delay, Redis with a password, and
 * (through `withProfile` of `@sluice/testing/profile`) Prometheus and OpenTelemetry
 * instrumentation registered. An unknown name is a `TestServerError` (`UNKNOWN_PROFILE`).
 *
 * @example
 * ```ts
 * const profile = testProfile()
 * const cluster = await startPostgres({ replicas: 2, ...profile.postgres })
 * const redis = await startRedis(profile.redis)
 * ```
 */
export function testProfile(name = process.env.SLUICE_TEST_PROFILE || 'default'): TestProfile {
  if (name === 'default') return { name, postgres: {}, pgbouncer: {}, redis: {} }
  if (name === 'production') {
    // One password per process, so servers started by one process agree.
    password ??= randomBytes(12).toString('hex')
    return {
      name,
      postgres: {
        pgbouncer: 'transaction',
        supervisePgBouncers: true,
        applyDelayMs: PRODUCTION_APPLY_DELAY_MS,
      },
      pgbouncer: { supervised: true },
      redis: { password },
    }
  }
  throw new TestServerError(
    'UNKNOWN_PROFILE',
    `SLUICE_TEST_PROFILE must be 'default' or 'production', not ${JSON.stringify(name)}`,
  )
}
