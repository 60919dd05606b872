import { spawn } from 'node:child_process'
import { once } from 'node:events'

/** What a child vitest run printed, and how it exited. */
export interface ChildRun {
  readonly code: number | null
  readonly output: string
}

/**
 * Runs a vitest of its own (`vitest` is the path of its `vitest.mjs`) in `cwd`, without this
 * worker's `VITEST_*` variables, and collects its stdout and stderr.
 */
export async function runChildVitest(
  vitest: string,
  args: readonly string[],
  cwd: string,
  env: Readonly<Record<string, string>> = {},
): Promise<ChildRun> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST')),
  )
  const child = spawn(process.execPath, [vitest, 'run', ...args], {
    cwd,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => {
    output += chunk
  })
  child.stderr.on('data', (chunk) => {
    output += chunk
  })
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, output }
}
