import { SluiceError } from '@sluice/core'

/** Stable codes of {@link CacheError}. */
export type CacheErrorCode = 'CACHE_KEY_INVALID' | 'CACHE_VALUE_UNSERIALIZABLE'

/**
 * Bad input to the cache: a key that is empty or too long, or a value that cannot be stored
 * (a function, a symbol, a circular structure).
 *
 * @example
 * ```ts
 * try {
 *   await store.set('', entry, 1000)
 * } catch (error) {
 *   if (error instanceof CacheError && error.code === 'CACHE_KEY_INVALID') reply.status(400)
 * }
 * ```
 */
export class CacheError extends SluiceError {
  declare readonly code: CacheErrorCode

  constructor(code: CacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** Longest key accepted, in UTF-8 bytes (Redis allows more; keys this long are a bug). */
export const MAX_KEY_BYTES = 1024

/**
 * Checks a cache key or tag.
 *
 * @throws CacheError `CACHE_KEY_INVALID` for a non-string, an empty string or one over 1 KiB.
 * @example
 * ```ts
 * validateKey(`user:${id}`, 'key')
 * ```
 */
export function validateKey(key: unknown, what: 'key' | 'tag'): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new CacheError('CACHE_KEY_INVALID', `A cache ${what} must be a non-empty string`)
  }
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new CacheError(
      'CACHE_KEY_INVALID',
      `A cache ${what} must be at most ${MAX_KEY_BYTES} bytes (got one starting "${key.slice(0, 32)}...")`,
    )
  }
  return key
}
