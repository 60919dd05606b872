// Point-select throughput of Sluice's client (with and without instrumentation) against plain
// Kysely + pg on the same server and pool size, in one run. Prints ratios; target >= 0.97x.
import { createDatabase, parseConfig } from '@sluice/core'
import { startPostgres } from '@sluice/testing'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'

interface DB {
  items: { id: number; name: string }
}
const POOL = 10
const CONCURRENCY = 50
const QUERIES = 20_000
const ROUNDS = 3

async function throughput(db: Kysely<DB>): Promise<number> {
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < QUERIES) {
        await db
          .selectFrom('items')
          .selectAll()
          .where('id', '=', (next % 1000) + 1)
          .executeTakeFirst()
      }
    }),
  )
  return QUERIES / ((performance.now() - started) / 1000)
}

const cluster = await startPostgres()
try {
  const { url } = await cluster.createDatabase('bench')
  const plain = new Kysely<DB>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: POOL }) }),
  })
  await sql`create table items (id int primary key, name text)`.execute(plain)
  await sql`insert into items select g, 'item ' || g from generate_series(1, 1000) g`.execute(plain)
  const config = parseConfig({ DATABASE_URL: url, DB_POOL_SIZE: String(POOL) })
  const sluice = createDatabase<DB>(config)
  const observed = createDatabase<DB>(config, { instrumentation: { onQueryEnd: () => {} } })
  const contenders = { plain, sluice: sluice.db, 'sluice+hooks': observed.db }
  const best: Record<string, number> = {}
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, db] of Object.entries(contenders)) {
      best[name] = Math.max(best[name] ?? 0, await throughput(db))
    }
  }
  const base = best.plain ?? 1
  for (const [name, qps] of Object.entries(best)) {
    console.log(
      `${name.padEnd(14)} ${qps.toFixed(0).padStart(7)} q/s  ${(qps / base).toFixed(3)}x plain`,
    )
  }
  await Promise.all([plain.destroy(), sluice.close(), observed.close()])
} finally {
  await cluster.stop()
}
