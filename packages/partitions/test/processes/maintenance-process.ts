import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'

const CHILD = fileURLToPath(new URL('./maintenance-child.ts', import.meta.url))
const running: ChildProcess[] = []
afterEach(() => {
  for (const child of running.splice(0)) child.kill('SIGKILL')
})

/** A maintenance process (see maintenance-child.ts), killed after the test at the latest. */
export interface MaintenanceProcess {
  readonly pid: number
  /** SIGKILL, as the OOM killer or a node's loss does it; resolves once it is gone. */
  kill(): Promise<void>
}

/**
 * Starts the conservation workload's maintenance in a Node process of its own, on the
 * database of `env` (the test profile's settings: PgBouncer in production), from the sources.
 */
export function startMaintenanceProcess(env: Readonly<Record<string, string>>): MaintenanceProcess {
  const child = fork(CHILD, [JSON.stringify(env)], {
    execArgv: ['--conditions=sluice:source', '--import', 'tsx'],
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  running.push(child)
  const exited = once(child, 'exit')
  return {
    pid: child.pid ?? 0,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}
