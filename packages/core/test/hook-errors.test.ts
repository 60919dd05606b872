import { waitFor } from '@sluice/testing'
import { recordChannel, recordHookWarnings } from '@sluice/testing/observability'
import { sql } from 'kysely'
import { afterAll, expect, test } from 'vitest'
import {
  coreChannels,
  type PoolEvent,
  type QueryEndEvent,
  type SluiceDatabase,
} from '../src/index.js'
import { freshDatabase, testDatabase } from './helpers.js'

const databases: SluiceDatabase<unknown>[] = []
afterAll(() => Promise.all(databases.map((database) => database.close())))

const serverPort = async (database: SluiceDatabase<unknown>) =>
  (await sql<{ port: number }>`select inet_server_port() as port`.execute(database.db)).rows[0]
    ?.port

test('query and pool hooks that throw or reject never fail a query, and are reported once each', async () => {
  const { config } = await freshDatabase()
  const warnings = recordHookWarnings()
  const broken = {
    onQueryStart: () => {
      throw new Error('broken start hook')
    },
    onQueryEnd: async () => {
      throw new Error('broken async end hook')
    },
    onPoolEvent: () => {
      throw new Error('broken pool hook')
    },
  }
  // Two databases given the same hooks: still one report per hook function.
  const first = testDatabase(config, { instrumentation: broken })
  const second = testDatabase(config, { instrumentation: [broken] })
  databases.push(first, second)
  for (const database of [first, second, first, second]) {
    expect(await serverPort(database)).toEqual(expect.any(Number))
  }
  await waitFor(() => warnings.items.length === 3, { what: 'one warning per broken hook' })
  // Later throws are not reported again (a fresh round of queries adds nothing).
  await serverPort(first)
  await new Promise((resolve) => setImmediate(resolve))
  warnings.stop()
  expect(warnings.items.map((message) => message.split(' ')[2]).sort()).toEqual([
    'onPoolEvent',
    'onQueryEnd',
    'onQueryStart',
  ])
  expect(warnings.items.join('\n')).toContain('broken async end hook')
})

test('every query and pool event is published on core channels, with no hook given', async () => {
  const { config } = await freshDatabase()
  const ends = recordChannel<QueryEndEvent>(coreChannels.onQueryEnd)
  const pool = recordChannel<PoolEvent>(coreChannels.onPoolEvent)
  const database = testDatabase(config)
  databases.push(database)
  const port = await serverPort(database)
  ends.stop()
  pool.stop()
  expect(port).toEqual(expect.any(Number))
  expect(ends.items).toContainEqual(
    expect.objectContaining({ target: 'primary', operation: 'SELECT', rowCount: 1 }),
  )
  expect(pool.items).toContainEqual(expect.objectContaining({ kind: 'acquire', target: 'primary' }))
})
