import { sharedPostgres } from '@sluice/testing/vitest'
import { parseConfig, type SluiceConfig } from '../src/index.js'

let counter = 0

/** A new database on the shared cluster, and a Sluice config for it. */
export async function freshDatabase(
  overrides: Record<string, unknown> = {},
): Promise<{ url: string; config: SluiceConfig; name: string }> {
  const name = `core_${process.pid}_${++counter}`
  const { url } = await sharedPostgres().createDatabase(name)
  return { url, name, config: parseConfig({ DATABASE_URL: url, ...overrides }) }
}

/** Replaces the password of a URL. */
export function withPassword(url: string, password: string): string {
  const parsed = new URL(url)
  parsed.password = password
  return parsed.toString()
}
