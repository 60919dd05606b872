// Run by peer-legs.mjs in the consumer project with pg and ioredis installed below their peer
// ranges: creating a database and a cache must each fail with PEER_VERSION_UNSUPPORTED naming
// the peer, before any connection is tried.
import { createCache } from '@sluice/cache'
import { createDatabase, parseConfig } from '@sluice/core'

const refusals = [
  [
    'pg',
    () => createDatabase(parseConfig({ DATABASE_URL: 'postgres://app:secret@127.0.0.1:1/app' })),
  ],
  ['ioredis', () => createCache({ redis: false, namespace: 'below' })],
]
for (const [peer, create] of refusals) {
  try {
    create()
  } catch (error) {
    if (error?.code === 'PEER_VERSION_UNSUPPORTED' && error.peer === peer) {
      console.log(`below-range: ${error.message}`)
      continue
    }
    throw error
  }
  throw new Error(`below-range: ${peer} below its range was not refused`)
}
