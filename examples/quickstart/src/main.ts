// Sluice quick start: a real PostgreSQL primary with two streaming replicas and a Redis
// (started by @sluice/testing), then @sluice/router over @sluice/core with @sluice/cache:
// routed queries, read-your-writes against a lagging replica, a cache invalidated on commit,
// monthly partitions in Europe/Berlin, a replica failure, streaming, health, a typed error and
// Prometheus metrics.
import { createCache } from '@sluice/cache'
import { parseConfig, SluiceError } from '@sluice/core'
import { prometheusInstrumentation } from '@sluice/observability/prometheus'
import {
  createPartitionedTable,
  definePartitions,
  explainPartitions,
  listPartitions,
  partitionRange,
  planMaintenance,
} from '@sluice/partitions'
import { createRoutedDatabase } from '@sluice/router'
import { type ReplicaServer, startDevServers } from '@sluice/testing'
import { type Generated, sql } from 'kysely'
import { Registry } from 'prom-client'

interface DB {
  messages: { id: Generated<number>; author: string; body: string; sent_at: Generated<Date> }
  audit_log: { at: Date; event: string | null }
}

// The servers `npx sluice-testing up` starts, through the same function.
const servers = await startDevServers({ replicas: 2, database: 'quickstart' })
const { cluster, env } = servers
console.log(servers.summary)
const registry = new Registry() // an app would use prom-client's global register
const metrics = prometheusInstrumentation({ registry })
const cache = createCache({
  redis: env.REDIS_URL,
  namespace: 'quickstart',
  database: 'quickstart', // part of every cache.query key: two databases never share rows
  defaultTtlMs: 60_000,
  instrumentation: metrics,
})

const config = parseConfig({
  DATABASE_URL: env.DATABASE_URL,
  DATABASE_REPLICA_URLS: env.DATABASE_REPLICA_URLS,
  DB_STATEMENT_TIMEOUT: '2s',
})
let showQueries = true
const database = createRoutedDatabase<DB>(config, {
  lagCheckIntervalMs: 200,
  afterCommit: cache.invalidateOnCommit, // a committed write drops the cached reads of its tables
  instrumentation: [
    metrics,
    {
      onQueryEnd: (e) =>
        showQueries &&
        console.log(`  ${e.target.padEnd(10)} ${e.operation.padEnd(12)} ${e.tables.join(',')}`),
      onReplicaStatus: ({ replica, from, to }) =>
        console.log(`  [${replica.label}: ${from} -> ${to}]`),
    },
  ],
})

try {
  console.log('Statements and the server that ran them:')
  await database.db.schema
    .createTable('messages')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await database.db.insertInto('messages').values({ author: 'ada', body: 'hello' }).execute()
  await cluster.waitForReplay()
  await database.db.selectFrom('messages').selectAll().execute()
  await database.db.selectFrom('messages').selectAll().execute()

  console.log('Read-your-writes, with both replicas applying WAL 1 s late:')
  const [first, second] = cluster.replicas as ReplicaServer[]
  await Promise.all([first?.setApplyDelay(1000), second?.setApplyDelay(1000)])
  const token = await database.session(async () => {
    await database.db.insertInto('messages').values({ author: 'bob', body: 'hi ada' }).execute()
    const mine = await database.db
      .selectFrom('messages')
      .select('body')
      .where('author', '=', 'bob')
      .execute()
    console.log(`  bob sees his message: ${mine.length === 1}`)
    return database.consistencyToken()
  })
  console.log(`  consistency token for other services: ${token}`)
  await Promise.all([first?.setApplyDelay(0), second?.setApplyDelay(0)])

  console.log('A cached query, invalidated when a write to its table commits:')
  showQueries = false
  // In a session, so that a reload after the write reads a replica that has replayed it.
  await database.session(async () => {
    const adaCount = async () => {
      const query = database.db.selectFrom('messages').select('id').where('author', '=', 'ada')
      return (await cache.query(query, { ttlMs: 60_000 })).length
    }
    console.log(`  ada's messages: ${await adaCount()} (loaded), ${await adaCount()} (cached)`)
    await database.db.insertInto('messages').values({ author: 'ada', body: 'again' }).execute()
    console.log(`  after an insert: ${await adaCount()}`)
    await database.db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('messages').values({ author: 'ada', body: 'undone' }).execute()
        throw new Error('rolled back')
      })
      .catch(() => undefined)
    console.log(`  after a rolled-back insert: ${await adaCount()} (still cached)`)
  })
  console.log('Monthly partitions of an audit log, boundaries at midnight in Berlin:')
  const auditLog = definePartitions({
    table: 'audit_log',
    column: 'at',
    interval: 'month',
    premake: 2,
    retention: { keep: 24, mode: 'drop' },
    timeZone: 'Europe/Berlin',
    indexes: [{ columns: ['at'], using: 'brin' }],
  })
  const created = await createPartitionedTable(database.primary, auditLog, (table) =>
    table.addColumn('at', 'timestamptz', (c) => c.notNull()).addColumn('event', 'text'),
  )
  console.log(`  created ${created.created.join(', ')}`)
  for (const partition of await listPartitions(database.primary, 'audit_log')) {
    console.log(`  ${partition.name}: ${partition.bound}`)
  }
  const nextMonth = new Date(Date.now() + 31 * 86_400_000)
  const plan = await planMaintenance(database.primary, [auditLog], { now: nextMonth })
  console.log(
    `  a month from now, maintenance would: ${plan.map((s) => `${s.kind} ${s.partition}`).join(', ')}`,
  )
  const thisMonth = created.created[0] ?? ''
  const range = { from: new Date(Date.now() - 60_000), to: new Date() }
  const recent = database.primary
    .selectFrom('audit_log' as never)
    .selectAll()
    .where(partitionRange(auditLog, range))
  console.log(
    `  a query for the last minute scans: ${(await explainPartitions(database.primary, recent)).join(', ')} (${thisMonth})`,
  )

  console.log('replica-1 is killed; reads keep working:')
  await first?.kill()
  let served = 0
  for (let i = 0; i < 20; i++) {
    await database.db.selectFrom('messages').selectAll().execute()
    served++
  }
  console.log(`  ${served}/20 reads served`)
  for (const replica of database.replicas()) {
    console.log(`  ${replica.label}: ${replica.status}, lag ${replica.lagMs ?? '?'} ms`)
  }

  let streamed = 0
  for await (const _row of database.db.selectFrom('messages').selectAll().stream(100)) streamed++
  console.log(`Streamed ${streamed} rows.`)
  await sql`select pg_sleep(3)`.execute(database.db).catch((error: unknown) => {
    if (error instanceof SluiceError) console.log(`Typed error: ${error.code} (${error.message})`)
  })
  const health = await database.health()
  console.log(
    `Health: ${health.status} (${health.targets.map((t) => `${t.target} ${t.status}`).join(', ')})`,
  )
  console.log('Some of what /metrics would serve:')
  const wanted =
    /^(sluice_router_routes_total|sluice_cache_events_total|sluice_router_replica_status)\{/
  for (const line of (await registry.metrics()).split('\n')) {
    if (wanted.test(line) && !line.endsWith(' 0')) console.log(`  ${line}`)
  }
} finally {
  await database.close()
  await cache.close()
  await servers.stop()
}
