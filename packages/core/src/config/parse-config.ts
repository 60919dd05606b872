import { ConfigError, type ConfigIssue } from '../errors/errors.js'
import { CONFIG_FIELDS, configSchema, type RawConfig, type SluiceConfigInput } from './schema.js'
import { makeTarget, type ParsedUrl, parsePostgresUrl, type TargetConfig } from './target.js'
import { tlsSettings } from './tls-settings.js'
import { checkUrlParameters } from './url-parameters.js'

/**
 * The parsed, frozen configuration of one primary and its replicas.
 *
 * @example
 * ```ts
 * const config: SluiceConfig = parseConfig()
 * config.replicas.map((replica) => replica.label) // ['replica-1', 'replica-2']
 * ```
 */
export interface SluiceConfig {
  readonly primary: TargetConfig
  readonly replicas: readonly TargetConfig[]
}

type FieldName = keyof typeof CONFIG_FIELDS
const ENV_NAMES = new Map(
  Object.entries(CONFIG_FIELDS).map(([key, field]) => [field.env as string, key as FieldName]),
)

/**
 * Validates and freezes Sluice's configuration. With no argument it reads `process.env`; an
 * object with any `DATABASE_URL` / `DB_*` key is read as environment variables (other keys
 * are ignored); any other object uses the camelCase keys of {@link SluiceConfigInput}.
 *
 * Defaults: pool size 10, pool timeout 10 s, idle timeout 30 s, max lifetime 30 min,
 * statement timeout 30 s, idle-in-transaction timeout 60 s, application name `sluice`,
 * SSL `disable`, slow-query threshold 500 ms, pooler mode `none`. Durations accept
 * milliseconds or a unit (`'30s'`).
 *
 * @throws ConfigError (code `CONFIG_INVALID`) listing every invalid field; no value, and so
 * no password, appears in it.
 * @example
 * ```ts
 * const config = parseConfig({
 *   DATABASE_URL: 'postgres://app:secret@primary:5432/app',
 *   DATABASE_REPLICA_URLS: 'postgres://app:secret@replica-1:5432/app',
 *   DB_STATEMENT_TIMEOUT: '5s',
 * })
 * config.primary.server.statementTimeoutMs // 5000
 * ```
 */
export function parseConfig(
  input: SluiceConfigInput | Record<string, unknown> | NodeJS.ProcessEnv = process.env,
): SluiceConfig {
  const fromEnv = Object.keys(input).some((key) => ENV_NAMES.has(key))
  const fieldName = (key: string): string =>
    fromEnv ? (CONFIG_FIELDS[key as FieldName]?.env ?? key) : key
  const candidate = fromEnv ? envToObject(input) : input
  const result = configSchema.safeParse(candidate)
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.flatMap((issue) => {
        const keys = issue.code === 'unrecognized_keys' ? issue.keys : [String(issue.path[0])]
        return keys.map((key) => ({ field: fieldName(key), message: issue.message }))
      }),
    )
  }
  return buildConfig(result.data, fieldName)
}

function envToObject(env: Record<string, unknown>): Record<string, unknown> {
  const object: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(env)) {
    const key = ENV_NAMES.get(name)
    if (key !== undefined && value !== undefined && value !== '') object[key] = value
  }
  return object
}

function buildConfig(raw: RawConfig, fieldName: (key: string) => string): SluiceConfig {
  const issues: ConfigIssue[] = []
  const seen = new Map<string, string>()
  const urls: { field: string; url: string; role: string }[] = [
    { field: fieldName('primaryUrl'), url: raw.primaryUrl, role: 'the primary' },
    ...raw.replicaUrls.map((url, index) => ({
      field: `${fieldName('replicaUrls')}[${index}]`,
      url,
      role: `replica ${index + 1}`,
    })),
  ]
  const targets = urls.map(({ field, url, role }) => {
    const parsed = parsePostgresUrl(url)
    if (typeof parsed === 'string') {
      issues.push({ field, message: `the URL ${parsed}` })
      return undefined
    }
    const earlier = seen.get(serverKey(parsed))
    if (earlier) issues.push({ field, message: `points at the same server as ${earlier}` })
    else seen.set(serverKey(parsed), role)
    return { parsed, settings: targetSettings(raw, field, parsed, fieldName, issues) }
  })
  if (issues.length > 0) throw new ConfigError(issues)
  const pool = Object.freeze({
    size: raw.poolSize,
    acquireTimeoutMs: raw.poolTimeoutMs,
    idleTimeoutMs: raw.poolIdleTimeoutMs,
    maxLifetimeMs: raw.poolMaxLifetimeMs,
  })
  const [primary, ...replicas] = targets.map((target, index) => {
    const { parsed, settings } = target as NonNullable<typeof target>
    return makeTarget(index === 0 ? 'primary' : `replica-${index}`, parsed, {
      pool,
      server: settings.server,
      ssl: settings.ssl,
      poolerMode: raw.poolerMode,
      slowQueryMs: raw.slowQueryMs,
    })
  })
  return Object.freeze({ primary: primary as TargetConfig, replicas: Object.freeze(replicas) })
}

// Host names are case-insensitive (a socket directory, starting with '/', is not).
function serverKey(url: ParsedUrl): string {
  const name = url.host.startsWith('/') ? url.host : url.host.toLowerCase()
  const host = name === 'localhost' ? '127.0.0.1' : name
  return `${host}:${url.port}/${url.database}`
}

/** A target's server and TLS settings: its URL's parameters over the environment's. */
function targetSettings(
  raw: RawConfig,
  field: string,
  url: ParsedUrl,
  fieldName: (key: string) => string,
  issues: ConfigIssue[],
): { server: TargetConfig['server']; ssl: TargetConfig['ssl'] } {
  const { parameters, problems } = checkUrlParameters(url.parameters)
  for (const message of problems) issues.push({ field, message })
  const appField = fieldName('applicationName')
  if (
    parameters.application_name !== undefined &&
    raw.applicationName !== undefined &&
    parameters.application_name !== raw.applicationName
  ) {
    issues.push({ field, message: `parameter application_name disagrees with ${appField}` })
  }
  if (parameters.options !== undefined && raw.poolerMode !== 'none') {
    issues.push({
      field,
      message:
        'parameter options cannot pass through PgBouncer: set them with ALTER ROLE / ALTER DATABASE ... SET',
    })
  }
  const ssl = tlsSettings(
    {
      urlField: field,
      url: parameters,
      env: {
        modeField: fieldName('sslMode'),
        mode: raw.sslMode,
        caField: fieldName('sslCaFile'),
        caFile: raw.sslCaFile,
      },
    },
    issues,
  )
  const server = {
    statementTimeoutMs: raw.statementTimeoutMs,
    idleInTransactionTimeoutMs: raw.idleInTransactionTimeoutMs,
    applicationName: parameters.application_name ?? raw.applicationName ?? 'sluice',
    ...(parameters.options !== undefined && { options: parameters.options }),
  }
  return { server: Object.freeze(server), ssl }
}
