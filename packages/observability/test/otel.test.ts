import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { parseConfig, type SluiceDatabase } from '@sluice/core'
import { recordSpans, type SpanRecorder } from '@sluice/testing/observability'
import { type Generated, sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { otelInstrumentation } from '../src/otel/index.js'
import { freshDatabase, testDatabase } from './helpers.js'

interface DB {
  accounts: { id: Generated<number>; email: string }
}

let recorder: SpanRecorder
let database: SluiceDatabase<DB>
let env: Readonly<Record<string, string>>

beforeAll(async () => {
  recorder = recordSpans()
  ;({ env } = await freshDatabase())
  database = testDatabase<DB>(parseConfig({ ...env }), {
    instrumentation: otelInstrumentation({ tracer: recorder.tracer }),
  })
  await sql`create table accounts (id serial primary key, email text unique not null)`.execute(
    database.db,
  )
})
afterAll(async () => {
  await database?.close()
  await recorder?.close()
})

it('each query is a CLIENT span under the span that awaited it, with the conventions attributes', async () => {
  const before = recorder.spans().length
  const ids = await recorder.tracer.startActiveSpan('GET /accounts', async (request) => {
    await database.db.insertInto('accounts').values({ email: 'b@example.com' }).execute()
    const rows = await database.db
      .selectFrom('accounts')
      .select(['id', sql<number>`pg_backend_pid()`.as('pid')])
      .where('email', '=', 'b@example.com')
      .execute()
    request.end()
    return { request: request.spanContext(), rows }
  })
  const spans = recorder.spans().slice(before)
  const [insert, select] = spans
  expect(spans.map((span) => span.name)).toEqual([
    'INSERT accounts',
    'SELECT accounts',
    'GET /accounts',
  ])
  for (const span of [insert, select]) {
    expect(span?.kind).toBe(SpanKind.CLIENT)
    expect(span?.parentSpanContext?.spanId).toBe(ids.request.spanId)
    expect(span?.spanContext().traceId).toBe(ids.request.traceId)
    expect(span?.status.code).toBe(SpanStatusCode.UNSET)
  }
  expect(select?.attributes).toEqual({
    'db.system.name': 'postgresql',
    'db.operation.name': 'SELECT',
    'db.collection.name': 'accounts',
    'db.query.text': expect.stringContaining('"email" = $1'),
    'db.response.returned_rows': 1,
    'sluice.target': 'primary',
  })
  // The parameter value is never recorded.
  expect(JSON.stringify(spans.map((span) => span.attributes))).not.toContain('b@example.com')
  // The span covers the query: it starts before and ends after the server ran it.
  const started = (select?.startTime[0] ?? 0) * 1e3 + (select?.startTime[1] ?? 0) / 1e6
  const ended = (select?.endTime[0] ?? 0) * 1e3 + (select?.endTime[1] ?? 0) / 1e6
  expect(ended).toBeGreaterThanOrEqual(started)
  expect(ids.rows).toHaveLength(1)
})

it('a failed query gets an ERROR status named by its SQLSTATE, without the message', async () => {
  const before = recorder.spans().length
  const error = await database.db
    .insertInto('accounts')
    .values({ email: 'b@example.com' })
    .execute()
    .catch((e) => e)
  expect(error).toMatchObject({ code: '23505' })
  const [span] = recorder.spans().slice(before)
  expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: '23505' })
  expect(span?.attributes).toMatchObject({
    'error.type': '23505',
    'db.response.status_code': '23505',
  })
  expect(span?.events).toEqual([])
  expect(JSON.stringify([span?.attributes, span?.status])).not.toContain('b@example.com')
})

it('queryText: false leaves the SQL out', async () => {
  const before = recorder.spans().length
  const quiet = testDatabase<DB>(parseConfig({ ...env }), {
    instrumentation: otelInstrumentation({ tracer: recorder.tracer, queryText: false }),
  })
  await quiet.db.selectFrom('accounts').selectAll().execute()
  await quiet.close()
  const [span] = recorder.spans().slice(before)
  expect(span?.attributes['db.query.text']).toBeUndefined()
  expect(span?.name).toBe('SELECT accounts')
})
