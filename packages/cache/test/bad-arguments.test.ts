import { describe, expect, test } from 'vitest'
import { CacheError } from '../src/index.js'
import { freshNamespace, redisClient, testCache } from './helpers.js'

/** The rejection of `call`, which must be a CacheError with `code` (and `context.field`, when given). */
async function refused(call: () => unknown, code: string, field?: string) {
  const error = await (async () => call())().then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(CacheError)
  expect(error).toMatchObject(field === undefined ? { code } : { code, context: { field } })
}

describe('arguments of the wrong shape: a typed CacheError, never a TypeError', () => {
  test('delete of something that is neither a key nor an array of keys', async () => {
    const cache = testCache()
    for (const keys of [123, null, new Set(['a']), { key: 'a' }]) {
      await refused(() => cache.delete(keys as never), 'CACHE_KEY_INVALID')
    }
    await cache.delete(['a', 'b']) // both forms still work
    await cache.delete('a')
  })

  test('options that are not an object: getOrLoad, set, query', async () => {
    const cache = testCache()
    const query = { compile: () => ({ sql: 'select 1', parameters: [] }), execute: async () => [] }
    for (const options of [null, 'ttl', 5, ['30s']]) {
      await refused(
        () => cache.getOrLoad('k', async () => 1, options as never),
        'CACHE_OPTION_INVALID',
        'options',
      )
      await refused(() => cache.set('k', 1, options as never), 'CACHE_OPTION_INVALID', 'options')
      await refused(
        () => cache.query(query as never, options as never),
        'CACHE_OPTION_INVALID',
        'options',
      )
    }
    expect(await cache.getOrLoad('k', async () => 1, undefined)).toBe(1)
  })

  test('cache.query of something that is not a query', async () => {
    const cache = testCache()
    for (const query of [null, undefined, 'select 1', { compile: () => ({}) }]) {
      await refused(() => cache.query(query as never), 'CACHE_OPTION_INVALID', 'query')
    }
  })

  test('warm of something that is not an array of entries', async () => {
    const cache = testCache()
    for (const entries of [null, 'a', { key: 'a', value: 1 }]) {
      await refused(() => cache.warm(entries as never), 'CACHE_OPTION_INVALID', 'entries')
    }
    await refused(() => cache.warm([null] as never), 'CACHE_OPTION_INVALID', 'entries[]')
    await refused(
      () => cache.warm([{ key: 'a', value: 1 }, 7] as never),
      'CACHE_OPTION_INVALID',
      'entries[]',
    )
    expect(await cache.get('a')).toBeUndefined() // nothing was stored
  })

  test('warm with one bad entry among good ones stores none of them, not even after it rejected', async () => {
    const namespace = freshNamespace()
    const client = redisClient()
    const cache = testCache({ namespace, redis: client, l1: false })
    const bad = [{ value: () => 1 }, { key: '' }, { ttlMs: -5 }, { tags: [''] }]
    for (const [i, entry] of bad.entries()) {
      await refused(
        () =>
          cache.warm([
            { key: `good-${i}`, value: 1 },
            { key: `bad-${i}`, value: 2, ...entry },
          ] as never),
        entry.value
          ? 'CACHE_VALUE_UNSERIALIZABLE'
          : entry.ttlMs
            ? 'CACHE_OPTION_INVALID'
            : 'CACHE_KEY_INVALID',
      )
    }
    // Two round trips on the cache's own connection: a store the rejected warm left running
    // (its generation move, then its value) has reached Redis by now.
    await cache.get('barrier')
    await cache.get('barrier')
    for (const i of bad.keys()) {
      expect(
        await client.exists(`${namespace}:{kgood-${i}}:g`, `${namespace}:{kgood-${i}}:v`),
      ).toBe(0)
    }
  })

  test('invalidateOnCommit of tables that are not an array of names, or of a commit that is not a CommittedWrite', async () => {
    const cache = testCache()
    for (const tables of [null, 'users', [1], [null]]) {
      await refused(
        () => cache.invalidateOnCommit(tables as never),
        'CACHE_OPTION_INVALID',
        'tables',
      )
    }
    // A commit that is not what afterCommit is given (e.g. a token string where token() is).
    for (const commit of [null, 'v1.1.1.0/1.abcd', { token: 'v1.1.1.0/1.abcd' }]) {
      await refused(
        () => cache.invalidateOnCommit(['users'], commit as never),
        'CACHE_OPTION_INVALID',
        'commit',
      )
    }
  })
})

describe('keys are well-formed Unicode: two keys never share an entry', () => {
  test('a lone surrogate is CACHE_KEY_INVALID (UTF-8 would turn \\uD800 and \\uDBFF into one U+FFFD)', async () => {
    const cache = testCache({ l1: false })
    for (const key of ['u\uD800', 'u\uDBFF', '\uDC00x', 'a\uDFFFb']) {
      await refused(() => cache.getOrLoad(key, async () => key), 'CACHE_KEY_INVALID')
      await refused(() => cache.set(key, 1), 'CACHE_KEY_INVALID')
      await refused(() => cache.delete(key), 'CACHE_KEY_INVALID')
      await refused(() => cache.invalidateTags([key]), 'CACHE_KEY_INVALID')
      await refused(() => cache.getOrLoad('k', async () => 1, { tags: [key] }), 'CACHE_KEY_INVALID')
    }
    // A surrogate pair (a character outside the BMP) is fine, and keeps its own entry.
    expect(await cache.getOrLoad('u\uD83D\uDE42', async () => 'smile')).toBe('smile')
    expect(await cache.getOrLoad('u\uD83D\uDE43', async () => 'upside-down')).toBe('upside-down')
    // Stored or not (its store may still be on its way), never the other key's value.
    expect(await cache.getOrLoad('u\uD83D\uDE42', async () => 'smile')).toBe('smile')
  })
})
