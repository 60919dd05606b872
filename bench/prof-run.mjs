import { parseConfig } from '@sluice/core'
import { createRoutedDatabase } from '@sluice/router'
import { startPostgres } from '@sluice/testing'
import { sql, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { Session } from 'node:inspector/promises'
import fs from 'node:fs'
const cluster = await startPostgres({ replicas: 1 })
const { url, replicaUrls } = await cluster.createDatabase('bench')
const p = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }) })
await sql`create table items (id int primary key, name text)`.execute(p)
await sql`insert into items select g, 'item ' || g from generate_series(1, 1000) g`.execute(p)
await cluster.waitForReplay()
const which = process.argv[2]
const db = which === 'plain' ? new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: replicaUrls[0], max: 10 }) }) })
  : createRoutedDatabase(parseConfig({ DATABASE_URL: url, DATABASE_REPLICA_URLS: replicaUrls, DB_POOL_SIZE: 10 })).db
const go = async (N) => { let next = 0; await Promise.all(Array.from({ length: 50 }, async () => { while (next++ < N) await db.selectFrom('items').selectAll().where('id', '=', (next % 1000) + 1).executeTakeFirst() })) }
await go(5000)
const s = new Session(); s.connect(); await s.post('Profiler.enable'); await s.post('Profiler.start')
await go(30000)
const { profile } = await s.post('Profiler.stop')
fs.writeFileSync(`/tmp/prof/cp/${which}.cpuprofile`, JSON.stringify(profile))
process.exit(0)
