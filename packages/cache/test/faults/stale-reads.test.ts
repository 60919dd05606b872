import { testProfile } from '@sluice/testing'
import { afterAll, describe, expect, test } from 'vitest'
import { type LaggingCluster, startLaggingCluster } from '../workloads/lagging-cluster.js'
import { type CyclePattern, staleReadCycles } from '../workloads/stale-reads.js'

const CYCLES = 1000
const APPLY_DELAY_MS = 500
// The production profile puts every server behind PgBouncer: there, both runs go through it.
const VIAS = testProfile().name === 'production' ? ['pgbouncer'] : ['direct', 'pgbouncer']
const PATTERNS: readonly CyclePattern[] = ['getOrLoad+delete', 'query+invalidateOnCommit']

describe.each(VIAS)(
  `${CYCLES} update → invalidate → read-from-the-other-instance cycles, replicas ${APPLY_DELAY_MS} ms late, %s`,
  (via) => {
    let lagging: LaggingCluster
    afterAll(() => lagging?.stop())

    test.each(PATTERNS.map((pattern, index) => [pattern, index + 1] as const))(
      '%s: noStaleReads finds no violation',
      { timeout: 600_000 },
      async (pattern, id) => {
        lagging ??= await startLaggingCluster({
          applyDelayMs: APPLY_DELAY_MS,
          pgbouncer: via === 'pgbouncer',
        })
        const result = await staleReadCycles(lagging, id, CYCLES, pattern)
        expect(result.violations, result.format()).toEqual([])
        expect(result.reads).toBe(2 * CYCLES + 1)
        // What the servers say: standbys applying every commit APPLY_DELAY_MS late.
        for (const replica of lagging.cluster.replicas) {
          expect(await replica.query('select pg_is_in_recovery() as standby')).toEqual([
            { standby: true },
          ])
          expect(await replica.query('show recovery_min_apply_delay')).toEqual([
            { recovery_min_apply_delay: `${APPLY_DELAY_MS}ms` },
          ])
        }
      },
    )
  },
)
