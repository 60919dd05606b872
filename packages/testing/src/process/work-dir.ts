import { closeSync, mkdirSync, mkdtempSync, openSync, statSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { TestServerError } from '../errors.js'
import { OWNER_FILE, processStart, reapOrphans } from './orphans.js'
import { chownTree, serverAccount } from './run.js'

/**
 * The directory that holds every server's working files, and the shared caches (data
 * templates, the embedded engine's copy). It must be one the server account can enter, or
 * PostgreSQL cannot open its data directory: `SLUICE_TESTING_DIR` if set, else
 * `<tmpdir>/sluice-testing`, else (when `TMPDIR` is inside a directory the account cannot
 * enter, such as `/root/<app>/tmp`) `/tmp/sluice-testing`. None reachable: a
 * `TestServerError` with code `WORK_DIR_UNREACHABLE` saying what to set.
 */
export function workRoot(): string {
  const chosen = process.env.SLUICE_TESTING_DIR
  const candidates = chosen
    ? [resolve(chosen)]
    : [join(tmpdir(), 'sluice-testing'), '/tmp/sluice-testing']
  for (const candidate of candidates) {
    mkdirSync(candidate, { recursive: true, mode: 0o755 })
    if (reachableByServers(candidate)) return candidate
  }
  throw new TestServerError(
    'WORK_DIR_UNREACHABLE',
    `The server account (uid ${serverAccount().uid}) cannot enter ${candidates.join(' or ')}: ` +
      'set SLUICE_TESTING_DIR to a directory whose every parent it can enter (mode o+x), e.g. /tmp/sluice-testing',
  )
}

/**
 * Makes a private working directory `<workRoot>/<prefix>-XXXXXX`, owned by the server account
 * and marked with this process as its owner, after removing the orphans of dead owners (the
 * servers a test process killed with SIGKILL left running; see `reapOrphans`).
 */
export function makeWorkDir(prefix: string): string {
  reapOrphans(workRoot())
  const dir = mkdtempSync(join(workRoot(), `${prefix}-`))
  const owner = openSync(join(dir, OWNER_FILE), 'wx')
  writeSync(owner, JSON.stringify({ pid: process.pid, start: processStart(process.pid) }))
  closeSync(owner)
  chownTree(dir)
  return dir
}

/** Whether the server account can reach `path`: every directory up to it is searchable. */
export function reachableByServers(path: string): boolean {
  if (process.getuid?.() !== 0) return true // servers run as ourselves
  const { uid, gid } = serverAccount()
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    const { mode, uid: owner, gid: group } = statSync(dir)
    const bit = owner === uid ? 0o100 : group === gid ? 0o010 : 0o001
    if ((mode & bit) === 0) return false
    if (dir === dirname(dir)) return true
  }
}
