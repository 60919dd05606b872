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

/** Groups `items` by `keyOf`, in their order. */
function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const item of items) {
    const group = groups.get(keyOf(item))
    if (group) group.push(item)
    else groups.set(keyOf(item), [item])
  }
  return groups
}

/**
 * The highest floor among floors sorted by `end`, up to a time: prefix maxima and a binary
 * search, so a checker stays near-linear on long histories of one hot key.
 */
class FloorsByEnd {
  readonly #ends: number[] = []
  readonly #best: (Floor | undefined)[] = []

  constructor(floors: readonly { end: number; floor: Floor }[]) {
    let best: Floor | undefined
    for (const { end, floor } of [...floors].sort((a, b) => a.end - b.end)) {
      best = higher(best, floor)
      this.#ends.push(end)
      this.#best.push(best)
    }
  }

  /** The highest floor that ended before `time` (at or before it when `inclusive`). */
  upTo(time: number, inclusive: boolean): Floor | undefined {
    let [low, high] = [0, this.#ends.length]
    while (low < high) {
      const mid = (low + high) >> 1
      const end = this.#ends[mid] as number
      if (end < time || (inclusive && end === time)) low = mid + 1
      else high = mid
    }
    return low === 0 ? undefined : this.#best[low - 1]
  }
}

/**
 * Read-your-writes: a read that started after the same actor's write ended, or after a
 * hand-off of a token covering that write, observed that write or a newer one. Hand-offs chain:
 * a token carries what its giver had been handed. An actor is sequential, so a read that starts
 * the instant its own write (or a hand-off to it) ended comes after it; hand-offs at one instant
 * are ordered as recorded. Overlapping operations of one actor are `TestServerError`
 * `OVERLAPPING_OPERATIONS`.
 *
 * @example
 * ```ts
 * const result = readYourWrites(recorder.history())
 * expect(result.violations, result.format()).toEqual([])
 * ```
 */
export function readYourWrites(history: History): CheckResult {
  validateHistory(history)
  const handOffs = history.handOffs.map((handOff, index) => ({ handOff, index }))
  const handedTo = groupBy(handOffs, ({ handOff }) => handOff.to)
  const writesOfKey = groupBy(
    history.operations.filter((op) => op.kind === 'write' && op.ok),
    (write) => write.key,
  )
  const violations: Violation[] = []
  for (const [key, keyReads] of groupBy(reads(history), (read) => read.key)) {
    const own = new Map(
      [...groupBy(writesOfKey.get(key) ?? [], (write) => write.actor)].map(([actor, ofActor]) => [
        actor,
        new FloorsByEnd(
          ofActor.map((write) => ({
            end: write.end,
            floor: { version: write.version as number, because: write, via: [] },
          })),
        ),
      ]),
    )
    const carriedMemo = new Map<number, Floor | undefined>()
    // What hand-off `index` carried: its giver's writes and what the giver had been handed.
    const carried = (index: number): Floor | undefined => {
      if (carriedMemo.has(index)) return carriedMemo.get(index)
      const handOff = history.handOffs[index] as HandOff
      const before = (other: { handOff: HandOff; index: number }) =>
        other.handOff.at < handOff.at || (other.handOff.at === handOff.at && other.index < index)
      const floor = floorOf(handOff.from, handOff.at, before)
      const result = floor && { ...floor, via: [...floor.via, handOff] }
      carriedMemo.set(index, result)
      return result
    }
    const floorOf = (
      actor: string,
      time: number,
      earlier: (other: { handOff: HandOff; index: number }) => boolean,
    ): Floor | undefined => {
      let floor = own.get(actor)?.upTo(time, true)
      for (const other of handedTo.get(actor) ?? [])
        if (earlier(other)) floor = higher(floor, carried(other.index))
      return floor
    }
    for (const read of keyReads) {
      const floor = floorOf(read.actor, read.start, ({ handOff }) => handOff.at <= read.start)
      if (floor && below(read.version, floor)) violations.push(stale('readYourWrites', read, floor))
    }
  }
  return result(history, violations)
}

/**
 * No stale reads (the cache's promise): a read that started after a write or an invalidation
 * of its key ended, in any actor, never observed an older version; and no read observed a
 * version whose write had not started before the read ended. A read concurrent with a write
 * may see either version (so may one that starts the very instant another actor's write ends).
 * Failed writes set no floor but may be observed.
 *
 * @example
 * ```ts
 * const result = noStaleReads(recorder.history())
 * expect(result.violations, result.format()).toEqual([])
 * ```
 */
export function noStaleReads(history: History): CheckResult {
  validateHistory(history)
  const violations: Violation[] = []
  for (const ops of groupBy(history.operations, (op) => op.key).values()) {
    const writes = ops.filter((op) => op.kind === 'write')
    const floorOfWrite = (write: Operation): Floor => ({
      version: write.version as number,
      because: write,
      via: [],
    })
    const completedWrites = new FloorsByEnd(
      writes.filter((w) => w.ok).map((w) => ({ end: w.end, floor: floorOfWrite(w) })),
    )
    const floors = new FloorsByEnd(
      ops.flatMap((op) => {
        if (!op.ok || op.kind === 'read') return []
        const version =
          op.kind === 'write'
            ? op.version
            : (op.version ?? completedWrites.upTo(op.start, false)?.version)
        return version === undefined
          ? []
          : [{ end: op.end, floor: { version, because: op, via: [] } }]
      }),
    )
    // When each version's first write started: a read may observe it once it has.
    const firstStart = new Map<number | undefined, number>()
    for (const write of writes)
      firstStart.set(
        write.version,
        Math.min(firstStart.get(write.version) ?? write.start, write.start),
      )
    for (const read of ops) {
      if (read.kind !== 'read' || !read.ok) continue
      const floor = floors.upTo(read.start, false)
      if (floor && below(read.version, floor)) violations.push(stale('noStaleReads', read, floor))
      else if (
        read.version !== undefined &&
        !((firstStart.get(read.version) ?? read.end) < read.end)
      )
        violations.push({ check: 'noStaleReads', kind: 'unwritten', read, via: [] })
    }
  }
  return result(history, violations)
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
  // A loop, not Math.min(...starts): a long workload's history overflows the call stack.
  let origin = Number.POSITIVE_INFINITY
  for (const op of history.operations) if (op.start < origin) origin = op.start
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
