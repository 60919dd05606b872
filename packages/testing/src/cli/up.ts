import { rmSync, writeFileSync } from 'node:fs'
import { TestServerError } from '../errors.js'
import { startPgBouncer } from '../pgbouncer.js'
import type { PostgresEngine } from '../postgres/binaries.js'
import { startPostgres } from '../postgres/cluster.js'
import { startRedis } from '../redis/redis-server.js'

/** What `sluice-testing up` starts. */
export interface UpOptions {
  readonly replicas: number
  readonly engine: PostgresEngine
  readonly database: string
  /** Where to write the variables as a `.env` file (mode 0600: it holds passwords). */
  readonly envFile?: string
}

/** The running servers: their variables, and the way to stop them all. */
export interface DevServers {
  readonly env: Readonly<Record<string, string>>
  readonly summary: string
  stop(): Promise<void>
}

/**
 * Starts a primary with `replicas` streaming replicas, a Redis and a PgBouncer (transaction
 * mode) in front of the primary, creates `database`, and writes the env file if asked.
 */
export async function startDevServers(options: UpOptions): Promise<DevServers> {
  if (!Number.isInteger(options.replicas) || options.replicas < 0 || options.replicas > 8) {
    throw new TestServerError('BAD_ARGUMENT', '--replicas must be a whole number from 0 to 8')
  }
  const cluster = await startPostgres({ replicas: options.replicas, engine: options.engine })
  const stops: (() => Promise<void>)[] = [() => cluster.stop()]
  const stop = async () => {
    await Promise.allSettled(stops.reverse().map((each) => each()))
    if (options.envFile) rmSync(options.envFile, { force: true })
  }
  try {
    const { url, replicaUrls, name } = await cluster.createDatabase(options.database)
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
    return { env, summary, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/** `KEY=value` lines, readable by `node --env-file`, dotenv and shells. */
export function envFileText(env: Readonly<Record<string, string>>): string {
  const lines = Object.entries(env).map(([key, value]) => `${key}=${value}`)
  return `# Written by sluice-testing up; removed when it stops.\n# PGBOUNCER_URL is in transaction mode: use it with DB_POOLER_MODE=transaction.\n${lines.join('\n')}\n`
}
