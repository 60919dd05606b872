import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { ConfigIssue } from '../errors/errors.js'
import type { SslMode, SslSettings } from './target.js'

/** Where a target's TLS settings come from: its URL's parameters and the environment. */
export interface TlsSources {
  /** The URL's field name (`DATABASE_URL`, `DATABASE_REPLICA_URLS[0]`), for issues. */
  readonly urlField: string
  readonly url: { sslmode?: SslMode; sslrootcert?: string; sslcert?: string; sslkey?: string }
  /** `DB_SSL_MODE` and `DB_SSL_CA_FILE` as named in the input, and their values if given. */
  readonly env: {
    readonly modeField: string
    readonly mode?: SslMode
    readonly caField: string
    readonly caFile?: string
  }
}

/**
 * Resolves a target's {@link SslSettings} as libpq would: `sslrootcert=system` means the
 * system's CAs and needs `verify-full`; `require` with a CA file verifies the CA (as
 * `verify-ca`); `verify-ca` needs a CA file; a URL and the environment that disagree are an issue, not a choice. Files are
 * read and checked now (a CA file must hold a PEM certificate; a client key must be unencrypted
 * and match its certificate). Issues never contain a value.
 *
 * @example
 * ```ts
 * const issues: ConfigIssue[] = []
 * const ssl = tlsSettings({ urlField: 'DATABASE_URL', url: { sslmode: 'require' }, env: { modeField: 'DB_SSL_MODE', caField: 'DB_SSL_CA_FILE' } }, issues)
 * ```
 */
export function tlsSettings(sources: TlsSources, issues: ConfigIssue[]): SslSettings {
  const { urlField, url, env } = sources
  const issue = (field: string, message: string) => issues.push({ field, message })
  if (url.sslmode && env.mode && url.sslmode !== env.mode) {
    issue(urlField, `parameter sslmode disagrees with ${env.modeField}`)
  }
  if (url.sslrootcert && env.caFile && url.sslrootcert !== env.caFile) {
    issue(urlField, `parameter sslrootcert disagrees with ${env.caField}`)
  }
  const caFile = url.sslrootcert ?? env.caFile
  const caField = url.sslrootcert ? `${urlField} sslrootcert` : env.caField
  const system = caFile === 'system'
  let mode = url.sslmode ?? env.mode ?? (system ? 'verify-full' : 'disable')
  if (system && mode !== 'verify-full') issue(caField, 'the system CAs need sslmode verify-full')
  else if (caFile && (mode === 'disable' || mode === 'prefer')) {
    issue(caField, 'a CA file needs sslmode require, verify-ca or verify-full')
  }
  if (caFile && mode === 'require') mode = 'verify-ca'
  // libpq refuses verify-ca without a CA file too: any certificate from a public CA, for any
  // host, would pass (sslrootcert=system needs verify-full for that reason).
  if (mode === 'verify-ca' && !caFile) {
    issue(urlField, `sslmode verify-ca needs a CA file (sslrootcert or ${env.caField})`)
  }
  const settings: { mode: SslMode; ca?: string; cert?: string } = { mode }
  if (caFile && !system) settings.ca = readPem(caFile, caField, 'CA', issue)
  let key: string | undefined
  if ((url.sslcert === undefined) !== (url.sslkey === undefined)) {
    issue(urlField, 'parameters sslcert and sslkey go together')
  } else if (url.sslcert && url.sslkey) {
    if (mode === 'disable')
      issue(urlField, 'parameter sslcert needs TLS (an sslmode other than disable)')
    settings.cert = readPem(url.sslcert, `${urlField} sslcert`, 'certificate', issue)
    key = readKey(url.sslkey, `${urlField} sslkey`, settings.cert, issue)
  }
  Object.defineProperty(settings, 'key', { value: key, enumerable: false })
  return Object.freeze(settings)
}

function readPem(
  file: string,
  field: string,
  what: 'CA' | 'certificate',
  issue: (field: string, message: string) => void,
): string | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    issue(field, `the ${what} file cannot be read`)
    return undefined
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  try {
    if (blocks.length === 0) throw new Error('no certificate')
    for (const block of blocks) new X509Certificate(block)
  } catch {
    issue(field, `the ${what} file does not hold a PEM certificate`)
    return undefined
  }
  return text
}

function readKey(
  file: string,
  field: string,
  cert: string | undefined,
  issue: (field: string, message: string) => void,
): string | undefined {
  let text: string
  let key: KeyObject
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    issue(field, 'the key file cannot be read')
    return undefined
  }
  try {
    key = createPrivateKey(text)
  } catch {
    issue(field, 'the key file does not hold an unencrypted PEM private key')
    return undefined
  }
  if (cert && !new X509Certificate(cert).checkPrivateKey(key)) {
    issue(field, 'the key does not belong to the sslcert certificate')
  }
  return text
}
