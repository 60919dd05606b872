import { ConnectionError } from '@sluice/core'
import type { SluiceConnection } from '@sluice/core/internal'
import type {
  CompiledQuery,
  DatabaseConnection,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely'
import type { Classification } from './classify.js'
import { failureKind } from './replica-failures.js'
import type { Router } from './router.js'
import { ReplicaNode, type TargetNode } from './target-node.js'

/** Every replica's bit: a retry with this set goes to the primary. */
const ALL_REPLICAS = -1
/** What a read on a replica returns when it left without running (see `#readOn`). */
const PASSED_OVER = Symbol('passed over')

/** What a read runs on the connection it is given (`query`: the read's statement, if any). */
type Run<T> = (connection: SluiceConnection, query: CompiledQuery | undefined) => Promise<T>

// A module function, not a closure per read.
const execute: Run<QueryResult<unknown>> = (connection, query) =>
  connection.executeQuery(query as CompiledQuery)

/**
 * What Kysely sees as one connection. It binds to a real server only when the first statement
 * (or BEGIN) arrives: a read goes to a replica, a write to the primary. Once it has served a
 * statement it stays on that server (so `db.connection()` is pinned, and time never goes
 * backwards in it), moving only forward, to the primary, when it writes or when its replica
 * no longer satisfies the scope. A read that fails for a replica-specific reason (see
 * {@link failureKind}) before handing out rows is retried on another replica, then the
 * primary; one a standby refused as a write is retried on the primary, and its shape is
 * routed there from then on.
 */
export class RoutingConnection implements DatabaseConnection {
  readonly #router: Router
  readonly #primaryOnly: boolean
  #node: TargetNode | undefined
  #connection: SluiceConnection | undefined
  #sticky: boolean
  #transaction: TransactionSettings | undefined
  /** The bound server answered in this checkout: later reads stay there (or move forward). */
  #served = false
  /**
   * Streams counted in flight on a replica and not finished: a consumer may stop calling
   * `next()` without `return()`, so Kysely's release of the connection ends their count.
   */
  readonly #streaming = new Set<{ readonly replica: ReplicaNode }>()
  /** The next statement is a control statement (BEGIN, COMMIT...) for the bound connection. */
  #control = false
  /**
   * A read-only transaction is open on a replica and no statement has run in it: if its first
   * statement fails there for a replica-specific reason, the transaction begins again elsewhere.
   */
  #opening = false
  /**
   * Statements under way that may still bind a server (a read waiting for a pooled
   * connection, say). Kysely can release this connection before they end (a `db.connection()`
   * callback that returned or threw without awaiting a statement: a cancelled request).
   */
  #pending = 0
  /** Kysely released this connection while statements were under way: it is never handed out again. */
  #released = false
  /**
   * What the bound server's driver sends BEGIN, COMMIT, ROLLBACK and savepoints through: this
   * object's own `executeQuery`, which Kysely's `log` wraps, so the log sees them as it does
   * with Kysely's PostgresDialect. (Made once: transactions allocate nothing for it.)
   */
  readonly #controlChannel: DatabaseConnection = {
    executeQuery: (query) => {
      this.#control = true
      return this.executeQuery(query)
    },
    streamQuery: () => {
      throw new Error('a transaction control statement does not stream')
    },
  }
  /** A read a standby refused as a write, run on the primary (bound once: reads allocate no closures). */
  readonly #executeRejectedWrite = <R>(query: CompiledQuery): Promise<QueryResult<R>> =>
    this.#executeOnPrimary<R>(query, this.#router.classify(query))

  constructor(router: Router, primaryOnly: boolean) {
    this.#router = router
    this.#primaryOnly = primaryOnly
    this.#sticky = primaryOnly
  }

  // Not async: each branch returns its promise as is, which saves the read path the ticks of
  // resolving one promise with another.
  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.#opening && !this.#control) {
      return this.#openOn<QueryResult<R>>(query, execute as Run<QueryResult<R>>)
    }
    if (this.#transaction || this.#control) {
      this.#control = false
      const connection = this.#connection as SluiceConnection
      this.#router.statementStarts(connection)
      return connection.executeQuery<R>(query)
    }
    const classification = this.#router.classify(query)
    if (classification.kind === 'read' && !this.#sticky) {
      return this.#read<QueryResult<R>>(
        query,
        execute as Run<QueryResult<R>>,
        this.#executeRejectedWrite,
      )
    }
    return this.#executeOnPrimary(query, classification)
  }

  async #executeOnPrimary<R>(
    query: CompiledQuery,
    classification: Classification,
  ): Promise<QueryResult<R>> {
    this.#pending++
    try {
      const connection = await this.#usePrimary(classification)
      this.#router.statementStarts(connection)
      if (classification.kind !== 'write') return await connection.executeQuery<R>(query)
      try {
        return await connection.executeQuery<R>(query)
      } finally {
        // Failed writes too: the read that checks why (a unique violation) must see the winner.
        await this.#router.noteWrite(connection)
      }
    } finally {
      this.#settle()
    }
  }

  async *streamQuery<R>(
    query: CompiledQuery,
    chunkSize?: number,
  ): AsyncIterableIterator<QueryResult<R>> {
    if (this.#opening) {
      let rest: AsyncIterator<QueryResult<R>> | undefined
      try {
        let chunk = await this.#openOn(query, (connection) => {
          rest = connection.streamQuery<R>(query, chunkSize)
          return rest.next()
        })
        for (; !chunk.done; chunk = await (rest as AsyncIterator<QueryResult<R>>).next()) {
          yield chunk.value
        }
      } finally {
        await rest?.return?.()
      }
      return
    }
    if (this.#transaction) {
      const connection = this.#connection as SluiceConnection
      this.#router.statementStarts(connection)
      yield* connection.streamQuery<R>(query, chunkSize)
      return
    }
    const classification = this.#router.classify(query)
    let rest: AsyncIterator<QueryResult<R>> | undefined
    let written: SluiceConnection | undefined
    let counted: { readonly replica: ReplicaNode } | undefined
    const streaming = this.#streaming
    // A consumer that stopped pulling: the stream's idle deadline closed it (and destroyed its
    // connection), so it no longer counts in flight.
    const release = () => {
      if (counted && streaming.delete(counted)) counted.replica.state.inFlight--
    }
    const onPrimary = async (verdict: Classification) => {
      const connection = await this.#usePrimary(verdict)
      this.#router.statementStarts(connection)
      if (verdict.kind === 'write') written = connection
      rest = connection.streamQuery<R>(query, chunkSize)
      return rest.next()
    }
    try {
      // Only the first chunk can be retried elsewhere: after that, rows have been handed out.
      this.#pending++
      let first: IteratorResult<QueryResult<R>>
      try {
        first =
          classification.kind === 'write' || this.#sticky
            ? await onPrimary(classification)
            : await this.#read(
                query,
                (connection) => {
                  rest = connection.streamWithIdle<R>(query, chunkSize, release)
                  return rest.next()
                },
                () => onPrimary(this.#router.classify(query)),
              )
        if (!written && this.#node instanceof ReplicaNode) {
          counted = { replica: this.#node }
          counted.replica.state.inFlight++
          streaming.add(counted)
        }
      } finally {
        this.#settle()
      }
      const iterator = rest as AsyncIterator<QueryResult<R>>
      for (let chunk = first; !chunk.done; chunk = await iterator.next()) yield chunk.value
    } finally {
      // However the stream ends (done, break, throw, return, an abandoned consumer): close the
      // portal (or destroy the connection), release the in-flight count, record a write.
      try {
        await rest?.return?.()
      } finally {
        release()
        if (written) await this.#router.noteWrite(written)
      }
    }
  }

  /**
   * Binds to the primary, or for a READ ONLY transaction when `readOnlyTransactions` allows,
   * to a replica; a replica that refuses the connection or the BEGIN (nothing has run yet) is
   * left for another, then the primary, and so is one where the transaction's first statement
   * fails for a replica-specific reason (see {@link #openOn}). SERIALIZABLE transactions always
   * run on the primary: a standby cannot take a serializable snapshot (0A000).
   */
  async begin(settings: TransactionSettings): Promise<void> {
    const router = this.#router
    const onReplica =
      settings.accessMode === 'read only' &&
      settings.isolationLevel !== 'serializable' &&
      !this.#sticky &&
      router.options.readOnlyTransactions === 'replica'
    // Counted until the transaction is open: a connection released meanwhile keeps its server
    // connection for the transaction's statements (see recycle).
    this.#pending++
    try {
      if (onReplica) {
        // A BEGIN is no read: only the transaction's statements make this connection stay on
        // its server afterwards (see #openOn).
        const served = this.#served
        await this.#read(undefined, this.#beginOn(settings), undefined, 'read-only-transaction')
        this.#served = served
        this.#opening = this.#node instanceof ReplicaNode
      } else {
        this.#sticky = true
        router.onRoute?.({
          target: router.primary.target.label,
          role: 'primary',
          reason: this.#primaryOnly ? 'primary-only' : 'transaction',
        })
        const connection = await this.#bind(router.primary)
        await router.primary.driver.beginTransaction(connection, settings, this.#controlChannel)
      }
      this.#transaction = settings
    } finally {
      this.#settle()
    }
  }

  /** Commits; a write transaction in a consistency scope then records its position. */
  async commit(): Promise<void> {
    await this.#end((node, connection) =>
      node.driver.commitTransaction(connection, this.#controlChannel),
    )
  }

  /** Rolls back; on the primary, the scope's position still moves (what it waited for). */
  async rollback(): Promise<void> {
    await this.#end((node, connection) =>
      node.driver.rollbackTransaction(connection, this.#controlChannel),
    )
  }

  async savepoint(
    kind: 'savepoint' | 'rollbackToSavepoint' | 'releaseSavepoint',
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    // A transaction with a savepoint cannot begin again elsewhere unnoticed.
    this.#opening = false
    const { node, connection } = this.#bound()
    await node.driver[kind](connection, name, compile, this.#controlChannel)
  }

  /**
   * Kysely is done with this connection: the bound server connection goes back to its pool and
   * this object is as new, so the driver can hand it out again (`true`). With statements still
   * under way (`false`), it is never handed out again: they finish on it as if it were still
   * checked out (a server connection they bind late is not another request's), and the last
   * one gives its server connection back.
   */
  recycle(): boolean {
    if (this.#streaming.size > 0) {
      for (const { replica } of this.#streaming) replica.state.inFlight--
      this.#streaming.clear()
    }
    if (this.#pending > 0) {
      this.#released = true
      return false
    }
    this.#reset()
    return true
  }

  #reset(): void {
    this.#unbind()
    this.#sticky = this.#primaryOnly
    this.#transaction = undefined
    this.#opening = false
    this.#served = false
  }

  /** A counted statement ended: the last one of a released connection gives its server connection back. */
  #settle(): void {
    this.#pending--
    if (this.#released && this.#pending === 0 && !this.#transaction) this.#reset()
  }

  async #end(
    finish: (node: TargetNode, connection: SluiceConnection) => Promise<void>,
  ): Promise<void> {
    const { node, connection } = this.#bound()
    const settings = this.#transaction
    this.#transaction = undefined
    this.#opening = false
    this.#router.statementStarts(connection)
    try {
      await finish(node, connection)
    } finally {
      if (node === this.#router.primary && settings?.accessMode !== 'read only') {
        await this.#router.noteWrite(connection)
      }
      if (this.#released && this.#pending === 0) this.#reset()
    }
  }

  /**
   * Returns the bound server connection, if any, to its pool; with `destroy` (a transaction
   * may be open on it), closes it instead.
   */
  #unbind(destroy = false): void {
    const node = this.#node
    const connection = this.#connection
    this.#node = undefined
    this.#connection = undefined
    this.#served = false
    if (!node || !connection) return
    if (destroy) connection.release(true)
    void node.driver.releaseConnection(connection)
  }

  /** Runs a BEGIN with `settings` on a connection bound to this connection's node. */
  #beginOn(settings: TransactionSettings): Run<void> {
    return (connection) =>
      (this.#node as TargetNode).driver.beginTransaction(connection, settings, this.#controlChannel)
  }

  /**
   * Runs the first statement of a read-only transaction open on a replica. Nothing has run in
   * the transaction and nothing has been handed out: if the statement fails there for a
   * replica-specific reason (a recovery conflict, a statement timeout behind replay, a
   * terminated backend, a catalog not replayed yet), that connection is closed (its
   * transaction with it) and the transaction begins again, with this statement, on another
   * replica or the primary.
   */
  #openOn<T>(query: CompiledQuery, run: Run<T>): Promise<T> {
    this.#opening = false
    const begin = this.#beginOn(this.#transaction as TransactionSettings)
    return this.#read(
      query,
      async (connection, statement) => {
        await begin(connection, undefined)
        return run(connection, statement)
      },
      undefined,
      'read-only-transaction',
      run,
    )
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

  /**
   * Runs a read: on the server this connection already read from if it still satisfies the
   * scope (else the primary, which is ahead of it), otherwise where the router picks. A
   * replica-specific failure moves it to another replica and finally the primary (straight to
   * the primary once this connection has served reads, so time never goes backwards); a
   * standby's write rejection teaches the router the shape of `query` and runs `onRejectedWrite`.
   * With `bound`, the first attempt runs `bound` on the server this connection is bound to (a
   * transaction's), and a retry `run` elsewhere.
   */
  async #read<T>(
    query: CompiledQuery | undefined,
    run: Run<T>,
    onRejectedWrite: ((query: CompiledQuery) => Promise<T>) | undefined,
    reason: 'read' | 'read-only-transaction' = 'read',
    bound?: Run<T>,
  ): Promise<T> {
    this.#pending++
    try {
      const router = this.#router
      if (!router.monitor.isReady) await router.monitor.ready
      let node = bound ? (this.#node as TargetNode) : (this.#pinned() ?? router.pickRead(reason))
      let attempt = bound ?? run
      let excluded = 0
      for (;;) {
        let failure: unknown
        try {
          const result = await this.#readOn(node, attempt, query)
          if (result !== PASSED_OVER) return result
          failure = (node as ReplicaNode).state.lastError
        } catch (error) {
          const kind = node instanceof ReplicaNode ? failureKind(error) : undefined
          if (kind === 'standby-write' && query && onRejectedWrite) {
            router.learnWrite(query, error)
            return await onRejectedWrite(query)
          }
          if (kind === undefined || kind === 'standby-write') throw error
          // A replica that cannot be reached (or answers nothing in time) is marked down until
          // the monitor sees it back; a jammed pool or a recovery conflict only skips it here.
          if (error instanceof ConnectionError) (node as ReplicaNode).failed(error)
          // One behind the schema, one whose replay holds a lock the read waits for, one that
          // refuses serializable: straight to the primary, once (the others replay the same WAL
          // and have the same settings).
          if (kind !== 'replica') excluded = ALL_REPLICAS
          failure = error
        }
        excluded = this.#served ? ALL_REPLICAS : excluded | router.bit(node as ReplicaNode)
        // A failed BEGIN or first statement of a transaction may have left it open there.
        this.#unbind(reason === 'read-only-transaction')
        attempt = run
        node = router.pickRead(reason, excluded, failure)
      }
    } finally {
      this.#settle()
    }
  }

  /** The server a connection that already served reads stays on, if any. */
  #pinned(): TargetNode | undefined {
    const node = this.#node
    if (!node || !this.#served) return undefined
    const router = this.#router
    const pinned = router.canServe(node) ? node : router.primary
    router.onRoute?.({
      target: pinned.target.label,
      role: pinned === router.primary ? 'primary' : 'replica',
      reason: 'pinned',
    })
    return pinned
  }

  /**
   * Runs `run` on `node`. On a replica, the read counts in flight from the moment it is routed
   * there, its wait for a pooled connection included (so least-in-flight sees a replica whose
   * pool is jammed by a frozen or slow server as busy), and it is {@link PASSED_OVER} if the
   * replica was marked down (or held back) while it waited: a read that hit its deadline there
   * found that out already, so this one does not spend a deadline of its own on it.
   */
  async #readOn<T>(
    node: TargetNode,
    run: Run<T>,
    query: CompiledQuery | undefined,
  ): Promise<T | typeof PASSED_OVER> {
    if (!(node instanceof ReplicaNode)) {
      const result = await run(await this.#bind(node), query)
      this.#served = true
      return result
    }
    const state = node.state
    state.inFlight++
    try {
      const connection = await this.#bind(node)
      if (state.status !== 'up') return PASSED_OVER
      state.reads++
      const result = await run(connection, query)
      this.#served = true
      return result
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
