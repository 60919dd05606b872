import { parseConfig, createDatabase } from '@sluice/core'
import { createRoutedDatabase } from '@sluice/router'
import { startPostgres } from '@sluice/testing'
import { sql, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
const cluster = await startPostgres({ replicas: 1 })
const { url, replicaUrls } = await cluster.createDatabase('bench')
const p = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }) })
await sql`create table items (id int primary key, name text)`.execute(p)
await sql`insert into items select g, 'item ' || g from generate_series(1, 1000) g`.execute(p)
await cluster.waitForReplay()
const routes = {}
const c = {
  plain: new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: replicaUrls[0], max: 10 }) }) }),
  core: createDatabase(parseConfig({ DATABASE_URL: replicaUrls[0], DB_POOL_SIZE: 10 })).db,
  routed: createRoutedDatabase(parseConfig({ DATABASE_URL: url, DATABASE_REPLICA_URLS: replicaUrls, DB_POOL_SIZE: 10 }), { instrumentation: { onRoute: (e) => { routes[e.target] = (routes[e.target] ?? 0) + 1 } } }).db,
}
const cpu = {}, wall = {}
for (let r = 0; r < 8; r++) for (const [name, db] of Object.entries(c)) {
  let next = 0; const N = 5000
  const c0 = process.cpuUsage(); const t0 = performance.now()
  await Promise.all(Array.from({ length: 50 }, async () => { while (next++ < N) await db.selectFrom('items').selectAll().where('id', '=', (next % 1000) + 1).executeTakeFirst() }))
  const u = process.cpuUsage(c0)
  if (r > 0) { (cpu[name] ??= []).push((u.user + u.system) / N); (wall[name] ??= []).push((performance.now() - t0) * 1000 / N) }
}
const med = (a) => a.sort((x, y) => x - y)[a.length >> 1].toFixed(1)
for (const n of Object.keys(c)) console.log(n, 'cpu µs/q', med(cpu[n]), 'wall µs/q', med(wall[n]))
console.log(routes)
process.exit(0)
