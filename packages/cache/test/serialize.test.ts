import { describe, expect, test } from 'vitest'
import { validateKey } from '../src/errors.js'
import { CacheError, deserialize, serialize } from '../src/index.js'

/** A value and what it reads back as, compared with Object.is where toEqual is too lax. */
const roundTrip = <T>(value: T): T => deserialize<T>(serialize(value))

describe('serialization', () => {
  test('keeps Date, bigint, Buffer and null, nested', () => {
    const value = {
      at: new Date('2026-01-02T03:04:05.678Z'),
      big: 12345678901234567890n,
      bytes: Buffer.from([0, 1, 255]),
      nothing: null,
      list: [new Date(0), -1n, null],
      // An object that looks like an encoding reads back as itself.
      lookalike: { $sluice: 'date', v: 0 },
    }
    expect(roundTrip(value)).toEqual(value)
    expect(Buffer.isBuffer(roundTrip(value).bytes)).toBe(true)
    expect(roundTrip(null)).toBeNull()
    expect(roundTrip(7n)).toBe(7n)
  })

  test('every value JSON loses round-trips exactly: Map, Set, NaN, ±Infinity, -0, invalid Date, typed arrays, undefined, sparse arrays, cycles', () => {
    const circular: Record<string, unknown> = { name: 'self' }
    circular.self = circular
    const value = {
      map: new Map<unknown, unknown>([
        [1, 'one'],
        ['k', { nested: new Set([1, 2]) }],
      ]),
      set: new Set(['a', 'b']),
      numbers: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY],
      invalid: new Date(Number.NaN),
      floats: new Float64Array([1.5, -2]),
      bytes: new Uint8Array([1, 2, 3]),
      missing: undefined,
      regexp: /a+b/gi,
      url: new URL('https://example.com/a?b=1'),
    }
    const back = roundTrip(value)
    expect(back).toEqual(value)
    expect(back.map).toBeInstanceOf(Map)
    expect(back.set).toBeInstanceOf(Set)
    expect(Number.isNaN(back.invalid.getTime())).toBe(true)
    expect(back.floats).toBeInstanceOf(Float64Array)
    expect(back.bytes).toBeInstanceOf(Uint8Array)
    expect(Buffer.isBuffer(back.bytes)).toBe(false)
    expect('missing' in back).toBe(true)
    expect(Object.is(roundTrip(-0), -0)).toBe(true)
    expect(roundTrip(undefined)).toBeUndefined()
    // biome-ignore lint/suspicious/noSparseArray: a sparse array is the point
    const sparse = roundTrip([1, , 3])
    expect(1 in sparse).toBe(false)
    const cycle = roundTrip(circular)
    expect(cycle.self).toBe(cycle)
  })

  test('refuses what cannot be restored, with a typed error, naming where', () => {
    class User {
      constructor(readonly id: number) {}
    }
    for (const bad of [
      () => 1,
      Symbol('s'),
      { f: () => 1 },
      new User(1),
      { deep: [new User(2)] },
    ]) {
      expect(() => serialize(bad)).toThrow(
        expect.objectContaining({ code: 'CACHE_VALUE_UNSERIALIZABLE' }),
      )
    }
    expect(() => serialize({ deep: [new User(2)] })).toThrow(/deep/)
  })

  test('keys must be non-empty strings of at most 1 KiB', () => {
    expect(validateKey('user:1', 'key')).toBe('user:1')
    for (const bad of ['', 'x'.repeat(1025), 'é'.repeat(513), 42, undefined]) {
      expect(() => validateKey(bad, 'key')).toThrow(CacheError)
    }
  })
})
