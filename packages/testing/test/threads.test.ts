import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { runChildVitest } from './child-vitest.js'

const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url))
const VITEST = join(PACKAGE_ROOT, 'node_modules', 'vitest', 'vitest.mjs')
const CONFIG = fileURLToPath(new URL('./fixtures/threads/vitest.config.ts', import.meta.url))

it('per-file database names do not collide in the threads pool (one process id for every file)', {
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'threads-'))
  const report = join(dir, 'report.jsonl')
  const { code, output } = await runChildVitest(VITEST, ['--config', CONFIG], PACKAGE_ROOT, {
    THREADS_REPORT: report,
  })
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
