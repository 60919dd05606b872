import { waitFor } from '../process/wait.js'
import { invalidSetting, PostgresServer } from './server.js'

/**
 * A streaming replica with replication fault controls.
 *
 * @example
 * ```ts
 * const cluster = await startPostgres({ replicas: 2 })
 * const [replica] = cluster.replicas
 * await replica.pauseReplay() // its replay LSN stops moving
 * await replica.resumeReplay()
 * await replica.setApplyDelay(300) // commits become visible 300 ms late
 * ```
 */
export class ReplicaServer extends PostgresServer {
  /** Stops applying WAL (it still receives it); reads see a frozen snapshot. */
  async pauseReplay(): Promise<void> {
    await this.query('select pg_wal_replay_pause()')
    await waitFor(
      async () => {
        const [row] = await this.query<{ state: string }>(
          'select pg_get_wal_replay_pause_state() as state',
        )
        return row?.state === 'paused'
      },
      { what: `${this.name} replay to pause` },
    )
  }

  /** Resumes applying WAL. */
  async resumeReplay(): Promise<void> {
    await this.query('select pg_wal_replay_resume()')
  }

  /**
   * Delays applying each commit until `ms` after it happened on the primary
   * (`recovery_min_apply_delay`); 0 removes the delay. Takes effect without a restart. An `ms`
   * outside 0..2147483647 (PostgreSQL's INT_MAX) or not finite is `TestServerError`
   * `INVALID_SETTING`, before the server is touched.
   */
  async setApplyDelay(ms: number): Promise<void> {
    const delay = milliseconds('recovery_min_apply_delay', ms, 0)
    await this.alterSystem('recovery_min_apply_delay', `${delay}ms`, String(delay))
  }

  /**
   * How long replay waits for standby queries that conflict with it before cancelling them
   * (`max_standby_streaming_delay`; -1 waits forever). 0 cancels at once: with
   * {@link setHotStandbyFeedback}(false), a VACUUM on the primary then cancels a long read
   * here with a recovery conflict (SQLSTATE 40001). An `ms` outside -1..2147483647 or not
   * finite is `TestServerError` `INVALID_SETTING`, before the server is touched.
   *
   * @example
   * ```ts
   * await replica.setHotStandbyFeedback(false)
   * await replica.setStandbyDelay(0)
   * ```
   */
  async setStandbyDelay(ms: number): Promise<void> {
    const delay = milliseconds('max_standby_streaming_delay', ms, -1)
    await this.alterSystem('max_standby_streaming_delay', `${delay}ms`, String(delay))
  }

  /**
   * Whether the replica tells the primary which rows its queries still need
   * (`hot_standby_feedback`, on by default in these fixtures). Off lets the primary's VACUUM
   * remove them, so replay conflicts with long standby queries.
   */
  async setHotStandbyFeedback(on: boolean): Promise<void> {
    if (typeof on !== 'boolean') throw invalidSetting('hot_standby_feedback', on, 'true or false')
    await this.alterSystem('hot_standby_feedback', on ? 'on' : 'off', on ? 'on' : 'off')
  }

  /** Promotes the replica to a primary and waits until it has left recovery. */
  async promote(): Promise<void> {
    await this.query('select pg_promote(true, 60)')
    await waitFor(async () => !(await this.isInRecovery()), {
      what: `${this.name} to leave recovery`,
    })
  }

  /** The last WAL position replayed (`pg_last_wal_replay_lsn()`). */
  async replayLsn(): Promise<string> {
    const [row] = await this.query<{ lsn: string }>('select pg_last_wal_replay_lsn()::text as lsn')
    return row?.lsn ?? '0/0'
  }
}

/** The largest value of an integer setting: PostgreSQL's INT_MAX. */
const INT_MAX = 2_147_483_647

/** `ms` as a whole number of milliseconds in `min`..INT_MAX, else `INVALID_SETTING`. */
function milliseconds(name: string, ms: number, min: number): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < min || ms > INT_MAX)
    throw invalidSetting(name, ms, `a finite number of milliseconds from ${min} to ${INT_MAX}`)
  return Math.trunc(ms)
}
