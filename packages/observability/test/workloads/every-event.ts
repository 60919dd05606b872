import { type CacheOptions, cacheChannels, createCache } from '@sluice/cache'
import { coreChannels, parseConfig } from '@sluice/core'
import {
  createPartitionedTable,
  definePartitions,
  partitionChannels,
  runMaintenance,
} from '@sluice/partitions'
import { createRoutedDatabase, type RouterOptions, routerChannels } from '@sluice/router'
import { databaseName, waitFor } from '@sluice/testing'
import type { RecordedEvents } from '@sluice/testing/instrumentation'
import { type Recording, recordChannel } from '@sluice/testing/observability'
import { withProfile } from '@sluice/testing/profile'
import { sharedPostgres, sharedRedisUrl } from '@sluice/testing/vitest'
import { sql } from 'kysely'

const CHANNELS = { ...coreChannels, ...routerChannels, ...cacheChannels, ...partitionChannels }
const NOW = new Date('2026-11-22T00:00:00Z')

let recorded: Promise<RecordedEvents> | undefined

/**
 * Real events of every hook, as every package's channels published them during one workload
 * on the shared servers: a routed database (writes, a read on the replica, a failed insert,
 * replica checks), a cache (miss, load, hit, invalidation) and a maintenance run. Recorded
 * once per file.
 */
export function everyEvent(): Promise<RecordedEvents> {
  recorded ??= record()
  return recorded
}

async function record(): Promise<RecordedEvents> {
  const recordings = Object.fromEntries(
    Object.entries(CHANNELS).map(([hook, channel]) => [hook, recordChannel(channel)]),
  ) as Record<keyof typeof CHANNELS, Recording<never>>
  try {
    await workload()
  } finally {
    for (const recording of Object.values(recordings)) recording.stop()
  }
  return Object.fromEntries(
    Object.entries(recordings).map(([hook, recording]) => [hook, recording.items]),
  ) as unknown as RecordedEvents
}

async function workload(): Promise<void> {
  const { env } = await sharedPostgres().createDatabase(databaseName('obs'))
  const database = createRoutedDatabase(
    parseConfig(env),
    withProfile<RouterOptions>({ lagCheckIntervalMs: 100 }),
  )
  const cache = createCache(
    withProfile<CacheOptions>({
      redis: sharedRedisUrl(),
      namespace: databaseName('obs'),
      database: 'obs',
    }),
  )
  try {
    await waitFor(() => database.replicas().every((replica) => replica.status === 'up'))
    await sql`create table notes (id int primary key)`.execute(database.db)
    await sql`insert into notes values (1)`.execute(database.db)
    await sql`insert into notes values (1)`.execute(database.db).catch(() => undefined) // 23505
    await waitFor(async () => (await sql`select * from notes`.execute(database.db)).rows.length > 0)
    await cache.getOrLoad('note:1', async () => 1)
    await cache.getOrLoad('note:1', async () => 2)
    await cache.delete('note:1')
    const spec = definePartitions({ table: 'events', column: 'at', interval: 'month', premake: 1 })
    await createPartitionedTable(
      database.db,
      spec,
      (table) => table.addColumn('at', 'timestamptz', (column) => column.notNull()),
      { now: NOW },
    )
    await runMaintenance(database.db, [spec], { now: NOW })
  } finally {
    await cache.close()
    await database.close()
  }
}
