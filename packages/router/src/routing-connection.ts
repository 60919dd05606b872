import { ConnectionError, PoolTimeoutError, type SluiceConnection } from '@sluice/core'
import type {
  CompiledQuery,
  DatabaseConnection,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely'
import type { Classification } from './classify.js'
import type { Router } from './router.js'
import { ReplicaNode, type TargetNode } from './target-node.js'

/**
 * What Kysely sees as one connection. It binds to a real server only when the first statement
 * (or BEGIN) arrives: a read goes to a replica, a write to the primary. Once it has written,
 * or inside a transaction, it stays where it is. A replica read that fails with a connection
 * error or a pool timeout is retried once on another server; writes and SQL errors never are.
 */
export class RoutingConnection implements DatabaseConnection {
  readonly #router: Router
  readonly #primaryOnly: boolean
  #node: TargetNode | undefined
  #connection: SluiceConnection | undefined
  #sticky: boolean
  #transaction: TransactionSettings | undefined

  constructor(router: Router, primaryOnly: boolean) {
    this.#router = router
    this.#primaryOnly = primaryOnly
    this.#sticky = primaryOnly
  }

  // Not async: each branch returns its promise as is, which saves the read path the ticks of
  // resolving one promise with another.
  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.#transaction) return (this.#connection as SluiceConnection).executeQuery<R>(query)
    const classification = this.#router.classify(query)
    if (classification.kind === 'read' && !this.#sticky) {
      return this.#read((connection) => connection.executeQuery<R>(query))
    }
    return this.#executeOnPrimary(query, classification)
  }

  async #executeOnPrimary<R>(
    query: CompiledQuery,
    classification: Classification,
  ): Promise<QueryResult<R>> {
    const connection = await this.#usePrimary(classification)
    const result = await connection.executeQuery<R>(query)
    if (classification.kind === 'write') await this.#router.noteCommit(connection)
    return result
  }

  async *streamQuery<R>(
    query: CompiledQuery,
    chunkSize?: number,
  ): AsyncIterableIterator<QueryResult<R>> {
    if (this.#transaction) {
      yield* (this.#connection as SluiceConnection).streamQuery<R>(query, chunkSize)
      return
    }
    const classification = this.#router.classify(query)
    if (classification.kind === 'write' || this.#sticky) {
      const connection = await this.#usePrimary(classification)
      yield* connection.streamQuery<R>(query, chunkSize)
      if (classification.kind === 'write') await this.#router.noteCommit(connection)
      return
    }
    // Only the first chunk can be retried elsewhere: after that, rows have been handed out.
    let rest: AsyncIterator<QueryResult<R>> | undefined
    const first = await this.#read((connection) => {
      rest = connection.streamQuery<R>(query, chunkSize)
      return rest.next()
    })
    if (first.done) return
    yield first.value
    const iterator = rest as AsyncIterator<QueryResult<R>>
    try {
      for (let chunk = await iterator.next(); !chunk.done; chunk = await iterator.next()) {
        yield chunk.value
      }
    } finally {
      await iterator.return?.()
    }
  }

  /** Binds to the primary, or to a replica for a READ ONLY transaction when allowed. */
  async begin(settings: TransactionSettings): Promise<void> {
    const router = this.#router
    let node: TargetNode = router.primary
    if (
      settings.accessMode === 'read only' &&
      !this.#sticky &&
      router.options.readOnlyTransactions === 'replica'
    ) {
      if (!router.monitor.isReady) await router.monitor.ready
      node = router.pickRead('read-only-transaction')
    } else {
      this.#sticky = true
      router.onRoute?.({
        target: node.target.label,
        role: 'primary',
        reason: this.#primaryOnly ? 'primary-only' : 'transaction',
      })
    }
    const connection = await this.#bind(node)
    await node.driver.beginTransaction(connection, settings)
    this.#transaction = settings
  }

  /** Commits; a write transaction in a consistency scope then records its commit LSN. */
  async commit(): Promise<void> {
    const { node, connection } = this.#bound()
    const settings = this.#transaction
    this.#transaction = undefined
    await node.driver.commitTransaction(connection)
    if (node === this.#router.primary && settings?.accessMode !== 'read only') {
      await this.#router.noteCommit(connection)
    }
  }

  async rollback(): Promise<void> {
    const { node, connection } = this.#bound()
    this.#transaction = undefined
    await node.driver.rollbackTransaction(connection)
  }

  async savepoint(
    kind: 'savepoint' | 'rollbackToSavepoint' | 'releaseSavepoint',
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    const { node, connection } = this.#bound()
    await node.driver[kind](connection, name, compile)
  }

  /**
   * Kysely is done with this connection: the bound server connection goes back to its pool and
   * this object is as new, so the driver can hand it out again.
   */
  recycle(): void {
    this.#unbind()
    this.#sticky = this.#primaryOnly
    this.#transaction = undefined
  }

  /** Returns the bound server connection, if any, to its pool. */
  #unbind(): void {
    const node = this.#node
    const connection = this.#connection
    this.#node = undefined
    this.#connection = undefined
    if (node && connection) void node.driver.releaseConnection(connection)
  }

  async #usePrimary(classification: Classification): Promise<SluiceConnection> {
    const router = this.#router
    const reason = this.#primaryOnly
      ? 'primary-only'
      : classification.kind === 'write'
        ? 'write'
        : 'sticky-primary'
    router.onRoute?.({
      target: router.primary.target.label,
      role: 'primary',
      reason,
      classification: classification.reason,
    })
    if (classification.kind === 'write') this.#sticky = true
    return this.#bind(router.primary)
  }

  async #read<T>(run: (connection: SluiceConnection) => Promise<T>): Promise<T> {
    const router = this.#router
    if (!router.monitor.isReady) await router.monitor.ready
    const node = router.pickRead()
    try {
      return await this.#readOn(node, run)
    } catch (error) {
      if (!(node instanceof ReplicaNode)) throw error
      // A replica whose pool is jammed (its connections stuck, say in PgBouncer's queue for a
      // dead server) is skipped for this read, but only the monitor decides it is down.
      if (error instanceof ConnectionError) node.failed(error)
      else if (!(error instanceof PoolTimeoutError)) throw error
      return this.#readOn(router.pickRead('read', node), run)
    }
  }

  /** Runs `run` on `node`, counting it in flight there while it runs. */
  async #readOn<T>(
    node: TargetNode,
    run: (connection: SluiceConnection) => Promise<T>,
  ): Promise<T> {
    const connection =
      this.#node === node && this.#connection ? this.#connection : await this.#bind(node)
    if (!(node instanceof ReplicaNode)) return run(connection)
    const state = node.state
    state.inFlight++
    state.reads++
    try {
      return await run(connection)
    } finally {
      state.inFlight--
    }
  }

  async #bind(node: TargetNode): Promise<SluiceConnection> {
    if (this.#node === node && this.#connection) return this.#connection
    this.#unbind()
    const connection = await node.driver.acquireConnection()
    this.#node = node
    this.#connection = connection
    return connection
  }

  #bound(): { node: TargetNode; connection: SluiceConnection } {
    if (!this.#node || !this.#connection)
      throw new Error('no transaction is open on this connection')
    return { node: this.#node, connection: this.#connection }
  }
}
