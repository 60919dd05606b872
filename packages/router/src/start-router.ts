import {
  type CloseOptions,
  ConfigError,
  type ConsistencySource,
  type DatabaseLifecycle,
  type HealthReport,
  type SluiceConfig,
} from '@sluice/core'
import {
  checkReady,
  checkTarget,
  closeOnce,
  healthReport,
  optionsObject,
  postgresDialect,
  timeoutOption,
} from '@sluice/core/internal'
import type { Dialect } from 'kysely'
import { ConsistencyScopes } from './consistency.js'
import { latestToken, newestToken } from './latest-token.js'
import { type RoutedDialectOptions, resolveRouterOptions } from './options.js'
import { ReplicaMonitor } from './replica-monitor.js'
import type { ReplicaState } from './replica-state.js'
import { MAX_REPLICAS, Router } from './router.js'
import { RoutingDriver } from './routing-driver.js'
import { ReplicaNode, TargetNode, withRouterView } from './target-node.js'

/**
 * What a routed database and a routed dialect share: read-your-writes scopes, consistency
 * tokens, the replicas' state, health and graceful shutdown, over one primary and its replicas.
 *
 * @example
 * ```ts
 * const routing: Routing = routedDialect(parseConfig())
 * const token = await routing.latestToken()
 * await routing.withConsistency({ atLeast: token }, () => findUser(id))
 * ```
 */
export interface Routing extends DatabaseLifecycle, ConsistencySource {
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

/** A started router: its controls, and Kysely dialects over it (all statements on the primary with `primaryOnly`). */
export interface StartedRouter {
  readonly routing: Routing
  dialect(primaryOnly: boolean): Dialect
}

/**
 * Starts the router of a configuration: the primary's and replicas' pools, the replica
 * monitor and the read-your-writes scopes, with its controls and the dialects over it, of
 * which `routedDialect` and `createRoutedDatabase` are made. Each dialect's `createDriver`
 * makes a new driver: each `Kysely` sees its own connections (Kysely's log wraps each one).
 *
 * @throws ConfigError (`CONFIG_INVALID`) for bad options, or more than 31 replicas.
 * @example
 * ```ts
 * const { routing, dialect } = startRouter(parseConfig(), { maxLagMs: 2000 })
 * const db = new Kysely<DB>({ dialect: dialect(false) })
 * ```
 */
export function startRouter(config: SluiceConfig, options: RoutedDialectOptions): StartedRouter {
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
    optionsObject(options),
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
  // One budget for every step: a frozen server must not stretch close() past it. Past the
  // budget, running statements are cut off and the pools end in the background; each caller
  // keeps its own budget, also while an earlier close() with a longer one runs.
  const closeWithin = closeOnce(
    async (timeoutMs) => {
      router.closed = true
      const deadline = performance.now() + timeoutMs
      const left = () => Math.max(0, deadline - performance.now())
      await Promise.all([monitor.stop(left()), ...nodes.map((node) => node.driver.drain(left()))])
      await Promise.all(nodes.map((node) => node.end()))
    },
    () => {
      for (const node of nodes) void node.end()
    },
  )
  const close = (options: CloseOptions = {}) => {
    try {
      return closeWithin(timeoutOption('timeoutMs', options.timeoutMs, 10_000))
    } catch (error) {
      return Promise.reject(error)
    }
  }
  const dialect = (primaryOnly: boolean): Dialect =>
    postgresDialect(() => new RoutingDriver(router, primaryOnly, () => close()))
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
  const routing: Routing = {
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
        nodes.map(({ pool, target, role }) => ({ pool, target, role })),
        readyOptions,
      ),
    close,
  }
  return { routing, dialect }
}
