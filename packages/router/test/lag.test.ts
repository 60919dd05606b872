import { type ReplicaServer, testProfile } from '@sluice/testing'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import type { ReplicaStatusEvent, RoutedDatabase } from '../src/index.js'
import {
  countReads,
  type DB,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'

const INTERVAL_MS = 500
// Well above the healthy replica's lag on a loaded machine (the production profile's replicas
// apply each commit 75 ms late, and a starved replica falls further behind for a moment): a
// healthy replica must never cross it, a paused one soon does.
const MAX_LAG_MS = 1500
const PROFILE_APPLY_DELAY_MS = testProfile().postgres.applyDelayMs ?? 0

/** True once the replica, by its own clock and LSNs, is more than `ms` behind the primary. */
async function serverSaysBehind(servers: TestCluster, replica: ReplicaServer, ms: number) {
  const [primary] = await servers.cluster.primary.query<{ lsn: string }>(
    'select pg_current_wal_lsn()::text as lsn',
  )
  const [row] = await replica.query<{ behind: boolean }>(
    `select pg_last_wal_replay_lsn() < $1::pg_lsn
        and now() - pg_last_xact_replay_timestamp() > make_interval(secs => $2) as behind`,
    [primary?.lsn, ms / 1000],
  )
  return row?.behind === true
}

describe.each(VIAS)('lag (%s)', (via) => {
  let servers: TestCluster
  let database: RoutedDatabase<DB>
  const transitions: ReplicaStatusEvent[] = []
  let writing = true
  let writer: Promise<void>

  beforeAll(async () => {
    servers = await startTestCluster(via)
    database = testRoutedDatabase<DB>(servers.config(), {
      lagCheckIntervalMs: INTERVAL_MS,
      maxLagMs: MAX_LAG_MS,
      instrumentation: { onReplicaStatus: (event) => transitions.push(event) },
    })
    // A steady trickle of commits, so that a replica that stops replaying falls behind.
    writer = (async () => {
      while (writing) {
        await database.db.insertInto('items').values({ name: 'tick' }).execute()
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()
    await waitFor(() => database.replicas().every((r) => r.status === 'up'))
  })

  afterEach(async () => {
    const replicas = servers.cluster.replicas as ReplicaServer[]
    await Promise.all(
      replicas.flatMap((r) => [r.resumeReplay(), r.setApplyDelay(PROFILE_APPLY_DELAY_MS)]),
    )
  })

  afterAll(async () => {
    writing = false
    await writer
    await database?.close()
    await servers?.stop()
  })

  async function expectLaggingThenBack(
    label: 'replica-1' | 'replica-2',
    replica: ReplicaServer,
    lag: () => Promise<void>,
    recover: () => Promise<void>,
  ) {
    const state = () => database.replicas().find((r) => r.label === label)
    transitions.length = 0
    await lag()
    await waitFor(() => serverSaysBehind(servers, replica, MAX_LAG_MS), {
      what: `${label} to be behind by the server's own account`,
    })
    await waitFor(() => state()?.status === 'lagging', {
      timeoutMs: 2 * INTERVAL_MS,
      what: `the router to see ${label} lagging within 2 check intervals`,
    })
    const during = await countReads(database.db, servers.labelOf, 200)
    expect(during[label]).toBeUndefined()
    expect(during.primary).toBeUndefined()

    await recover()
    await waitFor(() => state()?.status === 'up', { what: `${label} to be back` })
    const after = await countReads(database.db, servers.labelOf, 200)
    expect(after[label]).toBeGreaterThanOrEqual(50)
    const seen = transitions
      .filter((t) => t.replica.label === label)
      .map((t) => `${t.from}>${t.to}`)
    expect(seen).toEqual(['up>lagging', 'lagging>up'])
  }

  test('a replica whose replay is paused gets no reads until it resumes', async () => {
    const replica = servers.cluster.replicas[0] as ReplicaServer
    await expectLaggingThenBack(
      'replica-1',
      replica,
      () => replica.pauseReplay(),
      () => replica.resumeReplay(),
    )
  })

  test('a replica applying WAL later than maxLagMs gets no reads until it catches up', async () => {
    const replica = servers.cluster.replicas[1] as ReplicaServer
    await expectLaggingThenBack(
      'replica-2',
      replica,
      () => replica.setApplyDelay(MAX_LAG_MS * 5),
      () => replica.setApplyDelay(PROFILE_APPLY_DELAY_MS),
    )
  })

  test('with every replica lagging, reads go to the primary, or fail when configured', async () => {
    const strict = testRoutedDatabase<DB>(servers.config(), {
      lagCheckIntervalMs: INTERVAL_MS,
      maxLagMs: MAX_LAG_MS,
      fallback: 'error',
    })
    try {
      await Promise.all(servers.cluster.replicas.map((r) => (r as ReplicaServer).pauseReplay()))
      const allLagging = (db: RoutedDatabase<DB>) =>
        db.replicas().every((r) => r.status === 'lagging')
      await waitFor(() => allLagging(database) && allLagging(strict), {
        what: 'both routers to see both replicas lagging',
      })
      expect(await countReads(database.db, servers.labelOf, 100)).toEqual({ primary: 100 })
      await expect(readPort(strict.db)).rejects.toMatchObject({
        code: 'NO_REPLICA_AVAILABLE',
        context: { 'replica-1': 'lagging', 'replica-2': 'lagging' },
      })
    } finally {
      await strict.close()
    }
  })
})
