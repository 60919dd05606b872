import { rmSync, writeFileSync } from 'node:fs'
import { TestServerError } from '../errors.js'
import { type PgBouncer, startPgBouncer } from '../pgbouncer.js'
import type { PostgresEngine } from '../postgres/binaries.js'
import { type PostgresCluster, startPostgres } from '../postgres/cluster.js'
import { stopOnFailure } from '../process/stop-on-failure.js'
import { type RedisServer, startRedis } from '../redis/redis-server.js'

/** What `sluice-testing up` (and {@link startDevServers}) starts. */
export interface UpOptions {
  /** Streaming replicas, 0 to 8. Default 2. */
  readonly replicas?: number
  /** Default `auto`. */
  readonly engine?: PostgresEngine
  /** The database to create. Default `app`. */
  readonly database?: string
  /** Where to write the variables as a `.env` file (mode 0600: it holds passwords). */
  readonly envFile?: string
}

/** The running servers: their variables, the fixtures themselves, and the way to stop them all. */
export interface DevServers {
  /** `DATABASE_URL`, `DATABASE_REPLICA_URLS` (with replicas), `REDIS_URL`, `PGBOUNCER_URL`. */
  readonly env: Readonly<Record<string, string>>
  readonly summary: string
  /** The PostgreSQL cluster, for faults (kill a replica, pause its replay). */
  readonly cluster: PostgresCluster
  readonly redis: RedisServer
  readonly pgbouncer: PgBouncer
  stop(): Promise<void>
}

/**
 * What `sluice-testing up` runs: starts a primary with `replicas` streaming replicas, a Redis
 * and a PgBouncer (transaction mode) in front of the primary, creates `database`, and writes
 * the env file if asked. Bad options are `TestServerError` `BAD_ARGUMENT`.
 *
 * @example
 * ```ts
 * const servers = await startDevServers({ replicas: 2, database: 'shop' })
 * const config = parseConfig(servers.env)
 * await servers.cluster.replicas[0]?.kill() // a fault, mid-demo
 * await servers.stop()
 * ```
 */
export async function startDevServers(options: UpOptions = {}): Promise<DevServers> {
  const replicas = options.replicas ?? 2
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 8) {
    throw new TestServerError('BAD_ARGUMENT', '--replicas must be a whole number from 0 to 8')
  }
  const cluster = await startPostgres({ replicas, engine: options.engine ?? 'auto' })
  const stops: (() => Promise<void>)[] = [() => cluster.stop()]
  const stop = async () => {
    await Promise.allSettled(stops.reverse().map((each) => each()))
    if (options.envFile) rmSync(options.envFile, { force: true })
  }
  return stopOnFailure(stop, async () => {
    const { url, replicaUrls, name } = await cluster.createDatabase(options.database ?? 'app')
    const redis = await startRedis()
    stops.push(() => redis.stop())
    const bouncer = await startPgBouncer({ upstream: cluster.primary, poolMode: 'transaction' })
    stops.push(() => bouncer.stop())
    const env: Record<string, string> = { DATABASE_URL: url }
    if (replicaUrls.length > 0) env.DATABASE_REPLICA_URLS = replicaUrls.join(',')
    env.REDIS_URL = redis.url
    env.PGBOUNCER_URL = bouncer.url(name)
    if (options.envFile) writeFileSync(options.envFile, envFileText(env), { mode: 0o600 })
    const summary = `PostgreSQL ${cluster.version} (${cluster.engine}) primary + ${cluster.replicas.length} replicas, Redis, PgBouncer`
    return { env, summary, cluster, redis, pgbouncer: bouncer, stop }
  })
}

/**
 * `KEY=value` lines, readable by `node --env-file`, dotenv and shells.
 *
 * @example
 * ```ts
 * writeFileSync('.env', envFileText(servers.env), { mode: 0o600 })
 * ```
 */
export function envFileText(env: Readonly<Record<string, string>>): string {
  const lines = Object.entries(env).map(([key, value]) => `${key}=${value}`)
  return `# Written by sluice-testing up; removed when it stops.\n# PGBOUNCER_URL is in transaction mode: use it with DB_POOLER_MODE=transaction.\n${lines.join('\n')}\n`
}
