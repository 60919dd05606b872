import { parse, stringify } from 'devalue'
import { CacheError, clipped, quoted } from './errors.js'

// devalue keeps what JSON loses (undefined, NaN, -0, ±Infinity, bigint, Date including an
// invalid one, RegExp, Map, Set, typed arrays, ArrayBuffer, URL, sparse arrays, shared and
// circular references) and refuses what it cannot restore (functions, symbols, class
// instances). Buffer is a Uint8Array to devalue: it gets a reducer so that it reads back as
// a Buffer, not as a plain Uint8Array.
// An empty Buffer's base64 is '', which devalue takes for "not mine": it has a reducer of its own.
// `Lossless` reduces nothing: it refuses what devalue would store without complaint yet read
// back as something else, so L1 (which keeps the object itself) and Redis would disagree.
const REDUCERS = {
  Buffer: (value: unknown) => Buffer.isBuffer(value) && value.toString('base64'),
  EmptyBuffer: (value: unknown) => Buffer.isBuffer(value) && value.length === 0 && 1,
  Lossless: refuseLossy,
}
const REVIVERS = {
  Buffer: (base64: string) => Buffer.from(base64, 'base64'),
  EmptyBuffer: () => Buffer.alloc(0),
}

/**
 * Throws for an object devalue would turn into another: an array with named properties (they
 * are dropped), a plain object with a non-enumerable or accessor property (dropped, or frozen
 * into its value), an `arguments` object (a plain object), a subclass of a built-in (`class
 * extends Map`: a plain Map). Called by devalue for each value it walks; always `false`.
 */
function refuseLossy(value: unknown): false {
  if (typeof value !== 'object' || value === null) return false
  const prototype = Object.getPrototypeOf(value)
  if (Array.isArray(value)) {
    if (prototype !== Array.prototype) lossy('an instance of an Array subclass')
    // Own names list the indices, then `length`, then any named property.
    const names = Object.getOwnPropertyNames(value)
    if (names[names.length - 1] !== 'length') lossy('an array with named properties')
    return false
  }
  const tag = Object.prototype.toString.call(value).slice(8, -1)
  if (prototype === Object.prototype || prototype === null) {
    if (tag === 'Arguments') lossy('an arguments object')
    for (const name of Object.getOwnPropertyNames(value)) {
      const property = Object.getOwnPropertyDescriptor(value, name)
      if (!property?.enumerable) lossy(`a non-enumerable property (${quoted(name)})`)
      if (property?.get || property?.set) lossy(`an accessor property (${quoted(name)})`)
    }
    return false
  }
  // A class instance (devalue refuses it, naming where) or a built-in (Map, Date...) of its own
  // prototype, not a subclass's.
  if (tag === 'Object') return false
  const builtin = (globalThis as Record<string, { prototype?: unknown } | undefined>)[tag]
  if (builtin?.prototype !== prototype) lossy(`an instance of a subclass of ${tag}`)
  return false
}

function lossy(what: string): never {
  throw new Error(`${what} would not read back as it is`)
}

/**
 * Serializes a value for the cache (with devalue): every value the cache accepts reads back
 * exactly, from L1 and from Redis alike. Plain objects, arrays, strings, numbers (NaN, -0,
 * ±Infinity), booleans, `null`, `undefined`, bigint, Date (an invalid one too), RegExp, Map,
 * Set, typed arrays, ArrayBuffer, Buffer, URL, and shared or circular references.
 *
 * @throws CacheError `CACHE_VALUE_UNSERIALIZABLE` for a function, a symbol or a class instance
 * (anything whose prototype is not `Object.prototype` or `null`, or a built-in's own), an
 * array with named properties, a non-enumerable or accessor property, an `arguments` object,
 * anywhere in the value.
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
      `The value cannot be cached: ${(error as Error).message}${path ? ` (at ${clipped(path, 256)})` : ''}`,
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
