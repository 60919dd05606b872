import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { generateCertificates, type TestCertificates } from '@sluice/testing'
import { beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, parseConfig } from '../src/index.js'

const SECRET = 'pa:ss/w@rd'
let certificates: TestCertificates
let notACertificate: string
beforeAll(async () => {
  certificates = await generateCertificates()
  notACertificate = join(certificates.caFile, '..', 'not-a-cert.pem')
  writeFileSync(
    notACertificate,
    `-----BEGIN CERTIFICATE-----\n${SECRET}\n-----END CERTIFICATE-----\n`,
  )
})

/** A URL with the secret password and these query parameters. */
function url(parameters: Record<string, string> = {}, host = 'db'): string {
  const query = new URLSearchParams(parameters).toString()
  return `postgres://app:${encodeURIComponent(SECRET)}@${host}:5432/app${query ? `?${query}` : ''}`
}

/** The issues of a rejected configuration, checked to never show the password. */
function issues(input: Record<string, unknown>) {
  let caught: unknown
  try {
    parseConfig(input)
  } catch (error) {
    caught = error
  }
  expect(caught).toBeInstanceOf(ConfigError)
  const error = caught as ConfigError
  for (const text of [error.message, JSON.stringify(error), inspect(error)]) {
    expect(text).not.toContain(SECRET)
    expect(text).not.toContain(encodeURIComponent(SECRET))
  }
  return error.issues
}

describe('libpq parameters in a URL are honoured or refused, never ignored', () => {
  it('sslmode: every libpq mode but allow, also per replica URL', () => {
    for (const mode of ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const) {
      const parameters: Record<string, string> = { sslmode: mode }
      if (mode === 'verify-ca') parameters.sslrootcert = certificates.caFile
      expect(parseConfig({ DATABASE_URL: url(parameters) }).primary.ssl.mode).toBe(mode)
    }
    const config = parseConfig({
      DATABASE_URL: url(),
      DATABASE_REPLICA_URLS: url({ sslmode: 'require' }, 'r1'),
    })
    expect([config.primary.ssl.mode, config.replicas[0]?.ssl.mode]).toEqual(['disable', 'require'])
    expect(issues({ DATABASE_URL: url({ sslmode: 'required' }) })).toEqual([
      {
        field: 'DATABASE_URL',
        message:
          'parameter sslmode must be one of disable, prefer, require, verify-ca, verify-full',
      },
    ])
    expect(issues({ DATABASE_URL: url({ sslmode: 'allow' }) })[0]?.message).toMatch(
      /^parameter sslmode allow .* is not supported/,
    )
    expect(issues({ DATABASE_URL: url({ sslmode: SECRET }) })).toHaveLength(1)
  })

  it('a URL sslmode or CA that disagrees with DB_SSL_MODE / DB_SSL_CA_FILE is an error', () => {
    expect(issues({ DATABASE_URL: url({ sslmode: 'require' }), DB_SSL_MODE: 'disable' })).toEqual([
      { field: 'DATABASE_URL', message: 'parameter sslmode disagrees with DB_SSL_MODE' },
    ])
    expect(
      parseConfig({ DATABASE_URL: url({ sslmode: 'require' }), DB_SSL_MODE: 'require' }).primary.ssl
        .mode,
    ).toBe('require')
    expect(
      issues({
        DATABASE_URL: url({ sslmode: 'verify-full', sslrootcert: certificates.caFile }),
        DB_SSL_CA_FILE: certificates.certFile,
      }),
    ).toEqual([
      { field: 'DATABASE_URL', message: 'parameter sslrootcert disagrees with DB_SSL_CA_FILE' },
    ])
  })

  it('a CA file must exist and hold a certificate, and needs a verifying mode', () => {
    const ca = (sslrootcert: string, sslmode = 'verify-full') =>
      issues({ DATABASE_URL: url({ sslmode, sslrootcert }) })
    expect(ca('/nope/ca.pem')).toEqual([
      { field: 'DATABASE_URL sslrootcert', message: 'the CA file cannot be read' },
    ])
    expect(ca('/etc/hostname')).toEqual([
      { field: 'DATABASE_URL sslrootcert', message: 'the CA file does not hold a PEM certificate' },
    ])
    expect(ca(notACertificate)[0]?.message).toBe('the CA file does not hold a PEM certificate')
    expect(ca(certificates.caFile, 'disable')[0]?.message).toBe(
      'a CA file needs sslmode require, verify-ca or verify-full',
    )
    expect(issues({ DATABASE_URL: url(), DB_SSL_CA_FILE: certificates.caFile })).toEqual([
      {
        field: 'DB_SSL_CA_FILE',
        message: 'a CA file needs sslmode require, verify-ca or verify-full',
      },
    ])
    // As libpq: require with a CA verifies the chain; sslrootcert=system means verify-full.
    const require = parseConfig({
      DATABASE_URL: url({ sslmode: 'require', sslrootcert: certificates.caFile }),
    })
    expect(require.primary.ssl.mode).toBe('verify-ca')
    expect(require.primary.ssl.ca).toContain('BEGIN CERTIFICATE')
    const system = parseConfig({ DATABASE_URL: url({ sslrootcert: 'system' }) }).primary.ssl
    expect(system).toEqual({ mode: 'verify-full' })
    expect(ca('system', 'require')[0]?.message).toBe('the system CAs need sslmode verify-full')
  })

  it('verify-ca needs a CA file: without one any public certificate for any host would pass', () => {
    expect(issues({ DATABASE_URL: url({ sslmode: 'verify-ca' }) })).toEqual([
      {
        field: 'DATABASE_URL',
        message: 'sslmode verify-ca needs a CA file (sslrootcert or DB_SSL_CA_FILE)',
      },
    ])
    expect(
      issues({
        DATABASE_URL: url(),
        DATABASE_REPLICA_URLS: url({}, 'r1'),
        DB_SSL_MODE: 'verify-ca',
      }),
    ).toHaveLength(2)
    const withCa = { DB_SSL_MODE: 'verify-ca', DB_SSL_CA_FILE: certificates.caFile }
    expect(parseConfig({ DATABASE_URL: url(), ...withCa }).primary.ssl.mode).toBe('verify-ca')
  })

  it('sslcert and sslkey: both, readable, a key that belongs to the certificate, never shown', () => {
    const config = parseConfig({
      DATABASE_URL: url({
        sslmode: 'require',
        sslcert: certificates.certFile,
        sslkey: certificates.keyFile,
      }),
    })
    expect(config.primary.ssl.cert).toContain('BEGIN CERTIFICATE')
    expect(config.primary.ssl.key).toContain('PRIVATE KEY')
    expect(JSON.stringify(config)).not.toContain('PRIVATE KEY')
    expect(inspect(config, { depth: 10 })).not.toContain('PRIVATE KEY')
    expect(
      issues({ DATABASE_URL: url({ sslmode: 'require', sslcert: certificates.certFile }) }),
    ).toEqual([{ field: 'DATABASE_URL', message: 'parameters sslcert and sslkey go together' }])
    expect(
      issues({
        DATABASE_URL: url({
          sslmode: 'require',
          sslcert: certificates.caFile,
          sslkey: certificates.keyFile,
        }),
      }),
    ).toEqual([
      {
        field: 'DATABASE_URL sslkey',
        message: 'the key does not belong to the sslcert certificate',
      },
    ])
    expect(
      issues({
        DATABASE_URL: url({
          sslmode: 'require',
          sslcert: certificates.certFile,
          sslkey: certificates.caFile,
        }),
      })[0]?.message,
    ).toBe('the key file does not hold an unencrypted PEM private key')
  })

  it('application_name, options; target_session_attrs and unknown parameters are refused', () => {
    const config = parseConfig({
      DATABASE_URL: url({ application_name: 'orders-api', options: '-c search_path=orders' }),
    })
    expect(config.primary.server).toMatchObject({
      applicationName: 'orders-api',
      options: '-c search_path=orders',
    })
    expect(
      issues({ DATABASE_URL: url({ application_name: 'a' }), DB_APPLICATION_NAME: 'b' }),
    ).toEqual([
      {
        field: 'DATABASE_URL',
        message: 'parameter application_name disagrees with DB_APPLICATION_NAME',
      },
    ])
    expect(
      issues({ DATABASE_URL: url({ options: '-c x=1' }), DB_POOLER_MODE: 'transaction' })[0]
        ?.message,
    ).toMatch(/^parameter options cannot pass through PgBouncer/)
    expect(
      issues({ DATABASE_URL: url({ target_session_attrs: 'read-write' }) })[0]?.message,
    ).toMatch(/^parameter target_session_attrs needs a multi-host URL/)
    expect(issues({ DATABASE_URL: url({ connect_timeout: '5', [SECRET]: SECRET }) })).toEqual([
      {
        field: 'DATABASE_URL',
        message: expect.stringMatching(/^parameter connect_timeout is not supported/),
      },
      {
        field: 'DATABASE_URL',
        message: expect.stringMatching(/^parameter \(unprintable name\) is not supported/),
      },
    ])
    expect(issues({ DATABASE_URL: `${url({ sslmode: 'require' })}&sslmode=disable` })).toEqual([
      { field: 'DATABASE_URL', message: 'the URL repeats a query parameter' },
    ])
  })
})

describe('the server part of a URL', () => {
  it('a part that is not validly percent-encoded is a ConfigError naming the part', () => {
    const raw = (userinfo: string, database = 'app') => `postgres://${userinfo}@db:5432/${database}`
    expect(issues({ DATABASE_URL: raw(`app:${encodeURIComponent(SECRET)}%zz`) })).toEqual([
      {
        field: 'DATABASE_URL',
        message: 'the URL has a password that is not validly percent-encoded (write % as %25)',
      },
    ])
    expect(issues({ DATABASE_URL: raw(`app%zz:${encodeURIComponent(SECRET)}`) })[0]?.message).toBe(
      'the URL has a user name that is not validly percent-encoded (write % as %25)',
    )
    expect(issues({ DATABASE_REPLICA_URLS: raw('app', 'a%zz'), DATABASE_URL: url() })[0]).toEqual({
      field: 'DATABASE_REPLICA_URLS[0]',
      message: 'the URL has a database name that is not validly percent-encoded (write % as %25)',
    })
    expect(parseConfig({ DATABASE_URL: raw('app:50%25off') }).primary.password).toBe('50%off')
  })

  it('an IPv6 address in brackets is the address itself; several hosts are refused', () => {
    const { primary } = parseConfig({ DATABASE_URL: url({}, '[::1]') })
    expect([primary.host, primary.address]).toEqual(['::1', '[::1]:5432/app'])
    for (const hosts of ['db1,db2', 'db1:5432,db2']) {
      expect(issues({ DATABASE_URL: url({}, hosts) })).toEqual([
        {
          field: 'DATABASE_URL',
          message: expect.stringMatching(/^the URL lists several hosts \(a libpq multi-host URL\)/),
        },
      ])
    }
  })
})
