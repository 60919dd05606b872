import type { CompiledQuery } from 'kysely'
import pg from 'pg'
import { cachedAnalysis } from '../analysis/analyze-query.js'
import { ConfigError } from '../errors/errors.js'

const NO_TOKEN: Promise<undefined> = Promise.resolve(undefined)

/**
 * Called once a write has committed, with the tables it wrote (as Kysely named them, sorted):
 * after a transaction's COMMIT, or after a statement that ran outside a transaction. Never
 * for a rolled-back transaction. It is awaited before the COMMIT (or the statement) resolves
 * to the caller, so a read that follows sees its effect, e.g. an invalidated cache entry. A
 * callback that throws is ignored: the write has committed and the caller must hear so.
 *
 * When the outcome is unknown (the connection dropped during COMMIT), it is called as well:
 * telling a cache too much is harmless, too little serves stale data. Writes through raw
 * `sql` are not seen, because their tables are not known.
 *
 * The second argument says what else can be known of the commit: its consistency token, read
 * on the committing connection when asked for (see {@link CommittedWrite}).
 *
 * @example
 * ```ts
 * const database = createDatabase<DB>(parseConfig(), {
 *   afterCommit: (tables) => cache.invalidateTags(tables.map((table) => `table:${table}`)),
 * })
 * ```
 */
export type AfterCommit = (
  tables: readonly string[],
  commit?: CommittedWrite,
) => Promise<void> | void

/**
 * What {@link AfterCommit} is told of a commit besides its tables.
 *
 * @example
 * ```ts
 * const afterCommit: AfterCommit = async (tables, commit) => {
 *   await cache.invalidateOnCommit(tables, commit) // asks commit?.token() for its floor
 * }
 * ```
 */
export interface CommittedWrite {
  /**
   * A consistency token at or after the commit, read on the committing connection while the
   * callback still holds it, so it needs no second connection from a full pool: the router
   * gives the one read-your-writes read anyway inside `session()` / `withConsistency()` (no
   * extra round trip), and reads the primary's position with one query on that connection
   * otherwise, only when this is called. `undefined` from a database without tokens (no
   * router), when the position could not be read (the connection dropped during COMMIT), or
   * when called after the callback settled (the connection is back in its pool). Called
   * again, it gives the first call's answer.
   */
  token(): Promise<string | undefined>
}

/**
 * Where a connection's commit token comes from, for {@link CommittedWrite}: called on the
 * connection right after its write committed, at most once and only when `afterCommit` asks.
 * The router passes one.
 */
export type CommitToken = () => Promise<string | undefined>

/**
 * Checks an `afterCommit` option: a function, and a pg that reports the transaction status
 * (`getTransactionStatus`, pg 8.21 and newer), which the tracking relies on.
 *
 * @throws ConfigError (`CONFIG_INVALID`, field `afterCommit`).
 * @example
 * ```ts
 * const afterCommit = checkAfterCommit(options.afterCommit)
 * ```
 */
export function checkAfterCommit(afterCommit: unknown): AfterCommit | undefined {
  if (afterCommit === undefined) return undefined
  const problem =
    typeof afterCommit !== 'function'
      ? 'must be a function of the written tables'
      : typeof pg.Client.prototype.getTransactionStatus !== 'function'
        ? 'needs pg 8.21 or newer (client.getTransactionStatus)'
        : undefined
  if (problem) throw new ConfigError([{ field: 'afterCommit', message: problem }])
  return afterCommit as AfterCommit
}

/**
 * Follows one checked-out connection's writes and calls {@link AfterCommit} when they commit.
 * It reads the server's own transaction status (ReadyForQuery), so BEGIN and COMMIT sent as
 * raw SQL, savepoints, and a COMMIT that the server turns into a ROLLBACK are all handled.
 */
export class CommitTracker {
  readonly #afterCommit: AfterCommit
  readonly #token: CommitToken | undefined
  readonly #written = new Set<string>()

  constructor(afterCommit: AfterCommit, token?: CommitToken) {
    this.#afterCommit = afterCommit
    this.#token = token
  }

  /** Forgets writes not yet reported: the connection starts a new checkout. */
  reset(): void {
    this.#written.clear()
  }

  /** After `query` succeeded with the server's command tag `command` (`''` when unknown). */
  succeeded(client: pg.ClientBase, query: CompiledQuery, command: string): Promise<void> | void {
    this.#add(query)
    if (command === 'COMMIT') return this.#flush() // also COMMIT AND CHAIN, still in a transaction
    if (client.getTransactionStatus() !== 'I') return
    // Back outside a transaction: a ROLLBACK (or a COMMIT the server rolled back) discards,
    // anything else means the statement, or the transaction it ended, committed.
    if (command === 'ROLLBACK') this.#written.clear()
    else return this.#flush()
  }

  /** After `query` failed; `connectionLost` when the connection broke, so the outcome is unknown. */
  failed(
    client: pg.ClientBase,
    query: CompiledQuery,
    connectionLost: boolean,
  ): Promise<void> | void {
    if (connectionLost) {
      this.#add(query)
      return this.#flush()
    }
    // A failed COMMIT, or a failed statement outside a transaction, committed nothing.
    if (client.getTransactionStatus() === 'I') this.#written.clear()
  }

  #add(query: CompiledQuery): void {
    for (const table of cachedAnalysis(query).writes) this.#written.add(table)
  }

  async #flush(): Promise<void> {
    if (this.#written.size === 0) return
    const tables = [...this.#written].sort()
    this.#written.clear()
    const read = this.#token
    let held = true
    let token: Promise<string | undefined> | undefined
    const commit: CommittedWrite = {
      // Only while the callback runs: after it, the connection may be someone else's.
      token: () => (token ??= held && read ? read().catch(() => undefined) : NO_TOKEN),
    }
    try {
      await this.#afterCommit(tables, commit)
    } catch {
      // Documented: the write committed; the callback's failure is its own to report.
    } finally {
      held = false
      // A callback that asked and did not wait: the read ends before the connection is released.
      await token
    }
  }
}
