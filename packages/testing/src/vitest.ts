import { inject } from 'vitest'
import type { TestProject } from 'vitest/node'
import type { PostgresEngine } from './postgres/binaries.js'
import {
  attachPostgres,
  type PostgresCluster,
  type PostgresClusterInfo,
  type StartPostgresOptions,
  startPostgres,
} from './postgres/cluster.js'
import { type TestProfileName, testProfile } from './profile/test-profile.js'
import {
  attachRedis,
  type RedisServer,
  type RedisServerInfo,
  type StartRedisOptions,
  startRedis,
} from './redis/redis-server.js'

/** What {@link sluiceGlobalSetup} starts once per test run. */
export interface SluiceSetupOptions {
  /** A shared PostgreSQL cluster (default: a primary and no replicas); `false` for none. */
  readonly postgres?: StartPostgresOptions | false
  /** A shared Redis; off unless given. */
  readonly redis?: StartRedisOptions
}

/** What the global setup hands to the tests, as plain data. */
export interface SluiceProvided {
  readonly profile: TestProfileName
  readonly postgres?: PostgresClusterInfo
  readonly redisUrl?: string
  readonly redis?: RedisServerInfo
}

declare module 'vitest' {
  export interface ProvidedContext {
    sluice: SluiceProvided
  }
}

/**
 * Builds a vitest global setup that starts the servers once for the whole run and stops
 * them after it, as the project's test profile (`SLUICE_TEST_PROFILE` in the project's `env`,
 * see `testProfile`) says: in the `production` profile every server is behind a PgBouncer in
 * transaction mode, replicas apply commits late and Redis has a password, while the test
 * files keep calling the same {@link sharedPostgres} and {@link sharedRedisUrl}. Put it in a
 * file named in `test.globalSetup`:
 *
 * @example
 * ```ts
 * // test/global-setup.ts
 * import { sluiceGlobalSetup } from '@sluice/testing/vitest'
 * export default sluiceGlobalSetup({ postgres: { replicas: 2 }, redis: {} })
 * ```
 *
 * ```ts
 * // vitest.config.ts
 * export default defineConfig({ test: { globalSetup: ['test/global-setup.ts'] } })
 * ```
 */
export function sluiceGlobalSetup(options: SluiceSetupOptions = {}) {
  return async function setup(project: TestProject): Promise<() => Promise<void>> {
    const env = project.config.env ?? {}
    const profile = testProfile(env.SLUICE_TEST_PROFILE || process.env.SLUICE_TEST_PROFILE)
    const pgOptions = options.postgres === false ? undefined : (options.postgres ?? {})
    const engine = pgOptions?.engine ?? env.SLUICE_PG_ENGINE ?? 'auto'
    const postgres =
      pgOptions &&
      (await startPostgres({
        ...profile.postgres,
        ...pgOptions,
        engine: engine as PostgresEngine,
      }))
    const redis = options.redis
      ? await startRedis({ ...profile.redis, ...options.redis })
      : undefined
    project.provide('sluice', {
      profile: profile.name,
      ...(postgres && { postgres: postgres.info }),
      ...(redis && { redisUrl: redis.url, redis: redis.info }),
    })
    return async () => {
      await Promise.all([postgres?.stop(), redis?.stop()])
    }
  }
}

/**
 * In a test file: the cluster the global setup started. Give each file its own database with
 * `createDatabase` so files can run in parallel; its `url`, `replicaUrls` and `env` are what
 * clients use (through PgBouncer in the production profile), `directUrl` the server itself.
 *
 * @example
 * ```ts
 * const cluster = sharedPostgres()
 * const { env } = await cluster.createDatabase(`orders_${process.pid}`)
 * const config = parseConfig({ ...env, DB_POOL_SIZE: '4' })
 * ```
 */
export function sharedPostgres(): PostgresCluster {
  const info = inject('sluice').postgres
  if (!info)
    throw new Error('No shared PostgreSQL: add sluiceGlobalSetup({ postgres: ... }) to globalSetup')
  return attachPostgres(info)
}

/**
 * In a test file: the URL of the Redis the global setup started.
 *
 * @example
 * ```ts
 * const redis = new Redis(sharedRedisUrl())
 * ```
 */
export function sharedRedisUrl(): string {
  const url = inject('sluice').redisUrl
  if (!url) throw new Error('No shared Redis: add sluiceGlobalSetup({ redis: {} }) to globalSetup')
  return url
}

/**
 * In a test file: the Redis the global setup started, with its controls (`freeze()`,
 * `restartEmpty()`, `network`...).
 *
 * @example
 * ```ts
 * const redis = sharedRedis()
 * await redis.nodes[0].freeze()
 * ```
 */
export function sharedRedis(): RedisServer {
  const info = inject('sluice').redis
  if (!info) throw new Error('No shared Redis: add sluiceGlobalSetup({ redis: {} }) to globalSetup')
  return attachRedis(info)
}
