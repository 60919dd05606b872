// Sluice quick start: a real PostgreSQL primary with two streaming replicas (started by
// @sluice/testing), then @sluice/core's client: typed config, queries, instrumentation,
// streaming, health and typed errors.
import { createDatabase, parseConfig, SluiceError } from '@sluice/core'
import { startPostgres } from '@sluice/testing'
import { type Generated, sql } from 'kysely'

interface DB {
  messages: { id: Generated<number>; author: string; body: string; sent_at: Generated<Date> }
}

const cluster = await startPostgres({ replicas: 2 })
console.log(
  `PostgreSQL ${cluster.version} (${cluster.engine}): primary + ${cluster.replicas.length} replicas`,
)
const { url } = await cluster.createDatabase('quickstart')

const config = parseConfig({
  DATABASE_URL: url,
  DB_STATEMENT_TIMEOUT: '2s',
  DB_SLOW_QUERY_MS: '50',
})
const database = createDatabase<DB>(config, {
  instrumentation: {
    onQueryEnd: (e) =>
      console.log(
        `  ${e.operation.padEnd(12)} ${e.tables.join(',').padEnd(9)} ${e.durationMs.toFixed(1)} ms`,
      ),
  },
})

try {
  console.log('Queries, as the instrumentation sees them:')
  await database.db.schema
    .createTable('messages')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await database.db
    .insertInto('messages')
    .values([
      { author: 'ada', body: 'hello' },
      { author: 'bob', body: 'hi ada' },
    ])
    .execute()
  let streamed = 0
  for await (const _row of database.db.selectFrom('messages').selectAll().stream(100)) streamed++
  console.log(`Streamed ${streamed} rows.`)

  await sql`select pg_sleep(3)`.execute(database.db).catch((error: unknown) => {
    if (error instanceof SluiceError) console.log(`Typed error: ${error.code} (${error.message})`)
  })
  const health = await database.health()
  console.log(`Health: ${health.status}, latency ${health.targets[0]?.latencyMs?.toFixed(1)} ms`)
} finally {
  await database.close()
  await cluster.stop()
}
