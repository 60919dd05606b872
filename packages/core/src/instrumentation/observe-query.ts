import type { CompiledQuery } from 'kysely'
import { cachedAnalysis } from '../analysis/analyze-query.js'
import { isDatabaseError } from '../errors/pg-errors.js'
import type { CoreEvents } from './channels.js'
import type { QueryEndEvent, QueryStartEvent } from './events.js'

/** Reports the end of a query started with {@link observeQuery}. */
export type EndObservation = (outcome: { rowCount?: number; error?: unknown }) => void

/**
 * Emits `onQueryStart` for a compiled query and returns the function that emits its
 * `onQueryEnd`. Returns `undefined` when nothing listens (no hook, no channel subscriber), so
 * callers skip all work.
 */
export function observeQuery(
  events: CoreEvents,
  target: string,
  slowQueryMs: number,
  query: CompiledQuery,
): EndObservation | undefined {
  const { onQueryStart, onQueryEnd } = events
  if (!onQueryStart.emit && !onQueryEnd.emit) return undefined
  const { operation, tables } = cachedAnalysis(query)
  const start: QueryStartEvent = {
    queryId: query.queryId.queryId,
    target,
    operation,
    tables,
    sql: query.sql,
  }
  onQueryStart.emit?.(start)
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
    onQueryEnd.emit?.(end)
  }
}
