import { AsyncLocalStorage } from 'node:async_hooks'

const scopes = new AsyncLocalStorage<number>()
// Scopes open anywhere in the process: while none is, a statement reads no async context.
let open = 0

/**
 * Runs `fn` with a statement timeout of its own on every Sluice client: a statement that
 * `fn` starts (on any pool, through any driver) gets the client-side deadline of `timeoutMs`
 * (0: none) instead of its target's `statementTimeoutMs`, and a cancellation is reported
 * against it. The server-side timeout is the caller's to set, with `SET LOCAL
 * statement_timeout` in each of its transactions (a session `SET` would outlive the scope
 * on a pooled connection, and through PgBouncer in transaction mode reach other clients).
 * For long batches, such as partition maintenance, on the application's own pools.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`).
 * @example
 * ```ts
 * await withStatementTimeout(600_000, () =>
 *   db.transaction().execute(async (trx) => {
 *     await sql`select set_config('statement_timeout', '600000', true)`.execute(trx)
 *     await sql`insert into archive select * from events`.execute(trx)
 *   }),
 * )
 * ```
 */
export async function withStatementTimeout<T>(timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  open++
  try {
    return await scopes.run(timeoutMs, fn)
  } finally {
    open--
  }
}

/**
 * The statement timeout of the {@link withStatementTimeout} scope the caller runs in, or
 * `undefined` outside any.
 *
 * @example
 * ```ts
 * const timeoutMs = scopedStatementTimeout() ?? target.server.statementTimeoutMs
 * ```
 */
export function scopedStatementTimeout(): number | undefined {
  return open === 0 ? undefined : scopes.getStore()
}
