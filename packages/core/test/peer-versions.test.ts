import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { expect, it } from 'vitest'
import { PeerVersionError } from '../src/index.js'
import {
  checkPeer,
  checkPeerVersion,
  installedVersion,
  PEER_MINIMUMS,
} from '../src/internal/index.js'

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

it('the installed peers are read where they resolve, and pass', () => {
  const resolve = (specifier: string) => import.meta.resolve(specifier)
  const require = createRequire(import.meta.url)
  expect(installedVersion('pg', resolve)).toBe(require('pg/package.json').version)
  expect(installedVersion('kysely', resolve)).toMatch(/^0\.(28|29)\.\d+$/)
  expect(installedVersion('no-such-package', resolve)).toBeUndefined()
  for (const [name, minimum] of Object.entries(PEER_MINIMUMS)) {
    expect(() => checkPeer(name, minimum, resolve)).not.toThrow()
  }
})

it('a peer installed below its range is a PeerVersionError when it is resolved', () => {
  // An installed package as npm lays it out, older than Sluice supports.
  const project = mkdtempSync(join(tmpdir(), 'sluice-peers-'))
  try {
    const installed = { pg: '8.20.0', kysely: '0.27.6', ioredis: '5.3.2' }
    for (const [name, version] of Object.entries(installed)) {
      const dir = join(project, 'node_modules', name)
      mkdirSync(join(dir, 'lib'), { recursive: true })
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({ name, version, main: 'lib/index.js' }),
      )
      writeFileSync(join(dir, 'lib', 'index.js'), '')
    }
    const require = createRequire(join(project, 'index.js'))
    const resolve = (specifier: string) => pathToFileURL(require.resolve(specifier)).href
    const minimums = { ...PEER_MINIMUMS, ioredis: '5.4.0' }
    for (const [name, version] of Object.entries(installed)) {
      expect(() => checkPeer(name, minimums[name as keyof typeof minimums], resolve)).toThrow(
        expect.objectContaining({
          code: 'PEER_VERSION_UNSUPPORTED',
          peer: name,
          installed: version,
        }),
      )
    }
  } finally {
    rmSync(project, { recursive: true, force: true })
  }
})
