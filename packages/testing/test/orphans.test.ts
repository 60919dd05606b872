import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedis, waitFor } from '../src/index.js'

const CHILD = fileURLToPath(new URL('./processes/start-servers.ts', import.meta.url))
const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url))

interface Started {
  readonly dataDir: string
  readonly root: string
  readonly pgPort: number
  readonly redisPort: number
}

const children: ChildProcess[] = []
const servers: RedisServer[] = []
afterAll(async () => {
  // SIGTERM: a child still running cleans up after itself (exit hooks), leaving no orphans.
  const running = children.filter((child) => child.exitCode === null && child.signalCode === null)
  for (const child of running) child.kill('SIGTERM')
  await Promise.all(running.map((child) => once(child, 'exit')))
  await Promise.all(servers.map((server) => server.stop()))
})

async function startChild(): Promise<{ child: ChildProcess; started: Started }> {
  const child = spawn(process.execPath, ['--conditions=sluice:source', '--import', 'tsx', CHILD], {
    cwd: PACKAGE_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  const [line] = (await once(
    createInterface({ input: child.stdout as NodeJS.ReadableStream }),
    'line',
  )) as [string]
  return { child, started: JSON.parse(line) as Started }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })

describe('servers of a test process killed with SIGKILL', () => {
  it('are removed by the next start of a fixture', { timeout: 120_000 }, async () => {
    const { child, started } = await startChild()
    const postmaster = Number(
      readFileSync(`${started.dataDir}/postmaster.pid`, 'utf8').split('\n')[0],
    )
    child.kill('SIGKILL')
    await once(child, 'exit')
    // No exit hook ran: the servers outlive their owner.
    expect(alive(postmaster)).toBe(true)
    expect(await accepts(started.pgPort)).toBe(true)
    expect(await accepts(started.redisPort)).toBe(true)

    servers.push(await startRedis()) // the next start, in another process
    await waitFor(() => !alive(postmaster), {
      what: 'the orphaned postmaster to be gone',
      timeoutMs: 30_000,
    })
    await waitFor(async () => !(await accepts(started.pgPort)), {
      what: 'the orphan port to close',
    })
    await waitFor(async () => !(await accepts(started.redisPort)), { what: 'the orphaned Redis' })
    expect(existsSync(started.root)).toBe(false)
  })

  it('leave the servers of live processes alone', { timeout: 120_000 }, async () => {
    const { child, started } = await startChild()
    const postmaster = Number(
      readFileSync(`${started.dataDir}/postmaster.pid`, 'utf8').split('\n')[0],
    )
    servers.push(await startRedis())
    expect(alive(postmaster)).toBe(true)
    expect(await accepts(started.pgPort)).toBe(true)
    expect(await accepts(started.redisPort)).toBe(true)
    expect(existsSync(started.root)).toBe(true)
    child.kill('SIGTERM')
    await once(child, 'exit')
    await waitFor(() => !alive(postmaster), { what: 'its own exit hooks to stop the postmaster' })
  })
})
