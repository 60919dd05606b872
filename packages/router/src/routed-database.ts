import {
  type CloseOptions,
  ConfigError,
  type ConsistencySource,
  type HealthReport,
  type SluiceConfig,
  type SluiceDatabase,
} from '@sluice/core'
import {
  checkReady,
  checkTarget,
  healthReport,
  postgresDialect,
  timeoutOption,
  withDeadline,
} from '@sluice/core/internal'
import { Kysely } from 'kysely'
import { ConsistencyScopes } from './consistency.js'
import { latestToken, newestToken } from './latest-token.js'
import { type RouterOptions, resolveRouterOptions } from './options.js'
import { ReplicaMonitor } from './replica-monitor.js'
import type { ReplicaState } from './replica-state.js'
import { MAX_REPLICAS, Router } from './router.js'
import { RoutingDriver } from './routing-driver.js'
import { ReplicaNode, TargetNode, withRouterView } from './target-node.js'

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
export interface RoutedDatabase<DB> extends SluiceDatabase<DB>, ConsistencySource {
  /** Always the primary (writes made through it still count for read-your-writes). */
  readonly primary: Kysely<DB>
  /**
   * Runs `fn` in a read-your-writes scope (AsyncLocalStorage): after a write commits in it,
   * its reads go only to replicas that have replayed that commit, else to the primary.
   * Nested calls join the enclosing session.
   */
  session<T>(fn: () => Promise<T>): Promise<T>
  /**
   * The token of the latest write in the current scope, to pass on (an HTTP header, a job
   * payload): `v1.<system id>.<timeline>.<LSN>.<check>`, at most 60 characters. It is a
   * position at or after the end of the write's commit record in every commit mode, on its
   * timeline, in this cluster. `undefined` outside a scope or before any write in it.
   */
  consistencyToken(): string | undefined
  /** A token at or after every write committed on the primary so far (asks the primary). */
  latestToken(): Promise<string>
  /** The newer of two tokens. */
  newestToken(a: string, b: string): string
  /**
   * Runs `fn` with reads that need a replica at or past `atLeast` (a token from
   * `consistencyToken()`, maybe from another process) and no more than `maxLagMs` behind.
   * A read with a token goes to a replica that has replayed it on the same timeline, else to
   * the primary (whatever `fallback` says).
   * @throws InvalidConsistencyTokenError (`INVALID_CONSISTENCY_TOKEN`: malformed, truncated, too
   * long; `CONSISTENCY_TOKEN_FORMAT`: a bare LSN or another version;
   * `CONSISTENCY_TOKEN_FOREIGN_CLUSTER`: another cluster's token).
   */
  withConsistency<T>(
    consistency: { atLeast?: string; maxLagMs?: number },
    fn: () => Promise<T>,
  ): Promise<T>
  /** A snapshot of every replica's status, lag, in-flight queries and last error. */
  replicas(): ReplicaState[]
}

/**
 * Creates a routed Kysely client: writes to the primary, reads round-robin (or by another
 * strategy) across replicas that are up and within the lag bounds, falling back to the
 * primary; read-your-writes through `session()` and consistency tokens. See {@link RouterOptions}
 * for the knobs and their defaults.
 *
 * @throws ConfigError (`CONFIG_INVALID`) for bad options, or more than 31 replicas.
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
  if (!config?.primary || !Array.isArray(config.replicas)) {
    throw new ConfigError([{ field: 'config', message: 'pass the result of parseConfig()' }])
  }
  if (config.replicas.length > MAX_REPLICAS) {
    throw new ConfigError([
      {
        field: 'DATABASE_REPLICA_URLS',
        message: `at most ${MAX_REPLICAS} replicas (got ${config.replicas.length})`,
      },
    ])
  }
  const resolved = resolveRouterOptions(
    options,
    config.replicas.map((replica) => replica.label),
  )
  // The router is made below: a commit on the primary reaches it only once queries run.
  const primary: TargetNode = new TargetNode(
    config.primary,
    'primary',
    resolved,
    (connection): Promise<string | undefined> => router.commitToken(connection),
  )
  const replicas = config.replicas.map((target) => new ReplicaNode(target, resolved))
  const monitor = new ReplicaMonitor(primary, replicas, resolved)
  const scopes = new ConsistencyScopes(
    async () => {
      await monitor.ready
      return monitor.systemId
    },
    () => monitor.systemId,
  )
  const router = new Router(primary, replicas, scopes, monitor, resolved)
  const nodes = [primary, ...replicas]
  let closing: Promise<void> | undefined
  const close = (options: CloseOptions = {}) => {
    let timeoutMs: number
    try {
      timeoutMs = timeoutOption('timeoutMs', options.timeoutMs, 10_000)
    } catch (error) {
      return Promise.reject(error)
    }
    closing ??= (async () => {
      router.closed = true
      // One budget for every step: a frozen server must not stretch close() past it. Past the
      // budget, running statements are cut off and the pools end in the background.
      const deadline = performance.now() + timeoutMs
      const left = () => Math.max(0, deadline - performance.now())
      const graceful = (async () => {
        await Promise.all([monitor.stop(left()), ...nodes.map((node) => node.driver.drain(left()))])
        await Promise.all(nodes.map((node) => node.end()))
      })()
      await withDeadline(graceful, timeoutMs, () => {
        for (const node of nodes) void node.end()
      })
    })()
    return closing
  }
  const kysely = (primaryOnly: boolean) =>
    new Kysely<DB>({
      dialect: postgresDialect(new RoutingDriver(router, primaryOnly, () => close())),
      plugins: [...resolved.plugins],
      ...(resolved.log !== undefined && { log: resolved.log }),
    })
  monitor.start()
  const timeoutMs = resolved.probeTimeoutMs
  // Callers at the same moment share one check: each server's probe pool has one connection,
  // so checks in a row would queue on it, and past the first few a slow (but healthy) server
  // would miss probeTimeoutMs and look down (the lag checks queued behind them too).
  let checking: Promise<HealthReport> | undefined
  const checkHealth = async (): Promise<HealthReport> =>
    healthReport(
      await Promise.all([
        // On the probe pools: reads filling a pool do not make its server look down.
        checkTarget(primary.pool, primary.target, 'primary', timeoutMs, primary.probePool),
        ...replicas.map(async (replica) =>
          withRouterView(
            await checkTarget(
              replica.pool,
              replica.target,
              'replica',
              timeoutMs,
              replica.probePool,
            ),
            replica,
          ),
        ),
      ]),
    )
  return {
    db: kysely(false),
    primary: kysely(true),
    session: (fn) => scopes.session(fn),
    consistencyToken: () => scopes.token(),
    latestToken: () => latestToken(router),
    newestToken: (a, b) => newestToken(a, b, monitor.systemId),
    withConsistency: (consistency, fn) => scopes.withConsistency(consistency, fn),
    replicas: () => replicas.map((replica) => replica.snapshot()),
    health: () => {
      checking ??= checkHealth().finally(() => {
        checking = undefined
      })
      return checking
    },
    ready: (readyOptions) =>
      checkReady(
        [primary, ...replicas].map(({ pool, target, role }) => ({ pool, target, role })),
        readyOptions,
      ),
    close,
  }
}
