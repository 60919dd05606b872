import { randomUUID } from 'node:crypto'

const PREFIX = 'unknown:'

/**
 * The floor an invalidation records when it has no token (the commit's could not be read, and
 * the primary did not tell its latest position): "some write not yet known to any token". It
 * wins over every token (a later invalidation's token may predate this write: a commit that
 * was earlier but invalidated later), so the next load of the key or tag reads at the
 * primary's latest position, or stores nothing. It is unique, so a load that saw one and read
 * the primary replaces that one only, never one a later invalidation wrote.
 *
 * @example
 * ```ts
 * const floor = unknownFloor() // 'unknown:3f0c…'
 * isUnknownFloor(floor) // true
 * ```
 */
export function unknownFloor(): string {
  return `${PREFIX}${randomUUID()}`
}

/** Whether a floor is one {@link unknownFloor} made. */
export function isUnknownFloor(floor: string | undefined): floor is string {
  return floor?.startsWith(PREFIX) === true
}
