import { formatLsn } from './lsn.js'

/**
 * A point in one cluster's WAL history: a timeline and an LSN on it, plus the cluster's system
 * identifier when known. Positions on different timelines or clusters do not compare.
 */
export interface Position {
  /** `pg_control_system().system_identifier` as decimal text. */
  readonly systemId: string | undefined
  readonly timeline: number
  readonly lsn: bigint
}

/**
 * Past every real position: a write whose position could not be read pins its scope's reads to
 * the primary.
 */
export const UNKNOWN_POSITION: Position = Object.freeze({
  systemId: undefined,
  timeline: 0xffffffff,
  lsn: 0xffffffffffffffffn,
})

/** The later of two positions (a higher timeline is later history), either may be missing. */
export function laterPosition(
  a: Position | undefined,
  b: Position | undefined,
): Position | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  if (a.timeline !== b.timeline) return a.timeline > b.timeline ? a : b
  return a.lsn >= b.lsn ? a : b
}

/**
 * True when a server that replayed up to `replayLsn` on `timeline` of cluster `systemId` has
 * `position`: same cluster (when both are known), same timeline, at or past its LSN. A server
 * on another timeline may have branched before the position, so it does not count.
 */
export function reached(
  position: Position,
  systemId: string | undefined,
  timeline: number | undefined,
  replayLsn: bigint | undefined,
): boolean {
  if (position.systemId !== undefined && systemId !== undefined && position.systemId !== systemId) {
    return false
  }
  return timeline === position.timeline && replayLsn !== undefined && replayLsn >= position.lsn
}

/** `timeline/LSN` for messages and events, e.g. `1:0/3000148`. */
export function describePosition(position: Position): string {
  return `${position.timeline}:${formatLsn(position.lsn)}`
}
