import type { SslMode } from './target.js'

/** The libpq connection parameters of a URL that Sluice honours, checked. */
export interface UrlParameters {
  readonly sslmode?: SslMode
  readonly sslrootcert?: string
  readonly sslcert?: string
  readonly sslkey?: string
  readonly application_name?: string
  readonly options?: string
}

const SSL_MODES: readonly string[] = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full']
const HONOURED = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'application_name', 'options']
// Known to libpq, refused with a reason rather than as unknown.
const REFUSED: Readonly<Record<string, string>> = {
  target_session_attrs:
    'needs a multi-host URL, which Sluice does not take yet: list replicas in DATABASE_REPLICA_URLS',
  sslpassword: 'encrypted client keys are not supported: give an unencrypted sslkey',
}
const SAFE_NAME = /^[a-z_]{1,40}$/

/**
 * Checks a URL's query parameters (as {@link parsePostgresUrl} returns them): every one is
 * either honoured or reported, never ignored. Problems name the parameter, never its value.
 *
 * @example
 * ```ts
 * const { parameters, problems } = checkUrlParameters({ sslmode: 'verify-full' })
 * parameters.sslmode // 'verify-full'
 * ```
 */
export function checkUrlParameters(input: Readonly<Record<string, string>>): {
  parameters: UrlParameters
  problems: string[]
} {
  const problems: string[] = []
  const parameters: Record<string, string> = {}
  for (const [name, value] of Object.entries(input)) {
    if (HONOURED.includes(name)) {
      const problem = valueProblem(name, value)
      if (problem) problems.push(`parameter ${name} ${problem}`)
      else parameters[name] = value
    } else {
      const shown = SAFE_NAME.test(name) ? name : '(unprintable name)'
      problems.push(
        `parameter ${shown} ${REFUSED[name] ?? `is not supported (Sluice honours host, ${HONOURED.join(', ')})`}`,
      )
    }
  }
  return { parameters: parameters as UrlParameters, problems }
}

function valueProblem(name: string, value: string): string | undefined {
  if (value === '') return 'is empty'
  if (name === 'sslmode') {
    if (value === 'allow') {
      return 'allow (plain TCP unless the server insists on TLS) is not supported: use prefer, require, verify-ca or verify-full'
    }
    if (!SSL_MODES.includes(value)) return `must be one of ${SSL_MODES.join(', ')}`
  }
  if (name === 'application_name' && !/^[\x20-\x7e]{1,63}$/.test(value)) {
    return 'must be at most 63 printable ASCII characters'
  }
  return undefined
}
