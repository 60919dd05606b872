import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'

const CHILD = fileURLToPath(new URL('./maintenance-child.ts', import.meta.url))
const running: ChildProcess[] = []
afterEach(() => {
  for (const child of running.splice(0)) child.kill('SIGKILL')
})

/** What a maintenance process's run did, as it reports it over IPC. */
export interface ChildResult {
  readonly status: 'done' | 'skipped'
  readonly created: readonly string[]
  /** Tables it skipped: another runner held them. */
  readonly skipped: number
  /** Its errors' messages. */
  readonly errors: readonly string[]
}

/** How a maintenance process runs (see maintenance-child.ts). */
export interface ChildOptions {
  /** Its lease; default `KILLED_LEASE_MS`, short, for a test that kills it. */
  readonly leaseMs?: number
  /** It connects, then waits for {@link MaintenanceProcess.go} before its run. */
  readonly gated?: boolean
}

/** A maintenance process (see maintenance-child.ts), killed after the test at the latest. */
export interface MaintenanceProcess {
  readonly pid: number
  /** Its run's result; rejects if it exits without one. */
  readonly result: Promise<ChildResult>
  /** A gated process has connected and waits for {@link go}. */
  readonly ready: Promise<void>
  /** Starts a gated process's run. */
  go(): void
  /** SIGKILL, as the OOM killer or a node's loss does it; resolves once it is gone. */
  kill(): Promise<void>
}

/**
 * Starts the conservation workload's maintenance in a Node process of its own, on the
 * database of `env` (the test profile's settings: PgBouncer in production), from the sources.
 */
export function startMaintenanceProcess(
  env: Readonly<Record<string, string>>,
  options: ChildOptions = {},
): MaintenanceProcess {
  const child = fork(CHILD, [JSON.stringify(env), JSON.stringify(options)], {
    execArgv: ['--conditions=sluice:source', '--import', 'tsx'],
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  running.push(child)
  const exited = once(child, 'exit')
  let ready = () => {}
  const readied = new Promise<void>((resolve) => {
    ready = resolve
  })
  const result = new Promise<ChildResult>((resolve, reject) => {
    child.on('message', (message) =>
      message === 'ready' ? ready() : resolve(message as ChildResult),
    )
    child.once('exit', (code, signal) =>
      reject(new Error(`maintenance process exited (${code ?? signal}) without a result`)),
    )
  })
  result.catch(() => {}) // a test that kills it never reads it
  return {
    pid: child.pid ?? 0,
    result,
    ready: readied,
    go: () => child.send('go'),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}
