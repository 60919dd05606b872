import { checkPeer } from '@sluice/core/internal'

/** The lowest ioredis the cache works with: the low end of its peer range, tested in CI. */
export const IOREDIS_MINIMUM = '5.4.0'

let checked = false

/**
 * Checks the installed ioredis against {@link IOREDIS_MINIMUM}, once per process.
 *
 * @throws PeerVersionError (`PEER_VERSION_UNSUPPORTED`).
 * @example
 * ```ts
 * checkIoredis() // in createCache, before the first Redis client
 * ```
 */
export function checkIoredis(): void {
  if (checked) return
  checkPeer('ioredis', IOREDIS_MINIMUM, (specifier) => import.meta.resolve(specifier))
  checked = true
}
