import { deserialize, serialize } from './serialize.js'
import type { Versioned } from './store/cache-store.js'

/** A cached value with what it was loaded under. */
export interface Entry<T = unknown> {
  /** The value; `undefined` for a cached "not found". */
  readonly value: T | undefined
  /** Tag versions read before the loader ran. */
  readonly tags: Readonly<Record<string, string>>
  /** Until when (epoch ms) the value is fresh; after it, only served within grace. */
  readonly freshUntil: number
}

/** The payload format; a payload of another format is a miss. */
const FORMAT = 2

/**
 * What a store holds for an entry.
 *
 * @throws CacheError `CACHE_VALUE_UNSERIALIZABLE` for a value that cannot be cached.
 * @example
 * ```ts
 * const payload = encodeEntry({ value: user, tags: { 'user:1': 'a1b2' }, freshUntil: Date.now() + 60_000 })
 * ```
 */
export function encodeEntry(entry: Entry): string {
  return serialize({ s: FORMAT, v: entry.value, t: entry.tags, f: entry.freshUntil })
}

/**
 * Reads an entry back; `undefined` for a payload this version cannot read (another format,
 * an older version's, or not an entry at all).
 *
 * @example
 * ```ts
 * const entry = decodeEntry<User>(payload)
 * ```
 */
export function decodeEntry<T>(payload: string): Entry<T> | undefined {
  let raw: unknown
  try {
    raw = deserialize(payload)
  } catch {
    return undefined
  }
  if (typeof raw !== 'object' || raw === null) return undefined
  const { s, v, t, f } = raw as Record<string, unknown>
  if (s !== FORMAT || typeof f !== 'number' || !isVersions(t)) return undefined
  return { value: v as T | undefined, tags: t, freshUntil: f }
}

function isVersions(value: unknown): value is Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  return Object.values(value).every((version) => typeof version === 'string')
}

/**
 * An entry's tag map: each tag with the version it was loaded (or set) under.
 *
 * @example
 * ```ts
 * versionsOf(['feed'], [{ version: 'a1', floor: undefined }]) // { feed: 'a1' }
 * ```
 */
export function versionsOf(
  tags: readonly string[],
  versions: readonly Versioned[],
): Record<string, string> {
  const map: Record<string, string> = Object.create(null)
  tags.forEach((tag, i) => {
    const version = versions[i]?.version
    if (version !== undefined) map[tag] = version
  })
  return map
}
