import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfig } from '../src/index.js'

const SECRET = 'pa:ss/w@rd'
const url = (host = 'db', port = 5432, db = 'app') =>
  `postgres://app:${encodeURIComponent(SECRET)}@${host}:${port}/${db}`

function configError(input: Record<string, unknown>): ConfigError {
  try {
    parseConfig(input)
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error('parseConfig accepted invalid input')
}

describe('parseConfig', () => {
  it('fills documented defaults and freezes the result', () => {
    const config = parseConfig({ DATABASE_URL: url() })
    expect(config.primary).toMatchObject({
      label: 'primary',
      host: 'db',
      port: 5432,
      database: 'app',
      user: 'app',
      password: SECRET,
      poolerMode: 'none',
      slowQueryMs: 500,
      ssl: { mode: 'disable' },
      pool: { size: 10, acquireTimeoutMs: 10_000, idleTimeoutMs: 30_000, maxLifetimeMs: 1_800_000 },
      server: {
        statementTimeoutMs: 30_000,
        idleInTransactionTimeoutMs: 60_000,
        applicationName: 'sluice',
      },
    })
    expect(config.replicas).toEqual([])
    expect(Object.isFrozen(config) && Object.isFrozen(config.primary)).toBe(true)
  })

  it('reads every environment variable, with durations in ms or with units', () => {
    const config = parseConfig({
      DATABASE_URL: url(),
      DATABASE_REPLICA_URLS: `${url('r1')}, ${url('r2', 6432)}`,
      DB_POOL_SIZE: '25',
      DB_POOL_TIMEOUT: '2s',
      DB_POOL_IDLE_TIMEOUT: '1m',
      DB_POOL_MAX_LIFETIME: '1h',
      DB_STATEMENT_TIMEOUT: '1500',
      DB_IDLE_IN_TRANSACTION_TIMEOUT: '250ms',
      DB_APPLICATION_NAME: 'orders-api',
      DB_SLOW_QUERY_MS: '100',
      DB_POOLER_MODE: 'transaction',
      PATH: '/usr/bin',
    })
    expect(config.replicas.map((r) => [r.label, r.host, r.port])).toEqual([
      ['replica-1', 'r1', 5432],
      ['replica-2', 'r2', 6432],
    ])
    expect(config.replicas[1]?.pool).toEqual({
      size: 25,
      acquireTimeoutMs: 2000,
      idleTimeoutMs: 60_000,
      maxLifetimeMs: 3_600_000,
    })
    expect(config.primary.server).toEqual({
      statementTimeoutMs: 1500,
      idleInTransactionTimeoutMs: 250,
      applicationName: 'orders-api',
    })
    expect(config.primary.poolerMode).toBe('transaction')
  })

  it('accepts a camelCase object', () => {
    const config = parseConfig({
      primaryUrl: url(),
      replicaUrls: [url('r1')],
      statementTimeoutMs: '5s',
    })
    expect(config.primary.server.statementTimeoutMs).toBe(5000)
    expect(config.replicas).toHaveLength(1)
  })

  it('lists every invalid field at once, with CONFIG_INVALID', () => {
    const error = configError({
      DATABASE_URL: 'mysql://app@db/app',
      DB_POOL_SIZE: '0',
      DB_POOL_TIMEOUT: 'soon',
      DB_SSL_MODE: 'allow',
      DB_POOLER_MODE: 'pgpool',
    })
    expect(error.code).toBe('CONFIG_INVALID')
    expect(error.issues.map((issue) => issue.field).sort()).toEqual([
      'DB_POOLER_MODE',
      'DB_POOL_SIZE',
      'DB_POOL_TIMEOUT',
      'DB_SSL_MODE',
    ])
    expect(error.message).toContain('DB_POOL_SIZE: pool size must be a whole number from 1 to 1000')
    const urlError = configError({ DATABASE_URL: 'mysql://app@db/app' })
    expect(urlError.issues).toEqual([
      { field: 'DATABASE_URL', message: 'the URL must start with postgres:// or postgresql://' },
    ])
  })

  it('rejects a missing URL, unknown keys and malformed, duplicated or primary replica URLs', () => {
    expect(configError({ DB_POOL_SIZE: '5' }).issues).toEqual([
      { field: 'DATABASE_URL', message: 'a PostgreSQL URL is required' },
    ])
    expect(configError({ primaryUrl: url(), poolsize: 3 }).issues).toEqual([
      { field: 'poolsize', message: 'unknown option' },
    ])
    const error = configError({
      DATABASE_URL: url(),
      DATABASE_REPLICA_URLS: `${url('r1')},not a url,${url('r1')},${url('db')}`,
    })
    expect(error.issues).toEqual([
      { field: 'DATABASE_REPLICA_URLS[1]', message: 'the URL is not a valid URL' },
      { field: 'DATABASE_REPLICA_URLS[2]', message: 'points at the same server as replica 1' },
      { field: 'DATABASE_REPLICA_URLS[3]', message: 'points at the same server as the primary' },
    ])
  })

  it('compares host names without case, and refuses port 0', () => {
    const upper = url('r1').replace('@r1', '@R1')
    expect(
      configError({ DATABASE_URL: url(), DATABASE_REPLICA_URLS: `${url('r1')},${upper}` }).issues,
    ).toEqual([
      { field: 'DATABASE_REPLICA_URLS[1]', message: 'points at the same server as replica 1' },
    ])
    expect(configError({ DATABASE_URL: 'postgres://app@db:0/app' }).issues).toEqual([
      { field: 'DATABASE_URL', message: 'the URL has port 0 (a server listens on 1 to 65535)' },
    ])
  })

  it('never exposes the password: not in errors, JSON, inspect or enumerable keys', () => {
    const config = parseConfig({ DATABASE_URL: url(), DATABASE_REPLICA_URLS: url('r1') })
    expect(JSON.stringify(config)).not.toContain(SECRET)
    expect(inspect(config, { depth: 10 })).not.toContain(SECRET)
    expect(Object.keys(config.primary)).not.toContain('password')
    const error = configError({
      DATABASE_URL: url(),
      DATABASE_REPLICA_URLS: `${url()},x`,
      DB_POOL_SIZE: SECRET,
    })
    for (const text of [error.message, JSON.stringify(error), inspect(error)]) {
      expect(text).not.toContain(SECRET)
      expect(text).not.toContain(encodeURIComponent(SECRET))
    }
  })
})
