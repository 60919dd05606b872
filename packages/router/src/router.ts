import { ConnectionError, DatabaseClosedError } from '@sluice/core'
import {
  cachedAnalysis,
  type QueryAnalysis,
  queryWithin,
  type SluiceConnection,
  toSluiceError,
} from '@sluice/core/internal'
import { CompiledQuery } from 'kysely'
import {
  type Classification,
  classifyQuery,
  compileWriteFunctions,
  type WriteFunctions,
} from './classify.js'
import type { ConsistencyScopes, ReadRequirement } from './consistency.js'
import { InvalidStrategyPickError, NoReplicaAvailableError } from './errors.js'
import { parseLsn } from './lsn.js'
import type { ResolvedRouterOptions } from './options.js'
import { type Position, reached, UNKNOWN_POSITION } from './position.js'
import type { ReplicaMonitor } from './replica-monitor.js'
import type { ReplicaState } from './replica-state.js'
import type { RouteEvent } from './route-events.js'
import type { ReplicaNode, TargetNode } from './target-node.js'
import { formatToken } from './token.js'

/** Replicas one router can hold: a read's candidates are a bit set in a 32-bit integer. */
export const MAX_REPLICAS = 31

// The insert position, not the write position: with synchronous_commit = off the commit record
// is inserted but maybe not yet written. The WAL file name starts with the current timeline.
const POSITION_SQL = CompiledQuery.raw(
  'select l::text as lsn, pg_walfile_name(l) as wal from pg_current_wal_insert_lsn() l',
)
const POSITION_AND_SYSTEM_SQL = CompiledQuery.raw(
  `select l::text as lsn, pg_walfile_name(l) as wal,
    (select system_identifier::text from pg_control_system()) as system_id
  from pg_current_wal_insert_lsn() l`,
)
/** A row of {@link POSITION_SQL}, with `system_id` from {@link POSITION_AND_SYSTEM_SQL}. */
interface PositionRow {
  readonly lsn: string
  readonly wal: string
  readonly system_id?: string
}
const LEARNED_WRITE: Classification = Object.freeze({ kind: 'write', reason: 'standby-rejected' })
const LEARNED_LIMIT = 1000

/**
 * The routing decisions shared by every connection of one routed database: classification,
 * replica choice with fallback, and write positions for read-your-writes.
 */
export class Router {
  readonly primary: TargetNode
  readonly replicas: readonly ReplicaNode[]
  readonly scopes: ConsistencyScopes
  readonly monitor: ReplicaMonitor
  readonly options: ResolvedRouterOptions
  readonly #writes: WriteFunctions
  /** Each query shape's classification, keyed by core's analysis of that shape. */
  readonly #classifications = new WeakMap<QueryAnalysis, Classification>()
  /** Statements a standby refused as writes, by SQL: they go to the primary from then on. */
  readonly #learned = new Map<string, Classification>()
  // The candidate set of the last read, by which replicas were eligible: reads see the same set
  // until a status, lag or token changes it, so the hot path builds no arrays.
  #eligible = -1
  #candidates: readonly ReplicaNode[] = []
  #candidateStates: readonly ReplicaState[] = []
  /** Connections whose last statement's position {@link commitToken} already recorded. */
  readonly #noted = new WeakSet<SluiceConnection>()
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
  }

  /** The route event publisher while anyone listens: call it as `router.onRoute?.({...})`, so no event is built otherwise. */
  get onRoute(): ((event: RouteEvent) => void) | undefined {
    return this.options.events.onRoute.emit
  }

  /** Classifies a statement from core's analysis of its operation tree, once per query shape. */
  classify(query: CompiledQuery): Classification {
    const analysis = cachedAnalysis(query)
    let classification = this.#classifications.get(analysis)
    if (classification === undefined) {
      classification = this.#learned.get(query.sql) ?? classifyQuery(analysis, this.#writes)
      this.#classifications.set(analysis, classification)
    }
    return classification
  }

  /**
   * A standby refused `query` as a write: from now on that statement shape goes to the
   * primary. Emits a `reclassified` route event.
   */
  learnWrite(query: CompiledQuery, error: unknown): void {
    if (this.#learned.size >= LEARNED_LIMIT) this.#learned.clear()
    this.#learned.set(query.sql, LEARNED_WRITE)
    this.#classifications.set(cachedAnalysis(query), LEARNED_WRITE)
    this.onRoute?.({
      target: this.primary.target.label,
      role: 'primary',
      reason: 'reclassified',
      classification: LEARNED_WRITE.reason,
      error,
    })
  }

  /** The index bit of a replica, for `excluded` sets. */
  bit(replica: ReplicaNode): number {
    return 1 << this.replicas.indexOf(replica)
  }

  /**
   * Picks the server for a read: a replica the strategy chooses among those that are up,
   * within the lag bounds and caught up with the scope's token, and not in `excluded` (a bit
   * set of replicas that failed this read); else the primary. With `fallback: 'error'`, a read
   * that carries no token and is no retry fails with `NoReplicaAvailableError` instead; a read
   * with a token, or a retry, goes to the primary. Await `monitor.ready` first.
   */
  pickRead(
    reason: 'read' | 'read-only-transaction' = 'read',
    excluded = 0,
    error?: unknown,
  ): TargetNode {
    const requirement = this.scopes.current()
    let eligible = 0
    for (let index = 0; index < this.replicas.length; index++) {
      const replica = this.replicas[index] as ReplicaNode
      if ((excluded & (1 << index)) === 0 && skipReason(replica, requirement) === undefined) {
        eligible |= 1 << index
      }
    }
    if (eligible !== 0) {
      const replica = this.#pick(eligible)
      this.onRoute?.({
        target: replica.target.label,
        role: 'replica',
        reason: excluded ? 'retry' : reason,
        error,
      })
      return replica
    }
    const skipped: Record<string, string> = {}
    this.replicas.forEach((replica, index) => {
      skipped[replica.target.label] =
        excluded & (1 << index) ? 'failed' : (skipReason(replica, requirement) ?? 'unknown')
    })
    if (this.options.fallback === 'error' && !excluded && requirement?.min === undefined) {
      throw new NoReplicaAvailableError(skipped)
    }
    this.onRoute?.({
      target: this.primary.target.label,
      role: 'primary',
      reason: excluded ? 'retry' : 'fallback',
      skipped,
      error,
    })
    return this.primary
  }

  /** True when `node` may still serve this scope's reads (a pinned connection asks). */
  canServe(node: TargetNode): boolean {
    if (node === this.primary) return true
    return skipReason(node as ReplicaNode, this.scopes.current()) === undefined
  }

  /**
   * After a write (committed, rolled back or failed) in a consistency scope: reads the
   * primary's WAL insert position and timeline on the same connection and records them as the
   * scope's position. That position is at or after the end of the commit record in every
   * commit mode, and after anything a failed write waited for (the row it conflicted with). If
   * it cannot be read, the scope's reads are pinned to the primary instead.
   */
  async noteWrite(connection: SluiceConnection): Promise<void> {
    if (!this.scopes.tracking || this.#noted.delete(connection)) return
    try {
      this.scopes.noteWrite(await this.#positionOn(connection))
    } catch {
      this.scopes.noteWrite(UNKNOWN_POSITION)
    }
  }

  /**
   * For `afterCommit` (core's commit tracker asks, on the connection, right after a write
   * committed, when the callback wants a token): inside a consistency scope, the scope's token
   * once {@link noteWrite} has read the commit's position, and the `noteWrite` that follows the
   * statement is skipped, so it costs no round trip beyond read-your-writes' own; outside one,
   * the primary's position read with one query on that same connection, which the commit still
   * holds (a second connection from a full pool would wait for the pool). `undefined` when the
   * position could not be read.
   */
  async commitToken(connection: SluiceConnection): Promise<string | undefined> {
    if (!this.scopes.tracking) {
      return formatToken(await this.#positionOn(connection))
    }
    this.#noted.delete(connection)
    await this.noteWrite(connection)
    this.#noted.add(connection)
    // A position that could not be read pins the scope to the primary; it is no token to hand on.
    return this.scopes.current()?.min === UNKNOWN_POSITION ? undefined : this.scopes.token()
  }

  /** A statement starts on `connection`: a position noted for an earlier one no longer stands. */
  statementStarts(connection: SluiceConnection): void {
    this.#noted.delete(connection)
  }

  /**
   * The primary's current WAL insert position, timeline and system identifier: at or after
   * every write committed before the call. Within `probeTimeoutMs`.
   */
  async latestPosition(): Promise<Position & { readonly systemId: string }> {
    const { target, pool } = this.primary
    const timeoutMs = this.options.probeTimeoutMs
    // Typed errors, also when the pool ends under the call (pg's "Cannot use a pool after
    // calling end on the pool") or the connection drops.
    const failed = (error: unknown): never => {
      throw this.closed ? new DatabaseClosedError() : toSluiceError(error, target)
    }
    if (this.closed) throw new DatabaseClosedError()
    const rows = await queryWithin<PositionRow>(
      pool,
      POSITION_AND_SYSTEM_SQL.sql,
      timeoutMs,
      () =>
        new ConnectionError(
          'DEADLINE_EXCEEDED',
          `${target.label} (${target.address}) did not report its WAL position within ${timeoutMs} ms`,
        ),
    ).catch(failed)
    return this.#position(rows[0] as PositionRow, undefined)
  }

  /**
   * The primary's WAL insert position, timeline and system identifier, read on `connection`
   * (a primary connection): at or after every write committed on it.
   */
  async #positionOn(
    connection: SluiceConnection,
  ): Promise<Position & { readonly systemId: string }> {
    const known = this.monitor.systemId
    const { rows } = await connection.executeQuery<PositionRow>(
      known === undefined ? POSITION_AND_SYSTEM_SQL : POSITION_SQL,
    )
    return this.#position(rows[0] as PositionRow, known)
  }

  /** A position row's reading; the system identifier learned from it if not yet known. */
  #position(row: PositionRow, known: string | undefined): Position & { readonly systemId: string } {
    const systemId = (known ?? row.system_id) as string
    this.monitor.systemId ??= systemId
    return {
      systemId,
      timeline: Number.parseInt(row.wal.slice(0, 8), 16),
      lsn: parseLsn(row.lsn),
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
  const min = requirement.min
  if (min !== undefined && !reached(min, replica.systemId, replica.timeline, replica.replayLsn)) {
    return 'behind-token'
  }
  if (requirement.maxLagMs !== undefined && (replica.state.lagMs ?? 0) > requirement.maxLagMs) {
    return 'over-scope-lag'
  }
  return undefined
}
