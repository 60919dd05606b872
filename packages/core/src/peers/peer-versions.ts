import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PeerVersionError } from '../errors/errors.js'

/**
 * The lowest version of each peer that core works with (the low end of its peer range, tested
 * in CI): pg 8.21 brought `getTransactionStatus`, which `afterCommit` reads.
 *
 * @internal Plumbing for Sluice's packages (`@sluice/core/internal`), not part of the public API.
 */
export const PEER_MINIMUMS: Readonly<Record<'pg' | 'kysely', string>> = Object.freeze({
  pg: '8.21.0',
  kysely: '0.28.0',
})

/**
 * Throws when `version` of peer `name` is below `minimum` (pre-release tags are ignored).
 *
 * @throws PeerVersionError (`PEER_VERSION_UNSUPPORTED`) naming the peer, its version and the minimum.
 * @example
 * ```ts
 * checkPeerVersion('pg', '8.13.0', '8.21.0') // throws: pg 8.13.0 is installed; Sluice needs 8.21.0 or newer
 * ```
 */
export function checkPeerVersion(name: string, version: string, minimum: string): void {
  const parts = (text: string) => text.split('-')[0]?.split('.').map(Number) ?? []
  const [have, need] = [parts(version), parts(minimum)]
  for (let i = 0; i < 3; i++) {
    const a = have[i] ?? 0
    const b = need[i] ?? 0
    if (Number.isNaN(a) || a > b) return
    if (a < b) throw new PeerVersionError(name, version, minimum)
  }
}

/** Resolves a module specifier to a URL as seen from the package that imports it. */
export type PeerResolver = (specifier: string) => string

/**
 * Checks the version of peer `name`, as `resolve` finds it (pass your own module's
 * `import.meta.resolve`: a peer resolves from the package that imports it), against `minimum`.
 * A peer whose version cannot be read (an unusual bundler setup) is not checked.
 *
 * @throws PeerVersionError (`PEER_VERSION_UNSUPPORTED`).
 * @example
 * ```ts
 * checkPeer('ioredis', '5.4.0', (specifier) => import.meta.resolve(specifier))
 * ```
 */
export function checkPeer(name: string, minimum: string, resolve: PeerResolver): void {
  const version = installedVersion(name, resolve)
  if (version !== undefined) checkPeerVersion(name, version, minimum)
}

let checked = false

/**
 * Checks the installed pg and kysely against {@link PEER_MINIMUMS}, once per process.
 *
 * @throws PeerVersionError (`PEER_VERSION_UNSUPPORTED`).
 * @example
 * ```ts
 * checkPeers() // in createPool, before the first connection
 * ```
 */
export function checkPeers(): void {
  if (checked) return
  for (const [name, minimum] of Object.entries(PEER_MINIMUMS)) {
    checkPeer(name, minimum, (specifier) => import.meta.resolve(specifier))
  }
  checked = true
}

/**
 * The version of the package `name` that `resolve` finds, or `undefined` when it cannot be read.
 *
 * @example
 * ```ts
 * installedVersion('pg', (specifier) => import.meta.resolve(specifier)) // '8.21.0'
 * ```
 */
export function installedVersion(name: string, resolve: PeerResolver): string | undefined {
  try {
    // Walk up from the resolved entry: kysely does not export its package.json.
    let dir = dirname(fileURLToPath(resolve(name)))
    while (dir !== dirname(dir)) {
      try {
        const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
        if (manifest.name === name) return String(manifest.version)
      } catch {
        // no package.json at this level
      }
      dir = dirname(dir)
    }
  } catch {
    // not resolvable from here
  }
  return undefined
}
