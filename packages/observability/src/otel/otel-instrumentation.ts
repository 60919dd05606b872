import {
  type Attributes,
  context,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api'
import type { CacheEvent, CacheInstrumentation } from '@sluice/cache'
import type { QueryEndEvent } from '@sluice/core'
import type { PartitionInstrumentation } from '@sluice/partitions'
import type { RouteEvent, RouterInstrumentation } from '@sluice/router'
import { errorType } from '../error-type.js'

/** Options of {@link otelInstrumentation}. */
export interface OtelOptions {
  /** The tracer spans come from. Default: `trace.getTracer('@sluice/observability')` of the global provider. */
  readonly tracer?: Tracer
  /**
   * Put the SQL text (with `$n` placeholders; parameter values are never recorded) in
   * `db.query.text`. Default `true`.
   */
  readonly queryText?: boolean
}

/**
 * The hooks {@link otelInstrumentation} implements (it fits every package's `instrumentation`
 * option; maintenance runs have no span of their own).
 */
export interface OtelInstrumentation
  extends RouterInstrumentation,
    CacheInstrumentation,
    PartitionInstrumentation {
  onQueryEnd(event: QueryEndEvent): void
  onRoute(event: RouteEvent): void
  onCache(event: CacheEvent): void
}

/**
 * Instrumentation that traces with OpenTelemetry (`@opentelemetry/api`, an optional peer
 * dependency). Each query is a CLIENT span, a child of the span active where the query was
 * awaited, named and attributed by the OpenTelemetry database conventions (`db.system.name`,
 * `db.operation.name`, `db.collection.name`, `db.query.text`, `db.response.status_code`,
 * `error.type`), plus `sluice.target`: the server that ran it (`primary`, `replica-1`, ...).
 * Failed queries get an ERROR status named by their SQLSTATE or Sluice code; error messages,
 * parameter values and connection strings are never recorded. Router fallbacks and retries,
 * and cache events, are added as events to the active span.
 *
 * @example
 * ```ts
 * import { otelInstrumentation } from '@sluice/observability/otel'
 *
 * const database = createDatabase(parseConfig(), { instrumentation: otelInstrumentation() })
 * ```
 */
export function otelInstrumentation(options: OtelOptions = {}): OtelInstrumentation {
  const tracer = options.tracer ?? trace.getTracer('@sluice/observability')
  const queryText = options.queryText ?? true
  return {
    onQueryEnd(event) {
      // The span is recorded when the query ends, with its real start time: no state is held
      // between the two hooks, so a query that never ends cannot leak a span.
      const startTime = performance.timeOrigin + performance.now() - event.durationMs
      const table = event.tables.length === 1 ? event.tables[0] : undefined
      // Set one by one: conditional spreads cost several times more on this per-query path.
      const attributes: Attributes = {
        'db.system.name': 'postgresql',
        'db.operation.name': event.operation,
        'sluice.target': event.target,
      }
      if (table) attributes['db.collection.name'] = table
      if (queryText) attributes['db.query.text'] = event.sql
      if (event.rowCount !== undefined) attributes['db.response.returned_rows'] = event.rowCount
      if (event.sqlState) attributes['db.response.status_code'] = event.sqlState
      const name = table ? `${event.operation} ${table}` : event.operation
      const span = tracer.startSpan(
        name,
        { kind: SpanKind.CLIENT, startTime, attributes },
        context.active(),
      )
      if (event.error !== undefined) {
        const type = errorType(event.error)
        span.setAttribute('error.type', type)
        span.setStatus({ code: SpanStatusCode.ERROR, message: type })
      }
      span.end()
    },
    onRoute(event) {
      if (event.reason !== 'fallback' && event.reason !== 'retry') return
      trace
        .getActiveSpan()
        ?.addEvent(`sluice.route.${event.reason}`, { 'sluice.target': event.target })
    },
    onCache(event) {
      const span = trace.getActiveSpan()
      if (!span) return
      const attributes: Attributes = {}
      if ('tier' in event) attributes['sluice.cache.tier'] = event.tier
      if ('reason' in event && event.reason) attributes['sluice.cache.reason'] = event.reason
      if ('durationMs' in event) attributes['sluice.cache.duration_ms'] = event.durationMs
      span.addEvent(`sluice.cache.${event.kind}`, attributes)
    },
  }
}
