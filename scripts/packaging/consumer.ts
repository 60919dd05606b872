// A service as a user writes it, compiled against the packed tarballs (NodeNext and bundler
// resolution) and run against real servers that @sluice/testing starts.
import { createCache } from '@sluice/cache'
import { ConfigError, createDatabase, parseConfig, SluiceError } from '@sluice/core'
import { otelInstrumentation } from '@sluice/observability/otel'
import { prometheusInstrumentation } from '@sluice/observability/prometheus'
import { definePartitions, partitionFor } from '@sluice/partitions'
import { createRoutedDatabase } from '@sluice/router'
import { startPostgres, startRedis } from '@sluice/testing'
import { type Generated, sql } from 'kysely'

interface DB {
  notes: { id: Generated<number>; body: string }
}

const cluster = await startPostgres({ replicas: 1, engine: 'system' })
const redis = await startRedis()
try {
  await cluster.primary.query('create table notes (id serial primary key, body text not null)')
  const config = parseConfig({
    DATABASE_URL: cluster.primary.url(),
    DATABASE_REPLICA_URLS: cluster.replicas.map((replica) => replica.url()).join(','),
  })
  // As the README shows: the same adapters for every package.
  const instrumentation = [prometheusInstrumentation(), otelInstrumentation()]
  const database = createRoutedDatabase<DB>(config, { instrumentation })
  await database.ready()
  await database.db.insertInto('notes').values({ body: 'hello' }).execute()
  const notes = await database.session(() => database.db.selectFrom('notes').selectAll().execute())
  // As the README writes it (an env var, string | undefined), under exactOptionalPropertyTypes.
  const url: string | undefined = redis.url
  const cache = createCache({ redis: url, namespace: 'consumer' })
  const cached = await cache.getOrLoad('notes', async () => notes.length, { ttlMs: 10_000 })
  const single = createDatabase<DB>(config, { instrumentation })
  const { rows } = await sql<{ recovery: boolean }>`select pg_is_in_recovery() as recovery`.execute(
    single.db,
  )
  const spec = definePartitions({ table: 'messages', column: 'sent_at', interval: 'month' })
  let typed = false
  try {
    parseConfig({ DATABASE_URL: 'postgres://app@db/app?sslmode=sometimes' })
  } catch (error) {
    typed = error instanceof ConfigError && error instanceof SluiceError
  }
  const health = await database.health()
  await Promise.all([database.close(), single.close(), cache.close()])
  const ok =
    notes.length === 1 &&
    cached === 1 &&
    rows[0]?.recovery === false &&
    partitionFor(spec, new Date('2026-03-15T00:00:00Z')).name.length > 0 &&
    typed &&
    health.status === 'up'
  console.log(JSON.stringify({ ok, notes: notes.length, cached, health: health.status, typed }))
  if (!ok) process.exitCode = 1
} finally {
  await redis.stop()
  await cluster.stop()
}
