import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  type DB,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'

describe.each(VIAS)('serializable as the database default (%s)', (via) => {
  let servers: TestCluster
  let name: string

  beforeAll(async () => {
    servers = await startTestCluster(via)
    const rows = await servers.cluster.primary.query<{ d: string }>(
      'select current_database() as d',
    )
    name = (rows[0] as { d: string }).d
  })

  afterAll(async () => {
    await servers?.cluster.primary.query(
      `alter database ${name} reset default_transaction_isolation`,
    )
    await servers?.stop()
  })

  /** 30 concurrent reads: the servers that answered, and the failures. */
  const reads = async (database: ReturnType<typeof testRoutedDatabase<DB>>) => {
    const failures: string[] = []
    const ports = await Promise.all(
      Array.from({ length: 30 }, () =>
        readPort(database.db).catch((error) => {
          failures.push(`${error.code} ${error.message}`)
          return 0
        }),
      ),
    )
    return { failures, served: new Set(ports.map((port) => servers.labelOf(port))) }
  }

  test('fails no read, and directly the replicas serve them', async () => {
    const before = testRoutedDatabase<DB>(servers.config())
    await waitFor(async () => before.replicas().every((replica) => replica.status === 'up'))
    await servers.cluster.primary.query(
      `alter database ${name} set default_transaction_isolation = 'serializable'`,
    )
    // cluster.waitForReplay() itself fails now (its session is serializable on a standby).
    for (const replica of servers.cluster.replicas) {
      await waitFor(async () => {
        const client = new pg.Client({
          connectionString: replica.directUrl(name),
          options: '-c default_transaction_isolation=repeatable\\ read',
        })
        await client.connect()
        try {
          const { rows } = await client.query('select count(*)::int as n from pg_db_role_setting')
          return rows[0].n > 0
        } finally {
          await client.end()
        }
      })
    }
    // A router started before the setting, and one started after it.
    const after = testRoutedDatabase<DB>(servers.config())
    try {
      for (const database of [before, after]) {
        const { failures, served } = await reads(database)
        expect(failures).toEqual([])
        if (via === 'direct') {
          // Replica sessions ask for repeatable read: the replicas serve, the monitor sees them up.
          expect(served.has('primary')).toBe(false)
          expect(database.replicas().map((replica) => replica.status)).toEqual(['up', 'up'])
        }
      }
    } finally {
      await Promise.all([before.close(), after.close()])
    }
  })
})
