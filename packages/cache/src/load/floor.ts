import type { ConsistencySource } from '@sluice/core'
import { CacheError } from '../errors.js'
import type { CacheEvent } from '../events.js'
import type { Versioned } from '../store/cache-store.js'
import type { Maybe } from '../store/guarded-store.js'
import { UNAVAILABLE } from '../store/guarded-store.js'
import { isUnknownFloor } from '../store/unknown-floor.js'

/**
 * What {@link floorOf} gives when a floor of the load's key or tags may have been lost
 * (`Versioned.floorLost`): the load reads at the primary's latest position, which covers any
 * invalidation whose floor the store lost.
 */
export const FLOOR_LOST = Symbol('floor lost')

/**
 * The floor a load must read at: the newest token recorded by the invalidations of its key
 * and of its tags, {@link FLOOR_LOST} when the store lost one; none without a consistency
 * source.
 *
 * @example
 * ```ts
 * const floor = floorOf(database, generation, versions) // '0/3000148'
 * ```
 */
export function floorOf(
  consistency: ConsistencySource | undefined,
  generation: Maybe<Versioned>,
  versions: Maybe<readonly Versioned[]>,
): string | typeof FLOOR_LOST | undefined {
  if (!consistency) return undefined
  const known = [
    ...(generation === UNAVAILABLE ? [] : [generation]),
    ...(versions === UNAVAILABLE ? [] : versions),
  ]
  if (known.some(isLost)) return FLOOR_LOST
  let floor: string | undefined
  for (const version of known) {
    if (version.floor === undefined) continue
    floor = floor === undefined ? version.floor : newestFloor(consistency, floor, version.floor)
  }
  return floor
}

/**
 * Whether a load must read at the primary's latest position for this version: the store lost
 * its floor, or an invalidation recorded that it had no token ({@link isUnknownFloor}).
 *
 * @example
 * ```ts
 * isLost(await store.generation('user:1')) // true after a FLUSHALL
 * ```
 */
export function isLost(version: Versioned): boolean {
  return version.floorLost === true || isUnknownFloor(version.floor)
}

/**
 * The newer of two floors (`a` the one recorded, `b` the one coming in). An unknown floor wins
 * over any token (the newer of two unknown ones: `b`); one the source cannot read (another
 * cluster's, another version's, altered) loses to one it can, so whatever Redis holds never
 * stops an invalidation from recording its own floor.
 *
 * @example
 * ```ts
 * newestFloor(database, 'garbage', await database.latestToken()) // the latter
 * ```
 */
export function newestFloor(consistency: ConsistencySource, a: string, b: string): string {
  if (isUnknownFloor(b)) return b
  if (isUnknownFloor(a)) return a
  try {
    return consistency.newestToken(a, b)
  } catch {
    return isToken(consistency, a) ? a : b
  }
}

function isToken(consistency: ConsistencySource, token: string): boolean {
  try {
    consistency.newestToken(token, token)
    return true
  } catch {
    return false
  }
}

/** A loader's value, and whether it read at least the floor it had to (else: serve, never store). */
export interface FloorRead<T> {
  readonly value: T
  readonly atFloor: boolean
}

/**
 * Runs a loader so that it reads at least the write of `floor`. A floor the source refuses
 * (written by another version, or another cluster's) is replaced by a fresh token covering
 * every committed write, and so is a lost one ({@link FLOOR_LOST}; `recordLost` is then told
 * the token, to record it where the floor was lost); if none can be had, the loader runs
 * without a floor (after a refused one, an `error` event says so) and its value is marked
 * `atFloor: false`: it may predate the invalidation, so it is served but never stored.
 *
 * @example
 * ```ts
 * const { value, atFloor } = await runAtFloor(database, '0/3000148', () => findUser(1), emit)
 * ```
 */
export async function runAtFloor<T>(
  consistency: ConsistencySource | undefined,
  floor: string | typeof FLOOR_LOST | undefined,
  loader: () => Promise<T>,
  emit: (event: CacheEvent) => void,
  recordLost: (token: string) => void = () => {},
): Promise<FloorRead<T>> {
  if (!consistency || floor === undefined) return { value: await loader(), atFloor: true }
  let started = false
  const run = async () => {
    started = true
    return { value: await loader(), atFloor: true }
  }
  if (floor !== FLOOR_LOST) {
    try {
      return await consistency.withConsistency({ atLeast: floor }, run)
    } catch (error) {
      if (started) throw error
      emit(
        unavailable(
          `A recorded floor was refused (${(error as Error).message}); loading at the primary's latest position`,
          error,
        ),
      )
    }
  }
  try {
    const latest = await consistency.latestToken()
    if (floor === FLOOR_LOST) recordLost(latest)
    return await consistency.withConsistency({ atLeast: latest }, run)
  } catch (error) {
    if (started) throw error
    const reason = `No floor for a load (${(error as Error).message}); its value is served, not stored`
    emit(unavailable(reason, error))
    return { value: await loader(), atFloor: false }
  }
}

function unavailable(message: string, cause: unknown): CacheEvent {
  return {
    kind: 'error',
    source: 'consistency',
    error: new CacheError('CACHE_CONSISTENCY_UNAVAILABLE', message, { cause }),
  }
}
