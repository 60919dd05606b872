import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { testProfile } from '@sluice/testing'
import { withProfile } from '@sluice/testing/profile'
import { Kysely, type LogEvent, PostgresDialect } from 'kysely'
import pg from 'pg'
import Cursor from 'pg-cursor'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RoutedDialect, type RoutedDialectOptions, routedDialect } from '../src/index.js'
import { type Clients, type ConformanceDB, RESET_SQL, SCENARIOS } from './conformance/scenarios.js'
import { routeRecorder, startTestCluster, type TestCluster } from './helpers.js'

// The same Kysely features through Kysely's own PostgresDialect (on the primary) and through
// the routed dialect with two replicas, inside a read-your-writes session: the same results,
// and the same statements in Kysely's log, BEGIN, COMMIT and savepoints included. In the
// production profile both go through PgBouncer in transaction mode.
const run = promisify(execFile)
const via = testProfile().name === 'production' ? 'pgbouncer' : 'direct'

let servers: TestCluster
let plainLog: string[]
let plain: Kysely<ConformanceDB>
let dialect: RoutedDialect
let routedLog: string[]
let routed: Clients
const routes = routeRecorder()

/** One line per logged statement; the Migrator's timestamps are masked (they differ per run). */
const recorder = (lines: string[]) => (event: LogEvent) => {
  const parameters = JSON.stringify(event.query.parameters).replace(
    /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/g,
    '<time>',
  )
  // Behind PgBouncer in transaction mode, Sluice's BEGIN also sets the transaction's timeouts
  // (SET LOCAL, in the same message): the statement Kysely asked for is the part before.
  const text = event.query.sql.replace(/; set local statement_timeout.*$/s, '')
  lines.push(`${event.level}: ${text} ${parameters}`)
}

/** Gives the next scenario the starting data, replayed on both replicas. */
async function reset(): Promise<void> {
  await servers.cluster.primary.query(RESET_SQL)
  await servers.cluster.waitForReplay()
}

beforeAll(async () => {
  servers = await startTestCluster(via)
  const config = servers.config()
  const { host, port, database, user, password } = config.primary
  const pool = new pg.Pool({ host, port, database, user, password, max: 4 })
  plainLog = []
  plain = new Kysely<ConformanceDB>({
    dialect: new PostgresDialect({ pool, cursor: Cursor }),
    log: recorder(plainLog),
  })
  routedLog = []
  dialect = routedDialect(
    config,
    withProfile<RoutedDialectOptions>({ readOnlyTransactions: 'replica', instrumentation: routes }),
  )
  routed = {
    db: new Kysely<ConformanceDB>({ dialect, log: recorder(routedLog) }),
    primary: new Kysely<ConformanceDB>({
      dialect: dialect.primaryDialect,
      log: recorder(routedLog),
    }),
  }
}, 120_000)

afterAll(async () => {
  await dialect?.close()
  await plain?.destroy()
  await servers?.stop()
})

describe(`Kysely conformance: PostgresDialect and the routed dialect (${via})`, () => {
  it.each(SCENARIOS.map((scenario) => [scenario.name, scenario] as const))(
    '%s',
    async (_name, scenario) => {
      await reset()
      plainLog.length = 0
      const expected = await scenario.run({ db: plain, primary: plain })
      await reset()
      routedLog.length = 0
      const actual = await dialect.session(() => scenario.run(routed))
      expect(actual).toEqual(expected)
      expect(routedLog).toEqual(plainLog)
    },
  )

  it('kysely-codegen reads the schema from the same DATABASE_URL as Sluice', async () => {
    await reset()
    const { host, port, database, user, password } = servers.config().primary
    const url = new URL(`postgres://${host}:${port}/${database}`)
    url.username = user
    url.password = password ?? ''
    const codegen = fileURLToPath(new URL('../node_modules/.bin/kysely-codegen', import.meta.url))
    const { stdout } = await run(
      codegen,
      ['--dialect', 'postgres', '--print', '--include-pattern', 'public.*'],
      {
        env: { ...process.env, DATABASE_URL: url.toString() },
        timeout: 60_000,
      },
    )
    expect(stdout).toContain('export interface DB {')
    expect(stdout).toMatch(/people: People;\s+pets: Pets;/)
    expect(stdout).toMatch(/export interface Pets \{[^}]*owner_id: number;/)
  })

  it('ran the reads of those scenarios on the replicas, not only on the primary', () => {
    const served = new Set(routes.events.map((event) => event.role))
    expect(served).toEqual(new Set(['primary', 'replica']))
  })
})
