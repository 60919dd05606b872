// Rough V8 costs on 64-bit with pointer compression off (the default for Node): an object
// header with a few in-object slots, a pointer per slot, a string header plus its
// characters (two bytes each when not Latin-1: counted as two to stay on the safe side).
const OBJECT = 56
const SLOT = 16
const STRING = 24
const NUMBER = 16

/**
 * An estimate of the heap a decoded value holds, in bytes, to bound L1 by memory rather than
 * by the length of its serialized form (small objects cost several times their JSON). Shared
 * references are counted once. Typed arrays and Buffers count their bytes.
 *
 * @example
 * ```ts
 * estimateSize({ id: 1, name: 'ada' }) // about 150
 * ```
 */
export function estimateSize(value: unknown, seen = new Set<object>()): number {
  switch (typeof value) {
    case 'string':
      return STRING + value.length * 2
    case 'number':
      return NUMBER
    case 'bigint':
      return NUMBER + Math.ceil(value.toString(16).length / 2)
    case 'object': {
      if (value === null) return SLOT
      if (seen.has(value)) return SLOT
      seen.add(value)
      if (ArrayBuffer.isView(value)) return OBJECT + value.byteLength
      if (value instanceof ArrayBuffer) return OBJECT + value.byteLength
      if (value instanceof Date || value instanceof RegExp || value instanceof URL)
        return OBJECT * 2
      let total = OBJECT
      if (value instanceof Map) {
        for (const [k, v] of value)
          total += SLOT * 2 + estimateSize(k, seen) + estimateSize(v, seen)
        return total
      }
      if (value instanceof Set) {
        for (const v of value) total += SLOT * 2 + estimateSize(v, seen)
        return total
      }
      if (Array.isArray(value)) {
        for (const v of value) total += SLOT + estimateSize(v, seen)
        return total
      }
      for (const k in value) {
        total +=
          SLOT + STRING + k.length * 2 + estimateSize((value as Record<string, unknown>)[k], seen)
      }
      return total
    }
    default:
      return SLOT
  }
}
