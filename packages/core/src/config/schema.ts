import { z } from 'zod'
import { MAX_TIMER_MS } from '../internal/deadline.js'
import { readDuration } from './duration.js'

// Settings PostgreSQL and pg take in milliseconds, where 0 turns a timeout off.
const duration = (what: string) =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const { ms, problem } = readDuration(value, { min: 0, max: MAX_TIMER_MS })
    if (problem === undefined) return ms
    ctx.addIssue({ code: 'custom', message: `${what} ${problem}` })
    return z.NEVER
  })

const integer = (what: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${what} must be a whole number from ${min} to ${max}` })
    .int({ error: `${what} must be a whole number from ${min} to ${max}` })
    .min(min, { error: `${what} must be a whole number from ${min} to ${max}` })
    .max(max, { error: `${what} must be a whole number from ${min} to ${max}` })

const urlList = z.union([
  z.array(z.string({ error: 'each replica URL must be a string' })),
  z.string().transform((list) =>
    list
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url !== ''),
  ),
])

/**
 * The configuration fields, their environment names and their defaults. Object input uses the
 * keys; environment input uses `env`.
 */
export const CONFIG_FIELDS = {
  primaryUrl: { env: 'DATABASE_URL', schema: z.string({ error: 'a PostgreSQL URL is required' }) },
  replicaUrls: { env: 'DATABASE_REPLICA_URLS', schema: urlList.default([]) },
  poolSize: { env: 'DB_POOL_SIZE', schema: integer('pool size', 1, 1000).default(10) },
  poolTimeoutMs: { env: 'DB_POOL_TIMEOUT', schema: duration('pool timeout').default(10_000) },
  poolIdleTimeoutMs: {
    env: 'DB_POOL_IDLE_TIMEOUT',
    schema: duration('idle timeout').default(30_000),
  },
  poolMaxLifetimeMs: {
    env: 'DB_POOL_MAX_LIFETIME',
    schema: duration('max lifetime').default(1_800_000),
  },
  statementTimeoutMs: {
    env: 'DB_STATEMENT_TIMEOUT',
    schema: duration('statement timeout').default(30_000),
  },
  idleInTransactionTimeoutMs: {
    env: 'DB_IDLE_IN_TRANSACTION_TIMEOUT',
    schema: duration('idle-in-transaction timeout').default(60_000),
  },
  applicationName: {
    env: 'DB_APPLICATION_NAME',
    schema: z
      .string()
      .max(63, { error: 'application name must be at most 63 characters' })
      .regex(/^[\x20-\x7e]*$/, { error: 'application name must be printable ASCII' })
      .optional(),
  },
  sslMode: {
    env: 'DB_SSL_MODE',
    schema: z
      .enum(['disable', 'prefer', 'require', 'verify-ca', 'verify-full'], {
        error: 'SSL mode must be one of disable, prefer, require, verify-ca, verify-full',
      })
      .optional(),
  },
  sslCaFile: { env: 'DB_SSL_CA_FILE', schema: z.string().min(1).optional() },
  slowQueryMs: { env: 'DB_SLOW_QUERY_MS', schema: duration('slow-query threshold').default(500) },
  poolerMode: {
    env: 'DB_POOLER_MODE',
    schema: z
      .enum(['none', 'session', 'transaction'], {
        error: 'pooler mode must be one of none, session, transaction',
      })
      .default('none'),
  },
} as const

type Fields = typeof CONFIG_FIELDS

/** The configuration as an object, before parsing: every field but `primaryUrl` is optional. */
export type SluiceConfigInput = { primaryUrl: string } & {
  [K in Exclude<keyof Fields, 'primaryUrl'>]?: z.input<Fields[K]['schema']>
}

/** The raw configuration after zod: every default filled in, URLs not yet parsed. */
export type RawConfig = z.output<typeof configSchema>

export const configSchema = z.strictObject(
  Object.fromEntries(Object.entries(CONFIG_FIELDS).map(([key, field]) => [key, field.schema])) as {
    [K in keyof Fields]: Fields[K]['schema']
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown option' : undefined) },
)
