import { waitFor } from '../process/wait.js'
import { PostgresServer } from './server.js'

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
   * (`recovery_min_apply_delay`); 0 removes the delay. Takes effect without a restart.
   */
  async setApplyDelay(ms: number): Promise<void> {
    await this.query(
      `alter system set recovery_min_apply_delay = '${Math.max(0, Math.trunc(ms))}ms'`,
    )
    await this.query('select pg_reload_conf()')
    await waitFor(
      async () => {
        const [row] = await this.query<{ delay: string }>(
          "select setting as delay from pg_settings where name = 'recovery_min_apply_delay'",
        )
        return Number(row?.delay) === Math.max(0, Math.trunc(ms))
      },
      { what: `${this.name} to apply the new delay` },
    )
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
