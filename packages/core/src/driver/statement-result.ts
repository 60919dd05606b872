import type pg from 'pg'

/** What a statement returned, in one shape whatever pg resolved with. */
export interface StatementResult<R> {
  /** The server's command tag (`SELECT`, `INSERT`, `COMMIT`, ...), `''` when there is none. */
  readonly command: string
  /** Rows returned, or rows affected by INSERT / UPDATE / DELETE / MERGE. */
  readonly rowCount: number
  readonly rows: R[]
}

/**
 * The result of the last statement of what pg resolved with. A simple query holding several
 * statements (a `BEGIN` sent with its `SET LOCAL`s behind PgBouncer, raw `sql` with `;`)
 * resolves with one result per statement; libpq's `PQexec` likewise reports the last one. An
 * empty query has no command tag, and statements such as `SET` have no row count.
 *
 * @example
 * ```ts
 * const { command, rowCount, rows } = statementResult(await client.query('begin; set local statement_timeout = 100'))
 * ```
 */
export function statementResult<R extends pg.QueryResultRow>(
  result: pg.QueryResult<R> | readonly pg.QueryResult<R>[] | undefined,
): StatementResult<R> {
  // The common case, one statement with a row count, is already in shape: no copy per query.
  if (
    result !== undefined &&
    !isResultList(result) &&
    typeof result.command === 'string' &&
    typeof result.rowCount === 'number' &&
    Array.isArray(result.rows)
  ) {
    return result as StatementResult<R>
  }
  const last: Partial<pg.QueryResult<R>> | undefined = isResultList(result) ? result.at(-1) : result
  const rows = Array.isArray(last?.rows) ? last.rows : []
  return {
    command: typeof last?.command === 'string' ? last.command : '',
    rowCount: typeof last?.rowCount === 'number' ? last.rowCount : rows.length,
    rows,
  }
}

function isResultList<R extends pg.QueryResultRow>(
  result: pg.QueryResult<R> | readonly pg.QueryResult<R>[] | undefined,
): result is readonly pg.QueryResult<R>[] {
  return Array.isArray(result)
}
