// Point-select throughput of Sluice's client (with and without instrumentation) against plain
// Kysely + pg on the same server and pool size, in one run. Prints ratios; target >= 0.97x.
import { createDatabase, parseConfig } from '@sluice/core'
import { startPostgres } from '@sluice/testing'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { compareClients, type DB, POOL, seed } from './point-select.js'

const cluster = await startPostgres()
try {
  const { url } = await cluster.createDatabase('bench')
  const plain = new Kysely<DB>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: POOL }) }),
  })
  await seed(plain)
  const config = parseConfig({ DATABASE_URL: url, DB_POOL_SIZE: String(POOL) })
  const sluice = createDatabase<DB>(config)
  const observed = createDatabase<DB>(config, { instrumentation: { onQueryEnd: () => {} } })
  console.log('core: one server')
  await compareClients({ plain, sluice: sluice.db, 'sluice+hooks': observed.db }, 'plain')
  await Promise.all([plain.destroy(), sluice.close(), observed.close()])
} finally {
  await cluster.stop()
}
