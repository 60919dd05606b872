import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { sharedRedisUrl } from '@sluice/testing/vitest'
import { afterAll, describe, expect, test, vi } from 'vitest'
import { freshNamespace, redisClient, testCache } from './helpers.js'
import type { ChildArgs, ChildResult } from './processes/load-child.js'
import type { SkewedMemberArgs } from './processes/skewed-member-child.js'

const CHILD = fileURLToPath(new URL('./processes/load-child.ts', import.meta.url))
const SKEWED_CHILD = fileURLToPath(new URL('./processes/skewed-member-child.ts', import.meta.url))
const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url))
const redis = redisClient()
const children: ChildProcess[] = []
afterAll(() => {
  for (const child of children) child.kill('SIGKILL')
})

/** A child process running `file` (TypeScript) with `args`, and its next stdout line. */
function spawnChild(file: string, args: unknown) {
  const child = spawn(
    process.execPath,
    ['--conditions=sluice:source', '--import', 'tsx', file, JSON.stringify(args)],
    { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  children.push(child)
  // Listened to from the start: a child that already exited would never emit it again.
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[
    Symbol.asyncIterator
  ]()
  const next = async () => (await lines.next()).value as string | undefined
  return { child, next, exited }
}

/** Another app process: its `issued` line, its result, and the process to kill. */
function startChild(args: ChildArgs) {
  const { child, next, exited } = spawnChild(CHILD, args)
  const issued = next().then((line) => expect(line).toBe('issued'))
  const result = issued.then(next).then((line) => JSON.parse(line ?? 'null') as ChildResult)
  return { child, issued, result, exited }
}

/** The loader runs the children recorded in Redis: `pid epochMs` each. */
async function loaderRuns(namespace: string): Promise<{ pid: number; at: number }[]> {
  const runs = await redis.lrange(`${namespace}:test:loads`, 0, -1)
  return runs.map((run) => {
    const [pid, at] = run.split(' ').map(Number)
    return { pid: pid as number, at: at as number }
  })
}

const untilRuns = (namespace: string, count: number) =>
  vi.waitFor(
    async () => {
      expect(await loaderRuns(namespace)).toHaveLength(count)
    },
    { timeout: 20_000, interval: 10 },
  )

describe('stampede protection across processes (one Redis)', () => {
  test('4 processes x 1,000 concurrent callers of one cold key: the loader runs once in total', {
    timeout: 60_000,
  }, async () => {
    const namespace = freshNamespace()
    const args = {
      redisUrl: sharedRedisUrl(),
      namespace,
      calls: 1000,
      lockTimeoutMs: 10_000,
      hang: false,
    }
    const processes = Array.from({ length: 4 }, () => startChild(args))
    await Promise.all(processes.map((p) => p.issued))
    await untilRuns(namespace, 1)
    await redis.set(`${namespace}:test:release`, '1')
    const results = await Promise.all(processes.map((p) => p.result))
    expect(results).toEqual(Array(4).fill({ values: 1000, wrong: 0, failed: 0, storeErrors: 0 }))
    expect(await loaderRuns(namespace)).toHaveLength(1)
  })

  test('a lock holder killed mid-load: another process loads after lockTimeoutMs, every caller gets a value', {
    timeout: 60_000,
  }, async () => {
    const namespace = freshNamespace()
    const lockTimeoutMs = 1500
    const args = { redisUrl: sharedRedisUrl(), namespace, calls: 100, lockTimeoutMs }
    const holder = startChild({ ...args, hang: true })
    // Started first (a loaded machine can take many seconds to start a TypeScript child), then
    // loading: the wait for its loader's run is not the wait for its start.
    await holder.issued
    await untilRuns(namespace, 1)
    const waiters = [startChild({ ...args, hang: false }), startChild({ ...args, hang: false })]
    await Promise.all(waiters.map((w) => w.issued))
    holder.child.kill('SIGKILL')
    // Killed mid-load, not ended by itself.
    expect(await holder.exited).toEqual([null, 'SIGKILL'])
    await untilRuns(namespace, 2)
    await redis.set(`${namespace}:test:release`, '1')
    const results = await Promise.all(waiters.map((w) => w.result))
    expect(results).toEqual(Array(2).fill({ values: 100, wrong: 0, failed: 0, storeErrors: 0 }))
    const [held, taken] = await loaderRuns(namespace)
    expect(held?.pid).toBe(holder.child.pid)
    expect(waiters.map((w) => w.child.pid)).toContain(taken?.pid)
    // The dead holder's lock was respected until it expired (a lock cannot expire early).
    expect((taken?.at ?? 0) - (held?.at ?? 0)).toBeGreaterThanOrEqual(lockTimeoutMs - 50)
    expect(await loaderRuns(namespace)).toHaveLength(2)
  })
})

describe('bus membership on Redis’s clock, not the hosts’', () => {
  const LEASE_MS = 500

  test.each([
    ['behind', -10 * LEASE_MS],
    ['ahead', 10 * LEASE_MS],
  ])(
    'a member whose clock runs 10 × busLeaseMs %s: its entry expires on Redis’s clock, and a delete waits for it while it is silent',
    {
      timeout: 60_000,
    },
    async (_, skewMs) => {
      const namespace = freshNamespace()
      const members = `${namespace}:{bus}:members`
      const args: SkewedMemberArgs = {
        redisUrl: sharedRedisUrl(),
        namespace,
        busLeaseMs: LEASE_MS,
        skewMs,
      }
      const { child, next } = spawnChild(SKEWED_CHILD, args)
      expect(await next()).toBe('ready')
      // What Redis holds: the entry expires 3 × busLeaseMs after its last renewal (every
      // busLeaseMs / 4) on Redis's clock, whatever the member's own clock says.
      const [entries, [seconds, micros]] = await Promise.all([redis.hgetall(members), redis.time()])
      const redisNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
      const untils = Object.entries(entries).filter(([field]) => field !== '@')
      expect(untils).toHaveLength(1)
      const left = Number(untils[0]?.[1]) - redisNow
      expect(left).toBeGreaterThan(0)
      expect(left).toBeLessThanOrEqual(3 * LEASE_MS)
      const writer = testCache({ namespace, busLeaseMs: LEASE_MS })
      await writer.ready()
      // Silent from now on (it cannot confirm), yet live: its entry holds for 3 × busLeaseMs.
      child.kill('SIGSTOP')
      let waited: number
      try {
        const started = performance.now()
        await writer.delete('profile')
        waited = performance.now() - started
      } finally {
        child.kill('SIGCONT')
      }
      // Judged on the member's own clock, a member behind looked expired and the delete did not
      // wait: had only its subscription been slow, it served its old copy after the delete.
      expect(waited).toBeGreaterThanOrEqual(LEASE_MS)
    },
  )
})
