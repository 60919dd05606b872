// One client of the point-select benchmark, in its own process (see point-select.ts).
import { createDatabase, parseConfig } from '@sluice/core'
import { createRoutedDatabase } from '@sluice/router'
import { Kysely, PostgresDialect } from 'kysely'
import { KyselyReplicationDialect } from 'kysely-replication'
import { RoundRobinReplicaStrategy } from 'kysely-replication/strategy/round-robin'
import pg from 'pg'
import { serveRuns } from './contender-process.js'
import type { ClientSpec, DB } from './point-select.js'

const spec = JSON.parse(process.env.BENCH_CLIENT ?? '{}') as ClientSpec
const pool = Number(process.env.BENCH_POOL)
// Plain pools get the settings Sluice's config gives by default: the same size, a 10 s acquire
// timeout (which makes pg-pool time every queued acquire), 30 s idle timeout, 30 min max
// lifetime, and the same session timeouts (with a statement_timeout, the server arms a timer
// for every statement, which costs it about 7 % here). A production pool has these too;
// comparing against one without would measure them, not Sluice.
const dialect = (url: string) =>
  new PostgresDialect({
    pool: new pg.Pool({
      connectionString: url,
      max: pool,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      maxLifetimeSeconds: 1800,
      statement_timeout: 30_000,
      idle_in_transaction_session_timeout: 60_000,
    }),
  })
const config = () =>
  parseConfig({
    DATABASE_URL: spec.url,
    DATABASE_REPLICA_URLS: [...(spec.replicaUrls ?? [])],
    DB_POOL_SIZE: pool,
  })

async function client(): Promise<{ db: Kysely<DB>; close: () => Promise<void> }> {
  switch (spec.kind) {
    case 'plain': {
      const db = new Kysely<DB>({ dialect: dialect(spec.url) })
      return { db, close: () => db.destroy() }
    }
    case 'sluice':
    case 'sluice+hooks': {
      const hooks = spec.kind === 'sluice+hooks' ? { onQueryEnd: () => {} } : undefined
      return createDatabase<DB>(config(), { instrumentation: hooks })
    }
    case 'router':
      return createRoutedDatabase<DB>(config())
    case 'router-baseline': {
      const module = new URL(spec.module ?? '', 'file:///')
      const router = (await import(module.href)) as typeof import('@sluice/router')
      const core = (await import(new URL('../../core/dist/index.js', module).href)) as {
        parseConfig: typeof parseConfig
      }
      return router.createRoutedDatabase<DB>(
        core.parseConfig({
          DATABASE_URL: spec.url,
          DATABASE_REPLICA_URLS: [...(spec.replicaUrls ?? [])],
          DB_POOL_SIZE: pool,
        }),
      )
    }
    case 'kysely-replication': {
      const [first, ...rest] = (spec.replicaUrls ?? []).map(dialect)
      if (!first) throw new Error('kysely-replication needs replicaUrls')
      const db = new Kysely<DB>({
        dialect: new KyselyReplicationDialect({
          primaryDialect: dialect(spec.url),
          replicaDialects: [first, ...rest],
          replicaStrategy: new RoundRobinReplicaStrategy({}),
        }),
      })
      return { db, close: () => db.destroy() }
    }
  }
}

const { db, close } = await client()
serveRuns(
  (i) =>
    db
      .selectFrom('items')
      .selectAll()
      .where('id', '=', (i % 1000) + 1)
      .executeTakeFirst(),
  close,
)
