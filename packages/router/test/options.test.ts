import { ConfigError } from '@sluice/core'
import { withProfile } from '@sluice/testing/profile'
import { CamelCasePlugin, Kysely, type LogEvent, sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createRoutedDatabase, type RoutedDatabase, routedDialect } from '../src/index.js'
import {
  busyBackends,
  type DB,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  waitFor,
} from './helpers.js'

const issuesOf = (attempt: () => unknown) => {
  try {
    attempt()
  } catch (error) {
    if (error instanceof ConfigError) return error.issues
    throw error
  }
  return undefined
}

describe('router options', () => {
  let servers: TestCluster
  const open: RoutedDatabase<DB>[] = []

  beforeAll(async () => {
    servers = await startTestCluster('direct')
  })

  afterAll(async () => {
    await Promise.all(open.map((database) => database.close()))
    await servers?.stop()
  })

  test("Kysely's log and plugins pass through to both clients", async () => {
    const events: LogEvent[] = []
    const database = testRoutedDatabase<DB>(servers.config(), {
      log: (event) => {
        events.push(event)
      },
      plugins: [new CamelCasePlugin()],
    })
    open.push(database)
    await readPort(database.db)
    await database.primary.selectFrom('items').select('id').execute()
    expect(events.map((event) => event.level)).toEqual(['query', 'query'])
    expect(events[1]?.query.sql).toBe('select "id" from "items"')
  })

  test("routedDialect refuses Kysely's own options: they go to new Kysely", () => {
    for (const key of ['log', 'plugins']) {
      expect(issuesOf(() => routedDialect(servers.config(), { [key]: [] } as never))).toEqual([
        { field: key, message: expect.stringContaining('new Kysely') },
      ])
    }
  })

  test('each Kysely on one routed dialect logs its own statements; they share one router', async () => {
    const dialect = routedDialect(servers.config(), withProfile({}))
    const logs: [string[], string[]] = [[], []]
    const [first, second] = logs.map(
      (lines) =>
        new Kysely<DB>({
          dialect,
          log: (event) => {
            lines.push(event.query.sql.replace(/; set local statement_timeout.*$/s, ''))
          },
        }),
    ) as [Kysely<DB>, Kysely<DB>]
    try {
      const seen = await dialect.session(async () => {
        await first
          .transaction()
          .execute((trx) =>
            trx.insertInto('items').values({ name: 'shared' }).returning('id').execute(),
          )
        // The session's write through the first client binds the second one's reads too.
        return second.selectFrom('items').select('name').where('name', '=', 'shared').execute()
      })
      expect(seen).toEqual([{ name: 'shared' }])
      expect(logs[0]).toEqual([
        'begin',
        'insert into "items" ("name") values ($1) returning "id"',
        'commit',
      ])
      expect(logs[1]).toEqual(['select "name" from "items" where "name" = $1'])
    } finally {
      await dialect.close()
    }
  })

  test('an unknown option is a ConfigError naming it, not silently dropped', () => {
    const issues = issuesOf(() =>
      createRoutedDatabase(servers.config(), { lagCheckInterval: 100 } as never),
    )
    expect(issues).toEqual([
      expect.objectContaining({ message: expect.stringContaining('lagCheckInterval') }),
    ])
  })

  test('options that are not an object, bad plugins, log or hooks are ConfigErrors naming the option', () => {
    const config = servers.config()
    const entries = {
      createRoutedDatabase: (options: unknown) => createRoutedDatabase(config, options as never),
      routedDialect: (options: unknown) => routedDialect(config, options as never),
    }
    for (const [name, create] of Object.entries(entries)) {
      for (const bad of [null, [], 'maxLagMs=2000', 42]) {
        expect(
          issuesOf(() => create(bad)),
          `${name}(${JSON.stringify(bad)})`,
        ).toEqual([
          { field: 'options', message: expect.stringMatching(/^must be an object of options/) },
        ])
      }
      expect(issuesOf(() => create({ instrumentation: { onRoute: 'log' } }))).toEqual([
        { field: 'instrumentation.onRoute', message: 'must be a function (got a string)' },
      ])
      for (const bad of ['hooks', 7, null]) {
        expect(issuesOf(() => create({ instrumentation: bad }))).toEqual([
          {
            field: 'instrumentation',
            message: expect.stringMatching(/^must be an object of hooks/),
          },
        ])
      }
      expect(issuesOf(() => create({ instrumentation: [{}, { onReplicaStatus: 1 }] }))).toEqual([
        {
          field: 'instrumentation.1.onReplicaStatus',
          message: 'must be a function (got a number)',
        },
      ])
    }
    const database = (options: unknown) => entries.createRoutedDatabase(options)
    for (const bad of [null, 'CamelCasePlugin', 1, {}]) {
      expect(
        issuesOf(() => database({ plugins: bad })),
        `plugins: ${JSON.stringify(bad)}`,
      ).toEqual([
        { field: 'plugins', message: expect.stringMatching(/^must be an array of Kysely plugins/) },
      ])
    }
    expect(
      issuesOf(() => database({ plugins: [new CamelCasePlugin(), CamelCasePlugin, null] })),
    ).toEqual([
      {
        field: 'plugins.1',
        message: expect.stringMatching(/^must be a Kysely plugin.*a function/),
      },
      { field: 'plugins.2', message: expect.stringMatching(/^must be a Kysely plugin.*null/) },
    ])
    for (const bad of [null, 'query', 5, ['query', 'warn'], {}]) {
      expect(
        issuesOf(() => database({ log: bad })),
        `log: ${JSON.stringify(bad)}`,
      ).toEqual([
        {
          field: 'log',
          message: expect.stringMatching(/^must be an array of 'query' and 'error'/),
        },
      ])
    }
    // What is valid stays valid: no plugins, an empty log, a hook left undefined.
    const quiet = testRoutedDatabase<DB>(config, {
      plugins: [],
      log: [],
      instrumentation: { onRoute: undefined },
    })
    open.push(quiet)
  })

  test('write functions with quotes or a schema are refused with a clear message', () => {
    expect(
      issuesOf(() => createRoutedDatabase(servers.config(), { writeFunctions: ['"refresh"'] })),
    ).toEqual([{ field: 'writeFunctions.0', message: expect.stringMatching(/without quotes/) }])
    expect(
      issuesOf(() => createRoutedDatabase(servers.config(), { writeFunctions: ['app.refresh'] })),
    ).toEqual([{ field: 'writeFunctions.0', message: expect.stringMatching(/without a schema/) }])
  })

  test('deadlines of 0, negative or non-finite are refused', async () => {
    for (const bad of [0, -1, Number.POSITIVE_INFINITY, Number.NaN, '0ms']) {
      expect(
        issuesOf(() => createRoutedDatabase(servers.config(), { probeTimeoutMs: bad })),
      ).toEqual([expect.objectContaining({ field: 'probeTimeoutMs' })])
    }
    const database = testRoutedDatabase<DB>(servers.config())
    open.push(database)
    for (const bad of [-1, Number.POSITIVE_INFINITY, Number.NaN]) {
      await expect(database.close({ timeoutMs: bad })).rejects.toBeInstanceOf(ConfigError)
    }
  })

  // Each of these read with no floor at all (a session's write then looked lost): the token
  // given as the requirement itself, a misspelt key, a key of another API.
  test('withConsistency refuses anything but { atLeast, maxLagMs }: never a read without the floor', async () => {
    const database = testRoutedDatabase<DB>(servers.config())
    open.push(database)
    const token = await database.latestToken()
    const read = () => readPort(database.db)
    const refused = async (requirement: unknown) => {
      const error = await database.withConsistency(requirement as { atLeast?: string }, read).then(
        () => undefined,
        (thrown: unknown) => thrown,
      )
      expect(error).toBeInstanceOf(ConfigError)
      return (error as ConfigError).issues.map((issue) => `${issue.field}: ${issue.message}`)
    }
    expect(await refused(token)).toEqual([
      'options: withConsistency takes an object: { atLeast: token } or { maxLagMs: ms }',
    ])
    expect(await refused({ atleast: token })).toEqual(['atleast: unknown option atleast'])
    expect(await refused({ minLsn: token, maxLag: 5 })).toEqual([
      'minLsn: unknown option minLsn',
      'maxLag: unknown option maxLag',
    ])
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '2s']) {
      expect(await refused({ maxLagMs: bad })).toEqual([
        'maxLagMs: must be a number of milliseconds, 0 or more',
      ])
    }
    // What it accepts still reads at the floor.
    const port = await database.withConsistency({ atLeast: token, maxLagMs: undefined }, read)
    expect(typeof port).toBe('number')
  })

  test('durations longer than a timer can wait (2^31 - 1 ms) are refused, not turned into 1 ms', () => {
    // Node fires a longer setTimeout after 1 ms: every lag check would time out at once and
    // every replica would look down.
    for (const field of [
      'probeTimeoutMs',
      'lagCheckIntervalMs',
      'retryDelayMs',
      'maxRetryDelayMs',
    ]) {
      for (const bad of [2 ** 31, '600h']) {
        expect(issuesOf(() => createRoutedDatabase(servers.config(), { [field]: bad }))).toEqual([
          { field, message: expect.stringMatching(/at most 2147483647 ms/) },
        ])
      }
    }
    const longest = testRoutedDatabase<DB>(servers.config(), { probeTimeoutMs: 2 ** 31 - 1 })
    open.push(longest)
  })

  test('close({ timeoutMs }) longer than a timer can wait lets a running statement finish', async () => {
    // A direct client holds an advisory lock, so the routed statement runs until the test lets it.
    const holder = new pg.Client({ connectionString: servers.cluster.primary.url() })
    await holder.connect()
    const database = testRoutedDatabase<DB>(servers.config({ DB_APPLICATION_NAME: 'long-close' }))
    try {
      await holder.query('select pg_advisory_lock(4711)')
      const running = sql<{ done: number }>`select 1 as done from pg_advisory_xact_lock(4711)`
        .execute(database.db)
        .then(({ rows }) => rows)
      await waitFor(async () => (await busyBackends(servers.cluster.primary, 'long-close')) > 0, {
        what: 'the statement to wait on the primary',
      })
      const closed = database.close({ timeoutMs: Number.MAX_SAFE_INTEGER })
      await holder.query('select pg_advisory_unlock(4711)')
      expect(await running).toEqual([{ done: 1 }])
      await closed
    } finally {
      await holder.end()
      await database.close()
    }
  })
})
