import { createPool, type TargetConfig, type TargetHealth } from '@sluice/core'
import {
  describeError,
  MAX_TIMER_MS,
  type SluiceConnection,
  SluiceDriver,
  toSluiceError,
  withTargetSettings,
} from '@sluice/core/internal'
import type pg from 'pg'
import type { ReplicaProbe } from './lag-probe.js'
import { formatLsn } from './lsn.js'
import type { ResolvedRouterOptions } from './options.js'
import type { MutableReplicaState, ReplicaState, ReplicaStatus } from './replica-state.js'

/** One server the router sends statements to: its pool and Sluice driver. */
export class TargetNode {
  readonly target: TargetConfig
  readonly role: 'primary' | 'replica'
  readonly pool: pg.Pool
  readonly driver: SluiceDriver
  /** A one-connection pool for lag and health checks, apart from the application's. */
  readonly probePool: pg.Pool

  /** `commitToken`: for the primary, the token of a write that just committed (for `afterCommit`). */
  constructor(
    target: TargetConfig,
    role: 'primary' | 'replica',
    options: ResolvedRouterOptions,
    commitToken?: (connection: SluiceConnection) => Promise<string | undefined>,
  ) {
    this.target = target
    this.role = role
    this.pool = createPool(target, options.instrumentation)
    this.driver = new SluiceDriver(this.pool, target, {
      instrumentation: options.instrumentation,
      afterCommit: role === 'primary' ? options.afterCommit : undefined,
      commitToken: role === 'primary' ? commitToken : undefined,
      streamIdleTimeoutMs: options.streamIdleTimeoutMs,
    })
    const probeTarget = withTargetSettings(target, {
      pool: {
        size: 1,
        // Every use (a lag check, a health check, the primary's position) has its own deadline
        // of probeTimeoutMs: the pool's own wait is longer, so a check queued behind one hung on
        // a frozen server ends by that deadline too, always as DEADLINE_EXCEEDED (with equal
        // timers the pool's fired first, and the same check said POOL_TIMEOUT or CONNECT_TIMEOUT).
        acquireTimeoutMs: Math.min(2 * options.probeTimeoutMs, MAX_TIMER_MS),
        idleTimeoutMs: Math.min(Math.max(60_000, options.lagCheckIntervalMs * 3), MAX_TIMER_MS),
      },
      server: { statementTimeoutMs: options.probeTimeoutMs, applicationName: 'sluice-monitor' },
    })
    this.probePool = createPool(probeTarget)
  }

  #ended: Promise<void> | undefined

  /** Ends both pools, cutting off what still runs (idempotent; never rejects). */
  end(): Promise<void> {
    this.#ended ??= Promise.all([this.driver.destroy(), this.probePool.end()]).then(
      () => undefined,
      () => undefined,
    )
    return this.#ended
  }
}

/** Startup-option text (backslash-escaped space) of the highest isolation a standby gives. */
const CAPPED_ISOLATION = 'repeatable\\ read'

/**
 * A replica's target with `default_transaction_isolation = 'repeatable read'` for its sessions
 * (its pool's and its monitor's). A standby gives repeatable read at most: with `serializable`
 * as the database's or role's default (SSI on the primary), every new session on a standby
 * fails its first statement (0A000). A read-only snapshot on a standby is as consistent as a
 * serializable one is for a read outside a read-write transaction. A single statement sees
 * one snapshot under read committed too, so reads outside a transaction are unchanged; a
 * read-only transaction on a replica without an isolation level of its own sees one snapshot
 * throughout (an explicit level, `setIsolationLevel('read committed')`, still wins). Sent as
 * a startup option, so directly only: PgBouncer rejects startup options, and there a read the
 * standby refuses goes to the primary.
 */
function standbySessions(target: TargetConfig): TargetConfig {
  const own = target.server.options
  return withTargetSettings(target, {
    server: {
      options: `${own === undefined ? '' : `${own} `}-c default_transaction_isolation=${CAPPED_ISOLATION}`,
    },
  })
}

/** A replica: a {@link TargetNode} with the state the monitor and the read path keep. */
export class ReplicaNode extends TargetNode {
  readonly state: MutableReplicaState
  /**
   * The replay LSN at the last check: behind the real one while the replica stays up, so safe
   * for tokens. A restart can move the real one back: then the replica is down until checked.
   */
  replayLsn: bigint | undefined
  /** The timeline at the last check, `undefined` when not known. */
  timeline: number | undefined
  /** The cluster's system identifier as the replica reported it. */
  systemId: string | undefined
  /** Checks failed in a row. */
  failures = 0
  /** When a `down` replica may be checked again (epoch ms). */
  nextCheckAt = 0
  readonly #options: ResolvedRouterOptions

  constructor(target: TargetConfig, options: ResolvedRouterOptions) {
    super(standbySessions(target), 'replica', options)
    this.#options = options
    this.state = {
      label: target.label,
      address: target.address,
      status: 'unknown',
      inFlight: 0,
      reads: 0,
    }
    // The monitor's connection idles between checks. When the replica drops it (killed,
    // restarted, its link cut), the replica may come back behind the replay position last seen:
    // a restarted standby accepts reads from its consistency point while it replays again from
    // its last restartpoint. So it gets no reads until a check says where it is now.
    this.probePool.on('error', (error) => this.failed(toSluiceError(error, target)))
  }

  /** Records a successful check. */
  checked(check: ReplicaProbe): void {
    const { maxLagMs, maxLagBytes } = this.#options
    this.failures = 0
    this.replayLsn = check.replayLsn
    this.timeline = check.timeline
    this.systemId = check.systemId
    const state = this.state
    state.checkedAt = Date.now()
    state.lagMs = check.lagMs
    state.replayLsn = check.replayLsn === undefined ? undefined : formatLsn(check.replayLsn)
    state.timeline = check.timeline
    state.lagBytes = check.lagBytes
    state.lastError = undefined
    const overBound =
      check.lagMs > maxLagMs || (check.lagBytes ?? 0) > maxLagBytes || check.replayBlocked
    this.#setStatus(!check.inRecovery ? 'promoted' : overBound ? 'lagging' : 'up')
    this.#options.events.onReplicaCheck.emit?.({ replica: this.snapshot() })
  }

  /** Records a failed check or a read that lost its connection; backs off exponentially. */
  failed(error: unknown): void {
    const { retryDelayMs, maxRetryDelayMs } = this.#options
    this.failures++
    const delay = Math.min(retryDelayMs * 2 ** (this.failures - 1), maxRetryDelayMs)
    this.nextCheckAt = Date.now() + delay
    this.state.checkedAt = Date.now()
    this.state.lastError = describeError(error)
    this.#setStatus('down')
  }

  /** A copy of the state, for `replicas()`. */
  snapshot(): ReplicaState {
    return Object.freeze({ ...this.state })
  }

  #setStatus(to: ReplicaStatus): void {
    const from = this.state.status
    if (from === to) return
    this.state.status = to
    this.#options.events.onReplicaStatus.emit?.({ replica: this.snapshot(), from, to })
  }
}

/**
 * A replica's health as the server answered it, with what the router knows besides: a
 * replica it holds back for lag is `lagging` (with its lag), one it found out of recovery is
 * `promoted`, even if the server answered this check.
 */
export function withRouterView(health: TargetHealth, replica: ReplicaNode): TargetHealth {
  const { status, lagMs } = replica.state
  const known =
    health.status === 'up' && (status === 'lagging' || status === 'promoted')
      ? status
      : health.status
  return {
    ...health,
    status: known,
    ...(lagMs !== undefined && { lagMs }),
    ...(known === 'lagging'
      ? {
          error: {
            code: 'REPLICA_LAGGING',
            message: `${replica.target.label} is over the lag bounds`,
          },
        }
      : {}),
  }
}
