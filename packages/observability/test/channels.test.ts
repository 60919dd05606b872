import { coreChannels, parseConfig, type SluiceDatabase } from '@sluice/core'
import { metricValue } from '@sluice/testing/observability'
import { sql } from 'kysely'
import { Registry } from 'prom-client'
import { afterAll, expect, test } from 'vitest'
import { subscribeChannels } from '../src/index.js'
import { prometheusInstrumentation } from '../src/prometheus/index.js'
import { freshDatabase, testDatabase } from './helpers.js'

let database: SluiceDatabase<unknown> | undefined
afterAll(() => database?.close())

test('an adapter subscribed to the channels sees every database without an instrumentation option', async () => {
  const { env } = await freshDatabase()
  database = testDatabase(parseConfig({ ...env }))
  const registry = new Registry()
  const selects = () =>
    metricValue(registry, 'db_client_operation_duration_seconds_count', {
      db_operation_name: 'SELECT',
      sluice_target: 'primary',
    })
  const unsubscribe = subscribeChannels(prometheusInstrumentation({ registry }), coreChannels)
  const { rows } = await sql<{ port: number }>`select inet_server_port() as port`.execute(
    database.db,
  )
  expect(rows[0]?.port).toEqual(expect.any(Number))
  expect(await selects()).toBe(1)
  unsubscribe()
  await sql`select 1`.execute(database.db)
  expect(await selects()).toBe(1)
})
