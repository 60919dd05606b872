import { startFaultProxy, startPgBouncer, waitFor } from '@sluice/testing'
import { sharedPostgres } from '@sluice/testing/vitest'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConnectionError, parseConfig } from '../src/index.js'
import { freshDatabase, testDatabase } from './helpers.js'

const STATEMENT_TIMEOUT_MS = 200
// The cancel socket's connect timeout; before the fix, a cancel socket also hung up after it.
const POOL_TIMEOUT_MS = 500
const CLIENTS = 20

let name: string
beforeAll(async () => {
  ;({ name } = await freshDatabase())
})

// In PgBouncer transaction mode a statement past its deadline gets a cancel request on a new
// socket. PgBouncer 1.18 exits (FATAL in disconnect_client: bad client state) when the sender
// of a cancel hangs up before PgBouncer has forwarded it: a stalled link that delivers the
// request and the hang-up together, as a blackhole restored does, did that every time.
describe('cancel requests on a deadline, through a link to PgBouncer that stalls', () => {
  const bouncerStarted = startPgBouncer({ upstream: sharedPostgres().primary, poolSize: CLIENTS })
  const proxyStarted = bouncerStarted.then((bouncer) =>
    startFaultProxy({ host: bouncer.host, port: bouncer.port, protocol: 'postgres' }),
  )
  afterAll(async () => {
    await (await proxyStarted).stop()
    await (await bouncerStarted).stop()
  })

  // Six rounds: without the fix PgBouncer crashed within five in every run (2 of 2).
  it('never hang up before PgBouncer has answered them: PgBouncer keeps running', {
    timeout: 120_000,
  }, async () => {
    const [bouncer, proxy] = [await bouncerStarted, await proxyStarted]
    const url = new URL(bouncer.url(name))
    url.port = String(proxy.port)
    const database = testDatabase(
      parseConfig({
        DATABASE_URL: url.toString(),
        DB_POOLER_MODE: 'transaction',
        DB_STATEMENT_TIMEOUT: String(STATEMENT_TIMEOUT_MS),
        DB_POOL_TIMEOUT: String(POOL_TIMEOUT_MS),
        DB_POOL_SIZE: String(CLIENTS),
      }),
    )
    const sleeps = (seconds: number, clients = CLIENTS) =>
      Promise.all(
        Array.from({ length: clients }, () =>
          sql`select pg_sleep(${seconds})`.execute(database.db).then(
            () => undefined,
            (error: unknown) => error,
          ),
        ),
      )
    try {
      for (let round = 0; round < 6; round++) {
        // Every pooled client logged in (the previous round's were destroyed), so the stalled
        // statements need no new connection. One more login at a time: pg-pool gives up on a
        // login at the pool timeout, which 20 at once through the proxy and PgBouncer (SCRAM)
        // overran every time on a loaded machine.
        for (let clients = 1; clients <= CLIENTS; clients++)
          await waitFor(
            async () => (await sleeps(0.05, clients)).every((error) => error === undefined),
            { what: `${clients} pooled connections` },
          )
        await proxy.blackhole()
        const failures = await sleeps(1)
        const failedAt = Date.now()
        // Each failed; those on a pooled connection by their deadline, after a cancel request
        // (a connection the pool had to open meanwhile fails on its pool timeout instead).
        expect(failures).not.toContain(undefined)
        expect(failures.filter((error) => error instanceof ConnectionError)).not.toHaveLength(0)
        for (const failure of failures)
          if (failure instanceof ConnectionError) expect(failure.code).toBe('DEADLINE_EXCEEDED')
        // Past the cancel sockets' connect timeout, after which the old code hung up.
        await waitFor(() => Date.now() > failedAt + POOL_TIMEOUT_MS + 100)
        await proxy.restore()
        // PgBouncer answers each cancel and closes it; the destroyed clients are gone too.
        await waitFor(async () => (await proxy.stats()).openConnections === 0, {
          what: 'PgBouncer to close every link',
        })
        expect(bouncer.running, bouncer.logTail()).toBe(true)
      }
    } finally {
      await database.close()
    }
  })
})
