import type { CompiledQuery, DatabaseConnection, QueryResult } from 'kysely'
import type pg from 'pg'
import Cursor from 'pg-cursor'
import type { TargetConfig } from '../config/target.js'
import { ConnectionError, StreamClosedError } from '../errors/errors.js'
import { toSluiceError } from '../errors/pg-errors.js'
import type { CoreEvents } from '../instrumentation/channels.js'
import { observeQuery } from '../instrumentation/observe-query.js'
import { SluiceClient, statementTimeoutError } from '../pool/sluice-client.js'
import { type AfterCommit, CommitTracker } from './commit-tracker.js'
import { StreamPortal } from './stream-portal.js'

/** Where a connection's commit token comes from; see {@link DriverOptions.commitToken}. */
export type ConnectionCommitToken = (connection: SluiceConnection) => Promise<string | undefined>

/**
 * How long a stream waits for its consumer's next `next()`, and what gives back a connection
 * whose stream passed that deadline (its driver's release, which destroys it).
 */
export interface StreamIdle {
  readonly timeoutMs: number
  readonly abandon: (connection: SluiceConnection) => void
}

import { statementResult } from './statement-result.js'

const AFFECTING = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE'])

// pg-pool listens for errors only on idle clients; a checked-out client whose server goes
// away (a crash, an idle-in-transaction timeout) would otherwise crash the process. Each client
// gets one permanent listener that reports to whichever SluiceConnection holds it (adding and
// removing a listener on every checkout costs more than the query's own event handling).
const holders = new WeakMap<pg.PoolClient, SluiceConnection>()
const listening = new WeakSet<pg.PoolClient>()
function onClientError(this: pg.PoolClient, error: unknown): void {
  holders.get(this)?.markBroken(error)
}

/**
 * One checked-out pg client as a Kysely `DatabaseConnection`: runs queries, streams with
 * pg-cursor, reports each query to the instrumentation, maps connection failures to typed
 * errors (SQL errors pass through as pg's `DatabaseError`), and with `afterCommit` reports the
 * tables each committed write touched (see {@link AfterCommit}).
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 */
export class SluiceConnection implements DatabaseConnection {
  readonly #client: pg.PoolClient
  readonly #target: TargetConfig
  readonly #events: CoreEvents
  readonly #commits: CommitTracker | undefined
  #broken: unknown
  #released = false
  readonly #streamIdle: StreamIdle
  /** Streams started and not finished: their portal is still open on the client. */
  readonly #streams = new Set<StreamPortal<unknown>>()

  constructor(
    client: pg.PoolClient,
    target: TargetConfig,
    events: CoreEvents,
    streamIdle: StreamIdle,
    afterCommit?: AfterCommit,
    commitToken?: ConnectionCommitToken,
  ) {
    this.#client = client
    this.#streamIdle = streamIdle
    this.#target = target
    this.#events = events
    this.#commits =
      afterCommit && new CommitTracker(afterCommit, commitToken && (() => commitToken(this)))
    if (!listening.has(client)) {
      listening.add(client)
      client.on('error', onClientError)
    }
    this.checkout()
  }

  /**
   * Starts another checkout of the same client (the driver keeps one connection per client):
   * forgets the last checkout's failure, release and uncommitted writes.
   */
  checkout(): void {
    this.#broken = undefined
    this.#released = false
    this.#commits?.reset()
    holders.set(this.#client, this)
  }

  /** Records that the connection failed, so that release destroys it. */
  markBroken(error: unknown): void {
    this.#broken = toSluiceError(error, this.#target)
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    // A stream's idle deadline gave this connection back (destroyed) under whoever still holds
    // it, e.g. a transaction about to COMMIT: say why, not pg's untyped "Client was closed".
    if (this.#released && this.#broken instanceof StreamClosedError) throw this.#broken
    const end = observeQuery(
      this.#events,
      this.#target.label,
      this.#target.slowQueryMs,
      compiledQuery,
    )
    const client = this.#client
    const parameters = [...compiledQuery.parameters]
    const started = performance.now()
    try {
      const { command, rowCount, rows } = statementResult(
        await (client instanceof SluiceClient
          ? client.run<R & pg.QueryResultRow>(compiledQuery.sql, parameters)
          : client.query<R & pg.QueryResultRow>(compiledQuery.sql, parameters)),
      )
      end?.({ rowCount })
      // No await on the hot path unless afterCommit is set: it would cost every query a tick.
      if (this.#commits) await this.#commits.succeeded(this.#client, compiledQuery, command)
      return {
        numAffectedRows: AFFECTING.has(command) ? BigInt(rowCount) : undefined,
        rows,
      }
    } catch (caught) {
      const error = statementTimeoutError(caught, this.#target, performance.now() - started)
      end?.({ error })
      throw await this.#fail(error, compiledQuery)
    }
  }

  /**
   * Streams with pg-cursor (Kysely's entry; see {@link SluiceConnection.streamWithIdle}).
   */
  streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize = 1000,
  ): AsyncIterableIterator<QueryResult<R>> {
    return this.streamWithIdle<R>(compiledQuery, chunkSize)
  }

  /**
   * Streams with pg-cursor. A consumer that holds a chunk longer than the stream idle timeout
   * (it stopped calling `next()` without `return()`) loses the stream: the connection is
   * destroyed (mid-portal, it can never be reused) and given back, `onIdle` runs, and the next
   * `next()` rejects with `STREAM_IDLE_TIMEOUT`. Not `streamQuery`'s third parameter: Kysely
   * 0.29 passes its own options there.
   *
   * @internal For the router's routing connection.
   */
  async *streamWithIdle<R>(
    compiledQuery: CompiledQuery,
    chunkSize = 1000,
    onIdle?: () => void,
  ): AsyncIterableIterator<QueryResult<R>> {
    if (!Number.isInteger(chunkSize) || chunkSize <= 0) {
      throw new RangeError('chunkSize must be a positive integer')
    }
    const end = observeQuery(
      this.#events,
      this.#target.label,
      this.#target.slowQueryMs,
      compiledQuery,
    )
    const client = this.#client
    // Cursor reads and the close bypass `query`: they get the client's deadline here.
    const bounded = <T>(work: Promise<T>): Promise<T> =>
      client instanceof SluiceClient ? client.bounded(work) : work
    const cursor = client.query(new Cursor<R>(compiledQuery.sql, [...compiledQuery.parameters]))
    const streams = this.#streams as Set<StreamPortal<R>>
    const portal: StreamPortal<R> = new StreamPortal(
      cursor,
      bounded,
      this.#streamIdle.timeoutMs,
      (reason) => {
        streams.delete(portal)
        this.markBroken(reason)
        onIdle?.()
        this.#streamIdle.abandon(this)
      },
    )
    streams.add(portal)
    let rowCount = 0
    let failed = false
    const started = performance.now()
    try {
      while (true) {
        const rows = await portal.read(chunkSize)
        if (rows.length === 0) break
        rowCount += rows.length
        portal.idle()
        yield { rows }
        portal.active()
      }
      end?.({ rowCount })
    } catch (caught) {
      // Closed from outside (idle, or its transaction ended): the statement itself ran fine.
      if (caught === portal.reason) throw caught
      failed = true
      const error = statementTimeoutError(caught, this.#target, performance.now() - started)
      end?.({ rowCount, error })
      throw await this.#fail(error, compiledQuery)
    } finally {
      // Also when the consumer stopped early (break, throw, return): the portal is closed
      // before the client goes back to its pool, or the connection is destroyed trying.
      await portal.close().catch((error: unknown) => this.markBroken(error))
      streams.delete(portal)
      // Also when the consumer stopped early: a streamed INSERT ... RETURNING has run in full.
      if (!failed) await this.#commits?.succeeded(this.#client, compiledQuery, '')
    }
  }

  /** Whether a stream is open on this connection (its portal not closed). */
  get streaming(): boolean {
    return this.#streams.size > 0
  }

  /**
   * Closes the portal of every stream still open, e.g. before COMMIT or ROLLBACK, which would
   * otherwise wait behind it for good; each stream's next `next()` rejects with
   * `STREAM_CLOSED`. A close that fails destroys the connection on release.
   */
  async closeStreams(): Promise<void> {
    const reason = new StreamClosedError(
      'STREAM_CLOSED',
      'the transaction this stream ran in ended before the stream did',
    )
    await Promise.all(
      [...this.#streams].map((portal) =>
        portal.close(reason).catch((error: unknown) => this.markBroken(error)),
      ),
    )
  }

  /**
   * Returns the client to its pool; a client whose connection failed, or that still has a
   * stream open (a consumer that stopped calling `next()` without `return()`, inside a
   * `db.connection()` callback that returned), is destroyed instead: the next query on it would
   * wait behind the open portal. `destroy` forces that, e.g. when closing with queries still
   * running. Idempotent.
   */
  release(destroy = false): void {
    if (this.#released) return
    this.#released = true
    holders.delete(this.#client)
    const client = this.#client
    const reason = destroy
      ? new Error('connection destroyed by Sluice')
      : client instanceof SluiceClient && client.deadlineFired
        ? new Error('a cancel request may still reach this connection')
        : this.#streams.size > 0
          ? new Error('released with a stream still open')
          : this.#broken
    client.release(reason instanceof Error ? reason : undefined)
  }

  async #fail(error: unknown, query: CompiledQuery): Promise<unknown> {
    const mapped = toSluiceError(error, this.#target)
    if (mapped !== error) this.#broken = mapped
    await this.#commits?.failed(this.#client, query, mapped instanceof ConnectionError)
    return mapped
  }
}
