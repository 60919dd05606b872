import { testProfile } from '@sluice/testing'
import type { Kysely } from 'kysely'
import { afterAll, describe, expect, test } from 'vitest'
import { type DB, waitFor } from '../helpers.js'
import { useWorkloadCluster, WORKLOAD_VIA } from '../workloads/cluster.js'
import {
  describeSchedule,
  faultSchedule,
  runSchedule,
  seededRandom,
} from '../workloads/fault-schedule.js'
import {
  expectKept,
  ServedHistory,
  type ServedRead,
  servedColumns,
} from '../workloads/served-history.js'

interface MixedDB extends DB {
  kv: { key: string; version: number }
}

const RUN_MS = 60_000
const WRITERS = 6
const READERS = 4
const SEED = Number(process.env.SLUICE_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31))

/** The version of `key` (a subquery, so an absent key still reports the server). */
const versionQuery = (db: Kysely<MixedDB>, key: string) =>
  db.selectNoFrom((eb) => [
    eb.selectFrom('kv').select('version').where('key', '=', key).as('version'),
    ...servedColumns,
  ])

type VersionRow = { version: number | null; port: number; standby: boolean }
const served = ({ version, port, standby }: VersionRow): ServedRead => ({
  version: version ?? undefined,
  port,
  standby,
})

const readVersion = async (db: Kysely<MixedDB>, key: string) =>
  served(await versionQuery(db, key).executeTakeFirstOrThrow())

/** Reads the first (only) row of a stream and leaves the stream early. */
async function streamVersion(db: Kysely<MixedDB>, key: string): Promise<ServedRead> {
  for await (const row of versionQuery(db, key).stream()) return served(row)
  throw new Error('the stream had no row')
}

describe(`${RUN_MS / 1000} s of writers, sessions and a second service with replicas paused, frozen, killed and restarted (${WORKLOAD_VIA})`, () => {
  const workload = useWorkloadCluster({
    prepare: async ({ cluster }) => {
      await cluster.primary.query('create table kv (key text primary key, version int not null)')
    },
  })
  afterAll(async () => {
    // A failed run may leave a replica frozen or stopped.
    for (const replica of workload.servers.cluster.replicas) {
      await replica.thaw()
      if (!replica.running) await replica.start()
    }
  })

  test('no read-your-writes violation, no failed read or write; replicas and primary serve reads', {
    timeout: 300_000,
  }, async () => {
    const routerOptions = {
      lagCheckIntervalMs: 200,
      probeTimeoutMs: 1000,
      retryDelayMs: 200,
      maxRetryDelayMs: 1000,
    }
    const config = {
      DB_STATEMENT_TIMEOUT: '2s',
      DB_POOL_TIMEOUT: '3s',
      DB_POOL_SIZE: '20',
    }
    // This service writes; the other one (another process, say) gets its tokens.
    const service = await workload.database<MixedDB>(routerOptions, config)
    const other = await workload.database<MixedDB>(routerOptions, config)
    const { cluster, labelOf } = workload.servers
    const steps = faultSchedule(SEED, cluster.replicas.length, RUN_MS)
    console.log(describeSchedule(SEED, steps))
    const history = new ServedHistory()
    const tokens: (string | undefined)[] = []
    const startedAt = Date.now()
    const running = () => Date.now() < startedAt + RUN_MS

    const writer = async (index: number) => {
      const [actor, key] = [`writer-${index}`, `k${index}`]
      for (let version = 1; running(); version++) {
        // One request: a write, its token handed to the other service, then reads of it.
        await service.session(async () => {
          await history.write(actor, key, version, () =>
            service.db
              .insertInto('kv')
              .values({ key, version })
              .onConflict((oc) => oc.column('key').doUpdateSet({ version }))
              .execute(),
          )
          tokens[index] = service.consistencyToken()
          history.handOff(actor, `consumer-${index}`)
          if (version % 3 === 0) {
            await service.db.connection().execute(async (db) => {
              await history.read(actor, key, () => readVersion(db, key))
              await history.read(actor, key, () => readVersion(db, key))
            })
          } else if (version % 3 === 1) {
            await history.read(actor, key, () => streamVersion(service.db, key))
          } else {
            await history.read(actor, key, () => readVersion(service.db, key))
          }
        })
      }
    }
    const consumer = async (index: number) => {
      const [actor, key] = [`consumer-${index}`, `k${index}`]
      await waitFor(() => tokens[index] !== undefined || !running(), {
        what: `writer-${index}'s first token`,
      })
      for (let round = 0; running(); round++) {
        await history.read(actor, key, () => {
          // The latest token handed over, taken as the read starts.
          const atLeast = tokens[index] as string
          const read = () => other.withConsistency({ atLeast }, () => readVersion(other.db, key))
          return round % 2 === 0 ? read() : other.session(read)
        })
      }
    }
    const reader = async (index: number) => {
      const random = seededRandom(SEED + index)
      while (running()) {
        const key = `k${Math.floor(random() * WRITERS)}`
        await history.read(`reader-${index}`, key, () => readVersion(other.db, key))
      }
    }

    const faults = runSchedule(
      steps,
      cluster.replicas,
      startedAt,
      testProfile().postgres.applyDelayMs ?? 0,
    )
    const actors = [
      ...Array.from({ length: WRITERS }, (_, index) => writer(index)),
      ...Array.from({ length: WRITERS }, (_, index) => consumer(index)),
      ...Array.from({ length: READERS }, (_, index) => reader(index)),
    ]
    // Every actor runs to the end even if one fails: the history shows every failure.
    const ended = await Promise.allSettled(actors)
    await faults
    const verdict = history.verdict(labelOf)
    console.log(
      `${verdict.operations} operations, reads by server: ${JSON.stringify(verdict.servedBy)}`,
    )
    expect(ended.filter((end) => end.status === 'rejected')).toEqual([])
    expectKept(verdict)
    for (const label of ['primary', 'replica-1', 'replica-2']) {
      expect(verdict.servedBy[label] ?? 0, `reads answered by ${label}`).toBeGreaterThan(0)
    }
  })
})
