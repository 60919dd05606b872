// Routed point-select throughput, in one run on one cluster (a primary and 2 replicas):
// - against plain Kysely + pg on the same replica with the same pool size (target >= 0.97x),
//   the router being given that one replica, with @sluice/core alone on it for reference;
// - against kysely-replication (round-robin) over the same 2 replicas;
// - with BENCH_ROUTER_BASELINE=/path/to/router/dist/index.js, against that other build of the
//   router (say, the last release) in the same run: the before/after ratio of a change.
import { startPostgres } from '@sluice/testing'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { type ClientSpec, compareClients, type DB, seed } from './point-select.js'

const cluster = await startPostgres({ replicas: 2 })
try {
  const { url, replicaUrls } = await cluster.createDatabase('bench')
  const [replica1] = replicaUrls as [string, string]
  const setup = new Kysely<DB>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }),
  })
  await seed(setup)
  await setup.destroy()
  await cluster.waitForReplay()

  const baseline = process.env.BENCH_ROUTER_BASELINE
  const against = (replicas: readonly string[]): Record<string, ClientSpec> =>
    baseline
      ? {
          'sluice router (baseline)': {
            kind: 'router-baseline',
            url,
            replicaUrls: replicas,
            module: baseline,
          },
        }
      : {}
  console.log('router: one replica, same server and pool size as plain')
  await compareClients(
    {
      'plain (replica-1)': { kind: 'plain', url: replica1 },
      'sluice core (replica-1)': { kind: 'sluice', url: replica1 },
      'sluice router': { kind: 'router', url, replicaUrls: [replica1] },
      ...against([replica1]),
    },
    'plain (replica-1)',
  )
  console.log('router: two replicas, against kysely-replication')
  await compareClients(
    {
      'kysely-replication': { kind: 'kysely-replication', url, replicaUrls },
      'sluice router': { kind: 'router', url, replicaUrls },
      ...against(replicaUrls),
    },
    'kysely-replication',
  )
} finally {
  await cluster.stop()
}
