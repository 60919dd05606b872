import { execFile, execFileSync } from 'node:child_process'
import { chownSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { TestServerError } from '../errors.js'

/** The account servers run as: the current one, or an unprivileged one when we are root. */
export interface RunAs {
  readonly uid: number
  readonly gid: number
}

let cached: RunAs | undefined

/**
 * PostgreSQL and PgBouncer refuse to run as root, so when the tests run as root the servers
 * run as the `postgres` account if there is one, else `nobody`.
 */
export function serverAccount(): RunAs {
  if (cached) return cached
  const uid = process.getuid?.() ?? 0
  if (uid !== 0) {
    cached = { uid, gid: process.getgid?.() ?? 0 }
    return cached
  }
  const passwd = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
  const entry = passwd.find((f) => f[0] === 'postgres') ?? passwd.find((f) => f[0] === 'nobody')
  if (!entry)
    throw new TestServerError('ENGINE_UNAVAILABLE', 'No unprivileged account to run servers as')
  cached = { uid: Number(entry[2]), gid: Number(entry[3]) }
  return cached
}

/** Gives a file or directory tree to the server account. */
export function chownTree(path: string): void {
  if (process.getuid?.() !== 0) return
  const { uid, gid } = serverAccount()
  chownSync(path, uid, gid)
  if (!statSync(path).isDirectory()) return
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name)
    if (entry.isDirectory()) chownTree(child)
    else chownSync(child, uid, gid)
  }
}

/** Runs a program as the server account and returns its stdout; fails with its output. */
export function run(
  file: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  const { uid, gid } = serverAccount()
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { uid, gid, env: options.env ?? process.env, timeout: options.timeoutMs ?? 120_000 },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout)
        const output = `${stdout}${stderr}`.trim()
        reject(
          new TestServerError(
            'SERVER_COMMAND_FAILED',
            `${file} ${args.join(' ')} failed: ${output || error.message}`,
            { cause: error },
          ),
        )
      },
    )
  })
}

/** The synchronous twin of {@link run}, for exit handlers; never throws. */
export function runSync(file: string, args: readonly string[]): void {
  const { uid, gid } = serverAccount()
  try {
    execFileSync(file, args, { uid, gid, stdio: 'ignore', timeout: 30_000 })
  } catch {
    // Best effort while the process exits.
  }
}
