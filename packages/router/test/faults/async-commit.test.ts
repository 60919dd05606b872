import type { ReplicaServer } from '@sluice/testing'
import { describe, expect, test } from 'vitest'
import type { DB } from '../helpers.js'
import { useWorkloadCluster, WORKLOAD_VIA } from '../workloads/cluster.js'
import { expectBackOnReplicas, writeThenReadPairs } from '../workloads/pairs.js'
import { expectKept } from '../workloads/served-history.js'

const PAIRS = 1000
const CONCURRENCY = 20
const APPLY_DELAY_MS = 300

describe(`sessions with synchronous_commit = off and a ${APPLY_DELAY_MS} ms apply delay (${WORKLOAD_VIA})`, () => {
  const workload = useWorkloadCluster({
    prepare: async ({ cluster }) => {
      await cluster.primary.setSynchronousCommit('off')
      await Promise.all(
        cluster.replicas.map((replica: ReplicaServer) => replica.setApplyDelay(APPLY_DELAY_MS)),
      )
    },
  })

  test(`${PAIRS} write-then-read pairs: no read-your-writes violation; reads return to replicas`, {
    timeout: 180_000,
  }, async () => {
    const database = await workload.database<DB>({ lagCheckIntervalMs: 50 })
    const { labelOf, cluster } = workload.servers
    const [setting] = await cluster.primary.query<{ value: string }>(
      "select setting as value from pg_settings where name = 'synchronous_commit'",
    )
    expect(setting?.value).toBe('off')
    const history = await writeThenReadPairs(database, {
      pairs: PAIRS,
      concurrency: CONCURRENCY,
      prefix: 'async',
    })
    const verdict = history.verdict(labelOf)
    expectKept(verdict)
    expect(verdict.reads).toBe(PAIRS)
    await expectBackOnReplicas(database, labelOf, 'async caught up')
  })
})
