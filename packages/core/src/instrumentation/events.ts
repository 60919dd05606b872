/** What is known about a query before it runs. */
export interface QueryStartEvent {
  /** Kysely's query id, shared by the start and end events of one execution. */
  readonly queryId: string
  /** Label of the server that runs it: `primary`, `replica-1`, ... */
  readonly target: string
  /** `SELECT`, `INSERT`, `UPDATE`, `DELETE`, `MERGE`, or the first keyword of raw SQL. */
  readonly operation: string
  /** Tables the query touches, from Kysely's operation tree (`schema.table` when qualified). */
  readonly tables: readonly string[]
  /** The SQL text with `$n` placeholders; parameter values are never included. */
  readonly sql: string
}

/** The outcome of a query. */
export interface QueryEndEvent extends QueryStartEvent {
  readonly durationMs: number
  /** Rows returned, or rows affected by INSERT / UPDATE / DELETE / MERGE. */
  readonly rowCount?: number
  /** True when `durationMs` reached the target's slow-query threshold. */
  readonly slow: boolean
  /** The error the query failed with, if it did. */
  readonly error?: unknown
  /** SQLSTATE of a server error (e.g. `23505`), if any. */
  readonly sqlState?: string
}

/** Something that happened in a target's connection pool. */
export type PoolEvent =
  | { readonly kind: 'acquire'; readonly target: string; readonly waitMs: number }
  | { readonly kind: 'acquire-timeout'; readonly target: string; readonly waitMs: number }
  | { readonly kind: 'connection-opened'; readonly target: string }
  | { readonly kind: 'connection-closed'; readonly target: string }
  | { readonly kind: 'connection-error'; readonly target: string; readonly error: unknown }

/**
 * Hooks Sluice calls as work happens. Every method is optional; with no instrumentation
 * registered, Sluice does no instrumentation work at all. Hooks must not throw: an error
 * thrown by a hook is swallowed so that it never fails a query.
 *
 * @example
 * ```ts
 * const logSlowQueries: Instrumentation = {
 *   onQueryEnd(event) {
 *     if (event.slow) console.warn(`${event.operation} ${event.tables} took ${event.durationMs} ms`)
 *   },
 * }
 * const database = createDatabase(parseConfig(), { instrumentation: logSlowQueries })
 * ```
 */
export interface Instrumentation {
  onQueryStart?(event: QueryStartEvent): void
  onQueryEnd?(event: QueryEndEvent): void
  onPoolEvent?(event: PoolEvent): void
}
