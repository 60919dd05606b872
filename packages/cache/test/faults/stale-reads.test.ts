import { parseConfig } from '@sluice/core'
import { createRoutedDatabase, type RoutedDatabase } from '@sluice/router'
import { type PostgresCluster, startPostgres } from '@sluice/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Cache } from '../../src/index.js'
import { freshNamespace, testCache } from '../helpers.js'

interface DB {
  counters: { id: number; value: number }
}

const CYCLES = 1000
const APPLY_DELAY_MS = 500
let cluster: PostgresCluster
let database: RoutedDatabase<DB>
let writer: Cache
let reader: Cache

beforeAll(async () => {
  cluster = await startPostgres({ replicas: 2 })
  const { url, replicaUrls } = await cluster.createDatabase('stale_reads')
  database = createRoutedDatabase<DB>(
    parseConfig({ DATABASE_URL: url, DATABASE_REPLICA_URLS: replicaUrls.join(',') }),
    { lagCheckIntervalMs: 100, afterCommit: (tables) => writer.invalidateOnCommit(tables) },
  )
  await sql`create table counters (id int primary key, value int not null)`.execute(
    database.primary,
  )
  await database.primary.insertInto('counters').values({ id: 1, value: 0 }).execute()
  await cluster.waitForReplay()
  for (const replica of cluster.replicas) await replica.setApplyDelay(APPLY_DELAY_MS)
  const namespace = freshNamespace()
  // Two app instances with L1 and the bus; the loader reads through the router (replicas).
  writer = testCache({ namespace, consistency: database })
  reader = testCache({ namespace, consistency: database })
  await Promise.all([writer.ready(), reader.ready()])
}, 180_000)

afterAll(async () => {
  for (const replica of cluster?.replicas ?? []) await replica.setApplyDelay(0)
  await database?.close()
  await cluster?.stop()
})

/** What a read returned, and the latest value whose invalidation had completed before it began. */
interface Read {
  readonly cycle: number
  readonly floor: number
  readonly got: number | undefined
}

/** noStaleReads: no read returns a value older than one whose invalidation completed before it. */
const staleReads = (reads: readonly Read[]) =>
  reads.filter((read) => read.got === undefined || read.got < read.floor)

const counter = async () =>
  (
    await database.db
      .selectFrom('counters')
      .select('value')
      .where('id', '=', 1)
      .executeTakeFirstOrThrow()
  ).value

describe(`${CYCLES} update → invalidate → read-from-the-other-instance cycles, replicas ${APPLY_DELAY_MS} ms late`, () => {
  test('getOrLoad with an explicit delete: no stale read', { timeout: 300_000 }, async () => {
    const reads: Read[] = []
    let completed = 0
    await reader.getOrLoad('counter', counter)
    for (let i = 1; i <= CYCLES; i++) {
      await database.db.updateTable('counters').set({ value: i }).where('id', '=', 1).execute()
      await writer.delete('counter')
      completed = i
      reads.push({ cycle: i, floor: completed, got: await reader.getOrLoad('counter', counter) })
      reads.push({ cycle: i, floor: completed, got: await writer.getOrLoad('counter', counter) })
    }
    expect(reads).toHaveLength(2 * CYCLES)
    expect(staleReads(reads)).toEqual([])
  })

  test('cache.query with afterCommit: cache.invalidateOnCommit: no stale read', {
    timeout: 300_000,
  }, async () => {
    const reads: Read[] = []
    const cached = async () =>
      (
        await reader.query(database.db.selectFrom('counters').select('value').where('id', '=', 1))
      )[0]?.value
    await cached()
    for (let i = 1; i <= CYCLES; i++) {
      const value = CYCLES + i
      // The commit returns once the invalidation (with its floor) is done.
      await database.db.updateTable('counters').set({ value }).where('id', '=', 1).execute()
      reads.push({ cycle: i, floor: value, got: await cached() })
    }
    expect(staleReads(reads)).toEqual([])
  })
})
