import { afterAll, beforeAll } from 'vitest'
import type { RoutedDatabase, RouterOptions } from '../../src/index.js'
import {
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  type Via,
  waitFor,
} from '../helpers.js'

/**
 * How the long workloads reach the servers: directly (PostgreSQL 15), or through PgBouncer in
 * transaction mode in the production profile.
 */
export const WORKLOAD_VIA: Via = VIAS[0] as Via

/** Options of {@link useWorkloadCluster}. */
export interface WorkloadClusterOptions {
  /** A fault proxy on the router's link to each server (see `TestCluster.networks`). */
  readonly proxied?: boolean
  /** Runs once the cluster is up (schema, settings); the replicas' replay is awaited after it. */
  readonly prepare?: (servers: TestCluster) => Promise<void>
}

/** The cluster of one workload file, and the routed databases its tests open on it. */
export interface WorkloadCluster {
  /** The running cluster (from `beforeAll` on). */
  readonly servers: TestCluster
  /**
   * A routed database (with the test profile's instrumentation) once every replica is up;
   * closed after the file's tests if the test did not close it. `overrides` go to the config.
   */
  database<D>(
    options?: RouterOptions,
    overrides?: Record<string, unknown>,
  ): Promise<RoutedDatabase<D>>
  /**
   * The PgBouncer restarts (see the production profile's supervised PgBouncers) not returned
   * by an earlier call, each as one line naming the server, how it ended and the FATAL of its
   * log: a test reports them (`annotate`), since the reads it checks went on through them.
   */
  newRestarts(): string[]
}

/**
 * Starts a primary and two replicas for a workload file (`beforeAll`) and stops them after it
 * (`afterAll`, which also closes the databases it opened). A file's own `afterAll` hooks, e.g.
 * one that thaws a frozen server, run before it.
 */
export function useWorkloadCluster(options: WorkloadClusterOptions = {}): WorkloadCluster {
  let servers: TestCluster | undefined
  const opened: RoutedDatabase<unknown>[] = []
  const reported = new Map<number, number>()
  beforeAll(async () => {
    servers = await startTestCluster(WORKLOAD_VIA, { proxied: options.proxied })
    await options.prepare?.(servers)
    await servers.cluster.waitForReplay()
  })
  afterAll(async () => {
    await Promise.all(opened.map((database) => database.close({ timeoutMs: 5000 })))
    await servers?.stop()
  })
  const running = () => {
    if (!servers) throw new Error('the workload cluster starts in beforeAll')
    return servers
  }
  return {
    get servers() {
      return running()
    },
    async database<D>(routerOptions: RouterOptions = {}, overrides: Record<string, unknown> = {}) {
      const database = testRoutedDatabase<D>(running().config(overrides), routerOptions)
      opened.push(database as RoutedDatabase<unknown>)
      // A replica that does not come up fails with the states (and their last errors).
      await waitFor(
        () => {
          const states = database.replicas()
          if (states.every((replica) => replica.status === 'up')) return true
          // A PgBouncer that exited and was not restarted (1.18 crashes on a FATAL; the
          // production profile's are supervised) refuses every connection: through a fault
          // proxy, which passes the refusal on as a reset, the router sees ECONNRESET.
          const exited = running()
            .bouncers.filter((bouncer) => !bouncer.running)
            .map((bouncer) => `pgbouncer on ${bouncer.port} exited:\n${bouncer.logTail()}`)
          throw new Error(`replicas: ${JSON.stringify(states)}${['', ...exited].join('\n')}`)
        },
        { what: 'every replica to be up' },
      )
      return database
    },
    newRestarts() {
      const { bouncers, labelOf } = running()
      const upstreams = [running().cluster.primary, ...running().cluster.replicas]
      return bouncers.flatMap((bouncer, index) => {
        const restarts = bouncer.restarts.slice(reported.get(bouncer.port) ?? 0)
        reported.set(bouncer.port, bouncer.restarts.length)
        const label = labelOf(upstreams[index]?.port ?? 0)
        return restarts.map((restart) => {
          const fatal = restart.logTail.split('\n').find((line) => line.includes('FATAL'))
          return `${label}'s PgBouncer restarted after ${restart.exit}: ${fatal ?? '(no FATAL)'}`
        })
      })
    },
  }
}
