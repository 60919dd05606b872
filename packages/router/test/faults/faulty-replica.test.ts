import type { HealthReport } from '@sluice/core'
import type { FaultProxy, PostgresServer } from '@sluice/testing'
import { afterAll, describe, expect, test } from 'vitest'
import { type DB, lateness, readPort, waitFor, warmPool } from '../helpers.js'
import { useWorkloadCluster, WORKLOAD_VIA as via } from '../workloads/cluster.js'
import { readTraces } from '../workloads/read-trace.js'
import { startReaders } from '../workloads/readers.js'

const READERS = 100
const RUN_MS = 10_000
const STATEMENT_TIMEOUT_MS = 1000
const POOL_TIMEOUT_MS = 2000
const POOL_SIZE = 20
const PROBE_TIMEOUT_MS = 500
const CLOSE_TIMEOUT_MS = 1000
const GRACE_MS = Math.max(100, STATEMENT_TIMEOUT_MS / 10)
// The longest a read may wait on one server (for a pooled connection, or for an answer: a
// read that waited for a connection to a replica marked down meanwhile does not run there)...
const READ_DEADLINE_MS = Math.max(
  POOL_TIMEOUT_MS,
  STATEMENT_TIMEOUT_MS + (via === 'pgbouncer' ? 2 : 1) * GRACE_MS,
)
// ...and so the longest a read may take: that, then one retry elsewhere (1 s of slack for
// servers on a machine whose two cores are shared by several test runs; the test process's own
// stalls are measured and taken out, see readTraces).
const READ_BOUND_MS = 2 * READ_DEADLINE_MS + 1000
// Readers on their first read at once while they ramp up (see startReaders): 100 cold logins
// through PgBouncer at once take longer than the pool timeout on a loaded machine.
const RAMP = 5

type Fault = 'freeze' | 'blackhole' | 'latency'

describe(`${READERS} readers for ${RUN_MS / 1000} s with one replica faulty (${via})`, () => {
  // Behind PgBouncer, the link faults sit between the router and replica-1's PgBouncer.
  const workload = useWorkloadCluster({ proxied: true })
  const faulty = () => workload.servers.cluster.replicas[0] as PostgresServer
  const link = () => workload.servers.networks[1] as FaultProxy

  const undo = async () => {
    await faulty().thaw()
    await link().restore()
  }
  afterAll(undo)

  const apply = async (fault: Fault) => {
    if (fault === 'freeze') await faulty().freeze()
    else if (fault === 'blackhole') await link().blackhole()
    else await link().latency(200)
  }

  test.for(['freeze', 'blackhole', 'latency'] as const)(
    '%s: no read fails, each within its deadline plus one retry',
    {
      timeout: 120_000,
    },
    async (fault, { annotate }) => {
      // A PgBouncer that crashed since the last case (as 1.18 did at a blackhole's restore, see
      // core's cancel requests) was restarted by its supervisor: say so.
      for (const restart of workload.newRestarts()) await annotate(restart, 'warning')
      const traces = readTraces()
      const database = await workload.database<DB>(
        {
          instrumentation: traces.instrumentation,
          strategy: 'least-in-flight',
          lagCheckIntervalMs: 200,
          probeTimeoutMs: PROBE_TIMEOUT_MS,
          retryDelayMs: 200,
          maxRetryDelayMs: 1000,
        },
        {
          DB_STATEMENT_TIMEOUT: `${STATEMENT_TIMEOUT_MS}ms`,
          DB_POOL_TIMEOUT: `${POOL_TIMEOUT_MS}ms`,
          DB_POOL_SIZE: String(POOL_SIZE),
        },
      )
      const { labelOf } = workload.servers
      const served: Record<string, number> = {}
      // The primary takes reads only when the replicas fail them: its pool would be cold, where a
      // service's is warm from its writes.
      await warmPool(database.primary, POOL_SIZE, RAMP)
      // The fault lasts RUN_MS from the moment every reader runs; a failed test stops them.
      let faultedAt: number | undefined
      let stop = false
      const readers = startReaders(
        READERS,
        () => stop || (faultedAt !== undefined && Date.now() >= faultedAt + RUN_MS),
        async () => {
          const label = labelOf(await traces.trace(() => readPort(database.db)))
          served[label] = (served[label] ?? 0) + 1
        },
        { ramp: RAMP },
      )
      try {
        await waitFor(
          () =>
            readers.failures.length > 0 ||
            (readers.active === READERS && (served['replica-1'] ?? 0) > 50),
          { what: 'every reader running, and reads on replica-1' },
        )
        expect(readers.failures).toEqual([])
        await apply(fault)
        faultedAt = Date.now()
        const before = { ...served }
        // health() answers within its timeout while the fault lasts.
        await waitFor(() => Date.now() > (faultedAt as number) + RUN_MS / 2)
        let report: HealthReport | undefined
        const late = await lateness(PROBE_TIMEOUT_MS, async () => {
          report = await database.health()
        })
        expect(late).toBeLessThan(200)
        if (fault !== 'latency') expect(report?.status, JSON.stringify(report)).toBe('degraded')
        await readers.done
        expect(readers.failures).toEqual([])
        // Each read within the bound, once this process's own stalls are taken out (see readTraces).
        const latest = traces.latest()
        expect(
          (latest?.ms ?? 0) - (latest?.stalledMs ?? 0),
          `the latest read: ${JSON.stringify(latest)}`,
        ).toBeLessThan(READ_BOUND_MS)
        const during = (label: string) => (served[label] ?? 0) - (before[label] ?? 0)
        // The healthy replica carried the reads (least-in-flight shuns the slow one).
        expect(during('replica-2')).toBeGreaterThan(3 * during('replica-1'))
      } finally {
        stop = true
        // close() keeps its timeout with the fault still in place.
        const late = await lateness(CLOSE_TIMEOUT_MS, () =>
          database.close({ timeoutMs: CLOSE_TIMEOUT_MS }),
        )
        await undo()
        for (const restart of workload.newRestarts()) await annotate(restart, 'warning')
        expect(late).toBeLessThan(200)
      }
    },
  )
})
