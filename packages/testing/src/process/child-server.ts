import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { TestServerError } from '../errors.js'
import { serverAccount } from './run.js'

/**
 * A server that runs in the foreground as a child process (Redis, PgBouncer), with its
 * output in a log file. `kill()` is SIGKILL; `start()` runs the same command again.
 */
export class ChildServer {
  readonly #command: string
  readonly #args: readonly string[]
  readonly #logFile: string
  readonly #asServerAccount: boolean
  readonly #env: NodeJS.ProcessEnv | undefined
  #child: ChildProcess | undefined
  /** Set by {@link kill}: the exit that follows is the fixture's own, not one to report. */
  #killing = false
  /**
   * Called when the process exits on its own (not through {@link kill}), e.g. on a crash, with
   * its exit code or signal: a supervisor restarts it from there.
   */
  onUnexpectedExit: ((exit: string) => void) | undefined

  /** `env` replaces the environment (default: this process's). */
  constructor(
    command: string,
    args: readonly string[],
    logFile: string,
    asServerAccount: boolean,
    env?: NodeJS.ProcessEnv,
  ) {
    this.#command = command
    this.#args = args
    this.#logFile = logFile
    this.#asServerAccount = asServerAccount
    this.#env = env
  }

  /** The process id while it runs. */
  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined
  }

  get running(): boolean {
    return (
      this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null
    )
  }

  /** Spawns the server; `ready` must resolve once it accepts clients. */
  async start(ready: () => Promise<void>): Promise<void> {
    if (this.running) return
    const log = openSync(this.#logFile, 'a')
    const account = this.#asServerAccount ? serverAccount() : undefined
    const child = spawn(this.#command, this.#args, {
      stdio: ['ignore', log, log],
      // In its own directory, where an orphan reaper finds it (see reapOrphans).
      cwd: dirname(this.#logFile),
      ...(this.#env && { env: this.#env }),
      ...(account && { uid: account.uid, gid: account.gid }),
    })
    closeSync(log)
    this.#child = child
    this.#killing = false
    child.once('exit', (code, signal) => {
      if (!this.#killing && this.#child === child)
        this.onUnexpectedExit?.(signal ? `signal ${signal}` : `exit code ${code}`)
    })
    const exited = once(child, 'exit').then(() => {
      throw new TestServerError(
        'SERVER_START_FAILED',
        `${this.#command} exited:\n${this.logTail()}`,
      )
    })
    exited.catch(() => undefined)
    await Promise.race([ready(), exited])
  }

  /** Kills the process at once and waits for it to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child
    if (!child || !this.running) return
    const exited = once(child, 'exit')
    this.#killing = true
    child.kill(signal)
    await exited
  }

  /** Synchronous kill, for exit handlers. */
  killSync(): void {
    this.#killing = true
    if (this.running) this.#child?.kill('SIGKILL')
  }

  logTail(lines = 20): string {
    if (!existsSync(this.#logFile)) return '(no log)'
    return readFileSync(this.#logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  }
}
