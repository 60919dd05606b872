import { ConfigError } from '@sluice/core'
import { CamelCasePlugin, type LogEvent } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createRoutedDatabase, type RoutedDatabase } from '../src/index.js'
import {
  type DB,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
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

  test('an unknown option is a ConfigError naming it, not silently dropped', () => {
    const issues = issuesOf(() =>
      createRoutedDatabase(servers.config(), { lagCheckInterval: 100 } as never),
    )
    expect(issues).toEqual([
      expect.objectContaining({ message: expect.stringContaining('lagCheckInterval') }),
    ])
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
})
