import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PostgresCluster, startPostgres, waitFor } from '../src/index.js'

let cluster: PostgresCluster

beforeAll(async () => {
  cluster = await startPostgres({ replicas: 2 })
  await cluster.primary.query('create table events (id serial primary key, note text)')
  await cluster.waitForReplay()
})
afterAll(() => cluster?.stop())

const port = async (server: { query: PostgresCluster['primary']['query'] }) =>
  (await server.query<{ port: number }>('select inet_server_port() as port'))[0]?.port
const count = async (server: PostgresCluster['primary']) =>
  Number((await server.query<{ n: string }>('select count(*) as n from events'))[0]?.n)

describe('startPostgres', () => {
  it('starts a primary and streaming replicas of the requested engine', async () => {
    expect(cluster.engine).toBe(process.env.SLUICE_PG_ENGINE)
    const [version] = await cluster.primary.query<{ v: string }>('show server_version_num')
    expect(Math.floor(Number(Object.values(version ?? {})[0]) / 10000)).toBe(cluster.version)
    expect(await port(cluster.primary)).toBe(cluster.primary.port)
    expect(await cluster.primary.isInRecovery()).toBe(false)
    for (const replica of cluster.replicas) {
      expect(await port(replica)).toBe(replica.port)
      expect(await replica.isInRecovery()).toBe(true)
    }
    const senders = await cluster.primary.query<{ name: string }>(
      "select application_name as name from pg_stat_replication where state = 'streaming' order by 1",
    )
    expect(senders.map((s) => s.name)).toEqual(['replica-1', 'replica-2'])
  })

  it('runs the servers as an unprivileged account when started as root', () => {
    const pid = Number(
      readFileSync(join(cluster.primary.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0],
    )
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
    expect(uid).toBe(statSync(cluster.primary.dataDir).uid)
    if (process.getuid?.() === 0) expect(uid).not.toBe(0)
  })

  it('replicates writes, and waitForReplay waits for them', async () => {
    await cluster.primary.query("insert into events (note) values ('replicated')")
    await cluster.waitForReplay()
    for (const replica of cluster.replicas)
      expect(await count(replica)).toBe(await count(cluster.primary))
  })

  it('createDatabase gives an isolated database, from a template, on every server', async () => {
    await cluster.primary.query('create database tmpl')
    await cluster.primary.query('create table seeded (id int)', [], 'tmpl')
    const db = await cluster.createDatabase('from_tmpl', { template: 'tmpl' })
    expect(db.replicaUrls).toHaveLength(2)
    for (const replica of cluster.replicas) {
      const rows = await replica.query("select to_regclass('seeded') as t", [], 'from_tmpl')
      expect(rows[0]?.t).toBe('seeded')
    }
  })
})

describe('replica fault controls', () => {
  it('pauseReplay freezes the replay LSN while the primary writes; resumeReplay catches up', async () => {
    const [replica] = cluster.replicas
    if (!replica) throw new Error('no replica')
    await replica.pauseReplay()
    const frozen = await replica.replayLsn()
    await cluster.primary.query(
      "insert into events (note) select 'paused' from generate_series(1, 100)",
    )
    await waitFor(
      async () =>
        (
          await replica.query<{ ok: boolean }>(
            'select pg_last_wal_receive_lsn() > $1::pg_lsn as ok',
            [frozen],
          )
        )[0]?.ok,
      { what: 'the paused replica to receive WAL' },
    )
    expect(await replica.replayLsn()).toBe(frozen)
    expect(await count(replica)).toBeLessThan(await count(cluster.primary))
    await replica.resumeReplay()
    await cluster.waitForReplay()
    expect(await count(replica)).toBe(await count(cluster.primary))
  })

  it('setApplyDelay holds commits back for the delay', async () => {
    const replica = cluster.replicas[1]
    if (!replica) throw new Error('no replica')
    await replica.setApplyDelay(1500)
    const before = await count(replica)
    const started = Date.now()
    await cluster.primary.query("insert into events (note) values ('delayed')")
    expect(await count(replica)).toBe(before)
    await waitFor(async () => (await count(replica)) > before, { what: 'the delayed commit' })
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400)
    await replica.setApplyDelay(0)
  })

  it('kill refuses connections; start brings the replica back and it catches up', async () => {
    const [replica] = cluster.replicas
    if (!replica) throw new Error('no replica')
    await replica.kill()
    expect(replica.running).toBe(false)
    await expect(replica.query('select 1')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    await cluster.primary.query("insert into events (note) values ('while down')")
    await replica.start()
    await cluster.waitForReplay()
    expect(await count(replica)).toBe(await count(cluster.primary))
  })

  it('stop shuts down cleanly and start resumes streaming', async () => {
    const replica = cluster.replicas[1]
    if (!replica) throw new Error('no replica')
    await replica.stop()
    await expect(replica.query('select 1')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    await replica.start()
    expect(await replica.isInRecovery()).toBe(true)
  })

  it('promote takes a replica out of recovery and makes it writable', async () => {
    const replica = cluster.replicas[1]
    if (!replica) throw new Error('no replica')
    await replica.promote()
    expect(await replica.isInRecovery()).toBe(false)
    await replica.query("insert into events (note) values ('on the promoted one')")
  })
})

describe('cleanup', () => {
  it('stop() removes the data directories', async () => {
    const other = await startPostgres()
    const dir = other.primary.dataDir
    expect(existsSync(dir)).toBe(true)
    await other.stop()
    expect(existsSync(dir)).toBe(false)
  })
})
