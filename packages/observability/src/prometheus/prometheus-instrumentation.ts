import type { CacheEvent, CacheInstrumentation } from '@sluice/cache'
import type { PoolEvent, QueryEndEvent } from '@sluice/core'
import type { MaintenanceEvent, PartitionInstrumentation } from '@sluice/partitions'
import type {
  ReplicaCheckEvent,
  ReplicaStatusEvent,
  RouteEvent,
  RouterInstrumentation,
} from '@sluice/router'
import { type Registry, register } from 'prom-client'
import { errorType } from '../error-type.js'
import { counter, gauge, histogram } from './registry-metrics.js'

/** Options of {@link prometheusInstrumentation}. */
export interface PrometheusOptions {
  /** Where the metrics are registered. Default: prom-client's global `register`. */
  readonly registry?: Registry
  /**
   * Buckets (seconds) of `db_client_operation_duration_seconds`. Default: the OpenTelemetry
   * database convention's `[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]`.
   */
  readonly operationBuckets?: readonly number[]
}

/** Every hook Sluice's packages call, each recording metrics. */
export interface PrometheusInstrumentation
  extends RouterInstrumentation,
    CacheInstrumentation,
    PartitionInstrumentation {
  onQueryEnd(event: QueryEndEvent): void
  onPoolEvent(event: PoolEvent): void
  onRoute(event: RouteEvent): void
  onReplicaStatus(event: ReplicaStatusEvent): void
  onReplicaCheck(event: ReplicaCheckEvent): void
  onCache(event: CacheEvent): void
  onMaintenance(event: MaintenanceEvent): void
}

const SECONDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]
const POOL = 'db_client_connection_pool_name'
const PARTITION_CHANGES = ['created', 'finalized', 'detached', 'dropped', 'archived'] as const

/**
 * Instrumentation that records Prometheus metrics (prom-client, an optional peer dependency).
 * Names follow the OpenTelemetry database conventions where one exists
 * (`db_client_operation_duration_seconds`, `db_client_connection_wait_time_seconds`,
 * `db_client_connection_timeouts_total`); the rest are `sluice_*`. Labels are low-cardinality
 * only: no SQL, no parameters, no cache keys, no connection strings. Give the same object to
 * the database, the router, the cache and partition maintenance; several instrumentations on
 * one registry share its metrics.
 *
 * @example
 * ```ts
 * import { prometheusInstrumentation } from '@sluice/observability/prometheus'
 * import { register } from 'prom-client'
 *
 * const metrics = prometheusInstrumentation()
 * const database = createDatabase(parseConfig(), { instrumentation: metrics })
 * app.get('/metrics', async () => register.metrics())
 * ```
 */
export function prometheusInstrumentation(
  options: PrometheusOptions = {},
): PrometheusInstrumentation {
  const registry = options.registry ?? register
  const operations = histogram(registry, {
    name: 'db_client_operation_duration_seconds',
    help: 'Duration of database client operations, by server (sluice_target).',
    labelNames: ['db_system_name', 'db_operation_name', 'sluice_target', 'error_type'],
    buckets: options.operationBuckets ?? SECONDS,
  })
  const waits = histogram(registry, {
    name: 'db_client_connection_wait_time_seconds',
    help: 'Time to obtain a connection from the pool.',
    labelNames: [POOL],
    buckets: SECONDS,
  })
  const timeouts = counter(registry, {
    name: 'db_client_connection_timeouts_total',
    help: 'Connection requests that timed out waiting for the pool.',
    labelNames: [POOL],
  })
  const connections = gauge(registry, {
    name: 'sluice_pool_connections',
    help: 'Open connections of the pool, idle or in use.',
    labelNames: [POOL],
  })
  const connectionErrors = counter(registry, {
    name: 'sluice_pool_connection_errors_total',
    help: 'Errors of idle pooled connections (the server went away).',
    labelNames: [POOL],
  })
  const routes = counter(registry, {
    name: 'sluice_router_routes_total',
    help: 'Routing decisions, by server and reason (read, write, fallback, retry, ...).',
    labelNames: ['sluice_target', 'reason'],
  })
  const replicaStatus = gauge(registry, {
    name: 'sluice_router_replica_status',
    help: '1 for the status each replica is in, 0 for the ones it left.',
    labelNames: ['replica', 'status'],
  })
  const lagSeconds = gauge(registry, {
    name: 'sluice_router_replica_lag_seconds',
    help: 'Replication lag in time at the last check (0 when replay has caught up).',
    labelNames: ['replica'],
  })
  const lagBytes = gauge(registry, {
    name: 'sluice_router_replica_lag_bytes',
    help: "WAL bytes between the primary's current LSN and the replica's replay LSN at the last check.",
    labelNames: ['replica'],
  })
  const cacheEvents = counter(registry, {
    name: 'sluice_cache_events_total',
    help: 'Cache events: hit (by tier), miss, stale-served, load (stored or why not), lock-wait, invalidation, error.',
    labelNames: ['kind', 'tier', 'reason'],
  })
  const cacheDurations = histogram(registry, {
    name: 'sluice_cache_duration_seconds',
    help: 'Duration of cache loads and of lock waits.',
    labelNames: ['kind'],
    buckets: SECONDS,
  })
  const maintenanceRuns = counter(registry, {
    name: 'sluice_partition_maintenance_runs_total',
    help: 'Partition maintenance runs: done, skipped (another runner held the lock) or failed.',
    labelNames: ['status'],
  })
  const maintenanceDuration = histogram(registry, {
    name: 'sluice_partition_maintenance_duration_seconds',
    help: 'Duration of partition maintenance runs.',
    labelNames: [],
    buckets: SECONDS,
  })
  const partitionChanges = counter(registry, {
    name: 'sluice_partition_changes_total',
    help: 'Partitions created, finalized, detached, dropped or archived by maintenance.',
    labelNames: ['action'],
  })
  const maintenanceProblems = counter(registry, {
    name: 'sluice_partition_maintenance_problems_total',
    help: 'Statements retried after lock_timeout (lock-retry) and steps that failed (step-error).',
    labelNames: ['kind'],
  })
  const movedRows = counter(registry, {
    name: 'sluice_partition_moved_rows_total',
    help: 'Rows moved out of default partitions into new partitions.',
    labelNames: [],
  })

  return {
    onQueryEnd(event) {
      operations.observe(
        {
          db_system_name: 'postgresql',
          db_operation_name: event.operation,
          sluice_target: event.target,
          error_type: event.error === undefined ? '' : errorType(event.error),
        },
        event.durationMs / 1000,
      )
    },
    onPoolEvent(event) {
      const pool = { [POOL]: event.target }
      switch (event.kind) {
        case 'acquire':
          return waits.observe(pool, event.waitMs / 1000)
        case 'acquire-timeout':
          return timeouts.inc(pool)
        case 'connection-opened':
          return connections.inc(pool)
        case 'connection-closed':
          return connections.dec(pool)
        case 'connection-error':
          return connectionErrors.inc(pool)
      }
    },
    onRoute(event) {
      routes.inc({ sluice_target: event.target, reason: event.reason })
    },
    onReplicaStatus({ replica, from, to }) {
      replicaStatus.set({ replica: replica.label, status: from }, 0)
      replicaStatus.set({ replica: replica.label, status: to }, 1)
    },
    onReplicaCheck({ replica }) {
      const labels = { replica: replica.label }
      if (replica.lagMs !== undefined) lagSeconds.set(labels, replica.lagMs / 1000)
      if (replica.lagBytes !== undefined) lagBytes.set(labels, replica.lagBytes)
    },
    onCache(event) {
      const tier = 'tier' in event ? event.tier : ''
      cacheEvents.inc({ kind: event.kind, tier, reason: cacheReason(event) })
      if ('durationMs' in event)
        cacheDurations.observe({ kind: event.kind }, event.durationMs / 1000)
    },
    onMaintenance(event) {
      if (event.kind === 'error') return maintenanceRuns.inc({ status: 'failed' })
      if (event.kind === 'retry') return maintenanceProblems.inc({ kind: 'lock-retry' })
      const { result } = event
      maintenanceRuns.inc({ status: result.status })
      maintenanceDuration.observe(result.durationMs / 1000)
      for (const action of PARTITION_CHANGES) {
        partitionChanges.inc({ action }, result[action].length)
      }
      movedRows.inc(result.movedRows)
      maintenanceProblems.inc({ kind: 'step-error' }, result.errors.length)
    },
  }
}

/** For loads: `stored`, or why not; for other events, their own reason if any. */
function cacheReason(event: CacheEvent): string {
  if (event.kind === 'load') return event.stored ? 'stored' : (event.reason ?? '')
  return ''
}
