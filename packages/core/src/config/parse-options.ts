import type { z } from 'zod'
import { ConfigError, type ConfigIssue } from '../errors/errors.js'

/**
 * Validates an options object with a zod schema, for packages built on core. With strict
 * objects (`z.strictObject`), each unknown key is an issue of its own, named by its path;
 * `misplaced` maps a key that belongs to another object to where it belongs, for the message.
 *
 * @throws ConfigError (`CONFIG_INVALID`) naming every bad option by its path (`l1.maxBytes`).
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * const parsed = parseOptions(z.strictObject({ ttlMs: z.number().positive().default(1000) }), options, {
 *   namespace: 'an option of createCache, not of getOrLoad',
 * })
 * ```
 */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  options: unknown,
  misplaced: Readonly<Record<string, string>> = {},
): z.output<S> {
  const result = schema.safeParse(options)
  if (result.success) return result.data
  throw new ConfigError(
    result.error.issues.flatMap((issue): ConfigIssue[] =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({
            field: [...issue.path, key].join('.'),
            message: `unknown option ${key}${Object.hasOwn(misplaced, key) ? `: ${misplaced[key]}` : ''}`,
          }))
        : [{ field: issue.path.join('.') || 'options', message: issue.message }],
    ),
  )
}
