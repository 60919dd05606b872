import { SluiceError } from '@sluice/core'

/** Stable codes of {@link CacheError}. */
export type CacheErrorCode =
  | 'CACHE_KEY_INVALID'
  | 'CACHE_OPTION_INVALID'
  | 'CACHE_VALUE_UNSERIALIZABLE'
  | 'CACHE_PAYLOAD_UNREADABLE'
  | 'CACHE_LOAD_TIMEOUT'
  | 'CACHE_CLOSED'
  | 'CACHE_STORE_AUTH_FAILED'
  | 'CACHE_STORE_UNAVAILABLE'
  | 'CACHE_CONSISTENCY_UNAVAILABLE'

/**
 * Bad input to the cache (a key that is empty or too long, `CACHE_KEY_INVALID`; a call's option
 * out of range, `CACHE_OPTION_INVALID` with `context.field`; a value that cannot be stored, a function,
 * a symbol or a class instance), a loader that did not settle within `loadTimeoutMs`
 * (`CACHE_LOAD_TIMEOUT`), a call after `close()` (`CACHE_CLOSED`), or a shared store that
 * refused the credentials or did not answer. Store errors reach callers only from
 * `cache.ready()`; elsewhere they are absorbed (the cache misses) and reported as `error`
 * events, as are payloads this version cannot read (`CACHE_PAYLOAD_UNREADABLE`) and
 * invalidations for which no consistency token could be had (`CACHE_CONSISTENCY_UNAVAILABLE`).
 *
 * @example
 * ```ts
 * try {
 *   await cache.set('', user)
 * } catch (error) {
 *   if (error instanceof CacheError && error.code === 'CACHE_KEY_INVALID') reply.status(400)
 * }
 * ```
 */
export class CacheError extends SluiceError<CacheErrorCode> {}

const AUTH_REPLY = /^(WRONGPASS|NOAUTH)\b|invalid password/i

/**
 * A shared-store failure as a {@link CacheError}: `CACHE_STORE_AUTH_FAILED` when Redis refused
 * the credentials, else `CACHE_STORE_UNAVAILABLE`. Only the message is kept: ioredis attaches
 * the failed command to its errors, and for AUTH its arguments are the password.
 *
 * @example
 * ```ts
 * redis.on('error', (error) => logger.warn(storeError(error)))
 * ```
 */
export function storeError(error: unknown): CacheError {
  if (error instanceof CacheError) return error
  const message = error instanceof Error ? error.message : String(error)
  return AUTH_REPLY.test(message)
    ? new CacheError(
        'CACHE_STORE_AUTH_FAILED',
        `Redis refused the credentials (${message}); check the user and password of the Redis URL`,
      )
    : new CacheError('CACHE_STORE_UNAVAILABLE', `The cache store failed: ${message}`)
}

/**
 * The store's answer to a call that outlived its deadline: `CACHE_STORE_UNAVAILABLE`, saying
 * how long it waited. Give it to `withDeadline` as what an expired wait throws.
 *
 * @example
 * ```ts
 * await withDeadline(store.get(key), 500, () => {
 *   throw storeTimeout(500)
 * })
 * ```
 */
export function storeTimeout(ms: number): CacheError {
  return new CacheError(
    'CACHE_STORE_UNAVAILABLE',
    `The cache store failed: it did not answer within ${Math.round(ms)} ms`,
  )
}

const LONE_SURROGATE = /\p{Cs}/u

/** Longest key accepted, in UTF-8 bytes (Redis allows more; keys this long are a bug). */
export const MAX_KEY_BYTES = 1024

/**
 * Checks a cache key or tag.
 *
 * @throws CacheError `CACHE_KEY_INVALID` for a non-string, an empty string, one over 1 KiB, or
 * one holding a lone surrogate (not well-formed Unicode).
 * @example
 * ```ts
 * validateKey(`user:${id}`, 'key')
 * ```
 */
export function validateKey(key: unknown, what: 'key' | 'tag'): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new CacheError('CACHE_KEY_INVALID', `A cache ${what} must be a non-empty string`)
  }
  if (LONE_SURROGATE.test(key)) {
    // UTF-8 has no bytes for one: Redis would get U+FFFD, and 'a\uD800' would share 'a\uDBFF''s entry.
    throw new CacheError(
      'CACHE_KEY_INVALID',
      `A cache ${what} must be well-formed Unicode (it holds a lone surrogate, which UTF-8 cannot encode)`,
    )
  }
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short keys skip counting (the hit path).
  if (key.length > MAX_KEY_BYTES / 3 && Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new CacheError(
      'CACHE_KEY_INVALID',
      // Never quoted: a refused key is input we know nothing of (a token, a URL, a log line).
      `A cache ${what} must be at most ${MAX_KEY_BYTES} bytes (got ${Buffer.byteLength(key)})`,
    )
  }
  return key
}

/**
 * Text a caller gave (a key, an option or property name), cut for a message or a context
 * field: at most `max` code points (then `...`), never half of one.
 *
 * @example
 * ```ts
 * clipped('x'.repeat(100), 4) // 'xxxx...'
 * ```
 */
export function clipped(text: string, max = 64): string {
  let kept = ''
  let count = 0
  for (const point of text) {
    if (count++ === max) return `${kept}...`
    kept += point
  }
  return kept
}

/**
 * {@link clipped} text quoted as JSON, so that a message stays one line of well-formed text
 * whatever the caller's text holds (a newline is `\\n`, a lone surrogate `\\ud800`).
 *
 * @example
 * ```ts
 * quoted('user:1\n') // '"user:1\\n"'
 * ```
 */
export function quoted(text: string, max = 64): string {
  return JSON.stringify(clipped(text, max))
}
