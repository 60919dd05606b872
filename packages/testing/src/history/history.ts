import { TestServerError } from '../errors.js'

/**
 * One operation of a workload, as a client observed it. Versions are totally ordered per key:
 * a workload writes increasing integers per key (1, 2, 3...), a read reports the version it
 * saw, `undefined` when the key was absent (older than any write). Times are milliseconds on
 * one clock (the recorder uses `performance.timeOrigin + performance.now()`).
 */
export interface Operation {
  /** Unique within the history, in start order for recorded histories. */
  readonly id: number
  /** One sequential logical client: a session, a request chain. Its operations never overlap. */
  readonly actor: string
  readonly kind: 'write' | 'read' | 'invalidate'
  readonly key: string
  /**
   * write: the version written. read: the version observed (`undefined`: absent).
   * invalidate: the version the invalidation makes current for readers (`undefined`: the
   * newest version written before it started).
   */
  readonly version?: number | undefined
  readonly start: number
  readonly end: number
  /** A failed write may or may not have happened: it never sets a floor. Failed reads are ignored. */
  readonly ok: boolean
}

/**
 * A consistency token passed from one actor to another (e.g. in an HTTP header to a second
 * service): from `at` on, `to` must see every write `from` had seen (its own completed
 * writes, and what it was handed).
 */
export interface HandOff {
  readonly from: string
  readonly to: string
  readonly at: number
}

/** What a workload recorded; plain data, so a history can also be built by hand. */
export interface History {
  readonly operations: readonly Operation[]
  readonly handOffs: readonly HandOff[]
}

/**
 * Fails with `TestServerError` `INVALID_HISTORY` for an operation that ends before it starts
 * or a write without a finite version, and `OVERLAPPING_OPERATIONS` when two operations of
 * one actor overlap in time (an actor is sequential: give parallel branches their own actor
 * names).
 */
export function validateHistory(history: History): void {
  const byActor = new Map<string, Operation[]>()
  for (const op of history.operations) {
    if (!(op.end >= op.start))
      throw new TestServerError(
        'INVALID_HISTORY',
        `operation #${op.id} of ${op.actor} ends (${op.end}) before it starts (${op.start})`,
      )
    if (op.kind === 'write' && !Number.isFinite(op.version))
      throw new TestServerError(
        'INVALID_HISTORY',
        `write #${op.id} of ${op.actor} has no version: a write names the version it wrote`,
      )
    const ofActor = byActor.get(op.actor)
    if (ofActor) ofActor.push(op)
    else byActor.set(op.actor, [op])
  }
  for (const [actor, ops] of byActor) {
    const sorted = [...ops].sort((a, b) => a.start - b.start)
    for (let i = 1; i < sorted.length; i++) {
      const [before, after] = [sorted[i - 1] as Operation, sorted[i] as Operation]
      if (after.start < before.end) throw overlapping(actor, before, after)
    }
  }
}

/** The `OVERLAPPING_OPERATIONS` error for two operations of one actor. */
export function overlapping(
  actor: string,
  first: Pick<Operation, 'id' | 'kind' | 'key'>,
  second: Pick<Operation, 'id' | 'kind' | 'key'>,
): TestServerError {
  return new TestServerError(
    'OVERLAPPING_OPERATIONS',
    `actor ${actor} ran #${second.id} (${second.kind} ${second.key}) while #${first.id} ` +
      `(${first.kind} ${first.key}) was still running: an actor is sequential, give ` +
      'concurrent branches their own actor names',
  )
}
