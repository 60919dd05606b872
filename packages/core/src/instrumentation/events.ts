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
 * Hooks Sluice calls as work happens: typed sugar over the events core publishes on its
 * `node:diagnostics_channel` channels ({@link coreChannels}), for one database or router.
 * Every method is optional; with no hook given and no channel subscriber, Sluice does no
 * instrumentation work at all. Pass one object or an array of them. A hook that throws (or
 * returns a promise that rejects) never fails a query: it is reported once, as a process
 * warning with code `SLUICE_HOOK_ERROR`, and keeps being called.
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
