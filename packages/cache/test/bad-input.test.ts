import { ConfigError, type SluiceDatabase } from '@sluice/core'
import { createRoutedDatabase } from '@sluice/router'
import { type RedisServer, startRedis } from '@sluice/testing'
import { Cluster } from 'ioredis'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { CacheError, type CacheOptions, createCache } from '../src/index.js'
import { freshDatabase, freshNamespace, redisClient, testCache } from './helpers.js'

let cluster: RedisServer
let clusterClient: Cluster
beforeAll(async () => {
  cluster = await startRedis({ cluster: { masters: 3 } })
  clusterClient = new Cluster(cluster.startupNodes)
})
afterAll(async () => {
  clusterClient?.disconnect()
  await cluster?.stop()
})

// Every C0 control character and DEL in one key, and one of each on its own.
const CONTROLS = String.fromCharCode(...Array.from({ length: 32 }, (_, code) => code), 0x7f)
const NASTY_KEYS = [
  '}',
  '}user:1',
  '{',
  '{}',
  '}{',
  '{{}}',
  'a}b{c}',
  '\u0000\r\n\t',
  CONTROLS,
  ...[...CONTROLS].map((control) => `c${control}`),
  'é漢🙂',
  ' ',
]

// What keys and values become, not how fast: a generous storeTimeoutMs, so that a loaded
// machine's slow Redis answers are not store errors (a miss, a reload) that fail the checks.
describe.each([
  ['redis', () => ({ storeTimeoutMs: '10s' })],
  ['redis cluster, 3 masters', () => ({ redis: clusterClient, storeTimeoutMs: '10s' })],
] as const)('keys and tags of any characters (%s)', (_name, mode) => {
  test('load, hit, invalidate and tag every nasty key; no store error, the breaker stays closed', async () => {
    const cache = testCache({ ...mode(), l1: false })
    for (const key of NASTY_KEYS) {
      const options = { tags: [key, `${key}-tag`] }
      expect(await cache.getOrLoad(key, async () => `v1 ${key}`, options)).toBe(`v1 ${key}`)
      expect(await cache.getOrLoad(key, async () => 'reloaded', options)).toBe(`v1 ${key}`)
      await cache.invalidateTags([`${key}-tag`])
      expect(await cache.getOrLoad(key, async () => `v2 ${key}`, options)).toBe(`v2 ${key}`)
      await cache.delete(key)
      expect(await cache.get(key)).toBeUndefined()
    }
    expect(cache.events.filter((event) => event.kind === 'error')).toEqual([])
    expect(cache.storeState).toBe('closed')
  })
})

describe('payloads this version cannot read are misses, never errors', () => {
  test.each([
    ['JSON of an older version', '{"v":"old","n":false,"t":{},"f":99999999999999}'],
    ['a devalue payload of another shape', '[{"x":1},2]'],
    ['not even JSON', '\u0000garbage'],
    ['an entry with bad tags', '[{"s":1,"v":2,"t":3,"f":4},2,1,"x",5]'],
  ])('%s', async (_name, payload) => {
    const namespace = freshNamespace()
    const cache = testCache({ namespace, l1: false })
    await redisClient().set(`${namespace}:{kprofile}:v`, payload, 'PX', 60_000)
    expect(await cache.get('profile')).toBeUndefined()
    expect(await cache.getOrLoad('profile', async () => 'loaded')).toBe('loaded')
    expect(await cache.getOrLoad('profile', async () => 'again')).toBe('loaded') // replaced
    expect(cache.events).toContainEqual(
      expect.objectContaining({
        kind: 'error',
        source: 'payload',
        error: expect.objectContaining({ code: 'CACHE_PAYLOAD_UNREADABLE' }),
      }),
    )
  })
})

describe('options: a typed error naming the field, never a silent downgrade', () => {
  const base = { redis: false, namespace: 'opts' } as const
  const fieldOf = (create: () => unknown) => {
    try {
      create()
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      return (error as ConfigError).issues.map((issue) => issue.field)
    }
    throw new Error('no error')
  }

  test.each<[string, Partial<CacheOptions>, string]>([
    ['fractional lockTimeoutMs', { lockTimeoutMs: 1.5 }, 'lockTimeoutMs'],
    ['NaN defaultTtlMs', { defaultTtlMs: Number.NaN }, 'defaultTtlMs'],
    ['negative storeTimeoutMs', { storeTimeoutMs: -1 }, 'storeTimeoutMs'],
    ['Infinity breakerOpenMs', { breakerOpenMs: Number.POSITIVE_INFINITY }, 'breakerOpenMs'],
    ['a huge loadTimeoutMs (beyond a timer)', { loadTimeoutMs: 2 ** 40 }, 'loadTimeoutMs'],
    ['fractional maxEntryBytes', { maxEntryBytes: 10.5 }, 'maxEntryBytes'],
    ['a bad duration string', { defaultTtlMs: '5 minutes' }, 'defaultTtlMs'],
    ['fractional l1.maxAgeMs', { l1: { maxAgeMs: 0.5 } }, 'l1.maxAgeMs'],
    ['fractional breakerThreshold', { breakerThreshold: 2.5 }, 'breakerThreshold'],
    ['a consistency that is not a router', { consistency: {} as never }, 'consistency'],
    ['a misspelt option (ttl)', { ttl: '1m' } as never, 'ttl'],
    ['a misspelt l1 option', { l1: { maxItems: 5 } } as never, 'l1.maxItems'],
    ['instrumentation that is not hooks', { instrumentation: 5 as never }, 'instrumentation'],
    ['NaN jitter', { jitter: Number.NaN }, 'jitter'],
    ['negative jitter', { jitter: -0.1 }, 'jitter'],
    ['fractional l1.maxEntries', { l1: { maxEntries: 1.5 } }, 'l1.maxEntries'],
    ['a huge l1.maxEntries', { l1: { maxEntries: 2 ** 53 } }, 'l1.maxEntries'],
    ['NaN l1.maxBytes', { l1: { maxBytes: Number.NaN } }, 'l1.maxBytes'],
    ['a huge breakerThreshold', { breakerThreshold: 2 ** 60 }, 'breakerThreshold'],
    ['fractional busLeaseMs', { busLeaseMs: 0.5 }, 'busLeaseMs'],
    ['a huge busLeaseMs (beyond a timer)', { busLeaseMs: 2 ** 40 }, 'busLeaseMs'],
    ['NaN closeTimeoutMs', { closeTimeoutMs: Number.NaN }, 'closeTimeoutMs'],
    ['a namespace with a brace', { namespace: 'a{b' }, 'namespace'],
  ])('createCache: %s', (_name, options, field) => {
    expect(fieldOf(() => createCache({ ...base, ...options }))).toContain(field)
  })

  test('durations take the same forms in createCache and in each call', async () => {
    const cache = testCache({ redis: false, defaultTtlMs: '1m', lockTimeoutMs: '2s' })
    expect(await cache.getOrLoad('k', async () => 1, { ttlMs: '30s', graceMs: '1s' })).toBe(1)
    await cache.set('s', 2, { ttlMs: 250 })
    expect(await cache.get('s')).toBe(2)
  })

  test.each<[string, unknown]>([
    ['an unknown unit', '2d'],
    ['zero with a unit', '0s'],
    ['a fractional number', 2.5],
    ['a negative number', -1],
  ])('createCache and createRoutedDatabase refuse the same durations: %s', (_name, value) => {
    expect(fieldOf(() => createCache({ ...base, loadTimeoutMs: value as number }))).toEqual([
      'loadTimeoutMs',
    ])
    // Refused before any connection: the config is never used.
    const config = { primary: {}, replicas: [] } as unknown as Parameters<
      typeof createRoutedDatabase
    >[0]
    expect(
      fieldOf(() => createRoutedDatabase(config, { probeTimeoutMs: value as number })),
    ).toEqual(['probeTimeoutMs'])
  })

  test('ready() takes a duration; a bad one is CACHE_OPTION_INVALID naming timeoutMs', async () => {
    const cache = testCache()
    await cache.ready({ timeoutMs: '10s' })
    for (const timeoutMs of ['soon', 0, Number.NaN]) {
      await expect(cache.ready({ timeoutMs })).rejects.toMatchObject({
        code: 'CACHE_OPTION_INVALID',
        context: { field: 'timeoutMs' },
      })
    }
  })

  test.each([
    ['graceMs', { graceMs: 0.5 }],
    ['ttlMs', { ttlMs: Number.NaN }],
    ['ttlMs', { ttlMs: 0 }],
    ['negativeTtlMs', { negativeTtlMs: -5 }],
    ['lockTimeoutMs', { lockTimeoutMs: 10.25 }],
    ['loadTimeoutMs', { loadTimeoutMs: 'soon' }],
    ['tags', { tags: 'not-an-array' }],
    ['ttl', { ttl: '1h' }], // misspelt: it would have been the default TTL
    ['jitter', { jitter: 0 }], // a cache option, not a call's
  ])(
    'getOrLoad: a bad %s is CACHE_OPTION_INVALID naming it; nothing is stored',
    async (field, options) => {
      const cache = testCache({ l1: false })
      await expect(cache.getOrLoad('k', async () => 1, options as never)).rejects.toMatchObject({
        code: 'CACHE_OPTION_INVALID',
        context: { field },
      })
      expect(await cache.get('k')).toBeUndefined()
    },
  )

  test('set: a bad ttlMs is CACHE_OPTION_INVALID', async () => {
    const cache = testCache({ l1: false })
    await expect(cache.set('k', 1, { ttlMs: 1.5 })).rejects.toMatchObject({
      code: 'CACHE_OPTION_INVALID',
      context: { field: 'ttlMs' },
    })
  })

  test('an option a call does not take is CACHE_OPTION_INVALID naming it; nothing is stored', async () => {
    const namespace = freshNamespace()
    const cache = testCache({ namespace, l1: false })
    const refused = (field: string) => ({ code: 'CACHE_OPTION_INVALID', context: { field } })
    await expect(cache.set('k', 1, { graceMs: 5 } as never)).rejects.toMatchObject(
      refused('graceMs'),
    )
    await expect(cache.warm([{ key: 'k', value: 1, ttl: 5 }] as never)).rejects.toMatchObject(
      refused('entries[].ttl'),
    )
    await expect(cache.ready({ timeout: '1s' } as never)).rejects.toMatchObject(refused('timeout'))
    const query = { compile: () => ({ sql: 'select 1', parameters: [] }), execute: async () => [] }
    await expect(cache.query(query as never, { ttl: '1m' } as never)).rejects.toMatchObject(
      refused('ttl'),
    )
    expect(await redisClient().keys(`${namespace}:*`)).not.toContainEqual(
      expect.stringContaining('{kk}:v'),
    )
  })
})

describe('the mode is explicit: redis is required unless store is given', () => {
  test.each([
    ['missing', {}],
    ['undefined (REDIS_URL unset)', { redis: process.env.SLUICE_UNSET_REDIS_URL }],
    ['empty', { redis: '' }],
  ])('redis %s is a ConfigError naming redis', (_name, options) => {
    const create = () => createCache({ namespace: 'mode', ...options })
    expect(create).toThrow(ConfigError)
    expect(create).toThrow(/redis: is required/)
  })

  test('redis: false is an in-process cache; health() says so', async () => {
    const cache = testCache({ redis: false })
    expect(await cache.getOrLoad('k', async () => 1)).toBe(1)
    expect(await cache.health()).toMatchObject({ mode: 'memory', reachable: true, bus: undefined })
  })
})

describe('values of every type: exact round trip from L1 and from Redis, or refused before storing', () => {
  test('Map, Set, NaN, ±Infinity, -0, invalid Date, typed arrays, undefined fields, bigint, Buffer', async () => {
    const namespace = freshNamespace()
    const withL1 = testCache({ namespace })
    const sharedOnly = testCache({ namespace, l1: false })
    const value = {
      map: new Map([['a', new Set([1n, 2n])]]),
      numbers: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0],
      invalid: new Date(Number.NaN),
      floats: new Float32Array([0.5]),
      buffer: Buffer.from('bytes'),
      missing: undefined,
    }
    await withL1.set('typed', value)
    const fromL1 = await withL1.get<typeof value>('typed')
    const fromL2 = await sharedOnly.get<typeof value>('typed')
    expect(withL1.events.filter((e) => e.kind === 'hit')).toEqual([]) // get() emits no hit
    expect(fromL1).toEqual(value)
    expect(fromL2).toEqual(value)
    expect(fromL2).toEqual(fromL1)
    expect(Object.is(fromL2?.numbers[3], -0)).toBe(true)
    expect(fromL2?.map.get('a')).toBeInstanceOf(Set)
    expect(Buffer.isBuffer(fromL2?.buffer)).toBe(true)
  })

  test('a class instance or a function inside the value: CACHE_VALUE_UNSERIALIZABLE, nothing stored', async () => {
    const namespace = freshNamespace()
    const cache = testCache({ namespace })
    class Session {
      user = 1
    }
    for (const bad of [{ at: new Session() }, { run: () => 1 }, Symbol('s')]) {
      await expect(cache.set('bad', bad)).rejects.toMatchObject({
        code: 'CACHE_VALUE_UNSERIALIZABLE',
      })
      await expect(cache.getOrLoad('bad-load', async () => bad)).rejects.toBeInstanceOf(CacheError)
    }
    expect(await redisClient().keys(`${namespace}:{kbad*:v`)).toEqual([])
  })
})

describe('cache.query keys: the database and typed parameters', () => {
  interface DB {
    items: { id: string; label: string }
  }
  let tenantA: SluiceDatabase<DB>
  let tenantB: SluiceDatabase<DB>
  beforeAll(async () => {
    const make = async (name: string, label: string) => {
      const database = (await freshDatabase(name)).open<DB>()
      await sql`create table items (id text primary key, label text not null)`.execute(database.db)
      await database.db
        .insertInto('items')
        .values([
          { id: '5', label: `${label} five` },
          { id: '5n', label: `${label} 5n` },
        ])
        .execute()
      return database
    }
    ;[tenantA, tenantB] = await Promise.all([make('tenant_a', 'A'), make('tenant_b', 'B')])
  })
  afterAll(async () => {
    await Promise.all([tenantA?.close(), tenantB?.close()])
  })

  test('one SQL on two databases: each gets its own rows', async () => {
    const cache = testCache()
    const byId = (db: SluiceDatabase<DB>['db']) =>
      db.selectFrom('items').select('label').where('id', '=', '5')
    expect(await cache.query(byId(tenantA.db), { database: 'tenant_a' })).toEqual([
      { label: 'A five' },
    ])
    expect(await cache.query(byId(tenantB.db), { database: 'tenant_b' })).toEqual([
      { label: 'B five' },
    ])
  })

  test('without a database name, cache.query refuses (the key could leak between databases)', async () => {
    const cache = createCache({ redis: false, namespace: freshNamespace() })
    await expect(cache.query(tenantA.db.selectFrom('items').selectAll())).rejects.toMatchObject({
      code: 'CACHE_OPTION_INVALID',
      context: { field: 'database' },
    })
    await cache.close()
  })

  test('bigint 5n and string "5n" are different parameters', async () => {
    const cache = testCache()
    const query = (id: unknown) =>
      tenantA.db.selectFrom('items').select('label').where(sql<boolean>`id = ${id}::text`)
    expect(await cache.query(query('5n'))).toEqual([{ label: 'A 5n' }])
    expect(await cache.query(query(5n))).toEqual([{ label: 'A five' }])
  })
})

/** A Map that holds itself. */
function cyclicMap(): Map<string, unknown> {
  const map = new Map<string, unknown>()
  map.set('self', map)
  return map
}

// What keys and values become, not how fast: a generous storeTimeoutMs, so that a loaded
// machine's slow Redis answers are not store errors (a miss, a reload) that fail the checks.
describe.each([
  ['redis', () => ({ storeTimeoutMs: '10s' })],
  ['redis cluster, 3 masters', () => ({ redis: clusterClient, storeTimeoutMs: '10s' })],
] as const)('every key, tag and value a caller can pass (%s)', (_name, mode) => {
  const huge = 'k'.repeat(1 << 20) // 1 MiB
  // 341 three-byte characters are 1023 UTF-8 bytes; 342 are 1026, over the 1 KiB limit.
  const longest = '漢'.repeat(341)
  const tooLong = '漢'.repeat(342)

  test('1 MiB and over-1-KiB keys and tags, and non-strings: CACHE_KEY_INVALID, nothing stored', async () => {
    const namespace = freshNamespace()
    const cache = testCache({ ...mode(), namespace })
    const invalid = { code: 'CACHE_KEY_INVALID' }
    for (const key of [huge, tooLong, '', 42, undefined, null, ['a']] as never[]) {
      await expect(cache.getOrLoad(key, async () => 1)).rejects.toMatchObject(invalid)
      await expect(cache.set(key, 1)).rejects.toMatchObject(invalid)
      await expect(cache.get(key)).rejects.toMatchObject(invalid)
      await expect(cache.delete([key])).rejects.toMatchObject(invalid)
      await expect(cache.getOrLoad('k', async () => 1, { tags: [key] })).rejects.toMatchObject(
        invalid,
      )
      await expect(cache.invalidateTags([key])).rejects.toMatchObject(invalid)
    }
    expect(await cache.getOrLoad(longest, async () => 'fits', { tags: [longest] })).toBe('fits')
    // What Redis holds: the entry of the longest key only (and its generation and tag).
    const server = _name === 'redis' ? redisClient() : clusterClient
    expect(await server.exists(`${namespace}:{k${longest}}:v`)).toBe(1)
    expect(cache.events.filter((event) => event.kind === 'error')).toEqual([])
  })

  test('values of every JavaScript type: the same from L1 and from Redis, or CACHE_VALUE_UNSERIALIZABLE', async () => {
    const namespace = freshNamespace()
    const withL1 = testCache({ ...mode(), namespace })
    const sharedOnly = testCache({ ...mode(), namespace, l1: false })
    const circular: { self?: unknown; n: number } = { n: 1 }
    circular.self = circular
    // biome-ignore lint/suspicious/noSparseArray: a sparse array is a value too
    const sparse = [1, , 3]
    const values: unknown[] = [
      'text',
      '',
      0,
      -0,
      1.5,
      Number.NaN,
      Number.MAX_SAFE_INTEGER,
      true,
      false,
      null,
      10n ** 30n,
      [],
      {},
      Object.create(null),
      new Date(0),
      /a.b/gi,
      new URL('https://example.com/a?b=1'),
      sparse,
      circular,
      new Uint8Array([1, 2]),
      new ArrayBuffer(4),
      undefined,
      new Map([[1, 'one']]),
      new Set(['a']),
      new Date(Number.NaN),
      cyclicMap(),
      Buffer.alloc(0),
      new BigInt64Array([-(2n ** 63n)]),
      new DataView(new ArrayBuffer(2)),
      Object.freeze({ frozen: true }),
      CONTROLS,
      'x'.repeat(1 << 19), // 512 KiB: under maxEntryBytes
    ]
    for (const [index, value] of values.entries()) {
      await withL1.set(`value:${index}`, value)
      const [fromL1, fromL2] = [
        await withL1.get(`value:${index}`),
        await sharedOnly.get(`value:${index}`),
      ]
      expect(fromL1).toEqual(value)
      expect(fromL2).toEqual(value)
      // The same kind of thing from both tiers (toEqual alone takes a Uint8Array for a Buffer).
      expect(Object.prototype.toString.call(fromL2)).toBe(Object.prototype.toString.call(value))
      expect(Buffer.isBuffer(fromL2)).toBe(Buffer.isBuffer(value))
    }
    // undefined is a value like any other: set() caches it (a "not found", as a loader's
    // undefined under negativeTtlMs), so the next getOrLoad does not load.
    expect(
      await sharedOnly.getOrLoad(`value:${values.indexOf(undefined)}`, async () => 'loaded'),
    ).toBeUndefined()
    // Refused: what has no serialized form, and what would read back as something else (L1
    // keeps the object itself, so the two tiers would disagree).
    const cyclicWithFunction: { self?: unknown; run: () => number } = { run: () => 1 }
    cyclicWithFunction.self = cyclicWithFunction
    const named = Object.assign([1, 2], { total: 3 })
    const refused: [string, unknown][] = [
      ['a symbol', Symbol('s')],
      ['a function', () => 1],
      ['a WeakMap', new WeakMap()],
      ['a promise', Promise.resolve(1)],
      ['a class instance', new (class A {})()],
      ['a function in a Map', new Map([['f', () => 1]])],
      ['a cyclic object holding a function', cyclicWithFunction],
      ['an object with a symbol key', { [Symbol('s')]: 1 }],
      ['an Error', new Error('e')],
      ['a Map subclass', new (class Registry extends Map {})()],
      ['a Date subclass', new (class Day extends Date {})()],
      ['an array with a named property', named],
      [
        'an accessor property',
        {
          get now() {
            return Date.now()
          },
        },
      ],
      ['a non-enumerable property', Object.defineProperty({ a: 1 }, 'hidden', { value: 2 })],
      [
        'an arguments object',
        (function (..._: number[]) {
          // biome-ignore lint/complexity/noArguments: the arguments object is the value under test
          return arguments
        })(1, 2),
      ],
    ]
    for (const [what, bad] of refused) {
      await expect(withL1.set('bad', bad), what).rejects.toMatchObject({
        code: 'CACHE_VALUE_UNSERIALIZABLE',
      })
      // A loader's promise of a promise is the promise's value, as with any async function.
      if (bad instanceof Promise) continue
      await expect(
        withL1.getOrLoad('bad-load', async () => bad),
        what,
      ).rejects.toMatchObject({
        code: 'CACHE_VALUE_UNSERIALIZABLE',
      })
    }
    expect(await sharedOnly.get('bad')).toBeUndefined()
    expect(await sharedOnly.get('bad-load')).toBeUndefined()
    expect(withL1.storeState).toBe('closed')
  })

  test('options beyond a timer or a TTL, NaN and negative, per call: CACHE_OPTION_INVALID naming the field', async () => {
    const cache = testCache({ ...mode(), l1: false })
    for (const [field, options] of [
      ['ttlMs', { ttlMs: 2 ** 60 }],
      ['graceMs', { graceMs: -1 }],
      ['lockTimeoutMs', { lockTimeoutMs: Number.NaN }],
      ['loadTimeoutMs', { loadTimeoutMs: 2 ** 40 }],
      ['negativeTtlMs', { negativeTtlMs: Number.POSITIVE_INFINITY }],
      ['ttlMs', { ttlMs: -1 }],
      ['graceMs', { graceMs: 2 ** 60 }],
      ['lockTimeoutMs', { lockTimeoutMs: 0.5 }],
      ['loadTimeoutMs', { loadTimeoutMs: Number.NaN }],
      ['negativeTtlMs', { negativeTtlMs: 2.5 }],
    ] as const) {
      await expect(cache.getOrLoad('k', async () => 1, options as never)).rejects.toMatchObject({
        code: 'CACHE_OPTION_INVALID',
        context: { field },
      })
    }
    expect(await cache.get('k')).toBeUndefined()
  })
})
