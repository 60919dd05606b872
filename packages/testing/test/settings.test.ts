import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PostgresCluster, type ReplicaServer, startPostgres, waitFor } from '../src/index.js'

let cluster: PostgresCluster
let replica: ReplicaServer

beforeAll(async () => {
  cluster = await startPostgres({ replicas: 1 })
  replica = cluster.replicas[0] as ReplicaServer
})
afterAll(() => cluster?.stop())

const show = async (server: PostgresCluster['primary'], name: string) =>
  Object.values((await server.query(`show ${name}`))[0] ?? {})[0]

describe('server settings helpers', () => {
  it('setSynchronousCommit changes what new sessions on the primary use', async () => {
    await cluster.primary.setSynchronousCommit('off')
    expect(await show(cluster.primary, 'synchronous_commit')).toBe('off')
    await cluster.primary.setSynchronousCommit('on')
    expect(await show(cluster.primary, 'synchronous_commit')).toBe('on')
  })

  it('refuses values the server would not take', async () => {
    await expect(cluster.primary.setSynchronousCommit('sometimes' as 'on')).rejects.toMatchObject({
      name: 'TestServerError',
      code: 'INVALID_SETTING',
    })
    const before = await Promise.all(
      ['max_standby_streaming_delay', 'recovery_min_apply_delay'].map((name) =>
        show(replica, name),
      ),
    )
    // Outside PostgreSQL's range (an integer of milliseconds up to INT_MAX), or not a number.
    const outside = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 31, 1e12]
    for (const bad of [-2, ...outside])
      await expect(replica.setStandbyDelay(bad)).rejects.toMatchObject({
        name: 'TestServerError',
        code: 'INVALID_SETTING',
        message: expect.stringContaining('from -1 to 2147483647'),
      })
    for (const bad of [-1, ...outside])
      await expect(replica.setApplyDelay(bad)).rejects.toMatchObject({
        name: 'TestServerError',
        code: 'INVALID_SETTING',
        message: expect.stringContaining('from 0 to 2147483647'),
      })
    // Refused before the server was touched: its settings are what they were.
    expect(
      await Promise.all(
        ['max_standby_streaming_delay', 'recovery_min_apply_delay'].map((name) =>
          show(replica, name),
        ),
      ),
    ).toEqual(before)
    // The largest value PostgreSQL takes is accepted.
    await replica.setStandbyDelay(2 ** 31 - 1)
    expect(await show(replica, 'max_standby_streaming_delay')).toBe('2147483647ms')
    await replica.setStandbyDelay(30_000)
  })

  it('setStandbyDelay(0) with feedback off: a VACUUM on the primary cancels a standby read (40001)', async () => {
    await replica.setHotStandbyFeedback(false)
    await replica.setStandbyDelay(0)
    expect(await show(replica, 'max_standby_streaming_delay')).toBe('0')
    expect(await show(replica, 'hot_standby_feedback')).toBe('off')
    await cluster.primary.query('create table conflicted (id int)')
    await cluster.primary.query('insert into conflicted select generate_series(1, 1000)')
    await cluster.waitForReplay()

    const reader = new pg.Client({ connectionString: replica.url() })
    const lost = new Promise<Error>((resolve) => reader.on('error', resolve))
    await reader.connect()
    await reader.query('begin isolation level repeatable read')
    expect((await reader.query('select count(*)::int as n from conflicted')).rows[0]?.n).toBe(1000)

    await cluster.primary.query('delete from conflicted')
    await cluster.primary.query('vacuum conflicted')
    // Replay removes the rows the reader's snapshot still sees: the reader is cancelled.
    const error = await waitFor(
      () =>
        Promise.race([
          lost,
          reader.query('select count(*) from conflicted').then(
            () => false,
            (e: Error) => e,
          ),
        ]),
      { what: 'the recovery conflict' },
    )
    expect(error).toMatchObject({ code: '40001' })
    const [conflicts] = await replica.query<{ n: string }>(
      "select confl_snapshot as n from pg_stat_database_conflicts where datname = 'postgres'",
    )
    expect(Number(conflicts?.n)).toBeGreaterThan(0)
    await reader.end().catch(() => undefined)

    await replica.setStandbyDelay(30_000)
    expect(await show(replica, 'max_standby_streaming_delay')).toBe('30s')
    await replica.setHotStandbyFeedback(true)
  })
})
