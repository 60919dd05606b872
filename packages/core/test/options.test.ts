import { CamelCasePlugin, type Generated, type Kysely, type LogEvent, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ConfigError,
  createDatabase,
  type SluiceConfig,
  type SluiceDatabase,
  sluiceDialect,
} from '../src/index.js'
import { freshDatabase, testDatabase } from './helpers.js'

interface DB {
  user_notes: { note_id: Generated<number>; note_body: string }
}

const issuesOf = (attempt: () => unknown) => {
  try {
    attempt()
  } catch (error) {
    if (error instanceof ConfigError) return error.issues
    throw error
  }
  return undefined
}

let config: SluiceConfig
const open: SluiceDatabase<DB>[] = []

beforeAll(async () => {
  ;({ config } = await freshDatabase())
})
afterAll(() => Promise.all(open.map((database) => database.close())))

describe('createDatabase and sluiceDialect options', () => {
  const entries = {
    createDatabase: (options: unknown) => createDatabase(config, options as never),
    sluiceDialect: (options: unknown) => sluiceDialect(config, options as never),
  }

  it('options that are not an object, unknown keys and bad hooks are ConfigErrors naming the option', () => {
    for (const [name, create] of Object.entries(entries)) {
      for (const bad of [null, [], 'instrumentation', 42]) {
        expect(
          issuesOf(() => create(bad)),
          `${name}(${JSON.stringify(bad)})`,
        ).toEqual([
          { field: 'options', message: expect.stringMatching(/^must be an object of options/) },
        ])
      }
      expect(issuesOf(() => create({ instrumentaton: {} }))).toEqual([
        { field: 'instrumentaton', message: 'unknown option instrumentaton' },
      ])
      expect(issuesOf(() => create({ instrumentation: { onQueryEnd: 'console.log' } }))).toEqual([
        { field: 'instrumentation.onQueryEnd', message: 'must be a function (got a string)' },
      ])
      expect(
        issuesOf(() =>
          create({ instrumentation: [{ onQueryStart: () => {} }, { onPoolEvent: {} }] }),
        ),
      ).toEqual([
        { field: 'instrumentation.1.onPoolEvent', message: 'must be a function (got an object)' },
      ])
      for (const bad of [null, 'hooks', 1]) {
        expect(issuesOf(() => create({ instrumentation: bad }))).toEqual([
          {
            field: 'instrumentation',
            message: expect.stringMatching(/^must be an object of hooks/),
          },
        ])
      }
    }
  })

  it("createDatabase checks Kysely's plugins and log; sluiceDialect refuses them", () => {
    for (const bad of [null, 'CamelCasePlugin', 1, {}]) {
      expect(
        issuesOf(() => entries.createDatabase({ plugins: bad })),
        JSON.stringify(bad),
      ).toEqual([
        { field: 'plugins', message: expect.stringMatching(/^must be an array of Kysely plugins/) },
      ])
    }
    expect(
      issuesOf(() =>
        entries.createDatabase({ plugins: [new CamelCasePlugin(), CamelCasePlugin, 'x'] }),
      ),
    ).toEqual([
      {
        field: 'plugins.1',
        message: expect.stringMatching(/^must be a Kysely plugin.*a function/),
      },
      { field: 'plugins.2', message: expect.stringMatching(/^must be a Kysely plugin.*a string/) },
    ])
    for (const bad of [null, 'query', 5, ['query', 'debug'], {}]) {
      expect(
        issuesOf(() => entries.createDatabase({ log: bad })),
        JSON.stringify(bad),
      ).toEqual([
        {
          field: 'log',
          message: expect.stringMatching(/^must be an array of 'query' and 'error'/),
        },
      ])
    }
    for (const key of ['plugins', 'log']) {
      expect(issuesOf(() => entries.sluiceDialect({ [key]: [] }))).toEqual([
        { field: key, message: expect.stringContaining('new Kysely') },
      ])
    }
  })

  it('valid plugins, log and hooks still reach Kysely and the server', async () => {
    const logged: LogEvent[] = []
    const ended: string[] = []
    const database = testDatabase<DB>(config, {
      plugins: [new CamelCasePlugin()],
      log: (event) => {
        logged.push(event)
      },
      instrumentation: { onQueryEnd: (event) => ended.push(event.sql), onPoolEvent: undefined },
    })
    open.push(database)
    await sql`create table user_notes (note_id serial primary key, note_body text not null)`.execute(
      database.db,
    )
    // CamelCasePlugin: the application's names are camelCase, the server's snake_case.
    const db = database.db as unknown as Kysely<{
      userNotes: { noteId: Generated<number>; noteBody: string }
    }>
    await db.insertInto('userNotes').values({ noteBody: 'camel' }).execute()
    expect(await db.selectFrom('userNotes').select('noteBody').execute()).toEqual([
      { noteBody: 'camel' },
    ])
    expect(logged.map((event) => event.query.sql)).toContain('select "note_body" from "user_notes"')
    expect(ended).toContain('select "note_body" from "user_notes"')
  })
})
