import { deserialize, serialize } from './serialize.js'

/** A cached value with what it was loaded under. */
export interface Entry<T = unknown> {
  /** The value; `undefined` for a cached "not found". */
  readonly value: T | undefined
  /** Tag versions read before the loader ran. */
  readonly tags: Readonly<Record<string, number>>
  /** Until when (epoch ms) the value is fresh; after it, only served within grace. */
  readonly freshUntil: number
  /** Size of its payload in bytes, once decoded: what it costs L1. */
  readonly bytes?: number
}

/**
 * What a store holds for an entry.
 *
 * @example
 * ```ts
 * const payload = encodeEntry({ value: user, tags: { 'user:1': 3 }, freshUntil: Date.now() + 60_000 })
 * ```
 */
export function encodeEntry(entry: Entry): string {
  return serialize({
    v: entry.value === undefined ? null : entry.value,
    n: entry.value === undefined,
    t: entry.tags,
    f: entry.freshUntil,
  })
}

/**
 * Reads an entry back; `undefined` for a payload this version cannot read.
 *
 * @example
 * ```ts
 * const entry = decodeEntry<User>(payload)
 * ```
 */
export function decodeEntry<T>(payload: string): Entry<T> | undefined {
  try {
    const raw = deserialize<{ v: T; n: boolean; t: Record<string, number>; f: number }>(payload)
    return {
      value: raw.n ? undefined : raw.v,
      tags: raw.t,
      freshUntil: raw.f,
      bytes: payload.length,
    }
  } catch {
    return undefined
  }
}
