import { readdirSync } from 'node:fs'
import { TestServerError } from '../errors.js'
import { procStat } from '../process/proc-stat.js'
import { waitFor } from '../process/wait.js'

/**
 * `root` and all of its descendants, from `/proc`. A process tree rather than a process group:
 * PostgreSQL puts every child of the postmaster in a session of its own.
 */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    const stat = procStat(pid)
    if (stat) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid])
  }
  const tree = [root]
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i] as number) ?? []))
  return tree
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch (error) {
    // A child that exited between the listing and the signal is not an error.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

// Gone, stopped, or a zombie: a child that exited just before the freeze stays a zombie,
// since its frozen parent cannot reap it.
const stopped = (pid: number) => {
  const state = procStat(pid)?.state
  return state === undefined || state === 'T' || state === 'Z' || state === 'X'
}

/** Whether `root` is stopped by a signal (state `T`). */
export function isFrozen(root: number): boolean {
  return procStat(root)?.state === 'T'
}

/**
 * SIGSTOPs `root` and then every descendant, and waits until all are stopped. The root goes
 * first so it cannot fork a child that escapes; sockets stay open, as in a hung VM.
 */
export async function freezeTree(root: number, what: string): Promise<void> {
  signal(root, 'SIGSTOP')
  await waitFor(
    () => {
      const tree = processTree(root)
      for (const pid of tree) if (!stopped(pid)) signal(pid, 'SIGSTOP')
      return tree.every(stopped)
    },
    { what: `every process of ${what} to stop`, intervalMs: 5 },
  )
}

/** SIGCONTs every descendant of `root`, then `root`. */
export function thawTree(root: number): void {
  for (const pid of processTree(root).reverse()) signal(pid, 'SIGCONT')
}

/** The {@link TestServerError} for a control that needs a running server. */
export function notRunning(what: string, control: string): TestServerError {
  return new TestServerError(
    'SERVER_NOT_RUNNING',
    `${control}() on ${what}, which is not running: start() it first`,
  )
}
