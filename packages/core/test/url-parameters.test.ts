import {
  enableTls,
  generateCertificates,
  type PostgresCluster,
  startPostgres,
  type TestCertificates,
} from '@sluice/testing'
import { sharedPostgres } from '@sluice/testing/vitest'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConnectionError, createDatabase, parseConfig, type SluiceDatabase } from '../src/index.js'

let cluster: PostgresCluster
let certificates: TestCertificates
let otherCa: string
const databases: SluiceDatabase<unknown>[] = []

beforeAll(async () => {
  // The system PostgreSQL 15 (built with OpenSSL) in both projects; the server of its own
  // keeps TLS off the shared cluster. The certificate names `localhost` only.
  cluster = await startPostgres({ engine: 'system' })
  certificates = await enableTls(cluster.primary, { hostnames: ['localhost'] })
  ;({ caFile: otherCa } = await generateCertificates())
})
afterAll(async () => {
  await Promise.all(databases.map((database) => database.close()))
  await cluster?.stop()
})

/** `cluster`'s URL on `host` with these query parameters. */
function tlsUrl(parameters: Record<string, string>, host = '127.0.0.1'): string {
  const url = new URL(cluster.primary.url())
  url.hostname = host
  for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value)
  return url.toString()
}

/** What the server saw of one connection made with `env`: TLS or not, and the client's DN. */
async function serverSees(env: Record<string, string>) {
  const database = createDatabase(parseConfig({ DB_POOL_TIMEOUT: '10s', ...env }))
  databases.push(database)
  const { rows } = await sql<{ ssl: boolean; client_dn: string | null; app: string }>`
    select s.ssl, s.client_dn, a.application_name as app
    from pg_stat_ssl s join pg_stat_activity a using (pid)
    where pid = pg_backend_pid()`.execute(database.db)
  return rows[0]
}

const failure = (env: Record<string, string>) =>
  serverSees(env).then(
    () => undefined,
    (error: unknown) => error,
  )

describe('TLS from the URL, against a server with a generated certificate', () => {
  it('sslmode=require encrypts the connection', async () => {
    expect(await serverSees({ DATABASE_URL: tlsUrl({ sslmode: 'require' }) })).toMatchObject({
      ssl: true,
    })
  })

  it('verify-full with the right CA connects to the name in the certificate', async () => {
    const url = tlsUrl({ sslmode: 'verify-full', sslrootcert: certificates.caFile }, 'localhost')
    expect(await serverSees({ DATABASE_URL: url })).toMatchObject({ ssl: true })
    // The same through DB_SSL_MODE and DB_SSL_CA_FILE, which agree with nothing in the URL.
    const env = { DB_SSL_MODE: 'verify-full', DB_SSL_CA_FILE: certificates.caFile }
    expect(await serverSees({ DATABASE_URL: tlsUrl({}, 'localhost'), ...env })).toMatchObject({
      ssl: true,
    })
  })

  it('verify-full fails with a wrong CA, and for a host the certificate does not name', async () => {
    const wrongCa = await failure({
      DATABASE_URL: tlsUrl({ sslmode: 'verify-full', sslrootcert: otherCa }, 'localhost'),
    })
    expect(wrongCa).toBeInstanceOf(ConnectionError)
    expect(wrongCa).toMatchObject({ code: 'TLS_FAILED', context: { target: 'primary' } })
    const wrongHost = await failure({
      DATABASE_URL: tlsUrl({ sslmode: 'verify-full', sslrootcert: certificates.caFile }),
    })
    expect(wrongHost).toMatchObject({ code: 'TLS_FAILED' })
    expect((wrongHost as Error).message).toContain('127.0.0.1')
    // verify-ca checks the chain only, so the same host name is accepted; a wrong CA is not.
    const verifyCa = { sslmode: 'verify-ca', sslrootcert: certificates.caFile }
    expect(await serverSees({ DATABASE_URL: tlsUrl(verifyCa) })).toMatchObject({ ssl: true })
    const wrongCaOnly = await failure({
      DATABASE_URL: tlsUrl({ sslmode: 'verify-ca', sslrootcert: otherCa }),
    })
    expect(wrongCaOnly).toMatchObject({ code: 'TLS_FAILED' })
  })

  it('prefer uses TLS where the server offers it and plain TCP where it does not', async () => {
    expect(await serverSees({ DATABASE_URL: tlsUrl({ sslmode: 'prefer' }) })).toMatchObject({
      ssl: true,
    })
    const plain = new URL(sharedPostgres().primary.url())
    plain.searchParams.set('sslmode', 'prefer')
    expect(await serverSees({ DATABASE_URL: plain.toString() })).toMatchObject({ ssl: false })
    plain.searchParams.set('sslmode', 'require')
    expect(await failure({ DATABASE_URL: plain.toString() })).toMatchObject({ code: 'TLS_FAILED' })
  })

  it('sends a client certificate from sslcert and sslkey', async () => {
    const url = tlsUrl(
      {
        sslmode: 'verify-full',
        sslrootcert: certificates.caFile,
        sslcert: certificates.certFile,
        sslkey: certificates.keyFile,
      },
      'localhost',
    )
    expect(await serverSees({ DATABASE_URL: url })).toMatchObject({
      ssl: true,
      client_dn: '/CN=localhost',
    })
  })
})

describe('other libpq parameters of the URL', () => {
  it('application_name and options reach the server', async () => {
    const url = tlsUrl({ application_name: 'orders-api', options: '-c search_path=orders,public' })
    const database = createDatabase(parseConfig({ DATABASE_URL: url }))
    databases.push(database)
    const { rows } = await sql<{ app: string; path: string }>`
      select current_setting('application_name') as app, current_setting('search_path') as path`.execute(
      database.db,
    )
    expect(rows[0]).toEqual({ app: 'orders-api', path: 'orders,public' })
  })
})
