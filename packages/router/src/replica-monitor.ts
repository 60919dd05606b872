import { setTimeout as delay } from 'node:timers/promises'
import { toSluiceError, withDeadline } from '@sluice/core/internal'
import { probePrimary, probeReplica, type ReplicaProbe } from './lag-probe.js'
import type { ResolvedRouterOptions } from './options.js'
import type { ReplicaNode, TargetNode } from './target-node.js'

const CONFIRM_DELAY_MS = 20

/**
 * Checks every replica's lag and health every `lagCheckIntervalMs` (rounds never overlap),
 * on probe pools separate from the application's. A replica that is down is re-checked only
 * after its backoff delay.
 */
export class ReplicaMonitor {
  readonly #primary: TargetNode
  readonly #replicas: readonly ReplicaNode[]
  readonly #intervalMs: number
  readonly #timeoutMs: number
  readonly #maxLagMs: number
  readonly #ready: Promise<void>
  #markReady = () => {}
  #isReady = false
  #timer: NodeJS.Timeout | undefined
  #round: Promise<void> | undefined
  #stopped = false
  /** The cluster's system identifier, from the first check that answered. */
  systemId: string | undefined

  constructor(
    primary: TargetNode,
    replicas: readonly ReplicaNode[],
    options: ResolvedRouterOptions,
  ) {
    this.#primary = primary
    this.#replicas = replicas
    this.#intervalMs = options.lagCheckIntervalMs
    this.#timeoutMs = options.probeTimeoutMs
    this.#maxLagMs = options.maxLagMs
    this.#ready = new Promise((resolve) => {
      this.#markReady = resolve
    })
  }

  /** True once every replica has been checked at least once. */
  get isReady(): boolean {
    return this.#isReady
  }

  /** Resolves once every replica has been checked at least once. */
  get ready(): Promise<void> {
    return this.#ready
  }

  start(): void {
    if (this.#replicas.length === 0) {
      this.#isReady = true
      this.#markReady()
      return
    }
    this.#tick()
  }

  /** Runs one round now (also what the timer does). */
  async check(): Promise<void> {
    this.#round ??= this.#checkAll().finally(() => {
      this.#round = undefined
    })
    await this.#round
  }

  /** Stops checking; a round under way ends within `probeTimeoutMs` (not awaited past `timeoutMs`). */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    if (this.#round) await withDeadline(this.#round, timeoutMs, () => undefined)
  }

  #tick(): void {
    this.check().finally(() => {
      if (this.#stopped) return
      this.#timer = setTimeout(() => this.#tick(), this.#intervalMs)
      this.#timer.unref()
    })
  }

  async #checkAll(): Promise<void> {
    const primary = await probePrimary(
      this.#primary.probePool,
      this.#primary.target,
      this.#timeoutMs,
    ).catch(() => undefined)
    if (primary) this.systemId = primary.systemId
    const now = Date.now()
    await Promise.all(
      this.#replicas.map(async (replica) => {
        if (replica.state.status === 'down' && now < replica.nextCheckAt) return
        try {
          const probe = await this.#probe(replica, primary?.lsn)
          this.systemId ??= probe.systemId
          replica.checked(probe)
        } catch (error) {
          replica.failed(toSluiceError(error, replica.target))
        }
      }),
    )
    if (!this.#isReady) {
      this.#isReady = true
      this.#markReady()
    }
  }

  /**
   * Checks a replica. Time lag counts from the last replayed commit, so WAL that holds no commit
   * (a checkpoint record, say) written just before the check would make an idle, caught-up
   * replica look seconds behind. A replica that looks over `maxLagMs` is therefore checked
   * once more after a moment: one that is really behind is still behind.
   */
  async #probe(replica: ReplicaNode, primary: bigint | undefined): Promise<ReplicaProbe> {
    const check = () => probeReplica(replica.probePool, replica.target, primary, this.#timeoutMs)
    const probe = await check()
    if (!probe.inRecovery || probe.lagMs <= this.#maxLagMs) return probe
    await delay(CONFIRM_DELAY_MS)
    return check()
  }
}
