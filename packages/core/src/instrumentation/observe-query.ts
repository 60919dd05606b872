import type { CompiledQuery } from 'kysely'
import { isDatabaseError } from '../errors/pg-errors.js'
import type { Instrumentation, QueryEndEvent, QueryStartEvent } from './events.js'
import { cachedQueryInfo } from './query-info.js'

/** Reports the end of a query started with {@link observeQuery}. */
export type EndObservation = (outcome: { rowCount?: number; error?: unknown }) => void

/**
 * Emits `onQueryStart` for a compiled query and returns the function that emits its
 * `onQueryEnd`. Returns `undefined` when nothing listens, so callers skip all work.
 */
export function observeQuery(
  hooks: Instrumentation | undefined,
  target: string,
  slowQueryMs: number,
  query: CompiledQuery,
): EndObservation | undefined {
  if (!hooks?.onQueryStart && !hooks?.onQueryEnd) return undefined
  const { operation, tables } = cachedQueryInfo(query)
  const start: QueryStartEvent = {
    queryId: query.queryId.queryId,
    target,
    operation,
    tables,
    sql: query.sql,
  }
  hooks.onQueryStart?.(start)
  const started = performance.now()
  return ({ rowCount, error }) => {
    const durationMs = performance.now() - started
    // Built field by field: spreading `start` and conditional objects costs several times more.
    const end: { -readonly [K in keyof QueryEndEvent]: QueryEndEvent[K] } = {
      queryId: start.queryId,
      target,
      operation,
      tables,
      sql: start.sql,
      durationMs,
      slow: durationMs >= slowQueryMs,
    }
    if (rowCount !== undefined) end.rowCount = rowCount
    if (error !== undefined) {
      end.error = error
      if (isDatabaseError(error)) end.sqlState = error.code
    }
    hooks.onQueryEnd?.(end)
  }
}
