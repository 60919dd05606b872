import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, it } from 'vitest'
import { startRedis } from '../src/index.js'
import { workRoot } from '../src/process/work-dir.js'
import { runChildVitest } from './child-vitest.js'

const REPO = fileURLToPath(new URL('../../..', import.meta.url))
// mkdtemp makes mode-0700 directories: the server account cannot enter this one, as with
// /root/<app> when running as root in a container.
const PRIVATE = mkdtempSync(join(tmpdir(), 'sluice-private-'))
afterAll(() => rmSync(PRIVATE, { recursive: true, force: true }))

/** A clone of this repository's HEAD under `PRIVATE`, with node_modules hard-linked in. */
function cloneRepository(): string {
  const clone = join(PRIVATE, 'app')
  execFileSync('git', ['clone', '--quiet', '--no-checkout', REPO, clone])
  execFileSync('git', ['-C', clone, 'checkout', '--quiet', 'HEAD'])
  // node_modules are not in git; pnpm's are relative symlinks into node_modules/.pnpm, so a
  // hard-linked copy resolves inside the clone (as an install there would), in a second.
  const trees = [
    '.',
    'bench',
    ...['packages', 'examples'].flatMap((parent) =>
      readdirSync(join(REPO, parent)).map((name) => join(parent, name)),
    ),
  ]
  for (const tree of trees) {
    const modules = join(REPO, tree, 'node_modules')
    if (existsSync(modules)) execFileSync('cp', ['-al', modules, join(clone, tree, 'node_modules')])
  }
  return clone
}

it('a clone inside a mode-0700 directory runs an embedded-engine test file, TMPDIR there too', {
  timeout: 300_000,
}, async () => {
  expect(statSync(PRIVATE).mode & 0o777).toBe(0o700)
  const clone = cloneRepository()
  const privateTmp = join(PRIVATE, 'tmp')
  mkdirSync(privateTmp)
  const vitest = join(clone, 'node_modules', 'vitest', 'vitest.mjs')
  const { code, output } = await runChildVitest(
    vitest,
    ['--project', 'testing:pg18', 'test/pgbouncer.test.ts'],
    clone,
    { TMPDIR: privateTmp, NO_COLOR: '1' },
  )
  expect(code, output).toBe(0)
  expect(output).toMatch(/Tests +\d+ passed/)
  expect(output).not.toMatch(/Tests .*failed/)
  // PostgreSQL 18 ran from a copy the server account can reach, not from the clone.
  expect(readdirSync(workRoot()).some((name) => name.startsWith('engine-embedded-'))).toBe(true)
})

it('a working directory the server account cannot enter is a TestServerError saying what to set', async () => {
  const before = process.env.SLUICE_TESTING_DIR
  process.env.SLUICE_TESTING_DIR = join(PRIVATE, 'work')
  try {
    const started = startRedis()
    if (process.getuid?.() === 0) {
      await expect(started).rejects.toMatchObject({
        name: 'TestServerError',
        code: 'WORK_DIR_UNREACHABLE',
        message: expect.stringContaining('SLUICE_TESTING_DIR'),
      })
    } else {
      await (await started).stop() // servers run as this account, which can enter it
    }
  } finally {
    if (before === undefined) delete process.env.SLUICE_TESTING_DIR
    else process.env.SLUICE_TESTING_DIR = before
  }
})
