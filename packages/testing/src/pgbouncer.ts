import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { freezeTree, isFrozen, notRunning, thawTree } from './faults/freeze.js'
import type { PostgresServer } from './postgres/server.js'
import { ChildServer } from './process/child-server.js'
import { onProcessExit } from './process/cleanup.js'
import { freePort } from './process/ports.js'
import { chownTree } from './process/run.js'
import { stopOnFailure } from './process/stop-on-failure.js'
import { type ServerRestart, supervise } from './process/supervisor.js'
import { waitFor } from './process/wait.js'
import { makeWorkDir } from './process/work-dir.js'

/** Options of {@link startPgBouncer}. */
export interface StartPgBouncerOptions {
  /** The server PgBouncer forwards to (through its fault proxy, `network`, when it has one). */
  readonly upstream: PostgresServer
  /** Default `transaction`. */
  readonly poolMode?: 'session' | 'transaction' | 'statement'
  /** Server connections per database/user pair. Default 20. */
  readonly poolSize?: number
  /**
   * How long a query may wait for a server connection before PgBouncer fails it
   * (`query_wait_timeout`, rounded up to seconds). Default 5 s, so that queries queued for a
   * dead server fail fast instead of hanging for PgBouncer's default 120 s.
   */
  readonly queryWaitTimeoutMs?: number
  /**
   * Run it as production does, under a supervisor (systemd `Restart=always`): when PgBouncer
   * exits on its own (PgBouncer 1.18 exits on a FATAL in its cancel handling), it is started
   * again on the same port with the same config, and the restart is recorded in
   * {@link PgBouncer.restarts}. `kill()` and `stop()` are not restarted. Default `false`; the
   * production test profile sets it (`testProfile().pgbouncer`).
   */
  readonly supervised?: boolean
}

/**
 * A PgBouncer in front of one PostgreSQL server, authenticating with SCRAM: the server's
 * `postgres` user from its auth file, every other role through `auth_query` (its password in
 * the server's `pg_shadow`).
 *
 * @example
 * ```ts
 * const cluster = await startPostgres()
 * const bouncer = await startPgBouncer({ upstream: cluster.primary, poolMode: 'transaction' })
 * const config = parseConfig({ DATABASE_URL: bouncer.url('app'), DB_POOLER_MODE: 'transaction' })
 * ```
 */
export class PgBouncer {
  readonly host = '127.0.0.1'
  readonly port: number
  readonly poolMode: string
  readonly #server: ChildServer
  readonly #upstream: PostgresServer
  readonly #release: () => void
  readonly #restarts: ServerRestart[] = []
  #stopped = false

  constructor(
    port: number,
    poolMode: string,
    server: ChildServer,
    upstream: PostgresServer,
    release: () => void,
    supervised = false,
  ) {
    this.port = port
    this.poolMode = poolMode
    this.#server = server
    this.#upstream = upstream
    this.#release = release
    if (supervised) {
      // A restart waits for the port only: the upstream may be down or faulted meanwhile.
      const restart = () => this.#server.start(() => this.#listening())
      supervise(this.#server, restart, this.#restarts, () => this.#stopped)
    }
  }

  /**
   * The times a supervised PgBouncer (see `supervised`) exited on its own and was started
   * again, oldest first, each with how it ended and its log tail. Empty when it never crashed
   * (or is not supervised): a test that sees one says so.
   *
   * @example
   * ```ts
   * const bouncer = await startPgBouncer({ upstream: cluster.primary, supervised: true })
   * // ... a workload ...
   * for (const restart of bouncer.restarts) console.warn(`pgbouncer restarted: ${restart.exit}`)
   * ```
   */
  get restarts(): readonly ServerRestart[] {
    return this.#restarts
  }

  /** URL of a database through PgBouncer, with the upstream's credentials. */
  url(database = 'postgres'): string {
    const upstream = new URL(this.#upstream.url(database))
    upstream.port = String(this.port)
    return upstream.toString()
  }

  /** Starts PgBouncer (again) and waits until a query passes through it. */
  async start(): Promise<void> {
    await this.#server.start(() =>
      waitFor(() => this.#upstreamQuery(), { what: `pgbouncer on ${this.port}` }).then(
        () => undefined,
      ),
    )
  }

  /**
   * False once PgBouncer has exited: stopped, killed, or crashed on its own (PgBouncer 1.18
   * exits on a FATAL in its cancel handling, fixed in 1.19 and 1.20.1), after which nothing
   * listens on its port.
   */
  get running(): boolean {
    return this.#server.running
  }

  /** PgBouncer's process id while it runs (to crash it from outside, as a FATAL would). */
  get pid(): number | undefined {
    return this.#server.pid
  }

  /** The end of PgBouncer's log: where a FATAL that ended it is. */
  logTail(lines = 20): string {
    return this.#server.logTail(lines)
  }

  /** Whether {@link freeze} stopped it. */
  get frozen(): boolean {
    const pid = this.#server.pid
    return pid !== undefined && isFrozen(pid)
  }

  /**
   * SIGSTOPs PgBouncer: its sockets stay open and nothing answers, as a hung pooler host looks
   * to clients; only their deadlines notice. Throws `TestServerError` `SERVER_NOT_RUNNING`
   * when it is not running. `stop()` and `kill()` thaw it first.
   *
   * @example
   * ```ts
   * await bouncer.freeze()
   * // ... a query through it now waits until the client's own deadline ...
   * await bouncer.thaw()
   * ```
   */
  async freeze(): Promise<void> {
    const pid = this.#server.pid
    if (pid === undefined) throw notRunning(`pgbouncer on ${this.port}`, 'freeze')
    await freezeTree(pid, `pgbouncer on ${this.port}`)
  }

  /** Resumes what {@link freeze} stopped; a no-op when it is not frozen. */
  async thaw(): Promise<void> {
    const pid = this.#server.pid
    if (pid !== undefined) thawTree(pid)
  }

  /** SIGKILL (after a thaw). */
  async kill(): Promise<void> {
    await this.thaw()
    await this.#server.kill()
  }

  /** Kills it and removes its directory (a supervised one stays down). */
  async stop(): Promise<void> {
    this.#stopped = true
    await this.kill()
    this.#release()
  }

  async #listening(): Promise<void> {
    const accepts = () =>
      new Promise<boolean>((resolve) => {
        const socket = connect({ host: this.host, port: this.port })
        socket.once('connect', () => {
          socket.destroy()
          resolve(true)
        })
        socket.once('error', () => resolve(false))
      })
    await waitFor(accepts, { what: `pgbouncer on ${this.port} to listen` })
  }

  async #upstreamQuery(): Promise<boolean> {
    const { default: pg } = await import('pg')
    const client = new pg.Client({ connectionString: this.url(), connectionTimeoutMillis: 2_000 })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.query('select 1')
      return true
    } finally {
      await client.end().catch(() => undefined)
    }
  }
}

/**
 * Starts PgBouncer (from the `pgbouncer` binary on PATH or /usr/sbin) in front of a server.
 *
 * @example
 * ```ts
 * const bouncer = await startPgBouncer({ upstream: cluster.primary })
 * afterAll(() => bouncer.stop())
 * ```
 */
export async function startPgBouncer(options: StartPgBouncerOptions): Promise<PgBouncer> {
  const { upstream } = options
  const poolMode = options.poolMode ?? 'transaction'
  const dir = makeWorkDir('pgbouncer')
  const port = await freePort()
  const password = new URL(upstream.url()).password
  writeFileSync(join(dir, 'userlist.txt'), `"postgres" "${decodeURIComponent(password)}"\n`)
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      // Through the server's fault proxy when it has one, as clients connect to it.
      `* = host=${(upstream.network ?? upstream).host} port=${(upstream.network ?? upstream).port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      // Any other role logs in with its own password, looked up in pg_shadow as production
      // setups do, so the server's refusals of that role (a connection limit) reach clients.
      'auth_user = postgres',
      `pool_mode = ${poolMode}`,
      'max_client_conn = 2000',
      `default_pool_size = ${options.poolSize ?? 20}`,
      'ignore_startup_parameters = extra_float_digits',
      'server_login_retry = 1',
      `query_wait_timeout = ${Math.ceil((options.queryWaitTimeoutMs ?? 5000) / 1000)}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  )
  chownTree(dir)
  const binary =
    process.env.PGBOUNCER_BIN ??
    (existsSync('/usr/sbin/pgbouncer') ? '/usr/sbin/pgbouncer' : 'pgbouncer')
  const server = new ChildServer(
    binary,
    [join(dir, 'pgbouncer.ini')],
    join(dir, 'pgbouncer.log'),
    true,
  )
  const removeDir = () => rmSync(dir, { recursive: true, force: true })
  const unregister = onProcessExit(() => {
    server.killSync()
    removeDir()
  })
  const release = () => {
    unregister()
    removeDir()
  }
  const bouncer = new PgBouncer(port, poolMode, server, upstream, release, options.supervised)
  await stopOnFailure(
    () => bouncer.stop(),
    () => bouncer.start(),
  )
  return bouncer
}
