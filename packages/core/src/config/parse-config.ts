import { readFileSync } from 'node:fs'
import { ConfigError, type ConfigIssue } from '../errors/errors.js'
import { CONFIG_FIELDS, configSchema, type RawConfig, type SluiceConfigInput } from './schema.js'
import { makeTarget, type ParsedUrl, parsePostgresUrl, type TargetConfig } from './target.js'

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
 * config.primary.session.statementTimeoutMs // 5000
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
  const parseUrl = (field: string, url: string): ParsedUrl | undefined => {
    const parsed = parsePostgresUrl(url)
    if (typeof parsed === 'string') issues.push({ field, message: `the URL ${parsed}` })
    return typeof parsed === 'string' ? undefined : parsed
  }
  const primaryUrl = parseUrl(fieldName('primaryUrl'), raw.primaryUrl)
  const seen = new Map<string, string>()
  if (primaryUrl) seen.set(serverKey(primaryUrl), 'the primary')
  const replicaUrls = raw.replicaUrls.map((url, index) => {
    const field = `${fieldName('replicaUrls')}[${index}]`
    const parsed = parseUrl(field, url)
    const earlier = parsed && seen.get(serverKey(parsed))
    if (earlier) issues.push({ field, message: `points at the same server as ${earlier}` })
    else if (parsed) seen.set(serverKey(parsed), `replica ${index + 1}`)
    return parsed
  })
  const ssl = sslSettings(raw, fieldName, issues)
  if (issues.length > 0 || !primaryUrl) throw new ConfigError(issues)
  const shared = {
    pool: Object.freeze({
      size: raw.poolSize,
      acquireTimeoutMs: raw.poolTimeoutMs,
      idleTimeoutMs: raw.poolIdleTimeoutMs,
      maxLifetimeMs: raw.poolMaxLifetimeMs,
    }),
    session: Object.freeze({
      statementTimeoutMs: raw.statementTimeoutMs,
      idleInTransactionTimeoutMs: raw.idleInTransactionTimeoutMs,
      applicationName: raw.applicationName,
    }),
    ssl,
    poolerMode: raw.poolerMode,
    slowQueryMs: raw.slowQueryMs,
  }
  return Object.freeze({
    primary: makeTarget('primary', primaryUrl, shared),
    replicas: Object.freeze(
      replicaUrls.map((url, index) => makeTarget(`replica-${index + 1}`, url as ParsedUrl, shared)),
    ),
  })
}

function serverKey(url: ParsedUrl): string {
  const host = url.host === 'localhost' ? '127.0.0.1' : url.host
  return `${host}:${url.port}/${url.database}`
}

function sslSettings(
  raw: RawConfig,
  fieldName: (key: string) => string,
  issues: ConfigIssue[],
): TargetConfig['ssl'] {
  if (raw.sslCaFile === undefined) return Object.freeze({ mode: raw.sslMode })
  if (raw.sslMode !== 'verify-full') {
    issues.push({ field: fieldName('sslCaFile'), message: 'a CA file needs SSL mode verify-full' })
    return Object.freeze({ mode: raw.sslMode })
  }
  try {
    return Object.freeze({ mode: raw.sslMode, ca: readFileSync(raw.sslCaFile, 'utf8') })
  } catch {
    issues.push({ field: fieldName('sslCaFile'), message: 'the CA file cannot be read' })
    return Object.freeze({ mode: raw.sslMode })
  }
}
