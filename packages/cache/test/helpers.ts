import {
  createDatabase,
  type DatabaseOptions,
  parseConfig,
  type SluiceDatabase,
} from '@sluice/core'
import { databaseName } from '@sluice/testing'
import { type ProfileInstrumentationOptions, withProfile } from '@sluice/testing/profile'
import { sharedPostgres, sharedRedisUrl } from '@sluice/testing/vitest'
import { Redis } from 'ioredis'
import { afterAll } from 'vitest'
import { type Cache, type CacheEvent, type CacheOptions, createCache } from '../src/index.js'

let counter = 0
const clients: Redis[] = []
const caches: Cache[] = []

afterAll(async () => {
  await Promise.all(caches.map((cache) => cache.close()))
  for (const client of clients) client.disconnect()
})

/** A namespace no other test uses. */
export function freshNamespace(): string {
  return `t${process.pid}-${++counter}`
}

/** A Redis client on the shared test Redis, closed after the file. */
export function redisClient(url = sharedRedisUrl()): Redis {
  const client = new Redis(url)
  client.on('error', () => {}) // tests that kill Redis expect errors; the cache reports its own
  clients.push(client)
  return client
}

/** A cache of {@link testCache}: it records its events. */
export type TestCache = Cache & { events: CacheEvent[] }

/** A cache (on the shared Redis unless told otherwise) that records its events; closed after the file. */
export function testCache(
  options: Partial<CacheOptions> = {},
  profile: ProfileInstrumentationOptions = {},
): TestCache {
  const events: CacheEvent[] = []
  const cache = createCache(
    withProfile(
      {
        redis: redisClient(),
        namespace: freshNamespace(),
        database: 'test',
        instrumentation: { onCache: (event: CacheEvent) => events.push(event) },
        ...options,
      },
      profile,
    ),
  )
  caches.push(cache)
  return Object.assign(cache, { events })
}

/**
 * A new database on the shared PostgreSQL (through PgBouncer in the production profile), and
 * a way to open it with the profile's instrumentation (config `overrides` on top of its env).
 */
export async function freshDatabase(prefix: string): Promise<{
  open<DB>(overrides?: Record<string, string>, options?: DatabaseOptions): SluiceDatabase<DB>
  /** The primary itself, for what must not go through a pooler (e.g. before its first use). */
  readonly directUrl: string
}> {
  const { env, directUrl } = await sharedPostgres().createDatabase(databaseName(prefix))
  return {
    directUrl,
    open: (overrides = {}, options = {}) =>
      createDatabase(parseConfig({ ...env, ...overrides }), withProfile(options)),
  }
}

/** A promise with its resolve function, to hold a loader at a point of the test's choosing. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {}
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}
