import type { KyselyConfig, KyselyPlugin } from 'kysely'
import { ConfigError, type ConfigIssue } from '../errors/errors.js'

/** Kysely's own options, which a client passes to `new Kysely` and a dialect refuses. */
const KYSELY_OPTIONS = ['plugins', 'log'] as const

/** Kysely's options of a client, checked: what goes to `new Kysely` beside the dialect. */
export interface KyselyOptions {
  readonly plugins: KyselyPlugin[]
  readonly log?: KyselyConfig['log']
}

/**
 * The options argument of a client or dialect: left out (`undefined`) or a plain object. `null`,
 * an array, a string or a number would otherwise be a bare `TypeError`, or silently nothing.
 *
 * @throws ConfigError (`CONFIG_INVALID`, field `options`).
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * const { instrumentation } = optionsObject(options)
 * ```
 */
export function optionsObject(options: unknown): Record<string, unknown> {
  if (options === undefined) return {}
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError([
      {
        field: 'options',
        message: `must be an object of options or left out (got ${kind(options)})`,
      },
    ])
  }
  return options as Record<string, unknown>
}

/**
 * Splits a client's options into Kysely's own (`plugins`, `log`), checked, and the rest, for
 * its dialect. `plugins` must be an array of Kysely plugins (`transformQuery` and
 * `transformResult`), `log` an array of `'query'` and `'error'` or a function.
 *
 * @throws ConfigError (`CONFIG_INVALID`) naming `options`, `plugins`, `plugins.<i>` or `log`.
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * const { kysely, rest } = splitKyselyOptions(options)
 * const db = new Kysely<DB>({ dialect: sluiceDialect(config, rest), ...kysely })
 * ```
 */
export function splitKyselyOptions(options: unknown): {
  kysely: KyselyOptions
  rest: Record<string, unknown>
} {
  const { plugins, log, ...rest } = optionsObject(options)
  const issues: ConfigIssue[] = []
  if (plugins !== undefined && !Array.isArray(plugins)) {
    issues.push({
      field: 'plugins',
      message: `must be an array of Kysely plugins (got ${kind(plugins)})`,
    })
  }
  const given: unknown[] = Array.isArray(plugins) ? plugins : []
  given.forEach((plugin, index) => {
    if (!isPlugin(plugin)) {
      issues.push({
        field: `plugins.${index}`,
        message: `must be a Kysely plugin, with transformQuery and transformResult (got ${kind(plugin)})`,
      })
    }
  })
  if (log !== undefined && !isLog(log)) {
    issues.push({
      field: 'log',
      message: `must be an array of 'query' and 'error', or a function of the log event (got ${kind(log)})`,
    })
  }
  if (issues.length > 0) throw new ConfigError(issues)
  return {
    kysely: {
      plugins: given as KyselyPlugin[],
      ...(log !== undefined && { log: log as KyselyConfig['log'] }),
    },
    rest,
  }
}

/**
 * A dialect's options, with Kysely's own refused: they go to `new Kysely` (a dialect cannot
 * apply them, and silently dropping them would hide the mistake).
 *
 * @throws ConfigError (`CONFIG_INVALID`) naming `options`, `plugins` or `log`.
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * const own = dialectOptions(options)
 * ```
 */
export function dialectOptions(options: unknown): Record<string, unknown> {
  const given = optionsObject(options)
  const issues = KYSELY_OPTIONS.filter((key) => key in given).map((key) => ({
    field: key,
    message: `${key} is Kysely's own option: give it to new Kysely({ dialect, ${key} })`,
  }))
  if (issues.length > 0) throw new ConfigError(issues)
  return given
}

function isPlugin(value: unknown): value is KyselyPlugin {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as KyselyPlugin).transformQuery === 'function' &&
    typeof (value as KyselyPlugin).transformResult === 'function'
  )
}

function isLog(value: unknown): boolean {
  return (
    typeof value === 'function' ||
    (Array.isArray(value) && value.every((level) => level === 'query' || level === 'error'))
  )
}

/**
 * What a bad option value is, for a message: never the value itself (it may hold a secret).
 *
 * @example
 * ```ts
 * kind(null) // 'null'
 * kind('x') // 'a string'
 * ```
 */
export function kind(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}
