import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import type { PostgresServer } from '@sluice/testing'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  type DB,
  lateness,
  preferring,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'

const STATEMENT_TIMEOUT_MS = 1000
const POOL_TIMEOUT_MS = 2000
const PROBE_TIMEOUT_MS = 500
// The client closes a connection this long after a statement started without an answer (one
// grace more behind PgBouncer in transaction mode, where a cancel request goes first).
const GRACE_MS = Math.max(100, STATEMENT_TIMEOUT_MS / 10)
// Generous: the machine is shared; a retried read on a healthy server takes well under this.
const RETRY_MS = 3000

/**
 * The TCP sockets (their inodes) this process has open to `port` on this machine, as the
 * kernel lists them (`/proc`: the servers run on Linux). A socket the client closed is gone
 * from the process's descriptors even while the kernel still finishes the close.
 */
function socketsTo(port: number): Set<string> {
  const inodes = new Set<string>()
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1]
      if (inode) inodes.add(inode)
    } catch {
      // closed while we looked
    }
  }
  const remote = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  const open = ['/proc/self/net/tcp', '/proc/self/net/tcp6']
    .flatMap((table) => readFileSync(table, 'utf8').split('\n').slice(1))
    .map((line) => line.trim().split(/\s+/))
    .filter((columns) => columns[2]?.endsWith(remote) && inodes.has(columns[9] ?? ''))
  return new Set(open.map((columns) => columns[9] as string))
}

describe.each(VIAS)('deadlines with a frozen replica (%s)', (via) => {
  let servers: TestCluster
  let frozen: PostgresServer
  const deadlineMs = STATEMENT_TIMEOUT_MS + (via === 'pgbouncer' ? 2 : 1) * GRACE_MS
  const config = (overrides: Record<string, string> = {}) =>
    servers.config({
      DB_STATEMENT_TIMEOUT: `${STATEMENT_TIMEOUT_MS}ms`,
      DB_POOL_TIMEOUT: `${POOL_TIMEOUT_MS}ms`,
      ...overrides,
    })

  beforeAll(async () => {
    servers = await startTestCluster(via)
    frozen = servers.cluster.replicas[0] as PostgresServer
  })

  afterAll(async () => {
    await frozen?.thaw()
    await servers?.stop()
  })

  const timed = async <T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> => {
    const started = performance.now()
    const value = await work()
    return { ms: performance.now() - started, value }
  }

  test('reads finish within the read deadline plus one retry, health() and close() within theirs', async () => {
    const database = testRoutedDatabase<DB>(config(), {
      lagCheckIntervalMs: 100,
      probeTimeoutMs: PROBE_TIMEOUT_MS,
      // Checked again soon after it is back: the backoff would otherwise reach 30 s.
      retryDelayMs: 100,
      maxRetryDelayMs: 500,
      strategy: preferring('replica-1'),
    })
    try {
      await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
      expect(servers.labelOf(await readPort(database.db))).toBe('replica-1')
      await frozen.freeze()
      const reads = await Promise.all(
        Array.from({ length: 30 }, () => timed(() => readPort(database.db))),
      )
      for (const read of reads) {
        expect(servers.labelOf(read.value)).not.toBe('replica-1')
        expect(read.ms).toBeLessThan(Math.max(deadlineMs, POOL_TIMEOUT_MS) + RETRY_MS)
      }
      // The monitor's own probes have deadlines too: the replica is marked down.
      await waitFor(async () => database.replicas()[0]?.status === 'down', {
        what: 'the frozen replica to be marked down',
      })
      let health: Awaited<ReturnType<typeof database.health>> | undefined
      const late = await lateness(PROBE_TIMEOUT_MS, async () => {
        health = await database.health()
      })
      expect(late).toBeLessThan(200)
      expect(health?.status).toBe('degraded')
      // The health check shares the replica's one-connection probe pool with the monitor's lag
      // check: queued behind a lag check hung on the frozen server, or hung itself, it ends by
      // its own deadline, with one result.
      expect(health?.targets.find((target) => target.target === 'replica-1')).toMatchObject({
        status: 'down',
        error: { code: 'DEADLINE_EXCEEDED' },
      })
      await frozen.thaw()
      // The connections that waited are gone, not back in the pool: reads return to replica-1.
      await waitFor(async () => servers.labelOf(await readPort(database.db)) === 'replica-1', {
        what: 'reads to return to the thawed replica',
      })
    } finally {
      await frozen.thaw()
      await database.close()
    }
  })

  test('health() queued behind a lag check hung on a frozen replica reports DEADLINE_EXCEEDED, within its timeout', async () => {
    // Behind PgBouncer the router's sockets go to the replica's PgBouncer.
    const port = servers.bouncers[1]?.port ?? frozen.port
    const before = socketsTo(port)
    await frozen.freeze()
    const database = testRoutedDatabase<DB>(config(), {
      lagCheckIntervalMs: 60_000,
      probeTimeoutMs: PROBE_TIMEOUT_MS,
    })
    try {
      // The monitor's first lag check of replica-1 holds the one probe connection, hung there.
      await waitFor(() => [...socketsTo(port)].some((socket) => !before.has(socket)), {
        what: 'the lag check to open its connection to replica-1',
      })
      let health: Awaited<ReturnType<typeof database.health>> | undefined
      const late = await lateness(PROBE_TIMEOUT_MS, async () => {
        health = await database.health()
      })
      expect(late).toBeLessThan(200)
      expect(health?.targets.find((target) => target.target === 'replica-1')).toMatchObject({
        status: 'down',
        error: { code: 'DEADLINE_EXCEEDED' },
      })
    } finally {
      await frozen.thaw()
      await database.close()
    }
  })

  test('after close(), no socket to the frozen server stays open: the process can exit', async () => {
    // Behind PgBouncer the router's sockets go to the replica's PgBouncer: freeze that one.
    const bouncer = servers.bouncers[1]
    const hung = bouncer ?? frozen
    const port = bouncer?.port ?? frozen.port
    const before = socketsTo(port)
    const opened = () => [...socketsTo(port)].filter((socket) => !before.has(socket)).length
    const database = testRoutedDatabase<DB>(config(), {
      lagCheckIntervalMs: 60_000,
      probeTimeoutMs: PROBE_TIMEOUT_MS,
      strategy: preferring('replica-1'),
    })
    try {
      await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
      // An idle connection in replica-1's pool, beside the monitor's.
      expect(servers.labelOf(await readPort(database.db))).toBe('replica-1')
      expect(opened()).toBeGreaterThan(0)
      await hung.freeze()
      await database.close({ timeoutMs: 300 })
      // pg says goodbye and waits for the server to close its side, which a frozen server
      // never does: the sockets kept the process alive until the thaw.
      await waitFor(() => opened() === 0, {
        what: `the sockets to the frozen server (port ${port}) to close`,
        timeoutMs: 10_000,
      })
    } finally {
      await hung.thaw()
      await database.close()
    }
  })

  test('reads that waited for a connection to a replica marked down meanwhile do not run there', async () => {
    const POOL_SIZE = 2
    let ranOnFrozen = 0
    const database = testRoutedDatabase<DB>(config({ DB_POOL_SIZE: String(POOL_SIZE) }), {
      // Checked once a minute: the reads that hit their deadline mark replica-1 down.
      lagCheckIntervalMs: 60_000,
      probeTimeoutMs: PROBE_TIMEOUT_MS,
      strategy: preferring('replica-1'),
      instrumentation: {
        onQueryEnd: (event) => {
          if (event.target === 'replica-1' && event.sql.includes('inet_server_port')) ranOnFrozen++
        },
      },
    })
    try {
      await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
      expect(servers.labelOf(await readPort(database.db))).toBe('replica-1')
      await frozen.freeze()
      ranOnFrozen = 0
      // Four times the pool: the first two hang there; the others wait for their connections.
      const reads = await Promise.all(
        Array.from({ length: 4 * POOL_SIZE }, () => timed(() => readPort(database.db))),
      )
      for (const read of reads) {
        expect(servers.labelOf(read.value)).not.toBe('replica-1')
        expect(read.ms).toBeLessThan(Math.max(deadlineMs, POOL_TIMEOUT_MS) + RETRY_MS)
      }
      // Only reads that held its connections when it froze waited for an answer there: at most
      // the pool's size (behind PgBouncer, the others would get fresh connections as the first
      // ones were closed, each to wait a deadline of its own).
      expect(ranOnFrozen).toBeGreaterThan(0)
      expect(ranOnFrozen).toBeLessThanOrEqual(POOL_SIZE)
    } finally {
      await frozen.thaw()
      await database.close()
    }
  })

  test('close({ timeoutMs }) returns within it while a read hangs on a frozen replica', async () => {
    // Checked once a minute: the router believes the frozen replica is up and reads hang there.
    // So the first check must find both up: on a loaded machine, a login through PgBouncer to a
    // replica thawed a moment ago (by the tests above) can take longer than PROBE_TIMEOUT_MS, and
    // a replica down at the first check would stay down for the minute.
    const database = testRoutedDatabase<DB>(config(), {
      lagCheckIntervalMs: 60_000,
      probeTimeoutMs: 10 * PROBE_TIMEOUT_MS,
      strategy: preferring('replica-1'),
    })
    await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
    await readPort(database.db)
    await frozen.freeze()
    try {
      const hanging = readPort(database.db).then(
        () => 'answered',
        () => 'failed',
      )
      await waitFor(async () => (database.replicas()[0]?.inFlight ?? 0) > 0)
      expect(await lateness(300, () => database.close({ timeoutMs: 300 }))).toBeLessThan(200)
      expect(await hanging).toMatch(/^(answered|failed)$/)
    } finally {
      await frozen.thaw()
    }
  })
})
