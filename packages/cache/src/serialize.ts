import { CacheError } from './errors.js'

// Tagged forms for what JSON would lose. A plain object that happens to look like one is
// escaped, so that it reads back as itself.
const TAG = '$sluice'

/**
 * Serializes a value for the cache: what JSON keeps (including `null`), plus `Date`, `bigint`
 * and `Buffer`. `undefined` inside objects is dropped, as JSON does.
 *
 * @throws CacheError `CACHE_VALUE_UNSERIALIZABLE` for functions, symbols and circular values.
 * @example
 * ```ts
 * deserialize(serialize({ at: new Date(0), n: 10n })) // { at: Date(0), n: 10n }
 * ```
 */
export function serialize(value: unknown): string {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
    throw new CacheError('CACHE_VALUE_UNSERIALIZABLE', `A ${typeof value} cannot be cached`)
  }
  try {
    return JSON.stringify(value, function replacer(this: Record<string, unknown>, key, encoded) {
      const original = this[key]
      if (original instanceof Date) return { [TAG]: 'date', v: original.getTime() }
      if (typeof original === 'bigint') return { [TAG]: 'bigint', v: original.toString() }
      if (Buffer.isBuffer(original)) return { [TAG]: 'buffer', v: original.toString('base64') }
      if (typeof original === 'function' || typeof original === 'symbol') {
        throw new CacheError(
          'CACHE_VALUE_UNSERIALIZABLE',
          `A ${typeof original} at "${key}" cannot be cached`,
        )
      }
      if (isTagged(encoded)) return { [TAG]: 'object', v: Object.entries(encoded as object) }
      return encoded
    })
  } catch (error) {
    if (error instanceof CacheError) throw error
    throw new CacheError(
      'CACHE_VALUE_UNSERIALIZABLE',
      `The value cannot be cached: ${(error as Error).message}`,
      {
        cause: error,
      },
    )
  }
}

/**
 * Reads back what {@link serialize} wrote.
 *
 * @example
 * ```ts
 * deserialize<{ n: bigint }>(serialize({ n: 1n })).n // 1n
 * ```
 */
export function deserialize<T>(text: string): T {
  return JSON.parse(text, (_key, value) => {
    if (!isTagged(value)) return value
    const { [TAG]: kind, v } = value as { [TAG]: string; v: unknown }
    switch (kind) {
      case 'date':
        return new Date(v as number)
      case 'bigint':
        return BigInt(v as string)
      case 'buffer':
        return Buffer.from(v as string, 'base64')
      default:
        return Object.fromEntries(v as [string, unknown][])
    }
  }) as T
}

function isTagged(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, TAG)
}
