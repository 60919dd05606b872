import { describe, expect, test } from 'vitest'
import { CacheError, deserialize, serialize, validateKey } from '../src/index.js'

describe('serialization', () => {
  test('keeps Date, bigint, Buffer and null, nested', () => {
    const value = {
      at: new Date('2026-01-02T03:04:05.678Z'),
      big: 12345678901234567890n,
      bytes: Buffer.from([0, 1, 255]),
      nothing: null,
      list: [new Date(0), -1n, null],
      // An object that looks like our own encoding reads back as itself.
      lookalike: { $sluice: 'date', v: 0 },
    }
    expect(deserialize(serialize(value))).toEqual(value)
    expect(deserialize(serialize(null))).toBeNull()
    expect(deserialize(serialize(7n))).toBe(7n)
  })

  test('refuses what cannot be stored, with a typed error', () => {
    const circular: Record<string, unknown> = {}
    circular.self = circular
    for (const bad of [undefined, () => 1, Symbol('s'), { f: () => 1 }, circular]) {
      expect(() => serialize(bad)).toThrow(
        expect.objectContaining({ code: 'CACHE_VALUE_UNSERIALIZABLE' }),
      )
    }
  })

  test('keys must be non-empty strings of at most 1 KiB', () => {
    expect(validateKey('user:1', 'key')).toBe('user:1')
    for (const bad of ['', 'x'.repeat(1025), 42, undefined]) {
      expect(() => validateKey(bad, 'key')).toThrow(CacheError)
    }
  })
})
