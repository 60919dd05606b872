import { randomBytes } from 'node:crypto'
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { chownTree, run } from '../process/run.js'
import { workRoot } from '../process/work-dir.js'
import type { PostgresBinaries } from './binaries.js'

/** A cleanly shut down, initialised data directory that clusters are copied from. */
export interface DataTemplate {
  readonly dir: string
  readonly password: string
}

const SETTINGS = [
  "listen_addresses = '127.0.0.1'",
  "unix_socket_directories = ''",
  'fsync = off',
  'full_page_writes = off',
  'shared_buffers = 32MB',
  'max_connections = 300',
  'wal_level = replica',
  'max_wal_senders = 10',
  'wal_keep_size = 1GB',
  'hot_standby = on',
  'hot_standby_feedback = on',
  'wal_receiver_status_interval = 1s',
  'wal_retrieve_retry_interval = 200ms',
  "shared_preload_libraries = 'pg_stat_statements'",
  "log_line_prefix = '%m [%p] '",
]

/**
 * Returns the template for these binaries, running initdb once per machine. initdb runs in a
 * private directory that is renamed into place, so concurrent test processes never see a
 * half-made template.
 */
export async function dataTemplate(binaries: PostgresBinaries): Promise<DataTemplate> {
  const dir = join(workRoot(), `template-${binaries.engine}-${binaries.version}`)
  const passwordFile = join(dir, 'sluice-password')
  if (existsSync(passwordFile))
    return { dir: join(dir, 'data'), password: readFileSync(passwordFile, 'utf8') }
  const work = mkdtempSync(join(workRoot(), 'initdb-'))
  const password = randomBytes(12).toString('hex')
  writeFileSync(join(work, 'pwfile'), password)
  chownTree(work)
  await run(join(binaries.binDir, 'initdb'), [
    '-D',
    join(work, 'data'),
    '-U',
    'postgres',
    '--pwfile',
    join(work, 'pwfile'),
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ])
  rmSync(join(work, 'pwfile'))
  const conf = join(work, 'data', 'postgresql.conf')
  writeFileSync(conf, `${readFileSync(conf, 'utf8')}\n# sluice testing\n${SETTINGS.join('\n')}\n`)
  const hba = join(work, 'data', 'pg_hba.conf')
  writeFileSync(
    hba,
    `${readFileSync(hba, 'utf8')}\nhost replication all 127.0.0.1/32 scram-sha-256\n`,
  )
  writeFileSync(join(work, 'sluice-password'), password)
  try {
    renameSync(work, dir)
  } catch {
    rmSync(work, { recursive: true, force: true }) // another process won the race
  }
  return { dir: join(dir, 'data'), password: readFileSync(passwordFile, 'utf8') }
}

/** Copies the template into `target`, owned by the server account. */
export function copyTemplate(template: DataTemplate, target: string): void {
  cpSync(template.dir, target, { recursive: true })
  chownTree(target)
}
