import type { z } from 'zod'
import { ConfigError } from '../errors/errors.js'

/**
 * Validates an options object with a zod schema, for packages built on core.
 *
 * @throws ConfigError (`CONFIG_INVALID`) naming every bad option by its path (`l1.maxBytes`).
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 * @example
 * ```ts
 * const parsed = parseOptions(z.object({ ttlMs: z.number().positive().default(1000) }), options)
 * ```
 */
export function parseOptions<S extends z.ZodType>(schema: S, options: unknown): z.output<S> {
  const result = schema.safeParse(options)
  if (result.success) return result.data
  throw new ConfigError(
    result.error.issues.map((issue) => ({
      field: issue.path.join('.') || 'options',
      message: issue.message,
    })),
  )
}
