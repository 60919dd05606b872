import { inspect } from 'node:util'
import { ConfigError } from '@sluice/core'
import { type RedisServer, startRedis } from '@sluice/testing'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { CacheError, createCache } from '../src/index.js'
import { freshDatabase, freshNamespace, testCache } from './helpers.js'

/** Everything a logger could print of an error: message, stack, own fields, causes. */
const printed = (error: unknown) => `${inspect(error, { depth: 10 })} ${JSON.stringify(error)}`
const thrown = (run: () => unknown) => {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('did not throw')
}
/** One line of well-formed text: what a log line can hold without being split or mangled. */
const oneCleanLine = (text: string) => !/[\p{Cc}\p{Cs}]/u.test(text)

// Reserved characters in a password, unencoded: the host ends at the first `@`, and the rest
// of the password and the real host are read as a path and a fragment.
const PASSWORD = 'Hunter@Twox9/Secretq#Tailz'
let redis: RedisServer

beforeAll(async () => {
  redis = await startRedis({ password: PASSWORD })
})
afterAll(() => redis?.stop())

describe('a Redis URL whose password is not percent-encoded', () => {
  test.each([
    ['@ / # in the password', (port: string) => `redis://:${PASSWORD}@127.0.0.1:${port}`],
    ['a stray %', (port: string) => `redis://user:pa%zz@127.0.0.1:${port}`],
    ['a path that is not a database number', (port: string) => `redis://127.0.0.1:${port}/Hunter`],
  ])('%s: a ConfigError naming redis that quotes no part of the URL', (_name, url) => {
    // Before: accepted, and the password's second part became the host, named by every error
    // event, health() and ready() ('redis twox9:6379', 'getaddrinfo ENOTFOUND twox9'); a
    // stray % threw a bare URIError out of ioredis.
    const error = thrown(() =>
      createCache({ redis: url(new URL(redis.url).port), namespace: freshNamespace() }),
    )
    expect(error).toBeInstanceOf(ConfigError)
    expect(printed(error)).toContain('redis: must be redis://[user:password@]host')
    for (const part of ['hunter', 'twox9', 'secretq', 'tailz', 'pa%zz']) {
      expect(printed(error).toLowerCase()).not.toContain(part)
    }
  })

  test('the same password percent-encoded connects and caches', async () => {
    const cache = testCache({ redis: redis.url })
    expect(redis.url).toContain(encodeURIComponent(PASSWORD))
    await cache.ready()
    let loads = 0
    await cache.getOrLoad('k', async () => ++loads)
    expect(await cache.getOrLoad('k', async () => ++loads)).toBe(1)
  })
})

describe('messages never carry what a caller passed raw', () => {
  test('a refused key is not quoted: no part of a token, no newline for a forged log line', async () => {
    const cache = testCache()
    const key = `session:tok-3f9a2c\n[INFO] forged line ${'x'.repeat(2000)}`
    const error = await cache.get(key).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'CACHE_KEY_INVALID' })
    // Before: 'got one starting "session:tok-3f9a2c\n[INFO] forged ..."'.
    expect(printed(error)).not.toContain('tok-3f9a2c')
    expect((error as Error).message).toBe('A cache key must be at most 1024 bytes (got 2038)')
  })

  test("a load timeout's message quotes its key escaped and never cuts a character in half", async () => {
    const cache = testCache()
    // A newline, then an emoji across the 64th UTF-16 unit (the old cut: half a surrogate pair).
    const key = `feed:\n${'a'.repeat(57)}😀tail`
    const error = await cache
      .getOrLoad(key, () => new Promise<never>(() => {}), { loadTimeoutMs: 100 })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'CACHE_LOAD_TIMEOUT' })
    const { message } = error as CacheError
    expect(oneCleanLine(message)).toBe(true)
    expect(message).toContain(`"feed:\\n${'a'.repeat(57)}😀`)
  })

  test('an unknown option name is quoted escaped, and its context field is cut whole', async () => {
    const cache = testCache()
    const name = `${'o'.repeat(63)}😀\n`
    const error = await cache
      .getOrLoad('k', async () => 1, { [name]: 1 } as never)
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'CACHE_OPTION_INVALID' })
    expect(oneCleanLine((error as CacheError).message)).toBe(true)
    const field = (error as CacheError).context.field as string
    expect(oneCleanLine(field.replace('\n', ''))).toBe(true)
    expect(field).toBe(`${'o'.repeat(63)}😀...`)
  })
})

test("an unserializable value's path names a huge property in at most 256 characters", async () => {
  const cache = testCache()
  const name = `field-${'x'.repeat(1024 * 1024)}`
  const error = await cache.set('k', { [name]: () => 1 }).catch((e: unknown) => e)
  expect(error).toMatchObject({ code: 'CACHE_VALUE_UNSERIALIZABLE' })
  // Before: the whole 1 MiB name, in every log line of the error.
  expect((error as Error).message.length).toBeLessThan(512)
  expect((error as Error).message).toContain('(at .v["field-xxx')
})

describe('cache.query: the database name in its keys', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>
  beforeAll(async () => {
    database = await freshDatabase('query_names')
  })

  test('a name with a character across its 64th UTF-16 unit runs and caches (it was CACHE_KEY_INVALID)', async () => {
    const db = database.open<Record<string, never>>()
    try {
      const cache = testCache()
      const name = `${'t'.repeat(63)}😀`
      const query = db.db.selectNoFrom((eb) => eb.val(1).as('one'))
      expect(await cache.query(query, { database: name })).toEqual([{ one: '1' }])
      expect(await cache.query(query, { database: name })).toEqual([{ one: '1' }])
      // The second call is a hit: the entry was stored under a valid key.
      expect(cache.events.filter((event) => event.kind === 'hit')).toHaveLength(1)
    } finally {
      await db.close()
    }
  })

  test('a connection URL as the database name is refused (it would be in every key and event)', async () => {
    const db = database.open<Record<string, never>>()
    try {
      const cache = testCache({ database: undefined })
      const url = 'postgres://app:Tenant-Pa55@db.internal/tenant'
      const query = db.db.selectNoFrom((eb) => eb.val(1).as('one'))
      const error = await cache.query(query, { database: url }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(CacheError)
      expect(error).toMatchObject({
        code: 'CACHE_OPTION_INVALID',
        context: { field: 'database' },
      })
      expect(printed(error)).not.toContain('Tenant-Pa55')
      const config = thrown(() =>
        createCache({ redis: false, namespace: freshNamespace(), database: url }),
      )
      expect(config).toBeInstanceOf(ConfigError)
      expect(printed(config)).toContain('database: must be a database name, not a URL')
      expect(printed(config)).not.toContain('Tenant-Pa55')
      for (const bad of ['a\uD800', 'x'.repeat(257), '']) {
        await expect(cache.query(query, { database: bad })).rejects.toMatchObject({
          code: 'CACHE_OPTION_INVALID',
          context: { field: 'database' },
        })
      }
    } finally {
      await db.close()
    }
  })
})
