import { DatabaseClosedError } from '@sluice/core'
import type { DatabaseConnection, Driver, QueryCompiler, TransactionSettings } from 'kysely'
import type { Router } from './router.js'
import { RoutingConnection } from './routing-connection.js'

const FREE_LIMIT = 1024

/**
 * The Kysely `Driver` of a routed database. Its connections decide per statement where to
 * run (see {@link RoutingConnection}); with `primaryOnly` every statement goes to the primary.
 * Destroying it (Kysely's `db.destroy()`) closes the whole routed database.
 */
export class RoutingDriver implements Driver {
  readonly #router: Router
  readonly #primaryOnly: boolean
  readonly #close: () => Promise<void>
  // Connections Kysely has released, handed out again: no allocation per query, and Kysely,
  // which remembers every connection it sees (a WeakSet), sees the same few. Up to FREE_LIMIT
  // are kept, so a burst of concurrency does not pin memory for good.
  readonly #free: RoutingConnection[] = []

  constructor(router: Router, primaryOnly: boolean, close: () => Promise<void>) {
    this.#router = router
    this.#primaryOnly = primaryOnly
    this.#close = close
  }

  async init(): Promise<void> {}

  acquireConnection(): Promise<RoutingConnection> {
    if (this.#router.closed) return Promise.reject(new DatabaseClosedError())
    const connection = this.#free.pop() ?? new RoutingConnection(this.#router, this.#primaryOnly)
    return Promise.resolve(connection)
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return (connection as RoutingConnection).begin(settings)
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return (connection as RoutingConnection).commit()
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return (connection as RoutingConnection).rollback()
  }

  savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    return (connection as RoutingConnection).savepoint('savepoint', name, compile)
  }

  rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ) {
    return (connection as RoutingConnection).savepoint('rollbackToSavepoint', name, compile)
  }

  releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ) {
    return (connection as RoutingConnection).savepoint('releaseSavepoint', name, compile)
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    const routing = connection as RoutingConnection
    // One with statements still under way is not handed out again (see recycle).
    if (routing.recycle() && this.#free.length < FREE_LIMIT) this.#free.push(routing)
    return Promise.resolve()
  }

  destroy(): Promise<void> {
    return this.#close()
  }
}
