import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'

const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'sluice-up-'))
const children: ChildProcess[] = []
afterAll(async () => {
  const running = children.filter((child) => child.exitCode === null && child.signalCode === null)
  for (const child of running) child.kill('SIGTERM')
  await Promise.all(running.map((child) => once(child, 'exit')))
  rmSync(dir, { recursive: true, force: true })
})

function sluiceTesting(...args: string[]): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=sluice:source', '--import', 'tsx', BIN, ...args],
    {
      cwd: PACKAGE_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  children.push(child)
  return child
}

/** The printed variables, once the last one (PGBOUNCER_URL) is out. */
async function printedEnv(child: ChildProcess): Promise<Record<string, string>> {
  const env: Record<string, string> = {}
  for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line)
    if (match) env[match[1] as string] = match[2] as string
    if (match?.[1] === 'PGBOUNCER_URL') return env
  }
  throw new Error('sluice-testing up exited before printing its variables')
}

async function ask(url: string): Promise<{ port: number; standby: boolean }> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query(
      'select inet_server_port() as port, pg_is_in_recovery() as standby',
    )
    return rows[0]
  } finally {
    await client.end()
  }
}

const redisPing = async (url: string) =>
  (await promisify(execFile)('redis-cli', ['-u', url, '--no-auth-warning', 'ping'])).stdout.trim()

describe('sluice-testing up', () => {
  it('starts a primary with replicas, Redis and PgBouncer, prints and writes their URLs, and stops on SIGINT', {
    timeout: 180_000,
  }, async () => {
    const envFile = join(dir, 'dev.env')
    const child = sluiceTesting(
      'up',
      '--replicas',
      '2',
      '--engine',
      'system',
      '--write-env',
      envFile,
    )
    const env = await printedEnv(child)
    expect(Object.keys(env)).toEqual([
      'DATABASE_URL',
      'DATABASE_REPLICA_URLS',
      'REDIS_URL',
      'PGBOUNCER_URL',
    ])
    const file = readFileSync(envFile, 'utf8')
    for (const [key, value] of Object.entries(env)) expect(file).toContain(`${key}=${value}\n`)
    expect(statSync(envFile).mode & 0o777).toBe(0o600)

    const primary = await ask(env.DATABASE_URL as string)
    expect(primary.standby).toBe(false)
    expect(new URL(env.DATABASE_URL as string).pathname).toBe('/app')
    const replicaUrls = (env.DATABASE_REPLICA_URLS as string).split(',')
    expect(replicaUrls).toHaveLength(2)
    for (const url of replicaUrls) expect((await ask(url)).standby).toBe(true)
    const bouncerUrl = env.PGBOUNCER_URL as string
    expect(new URL(bouncerUrl).port).not.toBe(String(primary.port))
    expect(await ask(bouncerUrl)).toEqual(primary) // PgBouncer forwards to the primary
    expect(await redisPing(env.REDIS_URL as string)).toBe('PONG')

    child.kill('SIGINT')
    const [code] = await once(child, 'exit')
    expect(code).toBe(0)
    for (const url of [env.DATABASE_URL, ...replicaUrls, bouncerUrl] as string[]) {
      await expect(ask(url)).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    }
    await expect(redisPing(env.REDIS_URL as string)).rejects.toThrow(/refused/i)
    expect(existsSync(envFile)).toBe(false)
  })

  it('rejects bad arguments with a usage message and exit code 2, starting nothing', {
    timeout: 120_000, // four node processes compiling TypeScript, at once, on a busy machine
  }, async () => {
    const cases = [
      ['up', '--replicas', '-1'],
      ['up', '--replicas', 'two'],
      ['down'],
      ['up', '--nope'],
    ]
    await Promise.all(
      cases.map(async (args) => {
        const child = sluiceTesting(...args)
        let stderr = ''
        child.stderr?.on('data', (chunk) => {
          stderr += chunk
        })
        const [code] = await once(child, 'exit')
        expect(code, args.join(' ')).toBe(2)
        expect(stderr).toContain('Usage: sluice-testing up')
      }),
    )
  })
})
