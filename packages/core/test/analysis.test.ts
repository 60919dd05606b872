import {
  type CompiledQuery,
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
} from 'kysely'
import { describe, expect, it } from 'vitest'
import { analyzeQuery, cachedAnalysis, queryTables } from '../src/internal/index.js'

// The one analysis every package reads (router classification, query info, cache tags,
// written tables, the partitions' strict plugin). Compiled only: no server is needed.
interface DB {
  users: { id: number; name: string }
  posts: { id: number; user_id: number; body: string }
  'audit.events': { id: number; at: Date }
}

const db = new Kysely<DB>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (kysely) => new PostgresIntrospector(kysely),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
})

const analyze = (query: { compile(): CompiledQuery }) => {
  const { query: node, sql: text } = query.compile()
  return analyzeQuery(node, text)
}

describe('analyzeQuery', () => {
  it('names the operation, every table and the written ones, without CTE names', () => {
    const analysis = analyze(
      db
        .with('recent', (q) => q.selectFrom('posts').selectAll())
        .with('made', (q) =>
          q.insertInto('audit.events').values({ id: 1, at: new Date() }).returning('id'),
        )
        .selectFrom('recent')
        .innerJoin('users', 'users.id', 'recent.user_id')
        .selectAll(),
    )
    expect(analysis).toMatchObject({
      operation: 'SELECT',
      tables: ['audit.events', 'posts', 'users'],
      writes: ['audit.events'],
      nestedWrite: true,
      locking: false,
      rawRoot: false,
    })
  })

  it('sees a root write as a write, not a nested one', () => {
    const analysis = analyze(db.updateTable('users as u').set({ name: 'x' }).where('u.id', '=', 1))
    expect(analysis).toMatchObject({ operation: 'UPDATE', writes: ['users'], nestedWrite: false })
  })

  it('finds locking clauses, function names (schema and quotes dropped) and raw fragments', () => {
    const analysis = analyze(
      db
        .selectFrom('users')
        .select((eb) => [eb.fn('pg_catalog."NextVal"', [sql.lit('s')]).as('n'), sql`now()`.as('t')])
        .forUpdate(),
    )
    expect(analysis.locking).toBe(true)
    expect(analysis.functions).toEqual(['nextval'])
    expect(analysis.raw).toContain('now()')
  })

  it('reads raw SQL by its first keyword, past comments', () => {
    const analysis = analyze({
      compile: () => sql`/* why */ -- note\n start transaction`.compile(db) as never,
    })
    expect(analysis).toMatchObject({ operation: 'BEGIN', rawRoot: true, tables: [], writes: [] })
  })

  it('never walks parameter values: an object that looks like a table node is a value', () => {
    const lookalike = { kind: 'TableNode', table: { identifier: { name: 'not_a_table' } } }
    const analysis = analyze(
      db
        .selectFrom('users')
        .selectAll()
        .where('name', '=', lookalike as never),
    )
    expect(analysis.tables).toEqual(['users'])
  })

  it('analyses each query shape once: the same frozen object for the same SQL', () => {
    const first = cachedAnalysis(db.selectFrom('users').selectAll().where('id', '=', 1).compile())
    const second = cachedAnalysis(db.selectFrom('users').selectAll().where('id', '=', 2).compile())
    expect(second).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
  })
})

describe('queryTables', () => {
  it('lists FROM, UPDATE and DELETE targets and joins with their aliases and ON', () => {
    const select = db
      .selectFrom('users as u')
      .innerJoin('posts', 'posts.user_id', 'u.id')
      .where('u.id', 'in', db.selectFrom('audit.events').select('id'))
      .selectAll()
      .compile().query
    const targets = queryTables(select)
    expect(targets.map(({ table, alias }) => ({ table, alias }))).toEqual([
      { table: 'users', alias: 'u' },
      { table: 'posts', alias: undefined },
    ])
    expect(targets[1]?.on?.kind).toBe('BinaryOperationNode')
    expect(queryTables(db.deleteFrom('audit.events').compile().query)).toEqual([
      { table: 'audit.events' },
    ])
    expect(queryTables(db.updateTable('posts').set({ body: '' }).compile().query)).toEqual([
      { table: 'posts' },
    ])
  })
})
