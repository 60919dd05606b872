import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HaCluster, PostgresServer } from '../../src/index.js'

/**
 * The checks every HA fixture passes, on the servers themselves: one primary, synchronous
 * standbys (`syncStates`: what the primary's pg_stat_replication reports), a planned failover,
 * a crash failed over by the engine alone, and the crashed node revived as a standby. One
 * cluster for the whole file: its start is the expensive part.
 */
// Each control waits on its own deadlines (waitForPrimary 60 s, revive 120 s + 60 s): a test's
// budget is their sum, well above vitest's default 60 s on a machine whose cores are all busy.
const CONTROL_BUDGET_MS = 300_000

export function haSuite(
  start: () => Promise<HaCluster>,
  syncStates: readonly string[],
  more: (cluster: () => HaCluster) => void = () => {},
): void {
  let ha: HaCluster

  beforeAll(async () => {
    const started = Date.now()
    ha = await start()
    console.log(`${ha.ha}: ${ha.nodes.length} nodes up in ${Date.now() - started} ms`)
    await ha.createDatabase('ha_test')
    const primary = await ha.waitForPrimary()
    await primary.query('create table acked (id int primary key)', [], 'ha_test')
  })

  afterAll(() => ha?.stop())

  interface ServerView {
    readonly recovery: boolean
    readonly readOnly: string
  }

  const view = async (node: PostgresServer): Promise<ServerView> => {
    const [row] = await node.query<ServerView>(
      'select pg_is_in_recovery() as recovery, current_setting(\'transaction_read_only\') as "readOnly"',
    )
    if (!row) throw new Error(`no answer from ${node.name}`)
    return row
  }

  /** The timeline the primary writes on, from the name of its current WAL file. */
  const timeline = async (primary: PostgresServer): Promise<number> => {
    const [row] = await primary.query<{ file: string }>(
      'select pg_walfile_name(pg_current_wal_lsn()) as file',
    )
    return Number.parseInt(row?.file.slice(0, 8) ?? '', 16)
  }

  /** Inserts `id` on the primary; resolves once COMMIT returned (a synchronous standby has it). */
  const acknowledge = (primary: PostgresServer, id: number) =>
    primary.query('insert into acked values ($1)', [id], 'ha_test')

  const ids = async (node: PostgresServer) =>
    (await node.query<{ id: number }>('select id from acked order by id', [], 'ha_test')).map(
      (row) => row.id,
    )

  /** The node is a standby streaming from the primary's current timeline. */
  const expectStandbyOf = async (node: PostgresServer, primary: PostgresServer) => {
    expect(await view(node)).toEqual({ recovery: true, readOnly: 'on' })
    const [receiver] = await node.query<{ status: string; port: number; tli: number }>(
      'select status, sender_port as port, received_tli as tli from pg_stat_wal_receiver',
    )
    expect(receiver).toMatchObject({ status: 'streaming', port: primary.port })
    expect(receiver?.tli).toBe(await timeline(primary))
  }

  describe(`startPostgres({ ha })`, () => {
    it(
      'elects one primary with synchronous standbys, as the servers themselves report',
      async () => {
        const primary = await ha.waitForPrimary()
        expect(await ha.reportedPrimary()).toBe(primary)
        expect(await view(primary)).toEqual({ recovery: false, readOnly: 'off' })
        for (const node of ha.nodes.filter((n) => n !== primary))
          await expectStandbyOf(node, primary)
        const replication = await primary.query<{ sync_state: string }>(
          'select sync_state from pg_stat_replication',
        )
        expect(replication.map((r) => r.sync_state).sort()).toEqual([...syncStates].sort())
        const ports = ha.nodes.map((node) => `127.0.0.1:${node.port}`).join(',')
        expect(ha.url('ha_test')).toMatch(
          new RegExp(
            `^postgres://postgres:[^@]+@${ports}/ha_test\\?target_session_attrs=read-write$`,
          ),
        )
        expect(ha.nodeUrls()).toEqual(ha.nodes.map((node) => node.directUrl()))
      },
      CONTROL_BUDGET_MS,
    )

    it(
      'failover(): a planned switchover to a standby on a new timeline, nothing lost',
      async () => {
        const before = await ha.waitForPrimary()
        const oldTimeline = await timeline(before)
        await acknowledge(before, 1)
        const started = Date.now()
        const after = await ha.failover()
        console.log(`${ha.ha} planned failover: ${Date.now() - started} ms`)
        expect(after).not.toBe(before)
        expect(await view(after)).toEqual({ recovery: false, readOnly: 'off' })
        expect(await timeline(after)).toBeGreaterThan(oldTimeline)
        await expectStandbyOf(before, after)
        expect(await ids(after)).toEqual([1])
      },
      CONTROL_BUDGET_MS,
    )

    it(
      'crashPrimary(): the engine fails over on its own; revive() brings the node back a standby',
      async () => {
        const before = await ha.waitForPrimary()
        const oldTimeline = await timeline(before)
        await acknowledge(before, 2)
        const started = Date.now()
        const crashed = await ha.crashPrimary()
        expect(crashed).toBe(before)
        await expect(crashed.query('select 1')).rejects.toThrow() // nothing listens there any more
        const after = await ha.waitForPrimary()
        console.log(`${ha.ha} crash failover: ${Date.now() - started} ms`)
        expect(after).not.toBe(crashed)
        expect(await view(after)).toEqual({ recovery: false, readOnly: 'off' })
        expect(await timeline(after)).toBeGreaterThan(oldTimeline)
        expect(await ids(after)).toEqual([1, 2]) // acknowledged by a synchronous standby: kept
        await acknowledge(after, 3)

        const revived = Date.now()
        await ha.revive(crashed)
        console.log(`${ha.ha} revive: ${Date.now() - revived} ms`)
        await expectStandbyOf(crashed, after)
        expect(await ha.waitForPrimary()).toBe(after)
        await expect.poll(() => ids(crashed), { timeout: 30_000 }).toEqual([1, 2, 3])
      },
      CONTROL_BUDGET_MS,
    )
  })
  more(() => ha)
}
