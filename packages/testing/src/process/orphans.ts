import { readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { procStat } from './proc-stat.js'

/** The file in each working directory that names the process that made it. */
export const OWNER_FILE = 'sluice-owner.json'

/**
 * When process `pid` started (field 22 of `/proc/<pid>/stat`), so that a recycled pid is not
 * taken for the owner; `undefined` where there is no `/proc` or no such process.
 */
export function processStart(pid: number): string | undefined {
  return procStat(pid)?.start
}

function ownerAlive(dir: string): boolean {
  let owner: { pid: number; start?: string }
  try {
    owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8'))
  } catch {
    return true // no owner file (yet, or an older version's directory): not ours to judge
  }
  try {
    process.kill(owner.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  return owner.start === undefined || processStart(owner.pid) === owner.start
}

/** Every process whose working directory is inside `dir` (servers chdir into their data). */
function processesIn(dir: string): number[] {
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return []
  }
  return entries
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        const cwd = readlinkSync(`/proc/${entry}/cwd`)
        return cwd === dir || cwd.startsWith(`${dir}/`) ? [Number(entry)] : []
      } catch {
        return [] // gone, or not ours to look at
      }
    })
}

/**
 * Removes the working directories under `root` whose owner process is dead (a test run killed
 * with SIGKILL never ran its exit hooks), after killing every server still running in them:
 * PostgreSQL, Redis and PgBouncer each run with their working directory inside theirs. A
 * directory whose owner lives, or that has no owner file, is left alone.
 */
export function reapOrphans(root: string): void {
  let names: string[]
  try {
    names = readdirSync(root)
  } catch {
    return
  }
  for (const name of names) {
    const dir = join(root, name)
    if (!/^(cluster|redis|pgbouncer|initdb)-/.test(name) || ownerAlive(dir)) continue
    for (const pid of processesIn(dir)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
    rmSync(dir, { recursive: true, force: true })
  }
}
