import { ConnectionError, type TargetConfig } from '@sluice/core'
import { queryWithin } from '@sluice/core/internal'
import type pg from 'pg'
import { parseLsn } from './lsn.js'

/** What one check of the primary found. */
export interface PrimaryProbe {
  readonly lsn: bigint
  readonly systemId: string
}

/** What one check of a replica found. */
export interface ReplicaProbe {
  readonly inRecovery: boolean
  readonly replayLsn: bigint | undefined
  /** The timeline it receives (or, with no WAL receiver running, its last restartpoint's). */
  readonly timeline: number | undefined
  readonly systemId: string
  readonly lagBytes: number | undefined
  /** 0 when replay has reached the primary's LSN (or, with no primary LSN, the received WAL). */
  readonly lagMs: number
  /**
   * Replay waits for a lock that reads there hold (the primary ran DDL or VACUUM truncated a
   * table): every new read of that table queues behind it, for up to
   * `max_standby_streaming_delay`.
   */
  readonly replayBlocked: boolean
}

const PRIMARY_SQL = `select pg_current_wal_lsn()::text as lsn,
  (select system_identifier::text from pg_control_system()) as system_id`

/**
 * The primary's current WAL position and system identifier, within `timeoutMs` (connection
 * included); a primary that does not answer in time has its probe connection destroyed.
 *
 * @example
 * ```ts
 * const { lsn } = await probePrimary(pool, config.primary, 2000) // 50331744n
 * ```
 */
export async function probePrimary(
  pool: pg.Pool,
  target: TargetConfig,
  timeoutMs: number,
): Promise<PrimaryProbe> {
  const rows = await queryWithin<{ lsn: string; system_id: string }>(
    pool,
    PRIMARY_SQL,
    timeoutMs,
    () => probeTimeout(target, timeoutMs),
  )
  const row = rows[0] as { lsn: string; system_id: string }
  return { lsn: parseLsn(row.lsn), systemId: row.system_id }
}

const REPLICA_SQL = `select pg_is_in_recovery() as in_recovery,
  pg_last_wal_replay_lsn()::text as replay_lsn,
  pg_last_wal_receive_lsn()::text as receive_lsn,
  (extract(epoch from now() - pg_last_xact_replay_timestamp()) * 1000)::float8 as since_replay_ms,
  coalesce((select received_tli from pg_stat_wal_receiver),
    (select timeline_id from pg_control_checkpoint())) as timeline,
  (select system_identifier::text from pg_control_system()) as system_id,
  exists (select from pg_locks where mode = 'AccessExclusiveLock' and not granted) as replay_blocked`

/**
 * Checks a replica against the primary's LSN (when known), within `timeoutMs`: lag in bytes is
 * the primary's LSN minus the replay LSN; lag in time is 0 when replay has caught up, otherwise
 * the time since the last replayed transaction committed. An unknown replay time while behind
 * counts as infinitely late. Replay waiting for a lock is found in `pg_locks`, which every role
 * may read (`pg_stat_activity` hides the startup process's wait from roles without
 * `pg_read_all_stats`): on a standby only replay takes `AccessExclusiveLock`, as a session
 * there may not.
 *
 * @example
 * ```ts
 * const probe = await probeReplica(replicaPool, replica, primary?.lsn, 2000)
 * ```
 */
export async function probeReplica(
  pool: pg.Pool,
  target: TargetConfig,
  primary: bigint | undefined,
  timeoutMs: number,
): Promise<ReplicaProbe> {
  const rows = await queryWithin<{
    in_recovery: boolean
    replay_lsn: string | null
    receive_lsn: string | null
    since_replay_ms: number | null
    timeline: number | null
    system_id: string
    replay_blocked: boolean
  }>(pool, REPLICA_SQL, timeoutMs, () => probeTimeout(target, timeoutMs))
  const row = rows[0]
  const systemId = row?.system_id ?? ''
  if (!row?.in_recovery) {
    return {
      inRecovery: false,
      replayLsn: undefined,
      timeline: undefined,
      systemId,
      lagBytes: undefined,
      lagMs: 0,
      replayBlocked: false,
    }
  }
  const replay = row.replay_lsn === null ? undefined : parseLsn(row.replay_lsn)
  const reference = primary ?? (row.receive_lsn === null ? undefined : parseLsn(row.receive_lsn))
  const behind = replay === undefined || (reference !== undefined && replay < reference)
  const lagMs = !behind ? 0 : Math.max(0, row.since_replay_ms ?? Number.POSITIVE_INFINITY)
  const lagBytes =
    primary === undefined || replay === undefined
      ? undefined
      : Math.max(0, Number(primary - replay))
  return {
    inRecovery: true,
    replayLsn: replay,
    timeline: row.timeline ?? undefined,
    systemId,
    lagBytes,
    lagMs,
    replayBlocked: row.replay_blocked,
  }
}

function probeTimeout(target: TargetConfig, timeoutMs: number): ConnectionError {
  return new ConnectionError(
    'DEADLINE_EXCEEDED',
    `${target.label} (${target.address}) did not answer a lag check within ${timeoutMs} ms`,
    { context: { target: target.label } },
  )
}
