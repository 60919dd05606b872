import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url))
const VITEST = join(PACKAGE_ROOT, 'node_modules', 'vitest', 'vitest.mjs')
const CONFIG = fileURLToPath(new URL('./fixtures/threads/vitest.config.ts', import.meta.url))

it('per-file database names do not collide in the threads pool (one process id for every file)', {
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'threads-'))
  const report = join(dir, 'report.jsonl')
  // A vitest of its own: none of this worker's VITEST_* variables.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST')),
  )
  const child = spawn(process.execPath, [VITEST, 'run', '--config', CONFIG], {
    cwd: PACKAGE_ROOT,
    env: { ...env, THREADS_REPORT: report },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => {
    output += chunk
  })
  child.stderr.on('data', (chunk) => {
    output += chunk
  })
  const [code] = await once(child, 'exit')
  expect(code, output).toBe(0)
  const files = readFileSync(report, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { pid: number; name: string })
  rmSync(dir, { recursive: true, force: true })
  expect(files).toHaveLength(2)
  expect(files[0]?.pid).toBe(files[1]?.pid) // one process, as the threads pool runs them
  expect(files[0]?.name).not.toBe(files[1]?.name)
})
