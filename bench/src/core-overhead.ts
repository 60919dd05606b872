// Point-select throughput of Sluice's client (with and without instrumentation) against plain
// Kysely + pg on the same server and pool size, in one run. Prints ratios; target >= 0.97x.
import { startPostgres } from '@sluice/testing'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { compareClients, type DB, seed } from './point-select.js'

const cluster = await startPostgres()
try {
  const { url } = await cluster.createDatabase('bench')
  const setup = new Kysely<DB>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }),
  })
  await seed(setup)
  await setup.destroy()
  console.log('core: one server')
  await compareClients(
    {
      plain: { kind: 'plain', url },
      sluice: { kind: 'sluice', url },
      'sluice+hooks': { kind: 'sluice+hooks', url },
    },
    'plain',
  )
} finally {
  await cluster.stop()
}
