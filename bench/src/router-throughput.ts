// Routed point-select throughput, in one run on one cluster (a primary and 2 replicas):
// - against plain Kysely + pg on the same replica with the same pool size (target >= 0.97x),
//   the router being given that one replica;
// - against kysely-replication (round-robin) over the same 2 replicas.
import { parseConfig } from '@sluice/core'
import { createRoutedDatabase } from '@sluice/router'
import { startPostgres } from '@sluice/testing'
import { Kysely, PostgresDialect } from 'kysely'
import { KyselyReplicationDialect } from 'kysely-replication'
import { RoundRobinReplicaStrategy } from 'kysely-replication/strategy/round-robin'
import pg from 'pg'
import { compareClients, type DB, POOL, seed } from './point-select.js'

const dialect = (url: string) =>
  new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: POOL }) })

const cluster = await startPostgres({ replicas: 2 })
try {
  const { url, replicaUrls } = await cluster.createDatabase('bench')
  const [replica1, replica2] = replicaUrls as [string, string]
  const primary = new Kysely<DB>({ dialect: dialect(url) })
  await seed(primary)
  await cluster.waitForReplay()
  const routedConfig = (replicas: string[]) =>
    parseConfig({ DATABASE_URL: url, DATABASE_REPLICA_URLS: replicas, DB_POOL_SIZE: POOL })

  const plain = new Kysely<DB>({ dialect: dialect(replica1) })
  const routedOne = createRoutedDatabase<DB>(routedConfig([replica1]))
  console.log('router: one replica, same server and pool size as plain')
  await compareClients(
    { 'plain (replica-1)': plain, 'sluice router': routedOne.db },
    'plain (replica-1)',
  )

  const replication = new Kysely<DB>({
    dialect: new KyselyReplicationDialect({
      primaryDialect: dialect(url),
      replicaDialects: [dialect(replica1), dialect(replica2)],
      replicaStrategy: new RoundRobinReplicaStrategy({}),
    }),
  })
  const routedTwo = createRoutedDatabase<DB>(routedConfig([replica1, replica2]))
  console.log('router: two replicas, against kysely-replication')
  await compareClients(
    { 'kysely-replication': replication, 'sluice router': routedTwo.db },
    'kysely-replication',
  )
  await Promise.all([
    primary.destroy(),
    plain.destroy(),
    replication.destroy(),
    routedOne.close(),
    routedTwo.close(),
  ])
} finally {
  await cluster.stop()
}
