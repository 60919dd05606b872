import { ShapeCache, type SluiceConnection } from '@sluice/core'
import { CompiledQuery } from 'kysely'
import {
  type Classification,
  classifyQuery,
  compileWriteFunctions,
  type WriteFunctions,
} from './classify.js'
import type { ConsistencyScopes, ReadRequirement } from './consistency.js'
import { InvalidStrategyPickError, NoReplicaAvailableError } from './errors.js'
import type { ResolvedRouterOptions } from './options.js'
import type { ReplicaMonitor } from './replica-monitor.js'
import type { ReplicaState } from './replica-state.js'
import type { RouteEvent } from './route-events.js'
import type { ReplicaNode, TargetNode } from './target-node.js'

/** Replicas one router can hold: a read's candidates are a bit set in a 32-bit integer. */
export const MAX_REPLICAS = 31

const LSN_SQL = CompiledQuery.raw('select pg_current_wal_lsn()::text as lsn')
const UNKNOWN_LSN = 'FFFFFFFF/FFFFFFFF'

/**
 * The routing decisions shared by every connection of one routed database: classification,
 * replica choice with fallback, and commit-LSN capture for read-your-writes.
 */
export class Router {
  readonly primary: TargetNode
  readonly replicas: readonly ReplicaNode[]
  readonly scopes: ConsistencyScopes
  readonly monitor: ReplicaMonitor
  readonly options: ResolvedRouterOptions
  readonly #writes: WriteFunctions
  readonly #classifications = new ShapeCache<Classification>()
  // The candidate set of the last read, by which replicas were eligible: reads see the same set
  // until a status, lag or token changes it, so the hot path builds no arrays.
  #eligible = -1
  #candidates: readonly ReplicaNode[] = []
  #candidateStates: readonly ReplicaState[] = []
  /** The `onRoute` hook, if any: call it as `router.onRoute?.({...})`, so no event is built otherwise. */
  readonly onRoute: ((event: RouteEvent) => void) | undefined
  closed = false

  constructor(
    primary: TargetNode,
    replicas: readonly ReplicaNode[],
    scopes: ConsistencyScopes,
    monitor: ReplicaMonitor,
    options: ResolvedRouterOptions,
  ) {
    this.primary = primary
    this.replicas = replicas
    this.scopes = scopes
    this.monitor = monitor
    this.options = options
    this.#writes = compileWriteFunctions(options.writeFunctions)
    this.onRoute = options.hooks?.onRoute
  }

  /** Classifies a statement from its operation tree, once per query shape. */
  classify(query: CompiledQuery): Classification {
    return this.#classifications.get(query, (node) => classifyQuery(node, this.#writes))
  }

  /**
   * Picks the server for a read: a replica the strategy chooses among those that are up,
   * within the lag bounds and caught up with the scope's token; else the primary, or
   * `NoReplicaAvailableError` with `fallback: 'error'`. `failed` is left out (a retry).
   * Await `monitor.ready` first, so that replicas have been checked.
   */
  pickRead(reason: 'read' | 'read-only-transaction' = 'read', failed?: ReplicaNode): TargetNode {
    const requirement = this.scopes.current()
    let eligible = 0
    for (let index = 0; index < this.replicas.length; index++) {
      const replica = this.replicas[index] as ReplicaNode
      if (replica !== failed && skipReason(replica, requirement) === undefined) {
        eligible |= 1 << index
      }
    }
    if (eligible !== 0) {
      const replica = this.#pick(eligible)
      this.onRoute?.({
        target: replica.target.label,
        role: 'replica',
        reason: failed ? 'retry' : reason,
      })
      return replica
    }
    const skipped: Record<string, string> = {}
    for (const replica of this.replicas) {
      skipped[replica.target.label] =
        replica === failed ? 'failed' : (skipReason(replica, requirement) ?? 'unknown')
    }
    if (this.options.fallback === 'error') throw new NoReplicaAvailableError(skipped)
    this.onRoute?.({
      target: this.primary.target.label,
      role: 'primary',
      reason: failed ? 'retry' : 'fallback',
      skipped,
    })
    return this.primary
  }

  /**
   * After a write committed in a consistency scope: reads the primary's WAL position on the
   * same connection (it is at or after the commit record) and records it as the scope's
   * token. If that fails, the scope is pinned to the primary instead.
   */
  async noteCommit(connection: SluiceConnection): Promise<void> {
    if (!this.scopes.tracking) return
    try {
      const { rows } = await connection.executeQuery<{ lsn: string }>(LSN_SQL)
      this.scopes.noteWrite((rows[0] as { lsn: string }).lsn)
    } catch {
      this.scopes.noteWrite(UNKNOWN_LSN)
    }
  }

  /** Asks the strategy to choose among the replicas whose bits are set in `eligible`. */
  #pick(eligible: number): ReplicaNode {
    if (eligible !== this.#eligible) {
      this.#candidates = this.replicas.filter((_, index) => eligible & (1 << index))
      this.#candidateStates = this.#candidates.map((replica) => replica.state)
      this.#eligible = eligible
    }
    const candidates = this.#candidates
    const index = this.options.strategy.pick(this.#candidateStates)
    const chosen = Number.isInteger(index) ? candidates[index] : undefined
    if (!chosen) {
      throw new InvalidStrategyPickError(this.options.strategy.name, index, candidates.length)
    }
    return chosen
  }
}

function skipReason(
  replica: ReplicaNode,
  requirement: ReadRequirement | undefined,
): string | undefined {
  if (replica.state.status !== 'up') return replica.state.status
  if (requirement === undefined) return undefined
  if (requirement.minLsn !== undefined && (replica.replayLsn ?? 0n) < requirement.minLsn) {
    return 'behind-token'
  }
  if (requirement.maxLagMs !== undefined && (replica.state.lagMs ?? 0) > requirement.maxLagMs) {
    return 'over-scope-lag'
  }
  return undefined
}
