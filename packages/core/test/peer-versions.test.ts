import { expect, it } from 'vitest'
import { PEER_MINIMUMS, PeerVersionError } from '../src/index.js'
import { checkPeerVersion } from '../src/internal/index.js'

it('a peer below its range is a PeerVersionError with a clear message', () => {
  const error = (() => {
    try {
      checkPeerVersion('pg', '8.13.0', PEER_MINIMUMS.pg)
    } catch (caught) {
      return caught
    }
  })()
  expect(error).toBeInstanceOf(PeerVersionError)
  expect(error).toMatchObject({
    code: 'PEER_VERSION_UNSUPPORTED',
    peer: 'pg',
    installed: '8.13.0',
    minimum: '8.21.0',
    message: 'pg 8.13.0 is installed; Sluice needs pg 8.21.0 or newer (npm install pg@^8.21.0)',
  })
  expect(() => checkPeerVersion('kysely', '0.27.6', PEER_MINIMUMS.kysely)).toThrow(PeerVersionError)
})

it('versions at or above the minimum pass, pre-releases by their version', () => {
  for (const version of ['8.21.0', '8.21.1', '8.23.1', '9.0.0', '8.22.0-beta.1']) {
    expect(() => checkPeerVersion('pg', version, '8.21.0')).not.toThrow()
  }
  expect(() => checkPeerVersion('kysely', '0.29.9', '0.28.0')).not.toThrow()
})
