/**
 * libpq's TLS modes that Sluice honours. `disable`: plain TCP. `prefer`: TLS when the server
 * offers it, else plain TCP (certificate not verified). `require`: TLS, certificate not
 * verified. `verify-ca`: TLS with the certificate checked against the CA. `verify-full`: as
 * `verify-ca`, and the certificate must name the host. (`allow` is refused: see README.)
 */
export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'

/** How a target's TLS is set up. */
export interface SslSettings {
  readonly mode: SslMode
  /** PEM text of the CA bundle (`sslrootcert` / `DB_SSL_CA_FILE`); absent: the system's CAs. */
  readonly ca?: string
  /** PEM client certificate (`sslcert`), for servers that authenticate clients by certificate. */
  readonly cert?: string
  /** PEM private key of `cert` (`sslkey`). Non-enumerable. */
  readonly key?: string
}

/** Pool sizing and timing for one target. */
export interface PoolSettings {
  /** Maximum open connections. Default 10. */
  readonly size: number
  /** How long a caller waits for a free connection, and a new connection for its handshake. Default 10 s. */
  readonly acquireTimeoutMs: number
  /** Idle connections are closed after this long. Default 30 s. */
  readonly idleTimeoutMs: number
  /** Connections older than this are replaced (rounded up to whole seconds). 0 keeps them. Default 30 min. */
  readonly maxLifetimeMs: number
}

/**
 * Settings Sluice applies on the server for every connection it opens (not to be confused with
 * the router's read-your-writes `session()`, or PgBouncer's `session` pool mode).
 */
export interface ServerSettings {
  /** Server-side statement timeout; 0 disables it. Default 30 s. */
  readonly statementTimeoutMs: number
  /** Sessions idle inside a transaction are ended after this long; 0 disables it. Default 60 s. */
  readonly idleInTransactionTimeoutMs: number
  /** Shown in `pg_stat_activity.application_name`. Default `sluice`. */
  readonly applicationName: string
  /** Server options sent when connecting (libpq's `options`, e.g. `-c search_path=app`). */
  readonly options?: string
}

/**
 * What sits between Sluice and PostgreSQL. `none`: a direct connection. `session` and
 * `transaction`: PgBouncer in that pool mode. It decides how server settings are applied.
 */
export type PoolerMode = 'none' | 'session' | 'transaction'

/**
 * One PostgreSQL server Sluice connects to, parsed and frozen. The password is a
 * non-enumerable property: it is not printed by `console.log`, `JSON.stringify` or
 * `util.inspect`.
 *
 * @example
 * ```ts
 * const { primary } = parseConfig({ DATABASE_URL: 'postgres://app:secret@db:5432/app' })
 * primary.address // 'db:5432/app'
 * JSON.stringify(primary).includes('secret') // false
 * ```
 */
export interface TargetConfig {
  /** `primary`, `replica-1`, `replica-2`, ...: the label used in errors, events and metrics. */
  readonly label: string
  readonly host: string
  readonly port: number
  readonly database: string
  readonly user: string
  /** Non-enumerable. */
  readonly password?: string
  /** `host:port/database`, for messages and logs. */
  readonly address: string
  readonly pool: PoolSettings
  readonly server: ServerSettings
  readonly ssl: SslSettings
  readonly poolerMode: PoolerMode
  /** Queries slower than this are flagged `slow` in instrumentation events. */
  readonly slowQueryMs: number
}

/** The parts of a PostgreSQL URL that identify a server. */
export interface ParsedUrl {
  readonly host: string
  readonly port: number
  readonly database: string
  readonly user: string
  readonly password?: string
  /** The URL's query parameters (libpq connection parameters) other than `host`. */
  readonly parameters: Readonly<Record<string, string>>
}

const SEVERAL_HOSTS =
  'lists several hosts (a libpq multi-host URL), which Sluice does not take yet: list replicas in DATABASE_REPLICA_URLS'

/**
 * Parses `postgres://user:password@host:port/database?param=value` (also `postgresql://`, and
 * a Unix socket directory in `?host=`, an IPv6 address in brackets). Returns a reason string
 * when the URL is unusable (not validly percent-encoded, several hosts, ...); the
 * reason never contains the URL, since it may hold a password. The other parameters are
 * returned as they are; `parseConfig` honours or refuses each of them.
 *
 * @example
 * ```ts
 * parsePostgresUrl('postgres://app@localhost/app') // { host: 'localhost', port: 5432, ... }
 * ```
 */
export function parsePostgresUrl(input: string): ParsedUrl | string {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    // 'h1:5432,h2:5432' is no valid port, so a multi-host URL with ports fails to parse.
    const authority = /^[a-z]+:\/\/([^/?#]*)/i.exec(input)?.[1] ?? ''
    return authority.slice(authority.lastIndexOf('@') + 1).includes(',')
      ? SEVERAL_HOSTS
      : 'is not a valid URL'
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    return 'must start with postgres:// or postgresql://'
  }
  // An IPv6 literal keeps its brackets in `hostname` ('[::1]'); the socket wants '::1'.
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1')
  const decoded = decode({
    host: hostname,
    user: url.username,
    password: url.password,
    database: url.pathname.replace(/^\//, ''),
  })
  if (typeof decoded === 'string') return decoded
  const host = url.searchParams.get('host') ?? decoded.host
  if (!host) return 'has no host'
  if (host.includes(',')) return SEVERAL_HOSTS
  const port = url.port ? Number(url.port) : 5432
  if (port === 0) return 'has port 0 (a server listens on 1 to 65535)'
  const { user } = decoded
  if (!user) return 'has no user name'
  const database = decoded.database || user
  const password = url.password ? decoded.password : undefined
  const parameters: Record<string, string> = {}
  for (const [name, value] of url.searchParams) {
    if (url.searchParams.getAll(name).length > 1) return 'repeats a query parameter'
    if (name !== 'host') parameters[name] = value
  }
  return password === undefined
    ? { host, port, database, user, parameters }
    : { host, port, database, user, password, parameters }
}

// How each part of a URL is named in a reason.
const PART_NAMES = {
  host: 'host',
  user: 'user name',
  password: 'password',
  database: 'database name',
} as const
type UrlPart = keyof typeof PART_NAMES

/**
 * Percent-decodes the parts of a URL, or names the part that is not validly encoded (a `%`
 * in a password must be written `%25`). The reason never holds a value.
 */
function decode(parts: Record<UrlPart, string>): Record<UrlPart, string> | string {
  const decoded = { ...parts }
  for (const part of Object.keys(parts) as UrlPart[]) {
    try {
      decoded[part] = decodeURIComponent(parts[part])
    } catch {
      return `has a ${PART_NAMES[part]} that is not validly percent-encoded (write % as %25)`
    }
  }
  return decoded
}

/** Builds a frozen {@link TargetConfig} whose password is not enumerable. */
export function makeTarget(
  label: string,
  url: Omit<ParsedUrl, 'parameters'>,
  shared: Omit<
    TargetConfig,
    'label' | 'host' | 'port' | 'database' | 'user' | 'password' | 'address'
  >,
): TargetConfig {
  const target = {
    label,
    host: url.host,
    port: url.port,
    database: url.database,
    user: url.user,
    address: `${url.host.includes(':') ? `[${url.host}]` : url.host}:${url.port}/${url.database}`,
    ...shared,
  }
  Object.defineProperty(target, 'password', { value: url.password, enumerable: false })
  return Object.freeze(target)
}

/** What {@link withTargetSettings} can change. */
export interface TargetOverrides {
  readonly label?: string
  readonly pool?: Partial<PoolSettings>
  readonly server?: Partial<ServerSettings>
}

/**
 * A copy of a target with some pool or server settings changed (the password is kept, still
 * non-enumerable). For side pools such as a health monitor's single connection.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * const probeTarget = withTargetSettings(config.replicas[0], {
 *   pool: { size: 1, acquireTimeoutMs: 2000 },
 *   server: { statementTimeoutMs: 2000 },
 * })
 * ```
 */
export function withTargetSettings(target: TargetConfig, overrides: TargetOverrides): TargetConfig {
  const { label, host, port, database, user, password, address, pool, server, ...shared } = target
  return makeTarget(
    overrides.label ?? label,
    {
      host,
      port,
      database,
      user,
      ...(password !== undefined && { password }),
    },
    {
      ...shared,
      pool: Object.freeze({ ...pool, ...overrides.pool }),
      server: Object.freeze({ ...server, ...overrides.server }),
    },
  )
}
