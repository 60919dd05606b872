import type { PgBouncer, ReplicaServer } from '@sluice/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  type DB,
  preferring,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  waitFor,
} from './helpers.js'
import { startReaders } from './workloads/readers.js'

// Direct connections on purpose: behind PgBouncer the client's connections stay open while the
// server restarts, so the client cannot see a restart between two checks (see the README).
describe('a replica restarted between two lag checks', () => {
  let servers: TestCluster

  beforeAll(async () => {
    servers = await startTestCluster('direct')
  })

  afterAll(async () => {
    await servers?.stop()
  })

  test('gets no token reads until a check says where its replay is now', async () => {
    // A restarted standby accepts reads from its consistency point, which may be before what it
    // had replayed (it replays again from its last restartpoint): the position the router saw
    // before the restart says nothing about it any more.
    const writer = testRoutedDatabase<DB>(servers.config())
    const { id, token } = await writer.session(async () => {
      const row = await writer.db
        .insertInto('items')
        .values({ name: 'restart' })
        .returning('id')
        .executeTakeFirstOrThrow()
      return { id: row.id, token: writer.consistencyToken() as string }
    })
    await writer.close()
    await servers.cluster.waitForReplay()
    // The first check sees replica-1 past the token; no other check runs during the test.
    const database = testRoutedDatabase<DB>(servers.config(), {
      lagCheckIntervalMs: '10m',
      strategy: preferring('replica-1'),
    })
    const replica = servers.cluster.replicas[0] as ReplicaServer
    const readOwnRow = () =>
      database.withConsistency({ atLeast: token }, () =>
        database.db
          .selectFrom('items')
          .select(['id', sql<number>`inet_server_port()`.as('port')])
          .where('id', '=', id)
          .execute(),
      )
    try {
      const [before] = await readOwnRow()
      expect(before && servers.labelOf(before.port)).toBe('replica-1')
      await replica.kill()
      await waitFor(async () => database.replicas()[0]?.status === 'down', {
        what: 'the killed replica to be marked down without a lag check',
      })
      await replica.start()
      for (let read = 0; read < 20; read++) {
        const rows = await readOwnRow()
        expect(rows).toHaveLength(1)
        expect(servers.labelOf((rows[0] as { port: number }).port)).not.toBe('replica-1')
      }
    } finally {
      await database.close()
    }
  })
})

// PgBouncer 1.18 (this machine's) can exit on a FATAL in its cancel handling, and a user's can
// crash or be restarted too: nothing listens on its port until it is back.
describe("a replica's PgBouncer that exits and is started again", () => {
  let servers: TestCluster

  beforeAll(async () => {
    servers = await startTestCluster('pgbouncer')
  })

  afterAll(async () => {
    await servers?.stop()
  })

  test('costs no read; reads return to the replica once a check reaches it again', async () => {
    const database = testRoutedDatabase<DB>(servers.config(), {
      lagCheckIntervalMs: 100,
      retryDelayMs: 100,
      maxRetryDelayMs: 500,
      strategy: preferring('replica-1'),
    })
    const bouncer = servers.bouncers[1] as PgBouncer
    const reads = async (n: number) => {
      const labels: string[] = []
      for (let read = 0; read < n; read++) labels.push(servers.labelOf(await readPort(database.db)))
      return labels
    }
    try {
      await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
      expect(await reads(5)).toEqual(Array(5).fill('replica-1'))
      await bouncer.kill()
      expect(bouncer.running).toBe(false)
      // The pooled connections to it are dead: no read fails, none is served by replica-1.
      expect(await reads(20)).not.toContain('replica-1')
      await waitFor(async () => database.replicas()[0]?.status === 'down', {
        what: 'replica-1 to be marked down',
      })
      await bouncer.start()
      await waitFor(async () => (await reads(1))[0] === 'replica-1', {
        what: 'reads to return to replica-1 once its PgBouncer is back',
      })
    } finally {
      await bouncer.start()
      await database.close()
    }
  })
})

// Production runs PgBouncer under a supervisor (systemd Restart=always): one that crashes (1.18's
// FATAL in its cancel handling) is back on its port moments later, without the app doing a thing.
describe("the replicas' supervised PgBouncers crashing under load", () => {
  let servers: TestCluster

  beforeAll(async () => {
    servers = await startTestCluster('pgbouncer', { supervised: true })
  })

  afterAll(async () => {
    await servers?.stop()
  })

  test('cost no read (another replica, then the primary); reads return once they are back', async () => {
    const database = testRoutedDatabase<DB>(servers.config(), {
      lagCheckIntervalMs: 100,
      retryDelayMs: 100,
      maxRetryDelayMs: 500,
    })
    const replicaBouncers = servers.bouncers.slice(1)
    const served: Record<string, number> = {}
    let stop = false
    const readers = startReaders(
      10,
      () => stop,
      async () => {
        const label = servers.labelOf(await readPort(database.db))
        served[label] = (served[label] ?? 0) + 1
      },
    )
    try {
      await waitFor(() => (served['replica-1'] ?? 0) > 10 && (served['replica-2'] ?? 0) > 10, {
        what: 'reads on both replicas',
      })
      // Both at once, as a FATAL ends a PgBouncer: a read that fails on one replica meets the
      // other one gone too, and goes to the primary.
      for (const bouncer of replicaBouncers) process.kill(bouncer.pid as number, 'SIGABRT')
      await waitFor(() => replicaBouncers.every((bouncer) => bouncer.restarts.length === 1), {
        what: 'the supervisor to restart both PgBouncers',
      })
      const before = { ...served }
      await waitFor(
        () =>
          (served['replica-1'] ?? 0) > (before['replica-1'] ?? 0) + 10 &&
          (served['replica-2'] ?? 0) > (before['replica-2'] ?? 0) + 10,
        { what: 'reads on both replicas again, through the restarted PgBouncers' },
      )
      stop = true
      await readers.done
      expect(readers.failures).toEqual([])
      for (const bouncer of replicaBouncers)
        expect(bouncer.restarts.map((restart) => restart.exit)).toEqual(['signal SIGABRT'])
    } finally {
      stop = true
      await readers.done
      await database.close()
    }
  })
})
