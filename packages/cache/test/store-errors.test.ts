import { inspect } from 'node:util'
import { ConfigError } from '@sluice/core'
import { type RedisServer, startRedis } from '@sluice/testing'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { CacheError, type CacheEvent, createCache } from '../src/index.js'
import { freshNamespace, testCache } from './helpers.js'

const PASSWORD = 'right-Pa55word'
const WRONG = 'wrong-Pa55word'
let redis: RedisServer

beforeAll(async () => {
  redis = await startRedis({ password: PASSWORD })
})
afterAll(() => redis?.stop())

const withPassword = (password: string) => redis.url.replace(PASSWORD, password)
/** Everything a logger could print of an error: message, stack, own fields, causes. */
const printed = (error: unknown) => `${inspect(error, { depth: 10 })} ${JSON.stringify(error)}`

describe('a Redis URL with a bad password', () => {
  test('ready() rejects with CACHE_STORE_AUTH_FAILED; calls still work and cache nothing; the password is never printed', async () => {
    const cache = testCache({ redis: withPassword(WRONG), storeTimeoutMs: 2000 })
    const error = await cache.ready().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CacheError)
    expect(error).toMatchObject({ code: 'CACHE_STORE_AUTH_FAILED' })
    expect((error as Error).message).toMatch(/refused the credentials/)

    let loads = 0
    const load = async () => ++loads
    expect(await cache.getOrLoad('k', load)).toBe(1)
    expect(await cache.getOrLoad('k', load)).toBe(2) // not cached: the store said no
    const errors = cache.events.filter(
      (event): event is Extract<CacheEvent, { kind: 'error' }> => event.kind === 'error',
    )
    expect(errors.length).toBeGreaterThan(0)
    for (const event of [error, ...errors.map((e) => e.error)]) {
      expect(event).toBeInstanceOf(CacheError)
      expect(printed(event)).not.toContain(WRONG)
    }
  })

  test('the right password: ready() resolves and values are cached', async () => {
    const cache = testCache({ redis: withPassword(PASSWORD) })
    await cache.ready()
    let loads = 0
    await cache.getOrLoad('k', async () => ++loads)
    expect(await cache.getOrLoad('k', async () => ++loads)).toBe(1)
  })

  test('an unreachable Redis: ready() rejects with CACHE_STORE_UNAVAILABLE after its timeout', async () => {
    const cache = testCache({ redis: 'redis://127.0.0.1:1' })
    await expect(cache.ready({ timeoutMs: 1000 })).rejects.toMatchObject({
      code: 'CACHE_STORE_UNAVAILABLE',
    })
    expect(await cache.getOrLoad('k', async () => 'loaded')).toBe('loaded')
  })

  test('a URL that is not redis:// is a ConfigError that does not echo it', () => {
    const create = () =>
      createCache({ redis: `http://user:${WRONG}@example.com`, namespace: freshNamespace() })
    expect(create).toThrow(ConfigError)
    const error = (() => {
      try {
        create()
      } catch (e) {
        return e
      }
    })()
    expect(printed(error)).toContain('redis: must be a redis:// or rediss:// URL')
    expect(printed(error)).not.toContain(WRONG)
  })
})
