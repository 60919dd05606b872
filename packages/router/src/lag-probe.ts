import type pg from 'pg'
import { parseLsn } from './lsn.js'

/** What one check of a replica found. */
export interface ReplicaProbe {
  readonly inRecovery: boolean
  readonly replayLsn: bigint | undefined
  readonly lagBytes: number | undefined
  /** 0 when replay has reached the primary's LSN (or, with no primary LSN, the received WAL). */
  readonly lagMs: number
}

/**
 * The primary's current WAL position.
 *
 * @example
 * ```ts
 * const lsn = await primaryLsn(pool) // 50331744n
 * ```
 */
export async function primaryLsn(pool: pg.Pool): Promise<bigint> {
  const { rows } = await pool.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')
  return parseLsn((rows[0] as { lsn: string }).lsn)
}

const REPLICA_SQL = `select pg_is_in_recovery() as in_recovery,
  pg_last_wal_replay_lsn()::text as replay_lsn,
  pg_last_wal_receive_lsn()::text as receive_lsn,
  (extract(epoch from now() - pg_last_xact_replay_timestamp()) * 1000)::float8 as since_replay_ms`

/**
 * Checks a replica against the primary's LSN (when known): lag in bytes is the primary's LSN
 * minus the replay LSN; lag in time is 0 when replay has caught up, otherwise the time since
 * the last replayed transaction committed. An unknown replay time while behind counts as
 * infinitely late.
 *
 * @example
 * ```ts
 * const probe = await probeReplica(replicaPool, await primaryLsn(primaryPool))
 * ```
 */
export async function probeReplica(
  pool: pg.Pool,
  primary: bigint | undefined,
): Promise<ReplicaProbe> {
  const { rows } = await pool.query<{
    in_recovery: boolean
    replay_lsn: string | null
    receive_lsn: string | null
    since_replay_ms: number | null
  }>(REPLICA_SQL)
  const row = rows[0]
  if (!row?.in_recovery) {
    return { inRecovery: false, replayLsn: undefined, lagBytes: undefined, lagMs: 0 }
  }
  const replay = row.replay_lsn === null ? undefined : parseLsn(row.replay_lsn)
  const reference = primary ?? (row.receive_lsn === null ? undefined : parseLsn(row.receive_lsn))
  const behind = replay === undefined || (reference !== undefined && replay < reference)
  const lagMs = !behind ? 0 : Math.max(0, row.since_replay_ms ?? Number.POSITIVE_INFINITY)
  const lagBytes =
    primary === undefined || replay === undefined
      ? undefined
      : Math.max(0, Number(primary - replay))
  return { inRecovery: true, replayLsn: replay, lagBytes, lagMs }
}
