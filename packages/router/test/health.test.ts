import { DatabaseNotReadyError, TargetRoleError } from '@sluice/core'
import { type FaultProxy, waitFor } from '@sluice/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createRoutedDatabase, type RoutedDatabase } from '../src/index.js'
import { type DB, startTestCluster, type TestCluster } from './helpers.js'

let servers: TestCluster
const databases: RoutedDatabase<DB>[] = []
const routed = (overrides: Record<string, unknown> = {}, options = {}) => {
  const database = createRoutedDatabase<DB>(servers.config(overrides), {
    lagCheckIntervalMs: 100,
    ...options,
  })
  databases.push(database)
  return database
}
beforeAll(async () => {
  // Proxied: a link fault (latency) on a replica.
  servers = await startTestCluster('direct', { proxied: true })
})
afterAll(async () => {
  await Promise.all(databases.map((database) => database.close()))
  await servers?.stop()
})

async function notReady(database: RoutedDatabase<DB>) {
  const error = await database.ready({ timeoutMs: 10_000 }).catch((e) => e)
  expect(error).toBeInstanceOf(DatabaseNotReadyError)
  return error as DatabaseNotReadyError
}

describe('ready() and health() tell what the router knows', () => {
  test('ready() resolves when the primary and every replica are in their roles', async () => {
    await expect(routed().ready()).resolves.toBeUndefined()
  })

  test('ready() names a replica with a wrong password, though the primary is fine', async () => {
    const replicaUrls = servers.cluster.replicas.map((replica, index) => {
      const url = new URL(replica.url())
      if (index === 0) url.password = 'hunter2'
      return url.toString()
    })
    const error = await notReady(routed({ DATABASE_REPLICA_URLS: replicaUrls.join(',') }))
    expect(error.failures.map((failure) => failure.target)).toEqual(['replica-1'])
    expect(error.failures[0]?.error).toMatchObject({ code: 'AUTHENTICATION_FAILED' })
    expect(error.message).toContain('replica-1 (127.0.0.1:')
    expect(error.message).not.toContain('hunter2')
  })

  test('a replica held back for lag is lagging in health(), with its lag', async () => {
    const database = routed({}, { maxLagMs: 200 })
    await waitFor(() => database.replicas().every((replica) => replica.status === 'up'))
    const replica = servers.cluster.replicas[0]
    await replica?.pauseReplay()
    try {
      await waitFor(
        async () => {
          await servers.cluster.primary.query("insert into items (name) values ('lag')")
          return database.replicas()[0]?.status === 'lagging'
        },
        { what: 'replica-1 to be seen lagging' },
      )
      const report = await database.health()
      expect(report.status).toBe('degraded')
      expect(report.targets[1]).toMatchObject({
        target: 'replica-1',
        status: 'lagging',
        error: { code: 'REPLICA_LAGGING' },
      })
      expect(report.targets[1]?.lagMs).toBeGreaterThan(200)
    } finally {
      await replica?.resumeReplay()
    }
  })

  test('health() reports servers whose pools the application keeps full up', async () => {
    // One connection a pool, each held by a transaction that waits: health() checks beside them.
    const database = routed({ DB_POOL_SIZE: '1' }, { probeTimeoutMs: 1000 })
    await waitFor(() => database.replicas().every((replica) => replica.status === 'up'))
    let letGo = () => {}
    const held = new Promise<void>((resolve) => {
      letGo = resolve
    })
    // The primary's, and (round-robin) each replica's.
    const holding = [database.primary, database.db, database.db].map((db) =>
      db.connection().execute(async (connection) => {
        await connection.selectNoFrom(sql<number>`1`.as('one')).execute()
        await held
      }),
    )
    try {
      await waitFor(() => database.replicas().every((replica) => replica.reads > 0))
      const report = await database.health()
      expect(report.status, JSON.stringify(report)).toBe('up')
      expect(report.targets[0]?.pool).toMatchObject({ total: 1, idle: 0 })
    } finally {
      letGo()
      await Promise.all(holding)
    }
  })

  test('health() called by many at once reports a slow but healthy replica up', async () => {
    const database = routed({}, { probeTimeoutMs: 1500 })
    await waitFor(() => database.replicas().every((replica) => replica.status === 'up'))
    const link = servers.networks[1] as FaultProxy
    await link.latency(100)
    try {
      // A liveness probe, a readiness probe and a dashboard at once: they share one check,
      // instead of queueing on the monitor's one connection until the last ones time out.
      const reports = await Promise.all(Array.from({ length: 10 }, () => database.health()))
      for (const report of reports) {
        expect(report.targets[1], JSON.stringify(report)).toMatchObject({ status: 'up' })
      }
      expect(database.replicas()[0]?.status).toBe('up')
    } finally {
      await link.restore()
    }
  })

  test('a "replica" that is a primary is promoted in health() and fails ready()', async () => {
    // Last in this file: it leaves replica-2 a primary of its own.
    const database = routed()
    await servers.cluster.replicas[1]?.promote()
    const report = await database.health()
    expect(report.status).toBe('degraded')
    expect(report.targets.map((target) => [target.target, target.status])).toEqual([
      ['primary', 'up'],
      ['replica-1', 'up'],
      ['replica-2', 'promoted'],
    ])
    expect(report.targets[2]?.error?.code).toBe('NOT_A_REPLICA')
    const error = await notReady(database)
    expect(error.failures.map((failure) => failure.target)).toEqual(['replica-2'])
    expect(error.failures[0]?.error).toBeInstanceOf(TargetRoleError)
    // A URL given as the primary that is a standby is not a primary.
    const swapped = routed({
      DATABASE_URL: servers.cluster.replicas[0]?.url(),
      DATABASE_REPLICA_URLS: servers.cluster.primary.url(),
    })
    const roles = await notReady(swapped)
    expect(roles.failures.map((f) => [f.target, (f.error as { code: string }).code])).toEqual([
      ['primary', 'NOT_A_PRIMARY'],
      ['replica-1', 'NOT_A_REPLICA'],
    ])
  })

  test('health() after close() reports every server DATABASE_CLOSED', async () => {
    const database = routed()
    await database.close()
    const report = await database.health()
    expect(report.status).toBe('down')
    expect(report.targets.map((target) => target.error?.code)).toEqual([
      'DATABASE_CLOSED',
      'DATABASE_CLOSED',
      'DATABASE_CLOSED',
    ])
  })
})
