import { otelInstrumentation } from '@sluice/observability/otel'
import { prometheusInstrumentation } from '@sluice/observability/prometheus'
import type { ReplicaServer } from '@sluice/testing'
import {
  metricValue,
  recordChannel,
  recordHookWarnings,
  recordSpans,
  type SpanRecorder,
} from '@sluice/testing/observability'
import { sql } from 'kysely'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { type RoutedDatabase, type RouteEvent, routerChannels } from '../src/index.js'
import {
  countReads,
  type DB,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  waitFor,
} from './helpers.js'

let servers: TestCluster
let database: RoutedDatabase<DB>
let recorder: SpanRecorder
const registry = new Registry()

beforeAll(async () => {
  servers = await startTestCluster('direct')
  recorder = recordSpans()
  database = testRoutedDatabase<DB>(servers.config(), {
    lagCheckIntervalMs: 200,
    retryDelayMs: 100,
    maxRetryDelayMs: 200,
    instrumentation: [
      prometheusInstrumentation({ registry }),
      otelInstrumentation({ tracer: recorder.tracer }),
    ],
  })
  await waitFor(() => database.replicas().every((replica) => replica.status === 'up'))
})

afterAll(async () => {
  await database?.close()
  await recorder?.close()
  await servers?.stop()
})

test('metrics and spans name the server that answered, as the servers report it', async () => {
  const spansBefore = recorder.spans().length
  const served = await countReads(database.db, servers.labelOf, 200)
  await database.db.insertInto('items').values({ name: 'metered' }).execute()
  expect(Object.keys(served).sort()).toEqual(['replica-1', 'replica-2'])

  const spans = recorder.spans().slice(spansBefore)
  for (const [label, reads] of Object.entries(served)) {
    expect(
      await metricValue(registry, 'sluice_router_routes_total', {
        sluice_target: label,
        reason: 'read',
      }),
    ).toBe(reads)
    expect(
      await metricValue(registry, 'db_client_operation_duration_seconds_count', {
        sluice_target: label,
        db_operation_name: 'SELECT',
      }),
    ).toBe(reads)
    expect(spans.filter((span) => span.attributes['sluice.target'] === label)).toHaveLength(reads)
  }
  expect(
    await metricValue(registry, 'sluice_router_routes_total', {
      sluice_target: 'primary',
      reason: 'write',
    }),
  ).toBe(1)
  const writes = spans.filter((span) => span.attributes['sluice.target'] === 'primary')
  expect(writes.map((span) => span.name)).toEqual(['INSERT items'])
})

test('a replica going down and coming back shows in the status gauge; reads in between fall back', async () => {
  const status = (replica: string, value: string) =>
    metricValue(registry, 'sluice_router_replica_status', { replica, status: value })
  expect([await status('replica-1', 'up'), await status('replica-2', 'up')]).toEqual([1, 1])

  const replicas = servers.cluster.replicas as ReplicaServer[]
  await Promise.all(replicas.map((replica) => replica.kill()))
  await waitFor(() => database.replicas().every((replica) => replica.status === 'down'))
  expect([await status('replica-1', 'down'), await status('replica-1', 'up')]).toEqual([1, 0])

  const fallbacksBefore = await metricValue(registry, 'sluice_router_routes_total', {
    reason: 'fallback',
  })
  const read = await database.db
    .selectNoFrom(sql<number>`inet_server_port()`.as('port'))
    .executeTakeFirstOrThrow()
  expect(servers.labelOf(read.port)).toBe('primary')
  expect(await metricValue(registry, 'sluice_router_routes_total', { reason: 'fallback' })).toBe(
    fallbacksBefore + 1,
  )

  await Promise.all(replicas.map((replica) => replica.start()))
  await waitFor(() => database.replicas().every((replica) => replica.status === 'up'), {
    timeoutMs: 30_000,
  })
  expect([await status('replica-1', 'up'), await status('replica-1', 'down')]).toEqual([1, 0])
})

test("replica lag gauges: a paused replica's bytes behind, as the primary counts them", async () => {
  const lagBytes = (replica: string) =>
    metricValue(registry, 'sluice_router_replica_lag_bytes', { replica })
  const paused = servers.cluster.replicas[0] as ReplicaServer
  await paused.pauseReplay()
  try {
    await database.primary.insertInto('items').values({ name: 'unreplayed' }).execute()
    await waitFor(async () => (await lagBytes('replica-1')) > 0)
    // The primary's own count, taken after the gauge's check, can only be larger: replay is frozen.
    const { rows } = await sql<{ behind: string }>`
      select pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::text as behind
      from pg_stat_replication where replay_lsn = (select min(replay_lsn) from pg_stat_replication)`.execute(
      database.primary,
    )
    expect(Number(rows[0]?.behind)).toBeGreaterThanOrEqual(await lagBytes('replica-1'))
    expect(
      await metricValue(registry, 'sluice_router_replica_lag_seconds', { replica: 'replica-1' }),
    ).toBeGreaterThan(0)
  } finally {
    await paused.resumeReplay()
  }
  // Caught up again, both of them.
  await waitFor(async () => (await lagBytes('replica-1')) + (await lagBytes('replica-2')) === 0)
})

test('route and replica hooks that throw never fail a statement, and are reported once each', async () => {
  const warnings = recordHookWarnings()
  const failing = (what: string) => () => {
    throw new Error(`broken ${what} hook`)
  }
  const broken = testRoutedDatabase<DB>(servers.config(), {
    lagCheckIntervalMs: 100,
    instrumentation: {
      onRoute: failing('route'),
      onReplicaCheck: failing('check'),
      onReplicaStatus: failing('status'),
    },
  })
  try {
    await waitFor(() => broken.replicas().every((replica) => replica.status === 'up'))
    const ports = new Set<string>()
    for (let i = 0; i < 4; i++) ports.add(servers.labelOf(await readPort(broken.db)))
    expect([...ports].every((label) => label.startsWith('replica-'))).toBe(true)
    await broken.db.insertInto('items').values({ name: 'hooked' }).execute()
    await waitFor(() => warnings.items.length === 3, { what: 'one warning per broken hook' })
  } finally {
    warnings.stop()
    await broken.close()
  }
  expect(warnings.items.map((message) => message.split(' ')[2]).sort()).toEqual([
    'onReplicaCheck',
    'onReplicaStatus',
    'onRoute',
  ])
})

test('routing decisions are published on the router channel, naming the server that answered', async () => {
  const routes = recordChannel<RouteEvent>(routerChannels.onRoute)
  let port: number
  try {
    port = await readPort(database.db)
  } finally {
    routes.stop()
  }
  expect(routes.items).toContainEqual(
    expect.objectContaining({ reason: 'read', target: servers.labelOf(port) }),
  )
})
