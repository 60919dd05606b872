import type { HandOff, History, Operation } from './history.js'
import { validateHistory } from './history.js'

/** A read that broke a promise. */
export interface Violation {
  readonly check: 'readYourWrites' | 'noStaleReads'
  /** `stale`: older than `expected`; `unwritten`: a version no write had started by then. */
  readonly kind: 'stale' | 'unwritten'
  readonly read: Operation
  /** The version the read had to see at least (stale reads). */
  readonly expected?: number | undefined
  /** The write or invalidation that set `expected`. */
  readonly because?: Operation | undefined
  /** For readYourWrites: the hand-offs that carried the write to the reader, oldest first. */
  readonly via: readonly HandOff[]
}

/** What a checker found: `ok`, the violations, and a readable report. */
export interface CheckResult {
  readonly ok: boolean
  readonly violations: readonly Violation[]
  /** One line per violation with times relative to the history's first operation. */
  format(): string
}

interface Floor {
  readonly version: number
  readonly because: Operation
  readonly via: readonly HandOff[]
}

const higher = (a: Floor | undefined, b: Floor | undefined) =>
  !a || (b && b.version > a.version) ? b : a

/** Below the floor: an absent key is older than every write. */
const below = (observed: number | undefined, floor: Floor) =>
  observed === undefined || observed < floor.version

/**
 * Read-your-writes: a read that started after the same actor's write ended, or after a
 * hand-off of a token covering that write, observed that write or a newer one. Hand-offs chain:
 * a token carries what its giver had been handed. Overlapping operations of one actor are
 * `TestServerError` `OVERLAPPING_OPERATIONS`.
 *
 * @example
 * ```ts
 * const result = readYourWrites(recorder.history())
 * expect(result.violations, result.format()).toEqual([])
 * ```
 */
export function readYourWrites(history: History): CheckResult {
  validateHistory(history)
  const writes = history.operations.filter((op) => op.kind === 'write' && op.ok)
  const floorOf = (
    actor: string,
    key: string,
    before: number,
    depth: number,
  ): Floor | undefined => {
    let floor: Floor | undefined
    for (const write of writes)
      if (write.actor === actor && write.key === key && write.end < before)
        floor = higher(floor, { version: write.version as number, because: write, via: [] })
    if (depth > history.handOffs.length) return floor
    for (const handOff of history.handOffs) {
      if (handOff.to !== actor || handOff.at >= before) continue
      const carried = floorOf(handOff.from, key, handOff.at, depth + 1)
      if (carried) floor = higher(floor, { ...carried, via: [...carried.via, handOff] })
    }
    return floor
  }
  return result(
    history,
    reads(history).flatMap((read) => {
      const floor = floorOf(read.actor, read.key, read.start, 0)
      return floor && below(read.version, floor) ? [stale('readYourWrites', read, floor)] : []
    }),
  )
}

/**
 * No stale reads (the cache's promise): a read that started after a write or an invalidation
 * of its key ended, in any actor, never observed an older version; and no read observed a
 * version whose write had not started before the read ended. A read concurrent with a write
 * may see either version. Failed writes set no floor but may be observed.
 *
 * @example
 * ```ts
 * const result = noStaleReads(recorder.history())
 * expect(result.violations, result.format()).toEqual([])
 * ```
 */
export function noStaleReads(history: History): CheckResult {
  validateHistory(history)
  const ofKey = new Map<string, Operation[]>()
  for (const op of history.operations) ofKey.set(op.key, [...(ofKey.get(op.key) ?? []), op])
  const newestBefore = (key: string, time: number): number | undefined => {
    let newest: number | undefined
    for (const op of ofKey.get(key) ?? [])
      if (op.kind === 'write' && op.ok && op.end < time)
        newest = Math.max(newest ?? Number.NEGATIVE_INFINITY, op.version as number)
    return newest
  }
  return result(
    history,
    reads(history).flatMap((read): Violation[] => {
      const ops = ofKey.get(read.key) ?? []
      let floor: Floor | undefined
      for (const op of ops) {
        if (!op.ok || op.end >= read.start) continue
        const version =
          op.kind === 'write'
            ? op.version
            : op.kind === 'invalidate'
              ? (op.version ?? newestBefore(read.key, op.start))
              : undefined
        if (version !== undefined) floor = higher(floor, { version, because: op, via: [] })
      }
      if (floor && below(read.version, floor)) return [stale('noStaleReads', read, floor)]
      const written = ops.some(
        (op) => op.kind === 'write' && op.version === read.version && op.start < read.end,
      )
      if (read.version !== undefined && !written)
        return [{ check: 'noStaleReads', kind: 'unwritten', read, via: [] }]
      return []
    }),
  )
}

const reads = (history: History) => history.operations.filter((op) => op.kind === 'read' && op.ok)

function stale(check: Violation['check'], read: Operation, floor: Floor): Violation {
  return {
    check,
    kind: 'stale',
    read,
    expected: floor.version,
    because: floor.because,
    via: floor.via,
  }
}

function result(history: History, violations: Violation[]): CheckResult {
  const origin = Math.min(...history.operations.map((op) => op.start))
  const at = (time: number) => `+${(time - origin).toFixed(3)} ms`
  const span = (op: Operation) => `[${at(op.start)} .. ${at(op.end)}]`
  const seen = (version: number | undefined) => (version === undefined ? 'absent' : `v${version}`)
  const line = (v: Violation) => {
    const read = `${v.check}: read #${v.read.id} by ${v.read.actor} of ${v.read.key} ${span(v.read)} observed ${seen(v.read.version)}`
    if (v.kind === 'unwritten') return `${read}, a version no write had started by then`
    const cause = v.because as Operation
    const hops = v.via.map((h) => `, handed ${h.from} -> ${h.to} at ${at(h.at)}`).join('')
    const what =
      cause.kind === 'write' ? `write of v${cause.version}` : `invalidation to v${v.expected}`
    return `${read}, but ${what} #${cause.id} by ${cause.actor} ${span(cause)} ended before it started${hops}`
  }
  const sorted = [...violations].sort((a, b) => a.read.start - b.read.start)
  return {
    ok: sorted.length === 0,
    violations: sorted,
    format: () =>
      sorted.length === 0
        ? `no violations in ${history.operations.length} operations`
        : [
            `${sorted.length} violation(s) in ${history.operations.length} operations:`,
            ...sorted.map(line),
          ].join('\n'),
  }
}
