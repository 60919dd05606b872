import { createDatabase, parseConfig } from '@sluice/core'
import pg from 'pg'
import { Registry } from 'prom-client'
import { afterAll, describe, expect, it } from 'vitest'
import type { TestProject } from 'vitest/node'
import { attachPostgres, startPostgres, testProfile } from '../src/index.js'
import { metricValue } from '../src/observability.js'
import { withProfile } from '../src/profile.js'
import { type SluiceProvided, sluiceGlobalSetup } from '../src/vitest.js'

const stops: (() => Promise<void>)[] = []
afterAll(() => Promise.all(stops.map((stop) => stop())))

async function ask<R extends pg.QueryResultRow>(url: string, text: string): Promise<R> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text)).rows[0] as R
  } finally {
    await client.end()
  }
}

const refused = (url: string) =>
  ask(url, 'select 1').then(
    () => 'answered',
    (e) => e.code,
  )

describe('testProfile', () => {
  it('describes the production profile and refuses unknown names', () => {
    expect(testProfile('default')).toEqual({
      name: 'default',
      postgres: {},
      pgbouncer: {},
      redis: {},
    })
    const production = testProfile('production')
    expect(production.postgres).toEqual({
      pgbouncer: 'transaction',
      supervisePgBouncers: true,
      applyDelayMs: 75,
    })
    expect(production.pgbouncer).toEqual({ supervised: true })
    expect(production.redis.password).toMatch(/^[0-9a-f]{24}$/)
    expect(() => testProfile('staging')).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_PROFILE' }),
    )
  })
})

describe('startPostgres with pgbouncer and applyDelayMs', () => {
  it('puts a PgBouncer in front of every server and delays the replicas', async () => {
    const cluster = await startPostgres({ replicas: 1, pgbouncer: 'transaction', applyDelayMs: 80 })
    stops.push(() => cluster.stop())
    const [replica] = cluster.replicas
    const bouncers = cluster.pgbouncers
    expect(bouncers.map((b) => b.poolMode)).toEqual(['transaction', 'transaction'])
    const database = await cluster.createDatabase('through_bouncers')
    expect(database.env).toEqual({
      DATABASE_URL: database.url,
      DATABASE_REPLICA_URLS: database.replicaUrls[0],
      DB_POOLER_MODE: 'transaction',
    })
    const where = 'select inet_server_port() as port, pg_is_in_recovery() as standby'
    expect(new URL(database.url).port).toBe(String(bouncers[0]?.port))
    expect(await ask(database.url, where)).toEqual({ port: cluster.primary.port, standby: false })
    expect(new URL(database.replicaUrls[0] as string).port).toBe(String(bouncers[1]?.port))
    expect(await ask(database.replicaUrls[0] as string, where)).toEqual({
      port: replica?.port,
      standby: true,
    })
    expect(new URL(database.directUrl).port).toBe(String(cluster.primary.port))
    expect(
      await ask(database.directReplicaUrls[0] as string, 'show recovery_min_apply_delay'),
    ).toEqual({
      recovery_min_apply_delay: '80ms',
    })
    // A worker's attached copy hands out the same URLs.
    const attached = attachPostgres(cluster.info)
    expect(attached.clientUrls('through_bouncers')).toEqual({
      url: database.url,
      replicaUrls: database.replicaUrls,
    })
    await cluster.stop()
    expect(await refused(database.url)).toBe('ECONNREFUSED')
    expect(await refused(database.replicaUrls[0] as string)).toBe('ECONNREFUSED')
  })
})

describe('sluiceGlobalSetup in the production profile', () => {
  it('starts servers behind PgBouncer and a Redis with a password, under the same names', async () => {
    let provided: SluiceProvided | undefined
    const project = {
      config: { env: { SLUICE_TEST_PROFILE: 'production', SLUICE_PG_ENGINE: 'system' } },
      provide: (_key: string, value: SluiceProvided) => {
        provided = value
      },
    } as unknown as TestProject
    const teardown = await sluiceGlobalSetup({ postgres: { replicas: 1 }, redis: {} })(project)
    stops.push(teardown)
    expect(provided?.profile).toBe('production')
    const info = provided?.postgres
    if (!info) throw new Error('no postgres provided')
    expect(info.pgbouncer?.ports).toHaveLength(2)
    const { env } = await attachPostgres(info).createDatabase('profiled')
    expect(env.DB_POOLER_MODE).toBe('transaction')
    expect(await ask(env.DATABASE_URL as string, 'select inet_server_port() as port')).toEqual({
      port: info.primary.port,
    })
    const redisUrl = new URL(provided?.redisUrl as string)
    expect(redisUrl.password).toMatch(/^[0-9a-f]{24}$/)
    await teardown()
    expect(await refused(env.DATABASE_URL as string)).toBe('ECONNREFUSED')
  })
})

describe('withProfile', () => {
  it('adds Prometheus and OpenTelemetry instrumentation in production, keeping the own hooks', async () => {
    const cluster = await startPostgres({ pgbouncer: 'transaction' })
    stops.push(() => cluster.stop())
    const { env } = await cluster.createDatabase('instrumented')
    const before = process.env.SLUICE_TEST_PROFILE
    const registry = new Registry()
    const own: string[] = []
    const options = { instrumentation: { onQueryEnd: () => void own.push('query') } }
    try {
      process.env.SLUICE_TEST_PROFILE = 'default'
      expect(withProfile(options)).toBe(options)
      process.env.SLUICE_TEST_PROFILE = 'production'
      const database = createDatabase(parseConfig(env), withProfile(options, { registry }))
      await database.db.selectNoFrom((eb) => eb.val(1).as('one')).execute()
      await database.close()
    } finally {
      process.env.SLUICE_TEST_PROFILE = before
    }
    expect(own).toEqual(['query'])
    expect(await metricValue(registry, 'db_client_operation_duration_seconds_count')).toBe(1)
  })
})
