/**
 * Where a replica stands. `unknown`: not checked yet. `up`: serving reads. `lagging`: over
 * `maxLagMs` or `maxLagBytes`, or its replay waits for a lock reads there hold. `down`: refused connections or timed out; retried with
 * backoff. `promoted`: out of recovery, so no longer a replica.
 */
export type ReplicaStatus = 'unknown' | 'up' | 'lagging' | 'down' | 'promoted'

/**
 * What the router knows about one replica: given to strategies, and returned (as a snapshot)
 * by `replicas()`.
 *
 * @example
 * ```ts
 * for (const replica of database.replicas()) {
 *   console.log(replica.label, replica.status, replica.lagMs, replica.inFlight)
 * }
 * ```
 */
export interface ReplicaState {
  /** `replica-1`, `replica-2`, ... in the order of the configuration. */
  readonly label: string
  /** `host:port/database`. */
  readonly address: string
  readonly status: ReplicaStatus
  /** Time lag at the last check, as DESIGN.md defines it; 0 when replay has caught up. */
  readonly lagMs?: number
  /** Bytes of WAL between the primary's current LSN and the replica's replay LSN. */
  readonly lagBytes?: number
  /** The replica's replay LSN at the last check. */
  readonly replayLsn?: string
  /** The timeline it was on at the last check (tokens from another timeline do not count). */
  readonly timeline?: number
  /** Reads routed to it and not finished, their wait for a pooled connection included. */
  readonly inFlight: number
  /** Reads it has served through this router. */
  readonly reads: number
  /** When it was last checked (epoch ms). */
  readonly checkedAt?: number
  /** Why it is down: a stable code and a message without secrets. */
  readonly lastError?: { readonly code: string; readonly message: string }
}

/** The router's live, mutable record of one replica (read-only to everyone else). */
export type MutableReplicaState = {
  -readonly [K in keyof ReplicaState]: ReplicaState[K]
}
