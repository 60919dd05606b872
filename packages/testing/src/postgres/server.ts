import { appendFileSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { TestServerError } from '../errors.js'
import { attachFaultProxy } from '../faults/attached-proxy.js'
import type { FaultProxy, FaultProxyInfo } from '../faults/fault-proxy.js'
import { freezeTree, isFrozen, notRunning, thawTree } from '../faults/freeze.js'
import { run, runSync } from '../process/run.js'
import { waitFor } from '../process/wait.js'

/** What identifies a running server; plain data, so it can cross process boundaries. */
export interface PostgresServerInfo {
  readonly name: string
  readonly port: number
  readonly dataDir: string
  readonly binDir: string
  readonly password: string
  /** The fault proxy clients go through, for a server started with `proxied: true`. */
  readonly network?: FaultProxyInfo | undefined
}

/**
 * One PostgreSQL server (primary or replica) with process controls. Controls work from any
 * process that has its {@link PostgresServerInfo}, since they go through `pg_ctl` and SQL.
 *
 * @example
 * ```ts
 * const { primary } = await startPostgres()
 * await primary.query('select 1')
 * await primary.kill()
 * await primary.start()
 * ```
 */
export class PostgresServer {
  readonly name: string
  readonly host = '127.0.0.1'
  readonly port: number
  readonly dataDir: string
  readonly #info: PostgresServerInfo
  #network: FaultProxy | undefined

  constructor(info: PostgresServerInfo) {
    this.#info = info
    this.name = info.name
    this.port = info.port
    this.dataDir = info.dataDir
    this.#network = info.network && attachFaultProxy(info.network)
  }

  /** Plain data describing this server. */
  get info(): PostgresServerInfo {
    return { ...this.#info, network: this.#network?.info }
  }

  /**
   * The fault proxy in front of this server when the cluster was started with
   * `proxied: true` (its controls work from any process); `url()` goes through it.
   *
   * @example
   * ```ts
   * const cluster = await startPostgres({ replicas: 1, proxied: true })
   * await cluster.primary.network?.latency(50)
   * ```
   */
  get network(): FaultProxy | undefined {
    return this.#network
  }

  /** @internal Puts `proxy` in front of this server for clients. */
  useNetwork(proxy: FaultProxy): void {
    this.#network = proxy
  }

  /**
   * `postgres://postgres:<password>@127.0.0.1:<port>/<database>`: the URL clients use, through
   * {@link network} when there is one.
   */
  url(database = 'postgres'): string {
    return this.#urlAt(this.#network?.port ?? this.port, database)
  }

  /** The server's own URL, bypassing {@link network}: fixtures' own queries use it. */
  directUrl(database = 'postgres'): string {
    return this.#urlAt(this.port, database)
  }

  #urlAt(port: number, database: string): string {
    return `postgres://postgres:${this.#info.password}@${this.host}:${port}/${database}`
  }

  /** The postmaster's pid while it runs (from its pid file and a signal probe). */
  get pid(): number | undefined {
    const pidFile = join(this.dataDir, 'postmaster.pid')
    if (!existsSync(pidFile)) return undefined
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0])
    try {
      process.kill(pid, 0)
      return pid
    } catch {
      return undefined
    }
  }

  /** Whether the postmaster is up. */
  get running(): boolean {
    return this.pid !== undefined
  }

  /** Whether {@link freeze} stopped it. */
  get frozen(): boolean {
    const pid = this.pid
    return pid !== undefined && isFrozen(pid)
  }

  /**
   * SIGSTOPs the postmaster and all of its children (backends, walsender / walreceiver,
   * checkpointer...): sockets stay open and nothing answers, as with a hung VM. Only client
   * deadlines notice. Throws `TestServerError` `SERVER_NOT_RUNNING` on a stopped server.
   *
   * @example
   * ```ts
   * await cluster.primary.freeze()
   * // ... a query now waits until the client's own deadline ...
   * await cluster.primary.thaw()
   * ```
   */
  async freeze(): Promise<void> {
    const pid = this.pid
    if (pid === undefined) throw notRunning(this.name, 'freeze')
    await freezeTree(pid, this.name)
  }

  /** Resumes every process {@link freeze} stopped; a no-op on a server that is not frozen. */
  async thaw(): Promise<void> {
    const pid = this.pid
    if (pid !== undefined) thawTree(pid)
  }

  /** Starts the server and waits until it accepts connections. */
  async start(): Promise<void> {
    try {
      await this.#pgCtl(['start', '-w', '-t', '120', '-l', this.logFile])
    } catch (error) {
      throw new TestServerError(
        'SERVER_START_FAILED',
        `${this.name} did not start:\n${this.logTail()}`,
        { cause: error },
      )
    }
  }

  /** Shuts down cleanly (fast mode: running transactions are rolled back). */
  async stop(): Promise<void> {
    await this.thaw()
    if (this.running) await this.#pgCtl(['stop', '-w', '-m', 'fast'])
  }

  /** Stops at once, like a crash (immediate mode); connections drop and it refuses new ones. */
  async kill(): Promise<void> {
    await this.thaw()
    if (this.running) await this.#pgCtl(['stop', '-w', '-m', 'immediate'])
  }

  /** Synchronous immediate stop, for exit handlers. */
  killSync(): void {
    const pid = this.pid
    if (pid !== undefined) thawTree(pid)
    runSync(this.#bin('pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'immediate', '-w'])
  }

  /** Runs one statement on a fresh connection and returns its rows. */
  async query<R extends pg.QueryResultRow = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[] = [],
    database = 'postgres',
  ): Promise<R[]> {
    const client = new pg.Client({
      connectionString: this.directUrl(database),
      connectionTimeoutMillis: 10_000,
    })
    client.on('error', () => {}) // a server killed mid-call must not crash the test process
    await client.connect()
    try {
      return (await client.query<R>(sql, [...params])).rows
    } finally {
      await client.end().catch(() => undefined)
    }
  }

  /** True while the server is a standby. */
  async isInRecovery(): Promise<boolean> {
    const [row] = await this.query<{ recovery: boolean }>('select pg_is_in_recovery() as recovery')
    return row?.recovery === true
  }

  /**
   * Sets `synchronous_commit` server-wide (ALTER SYSTEM and a reload, no restart) and waits
   * until new sessions use it; `off` makes COMMIT return before its WAL is flushed, as the
   * asynchronous commit some production primaries run with. Anything else than PostgreSQL's
   * values is `TestServerError` `INVALID_SETTING`.
   *
   * @example
   * ```ts
   * await cluster.primary.setSynchronousCommit('off')
   * ```
   */
  async setSynchronousCommit(
    mode: 'on' | 'off' | 'local' | 'remote_write' | 'remote_apply',
  ): Promise<void> {
    if (!['on', 'off', 'local', 'remote_write', 'remote_apply'].includes(mode))
      throw invalidSetting(
        'synchronous_commit',
        mode,
        'on, off, local, remote_write or remote_apply',
      )
    await this.alterSystem('synchronous_commit', mode, mode)
  }

  /**
   * ALTER SYSTEM SET `name` = `value`, reload, and wait until a new session's
   * `pg_settings.setting` is `setting`. `value` must already be validated.
   */
  protected async alterSystem(name: string, value: string, setting: string): Promise<void> {
    await this.query(`alter system set ${name} = '${value}'`)
    await this.query('select pg_reload_conf()')
    await waitFor(
      async () => {
        const [row] = await this.query<{ setting: string }>(
          'select setting from pg_settings where name = $1',
          [name],
        )
        return row?.setting === setting
      },
      { what: `${this.name} to apply ${name} = ${value}` },
    )
  }

  /** Appends settings to postgresql.conf (used before the first start). */
  configure(lines: readonly string[]): void {
    appendFileSync(join(this.dataDir, 'postgresql.conf'), `${lines.join('\n')}\n`)
  }

  get logFile(): string {
    return `${this.dataDir}.log`
  }

  /** The last lines of the server log, for error messages. */
  logTail(lines = 30): string {
    if (!existsSync(this.logFile)) return '(no server log)'
    return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  }

  #bin(name: string): string {
    return join(this.#info.binDir, name)
  }

  #pgCtl(args: readonly string[]): Promise<string> {
    const [command, ...rest] = args
    return run(this.#bin('pg_ctl'), [command as string, '-D', this.dataDir, ...rest])
  }
}

/** The `TestServerError` (`INVALID_SETTING`) for a setting helper given a bad value. */
export function invalidSetting(name: string, value: unknown, expected: string): TestServerError {
  return new TestServerError('INVALID_SETTING', `${name} needs ${expected}, got ${String(value)}`)
}
