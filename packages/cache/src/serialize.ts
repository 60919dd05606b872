import { parse, stringify } from 'devalue'
import { CacheError } from './errors.js'

// devalue keeps what JSON loses (undefined, NaN, -0, ±Infinity, bigint, Date including an
// invalid one, RegExp, Map, Set, typed arrays, ArrayBuffer, URL, sparse arrays, shared and
// circular references) and refuses what it cannot restore (functions, symbols, class
// instances). Buffer is a Uint8Array to devalue: it gets a reducer so that it reads back as
// a Buffer, not as a plain Uint8Array.
const REDUCERS = {
  Buffer: (value: unknown) => Buffer.isBuffer(value) && value.toString('base64'),
}
const REVIVERS = {
  Buffer: (base64: string) => Buffer.from(base64, 'base64'),
}

/**
 * Serializes a value for the cache (with devalue): every value the cache accepts reads back
 * exactly, from L1 and from Redis alike. Plain objects, arrays, strings, numbers (NaN, -0,
 * ±Infinity), booleans, `null`, `undefined`, bigint, Date (an invalid one too), RegExp, Map,
 * Set, typed arrays, ArrayBuffer, Buffer, URL, and shared or circular references.
 *
 * @throws CacheError `CACHE_VALUE_UNSERIALIZABLE` for a function, a symbol or a class instance
 * (anything whose prototype is not `Object.prototype` or `null`), anywhere in the value.
 * @example
 * ```ts
 * deserialize(serialize({ at: new Date(0), ids: new Set([1n]) })) // { at: Date(0), ids: Set {1n} }
 * ```
 */
export function serialize(value: unknown): string {
  try {
    return stringify(value, REDUCERS)
  } catch (error) {
    const path = (error as { path?: string }).path
    throw new CacheError(
      'CACHE_VALUE_UNSERIALIZABLE',
      `The value cannot be cached: ${(error as Error).message}${path ? ` (at ${path})` : ''}`,
      { cause: error },
    )
  }
}

/**
 * Reads back what {@link serialize} wrote.
 *
 * @throws Error for text that {@link serialize} did not write.
 * @example
 * ```ts
 * deserialize<{ n: bigint }>(serialize({ n: 1n })).n // 1n
 * ```
 */
export function deserialize<T>(text: string): T {
  return parse(text, REVIVERS) as T
}
